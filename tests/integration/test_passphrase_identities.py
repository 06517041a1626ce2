"""plan, apply, validate (and the Python API) open a passphrase-protected age identity file, as sops
does: on a terminal they ask for the passphrase once per identity however many manifests or sites need
it; without a terminal (CI) they say the key is passphrase-protected and that a terminal is needed.
The passphrase and the values never reach the output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyrage
import pytest

import reconciler

from support import VALUES_ONLY, new_age_key, write_sops_manifest

PASSPHRASE = "correct-horse-battery-4471"
VALUE = "passphrase-canary-value-9c1e"
AGE = new_age_key()


def sealed(path: Path, name: str, value: str = VALUE) -> Path:
    return write_sops_manifest(path, {name: value}, AGE.recipient, rules=VALUES_ONLY)


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "keys.age"
    path.write_bytes(pyrage.passphrase.encrypt(AGE.identity.encode() + b"\n", PASSPHRASE, True))
    return path


def test_plan_asks_once_for_two_manifests_and_apply_applies(cli: Any, tmp_path: Path, keyfile: Path) -> None:
    one, two = sealed(tmp_path / "one.sops.yaml", "FIRST"), sealed(tmp_path / "two.sops.yaml", "SECOND")
    env = {"SOPS_AGE_KEY_FILE": str(keyfile)}
    site = str(tmp_path / "site.json")
    planned = cli("plan", "--local", site, str(one), str(two), env=env, tty=True, stdin=PASSPHRASE + "\n")
    assert planned.code == 0 and "2 to create" in planned.out, planned.err
    assert planned.err.count("Passphrase for") == 1
    applied = cli("apply", "--local", site, "--auto-approve", str(one), str(two), env=env, tty=True, stdin=PASSPHRASE)
    assert applied.code == 0, applied.err
    assert cli("plan", "--local", site, "--detailed-exitcode", str(one), str(two), env=env, tty=True,
               stdin=PASSPHRASE).code == 0  # fmt: skip
    for result in (planned, applied):
        assert PASSPHRASE not in result.out + result.err and VALUE not in result.out + result.err


def test_validate_asks_once_and_a_wrong_passphrase_is_a_clear_error(cli: Any, tmp_path: Path, keyfile: Path) -> None:
    one, two = sealed(tmp_path / "one.sops.yaml", "FIRST"), sealed(tmp_path / "two.sops.yaml", "SECOND")
    env = {"SOPS_AGE_KEY_FILE": str(keyfile)}
    valid = cli("validate", str(one), str(two), env=env, tty=True, stdin=PASSPHRASE)
    assert valid.code == 0 and valid.err.count("Passphrase for") == 1, valid.out + valid.err
    wrong = cli("plan", "--local", str(tmp_path / "s.json"), str(one), env=env, tty=True, stdin="wrong")
    assert wrong.code == 1 and "wrong passphrase" in wrong.err and "Traceback" not in wrong.err
    assert not (tmp_path / "s.json").exists()


def test_without_a_terminal_the_error_says_the_key_needs_one(cli: Any, tmp_path: Path, keyfile: Path) -> None:
    one = sealed(tmp_path / "one.sops.yaml", "FIRST")
    for tty, extra in ((False, {}), (True, {"CI": "true"})):
        env = {"SOPS_AGE_KEY_FILE": str(keyfile), **extra}
        result = cli("plan", "--local", str(tmp_path / "s.json"), str(one), env=env, tty=tty, stdin=PASSPHRASE)
        assert result.code == 1 and "passphrase-protected" in result.err and "terminal" in result.err
        assert "Passphrase for" not in result.err and not (tmp_path / "s.json").exists()


def test_the_python_api_takes_a_passphrase_callback(tmp_path: Path, keyfile: Path) -> None:
    one = sealed(tmp_path / "one.sops.yaml", "FIRST")
    asked: list[str] = []

    def passphrase(label: str) -> str:
        asked.append(label)
        return PASSPHRASE

    env = {"SOPS_AGE_KEY_FILE": str(keyfile), "HOME": str(tmp_path)}
    desired = reconciler.load_manifests(one, environ=env, passphrase=passphrase)
    assert [s.name for s in desired.secrets] == ["FIRST"] and len(asked) == 1
    plan = reconciler.plan_site(desired, reconciler.local_site(tmp_path / "site.json"), environ=env)
    assert plan.plan is not None and plan.plan.summary()["create"] == 1
    with pytest.raises(reconciler.WixSecretsError, match="no age identity found") as refused:
        reconciler.load_manifests(one, environ=env)  # no callback: skipped, and the error says why
    assert "passphrase-protected" in refused.value.user_message()
