"""Plaintext manifests apply updates on a terminal with a local backup identity (issue 13, items 16, 14).

On a terminal, the first apply that needs a backup creates ``$XDG_CONFIG_HOME/wix-secrets/backup-key.txt``
(0600, folder 0700), encrypts the backup to it and says where both are; ``apply BACKUP`` finds it again.
In CI nothing is created and the apply is refused unless ``--backup-age``, ``WIX_SECRETS_BACKUP_AGE``
or ``--no-backup``. A ``--local`` site's backup is named after the site file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyrage

from reconciler.sops import KeyRing, decrypt_text

CANARY_OLD = "CANARY-old-9f8e7d6c-never-print"
CANARY_NEW = "CANARY-new-1a2b3c4d-never-print"


def manifest(path: Path, value: str) -> Path:
    path.write_text(f"version: 1\nsecrets:\n  API_TOKEN:\n    value: {value}\n    description: the token\n")
    return path


def dirs(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}


def backups(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state" / "wix-secrets" / "backups").glob("*.sops.yaml"))


def test_terminal_apply_creates_the_identity_backs_up_and_restores(cli: Any, tmp_path: Path) -> None:
    env = dirs(tmp_path)
    site = "demo-site.json"
    m = manifest(tmp_path / "secrets.yaml", CANARY_OLD)
    first = cli("apply", "--local", site, str(m), env=env, tty=True, stdin="yes\n")
    assert first.code == 0, first.err
    key = tmp_path / "config" / "wix-secrets" / "backup-key.txt"
    assert not key.exists()  # nothing destroyed yet: no backup, no identity

    manifest(m, CANARY_NEW)
    second = cli("apply", "--local", site, str(m), env=env, tty=True, stdin="yes\n")
    assert second.code == 0, second.err
    assert key.is_file()
    assert key.stat().st_mode & 0o777 == 0o600 and key.parent.stat().st_mode & 0o777 == 0o700
    recipient = str(pyrage.x25519.Identity.from_str(key.read_text().splitlines()[-1]).to_public())
    assert f"Created a local backup identity in {key} (mode 0600; public key {recipient})" in second.err
    [backup] = backups(tmp_path)
    assert f"{backup}" in second.err
    assert backup.name.startswith("wix-secrets-backup-demo-site-")  # item 14: named after the site file
    assert "-local-" not in backup.name
    text = backup.read_text()
    assert CANARY_OLD not in text and recipient in text
    plain = decrypt_text(backup.read_bytes(), keys=KeyRing.from_identities([key.read_text()]))
    assert CANARY_OLD.encode() in plain
    for out in (first, second):
        assert CANARY_OLD not in out.out + out.err and CANARY_NEW not in out.out + out.err

    manifest(m, CANARY_OLD + "x")
    third = cli("apply", "--local", site, str(m), env=env, tty=True, stdin="yes\n")
    assert third.code == 0, third.err
    assert "Created a local backup identity" not in third.err  # made once, then reused
    assert f"encrypted to the local backup identity {key}" in third.err
    assert len(backups(tmp_path)) == 2

    # restore the first backup: a plain `apply BACKUP`, the identity found in the config folder
    restored = cli("apply", "--local", site, "--auto-approve", "--no-backup", str(backup), env=env)
    assert restored.code == 0, restored.err
    check = cli("plan", "--local", site, "--detailed-exitcode", str(manifest(m, CANARY_OLD)), env=env)
    assert check.code == 0, check.out + check.err


def test_ci_keeps_refusing_and_creates_nothing(cli: Any, tmp_path: Path) -> None:
    env = dirs(tmp_path)
    m = manifest(tmp_path / "secrets.yaml", CANARY_OLD)
    assert cli("apply", "--local", "s.json", "--auto-approve", str(m), env=env).code == 0
    manifest(m, CANARY_NEW)
    for extra_env, tty in (({}, False), ({"CI": "true"}, True)):
        refused = cli("apply", "--local", "s.json", "--auto-approve", str(m), env={**env, **extra_env}, tty=tty)
        assert refused.code == 1, refused.err
        assert "cannot write the backup" in refused.err
        assert not (tmp_path / "config" / "wix-secrets").exists()
    assert cli("plan", "--local", "s.json", "--detailed-exitcode", str(m), env=env).code == 2  # nothing changed


def test_wix_secrets_backup_age_in_ci(cli: Any, tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    env = {**dirs(tmp_path), "WIX_SECRETS_BACKUP_AGE": str(identity.to_public())}
    m = manifest(tmp_path / "secrets.yaml", CANARY_OLD)
    assert cli("apply", "--local", "s.json", "--auto-approve", str(m), env=env).code == 0
    manifest(m, CANARY_NEW)
    applied = cli("apply", "--local", "s.json", "--auto-approve", str(m), env=env)
    assert applied.code == 0, applied.err
    [backup] = backups(tmp_path)
    assert CANARY_OLD.encode() in decrypt_text(backup.read_bytes(), keys=KeyRing.from_identities([str(identity)]))
    assert not (tmp_path / "config" / "wix-secrets").exists()


def test_a_symlinked_backup_identity_is_refused(cli: Any, tmp_path: Path) -> None:
    env = dirs(tmp_path)
    folder = tmp_path / "config" / "wix-secrets"
    folder.mkdir(parents=True)
    (tmp_path / "elsewhere.txt").write_text("# attacker's key\n")
    (folder / "backup-key.txt").symlink_to(tmp_path / "elsewhere.txt")
    m = manifest(tmp_path / "secrets.yaml", CANARY_OLD)
    assert cli("apply", "--local", "s.json", "--auto-approve", str(m), env=env).code == 0
    manifest(m, CANARY_NEW)
    result = cli("apply", "--local", "s.json", str(m), env=env, tty=True, stdin="yes\n")
    assert result.code == 1
    assert "is a symbolic link; refusing to use it" in result.err
    assert "Traceback" not in result.err


def test_two_backups_in_the_same_second_are_both_kept(tmp_path: Path) -> None:
    from reconciler import backup
    from reconciler.model import RemoteSecret, Sensitive

    identity = pyrage.x25519.Identity.generate()
    paths = []
    for value in ("first-value-1234", "second-value-5678"):
        entry = backup.BackupEntry(RemoteSecret(id="i", name="N", description="", updated_date="d"), Sensitive(value))
        paths.append(
            backup.write(
                [entry],
                directory=tmp_path,
                recipients=[str(identity.to_public())],
                site="s",
                created="2026-01-01T00:00:00Z",
            )
        )
    assert paths[0] != paths[1] and all(p.is_file() for p in paths)
    assert paths[1].name == "wix-secrets-backup-s-20260101T000000Z-2.sops.yaml"
    keys = KeyRing.from_identities([str(identity)])
    assert b"first-value-1234" in decrypt_text(paths[0].read_bytes(), keys=keys)
