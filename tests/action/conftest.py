"""Fixtures for the action tests: a live emulator accepting the action's API key and a runner whose workspace
holds the canaries encrypted to ``age_key`` (that fixture, like ``emulator_site``, is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator import Emulator

from .gha import API_KEY, CANARIES, Runner, encrypt_manifest, manifest_yaml
from support import AgeKey, EmulatorSites, Site


@pytest.fixture
def site(emulator_site: EmulatorSites) -> Site[Emulator]:
    """A Wix site on loopback that accepts only the test API key."""
    return emulator_site(api_key=API_KEY)


@pytest.fixture
def runner(tmp_path: Path, age_key: AgeKey) -> Runner:
    """A job workspace holding secrets/shop.sops.yaml (the canaries, encrypted to ``age_key``)."""
    job = Runner(tmp_path)
    manifest = job.workspace / "secrets" / "shop.sops.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(encrypt_manifest(manifest_yaml(CANARIES), age_key.recipient))
    return job
