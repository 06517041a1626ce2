"""Fixtures for the action tests: an age identity, an encrypted manifest, a live emulator, a runner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.emulator import Emulator, EmulatorServer

from .gha import API_KEY, CANARIES, Runner, encrypt_manifest, manifest_yaml


@dataclass(frozen=True)
class AgeKey:
    identity: str
    recipient: str


@pytest.fixture(scope="session")
def age_key() -> AgeKey:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    return AgeKey(identity=str(identity), recipient=str(identity.to_public()))


@pytest.fixture
def site() -> Iterator[EmulatorServer]:
    """A Wix site on loopback that accepts only the test API key."""
    server = EmulatorServer(Emulator(api_key=API_KEY)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def runner(tmp_path: Path, age_key: AgeKey) -> Runner:
    """A job workspace holding secrets/shop.sops.yaml (the canaries, encrypted to ``age_key``)."""
    job = Runner(tmp_path)
    manifest = job.workspace / "secrets" / "shop.sops.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(encrypt_manifest(manifest_yaml(CANARIES), age_key.recipient))
    return job
