"""Issue 10 item 2: backups go only to proven recipients, never to a ``recipient:`` label from the sops
block (the MAC does not cover those labels).

End to end through the CLI and the local emulator: a manifest whose metadata label was edited to an
outsider's key still applies, its backup decrypts with the owner's key and is not encrypted to the
outsider; with no proven recipient the apply refuses before changing anything.
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.backup import choose_recipients
from reconciler.backupkey import split_recipients
from reconciler.sops import EncryptionRules, KeyRing, decrypt, encrypt

from .conftest import new_ssh_key, opened_by
from support import new_age_key

CANARY = "CANARY-backup-3f1d-never-print"
OWNER = new_age_key()
COLLEAGUE = new_age_key()
OUTSIDER = new_age_key()


def manifest(values: dict[str, str], recipients: list[str], extra: str = "") -> bytes:
    body = (
        "version: 1\nsecrets:\n" + "".join(f"  {k}:\n    value: {json.dumps(v)}\n" for k, v in values.items()) + extra
    )
    return encrypt(body.encode(), recipients=recipients, rules=EncryptionRules(encrypted_regex="^value$"))


def relabel(data: bytes, old: str, new: str) -> bytes:
    assert data.count(old.encode()) == 1
    return data.replace(old.encode(), new.encode())


def stanza_recipients(data: bytes) -> list[str]:
    """Which of our three keys can open the data key of an encrypted file (by trying each)."""
    return opened_by(data, {"owner": OWNER, "colleague": COLLEAGUE, "outsider": OUTSIDER})


def test_decrypt_reports_only_labels_proven_by_unwrapping() -> None:
    data = manifest({"A": "x"}, [OWNER.recipient, COLLEAGUE.recipient])
    assert decrypt(data, keys=OWNER.keyring()).unwrapped == (OWNER.recipient,)
    assert decrypt(data, keys=COLLEAGUE.keyring()).unwrapped == (COLLEAGUE.recipient,)
    # the owner's own stanza relabelled as the outsider: it still decrypts, but nothing is proven
    forged = relabel(data, OWNER.recipient, OUTSIDER.recipient)
    got = decrypt(forged, keys=OWNER.keyring())
    assert OUTSIDER.recipient in got.recipients and got.unwrapped == ()
    # labels swapped: each label names the other's stanza, neither is proven
    swapped = relabel(relabel(data, OWNER.recipient, "@@"), COLLEAGUE.recipient, OWNER.recipient)
    swapped = swapped.replace(b"@@", COLLEAGUE.recipient.encode())
    assert decrypt(swapped, keys=OWNER.keyring()).unwrapped == ()


def test_ssh_label_is_proven_by_the_ssh_identity() -> None:
    ssh = new_ssh_key("ed25519")
    data = manifest({"A": "x"}, [ssh.public, OUTSIDER.recipient])
    got = decrypt(data, keys=KeyRing.from_identities([ssh.private_pem]))
    assert got.unwrapped == (ssh.public,)


def test_choose_recipients_prefers_explicit_then_proven_and_pinned(tmp_path: Path) -> None:
    assert choose_recipients(["a,b", "c"], ["p"]) == ["a", "b", "c"]
    assert choose_recipients(None, ["p"]) == ["p"]
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\n    age: {COLLEAGUE.recipient}\n"
    )
    (tmp_path / "secrets").mkdir()
    got = choose_recipients([], [OWNER.recipient], sources=["secrets/m.yaml"], cwd=tmp_path, environ={})
    assert got == [OWNER.recipient, COLLEAGUE.recipient]
    assert choose_recipients([], [], sources=["other/m.yaml"], cwd=tmp_path, environ={}) == []


def test_relabelled_sops_block_never_sends_the_backup_to_the_outsider(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"SOPS_AGE_KEY": OWNER.identity}
    site = str(tmp_path / "site.json")
    start = tmp_path / "start.sops.yaml"
    start.write_bytes(manifest({"KEEP": "k", "CHANGE": CANARY}, [OWNER.recipient, COLLEAGUE.recipient]))
    assert cli("apply", "--local", site, "--auto-approve", "--no-backup", str(start), env=env).code == 0

    # the attacker's pull request: one changed value and one edited label (outside the MAC)
    nxt = manifest({"KEEP": "k", "CHANGE": "new"}, [OWNER.recipient, COLLEAGUE.recipient])
    nxt = relabel(nxt, COLLEAGUE.recipient, OUTSIDER.recipient)
    (tmp_path / "next.sops.yaml").write_bytes(nxt)
    backups = tmp_path / "bk"
    result = cli("apply", "--local", site, "--auto-approve", "--backup-dir", str(backups), "next.sops.yaml", env=env)
    assert result.code == 0, result.err
    [written] = list(backups.iterdir())
    raw = written.read_bytes()
    assert OUTSIDER.recipient.encode() not in raw
    assert stanza_recipients(raw) == ["owner"]
    restored = decrypt(raw, keys=OWNER.keyring()).documents[0]["secrets"]
    assert restored == {"CHANGE": {"value": CANARY}}
    assert CANARY not in result.out + result.err


def test_no_proven_recipient_refuses_before_any_change(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"SOPS_AGE_KEY": OWNER.identity}
    site = str(tmp_path / "site.json")
    (tmp_path / "a.sops.yaml").write_bytes(manifest({"A": CANARY}, [OWNER.recipient]))
    assert cli("apply", "--local", site, "--auto-approve", "a.sops.yaml", env=env).code == 0
    # the only stanza (the owner's) relabelled as the outsider's key
    forged = relabel(manifest({"A": "two"}, [OWNER.recipient]), OWNER.recipient, OUTSIDER.recipient)
    (tmp_path / "b.sops.yaml").write_bytes(forged)
    refused = cli("apply", "--local", site, "--auto-approve", "--backup-dir", "bk", "b.sops.yaml", env=env)
    assert refused.code == 1 and "no age recipient is proven" in refused.err
    assert not (tmp_path / "bk").exists()
    assert cli("plan", "--local", site, "--detailed-exitcode", "b.sops.yaml", env=env).code == 2
    # a pinned .sops.yaml recipient, or --backup-age, is proven
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {OWNER.recipient}\n")
    ok = cli("apply", "--local", site, "--auto-approve", "--backup-dir", "bk", "b.sops.yaml", env=env)
    assert ok.code == 0, ok.err
    [written] = list((tmp_path / "bk").iterdir())
    assert stanza_recipients(written.read_bytes()) == ["owner"]


def test_wix_secrets_backup_age_reads_ssh_public_keys_whole() -> None:
    ssh = new_ssh_key("ed25519")  # "ssh-ed25519 AAAA… test@example", as a .pub file holds it
    text = f" {OWNER.recipient} {COLLEAGUE.recipient},\n{ssh.public}\n,{OWNER.recipient}"
    assert split_recipients(text) == [OWNER.recipient, COLLEAGUE.recipient, ssh.public]
    # an ssh key in the middle of a space-separated piece is not guessed at: its words are refused later
    assert "ssh-ed25519" in split_recipients(f"{OWNER.recipient} {ssh.public}")


def test_a_backup_for_an_ssh_key_from_wix_secrets_backup_age(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from reconciler.sops import KeyRing

    ssh = new_ssh_key("ed25519")
    keyfile = tmp_path / "id_ed25519"
    keyfile.write_text(ssh.private_pem)
    keyfile.chmod(0o600)
    site = str(tmp_path / "site.json")
    (tmp_path / "a.yaml").write_text(f"version: 1\nsecrets:\n  A:\n    value: {CANARY}\n")
    assert cli("apply", "--local", site, "--auto-approve", "a.yaml").code == 0
    (tmp_path / "b.yaml").write_text("version: 1\nsecrets:\n  A:\n    value: two\n")
    env = {"WIX_SECRETS_BACKUP_AGE": f"{OWNER.recipient},\n{ssh.public}"}
    applied = cli("apply", "--local", site, "--auto-approve", "--backup-dir", "bk", "b.yaml", env=env)
    assert applied.code == 0, applied.err
    [written] = list((tmp_path / "bk").iterdir())
    ring = KeyRing.discover({"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(keyfile)}, home=tmp_path / "nohome")
    assert decrypt(written.read_bytes(), keys=ring).documents[0]["secrets"] == {"A": {"value": CANARY}}
    assert stanza_recipients(written.read_bytes()) == ["owner"]
    assert CANARY not in applied.out + applied.err
    # a word that is not a recipient is refused before anything changes
    env = {"WIX_SECRETS_BACKUP_AGE": f"{OWNER.recipient} not-a-key"}
    (tmp_path / "c.yaml").write_text("version: 1\nsecrets:\n  A:\n    value: three\n")
    before = Path(site).read_bytes()
    refused = cli("apply", "--local", site, "--auto-approve", "--backup-dir", "bk2", "c.yaml", env=env)
    assert refused.code == 1 and "not-a-key" in refused.err, refused.err
    assert not (tmp_path / "bk2").exists() and Path(site).read_bytes() == before
    assert cli("plan", "--local", site, "--detailed-exitcode", "b.yaml").code == 0


def test_an_identity_given_as_backup_recipient_is_refused_without_echoing_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tmp_path / "site.json")
    (tmp_path / "a.yaml").write_text("version: 1\nsecrets:\n  A:\n    value: one\n")
    for env, argv in (
        ({"WIX_SECRETS_BACKUP_AGE": OWNER.identity}, ()),
        ({}, ("--backup-age", OWNER.identity)),
        ({}, ("--backup-age", new_ssh_key("ed25519").private_pem)),
    ):
        result = cli("apply", "--local", site, "--auto-approve", *argv, "a.yaml", env=env)
        assert result.code == 1 and "where a recipient (public key) belongs" in result.err, result.err
        secret_part = OWNER.identity.removeprefix("AGE-SECRET-KEY-1")[:8]
        assert secret_part not in result.out + result.err and "AGE-SECRET-KEY" not in result.err
        assert not Path(site).exists()
