"""Issue 14 items 4-6: post-quantum age (age1pq1, ML-KEM-768 + X25519) both ways against the real sops;
passphrase-protected age identity files and encrypted OpenSSH keys opened with a prompt on a terminal
and refused clearly without one (CI); rotate/updatekeys never drop pgp/kms/vault entries silently;
``rotate --add-age``/``--rm-age``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from reconciler.cli import run
from reconciler.errors import SopsIntegrityError, SopsKeyNotFound
from reconciler.sops import KeyRing, decrypt, encrypt, open_file
from reconciler.sops.agepq import PQIdentity, bech32_encode, public_from_seed
from reconciler.sops.store import Branch

from .conftest import SopsRun, console
from support import AgeKey, new_age_key

PLAIN = b"version: 1\nsecrets:\n  A:\n    value: CANARY-keytypes-77\n"


# ------------------------------------------------------------------ post-quantum age


def new_pq_key() -> AgeKey:
    seed = os.urandom(32)
    return AgeKey(bech32_encode("age-secret-key-pq-", seed).upper(), public_from_seed(seed))


def test_pq_identity_matches_its_recipient() -> None:
    key = new_pq_key()
    assert key.identity.startswith("AGE-SECRET-KEY-PQ-1") and key.recipient.startswith("age1pq1")
    assert PQIdentity(key.identity).public == key.recipient
    with pytest.raises(ValueError):
        PQIdentity(key.identity[:-1] + ("Q" if key.identity[-1] != "Q" else "P"))  # checksum


def test_sops_encrypts_to_post_quantum_we_decrypt(tmp_path: Path, sops: SopsRun) -> None:
    pq = new_pq_key()
    (tmp_path / "in.yaml").write_bytes(PLAIN)
    data = sops(["-e", "--age", pq.recipient, "in.yaml"]).stdout
    assert b"age1pq1" in data
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# post-quantum\n{pq.identity}\n")
    ring = KeyRing.discover({"SOPS_AGE_KEY_FILE": str(keys)}, home=tmp_path)
    assert ring.post_quantum == 1
    got = decrypt(data, keys=ring)
    assert got.documents[0]["secrets"]["A"]["value"] == "CANARY-keytypes-77"
    assert got.unwrapped == (pq.recipient,)


def test_we_encrypt_to_post_quantum_sops_decrypts(tmp_path: Path, sops: SopsRun, age_key: AgeKey) -> None:
    pq = new_pq_key()
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(encrypt(PLAIN, recipients=[pq.recipient, age_key.recipient]))
    keys = tmp_path / "pq.txt"
    keys.write_text(pq.identity + "\n")
    out = sops(["-d", str(enc)], env={"SOPS_AGE_KEY_FILE": str(keys)}).stdout
    assert b"CANARY-keytypes-77" in out
    # and only the PQ identity, through our own reader
    assert decrypt(enc.read_bytes(), keys=KeyRing.from_identities([pq.identity])).unwrapped == (pq.recipient,)


def test_post_quantum_only_file_without_its_identity_says_what_is_needed(age_key: AgeKey) -> None:
    pq = new_pq_key()
    data = encrypt(PLAIN, recipients=[pq.recipient])
    with pytest.raises(SopsKeyNotFound) as exc:
        decrypt(data, keys=age_key.keyring())
    assert exc.value.hint is not None and "AGE-SECRET-KEY-PQ-1" in exc.value.hint
    lines = data.split(b"\n")  # damage one base64 character of the armored stanza
    i = next(n for n, ln in enumerate(lines) if b"BEGIN AGE ENCRYPTED FILE" in ln) + 2
    lines[i] = lines[i][:-5] + (b"A" if lines[i][-5:-4] != b"A" else b"B") + lines[i][-4:]
    damaged = b"\n".join(lines)
    with pytest.raises((SopsIntegrityError, SopsKeyNotFound)):
        decrypt(damaged, keys=KeyRing.from_identities([pq.identity]))


def test_pq_and_x25519_identity_lines_together(tmp_path: Path, age_key: AgeKey) -> None:
    pq = new_pq_key()
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{pq.identity}\n{age_key.identity}\n")
    ring = KeyRing.discover({"SOPS_AGE_KEY_FILE": str(keys)}, home=tmp_path)
    assert len(ring) == 2 and ring.post_quantum == 1
    assert decrypt(encrypt(PLAIN, recipients=[age_key.recipient]), keys=ring).documents[0]["version"] == 1


# ------------------------------------------------------------------ passphrase-protected identities


@pytest.mark.parametrize("armored", [False, True])
def test_passphrase_protected_identity_file_prompts_on_a_terminal(
    armored: bool, tmp_path: Path, age_key: AgeKey
) -> None:
    keyfile = tmp_path / "keys.age"
    keyfile.write_bytes(pyrage.passphrase.encrypt(age_key.identity.encode() + b"\n", "correct horse", armored))
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(encrypt(PLAIN, recipients=[age_key.recipient]))
    c, out, err = console(tmp_path, tty=True, stdin="correct horse\n", SOPS_AGE_KEY_FILE=str(keyfile))
    assert run(["decrypt", str(enc)], c) == 0, err.getvalue()
    assert "CANARY-keytypes-77" in out.getvalue() and "correct horse" not in err.getvalue()


def test_passphrase_protected_identity_in_ci_is_refused_clearly(tmp_path: Path, age_key: AgeKey) -> None:
    keyfile = tmp_path / "keys.age"
    keyfile.write_bytes(pyrage.passphrase.encrypt(age_key.identity.encode(), "pw"))
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(encrypt(PLAIN, recipients=[age_key.recipient]))
    for tty, extra in ((False, {}), (True, {"CI": "true"})):
        c, out, err = console(tmp_path, tty=tty, SOPS_AGE_KEY_FILE=str(keyfile), **extra)
        assert run(["decrypt", str(enc)], c) == 1
        assert "passphrase-protected" in err.getvalue() and "terminal" in err.getvalue()
        assert out.getvalue() == ""


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path, age_key: AgeKey) -> None:
    keyfile = tmp_path / "keys.age"
    keyfile.write_bytes(pyrage.passphrase.encrypt(age_key.identity.encode(), "right"))
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(encrypt(PLAIN, recipients=[age_key.recipient]))
    c, _, err = console(tmp_path, tty=True, stdin="wrong\n", SOPS_AGE_KEY_FILE=str(keyfile))
    assert run(["decrypt", str(enc)], c) == 1
    assert "wrong passphrase" in err.getvalue() and "Traceback" not in err.getvalue()


def _encrypted_ssh_key(tmp_path: Path, password: bytes) -> tuple[Path, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "id_ed25519"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(password),
        )
    )
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return path, pub.decode() + " me@host"


def test_encrypted_openssh_key_prompts_and_sops_agrees(tmp_path: Path, sops: SopsRun) -> None:
    path, public = _encrypted_ssh_key(tmp_path, b"ssh pass")
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(encrypt(PLAIN, recipients=[public]))
    c, out, err = console(tmp_path, tty=True, stdin="ssh pass\n", SOPS_AGE_SSH_PRIVATE_KEY_FILE=str(path))
    assert run(["decrypt", str(enc)], c) == 0, err.getvalue()
    assert "CANARY-keytypes-77" in out.getvalue()
    # non-interactive: refused, naming the encrypted key
    c, out, err = console(tmp_path, SOPS_AGE_SSH_PRIVATE_KEY_FILE=str(path))
    assert run(["decrypt", str(enc)], c) == 1
    assert "encrypted ssh key" in err.getvalue() and "passphrase" in err.getvalue() and out.getvalue() == ""


# ------------------------------------------------------------------ pgp/kms entries and rotate

PGP = [
    Branch(
        [
            ("created_at", "2024-01-01T00:00:00Z"),
            ("enc", "-----BEGIN PGP MESSAGE-----\n\nwcBMA\n-----END PGP MESSAGE-----\n"),
            ("fp", "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"),
        ]
    )
]


def _with_pgp(age_key: AgeKey) -> bytes:
    f = open_file(encrypt(PLAIN, recipients=[age_key.recipient]), keys=age_key.keyring(), comments=None)
    f.metadata = replace(f.metadata, extra=(*f.metadata.extra, ("pgp", PGP)))
    return f.seal()


def test_rotate_refuses_when_pgp_keys_would_be_dropped(tmp_path: Path, age_key: AgeKey, sops: SopsRun) -> None:
    data = _with_pgp(age_key)
    assert b"FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4" in data
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(data)
    assert b"CANARY-keytypes-77" in sops(["-d", str(enc)]).stdout
    c, _, err = console(tmp_path, SOPS_AGE_KEY=age_key.identity)
    assert run(["rotate", str(enc)], c) == 1
    assert "pgp" in err.getvalue() and "cannot re-wrap" in err.getvalue()
    assert enc.read_bytes() == data


def test_updatekeys_and_set_keep_pgp_entries(tmp_path: Path, age_key: AgeKey, sops: SopsRun) -> None:
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(_with_pgp(age_key))
    other = new_age_key()
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {age_key.recipient},{other.recipient}\n")
    c, _, err = console(tmp_path, SOPS_AGE_KEY=age_key.identity)
    assert run(["updatekeys", "--yes", str(enc)], c) == 0, err.getvalue()
    assert "pgp keys" in err.getvalue() and "kept" in err.getvalue()
    assert b"FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4" in enc.read_bytes()
    c, _, err = console(tmp_path, SOPS_AGE_KEY=age_key.identity, stdin="v2")
    assert run(["set", str(enc), "A"], c) == 0, err.getvalue()
    assert b"FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4" in enc.read_bytes()
    assert b"v2" in sops(["-d", str(enc)], env={"SOPS_AGE_KEY": other.identity, "SOPS_AGE_KEY_FILE": ""}).stdout


def test_key_group_pgp_entries_survive_an_edit_and_block_rotate(
    tmp_path: Path, age_key: AgeKey, age_key2: AgeKey, sops: SopsRun
) -> None:
    data = encrypt(PLAIN, recipients=[], key_groups=[[age_key.recipient], [age_key2.recipient]], shamir_threshold=1 + 1)
    f = open_file(data, keys=KeyRing.from_identities([age_key.identity, age_key2.identity]), comments=None)
    f.metadata = replace(f.metadata, group_extra=((("pgp", PGP),), ()))
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(f.seal())
    both = "\n".join([age_key.identity, age_key2.identity])
    c, _, err = console(tmp_path, SOPS_AGE_KEY=both, stdin="v3")
    assert run(["set", str(enc), "A"], c) == 0, err.getvalue()
    assert b"FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4" in enc.read_bytes()
    (tmp_path / "k").write_text(both + "\n")
    assert b"v3" in sops(["-d", str(enc)], env={"SOPS_AGE_KEY_FILE": str(tmp_path / "k")}).stdout
    c, _, err = console(tmp_path, SOPS_AGE_KEY=both)
    assert run(["rotate", str(enc)], c) == 1 and "pgp" in err.getvalue()


def test_rotate_add_and_remove_age(tmp_path: Path, age_key: AgeKey, sops: SopsRun) -> None:
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(encrypt(PLAIN, recipients=[age_key.recipient]))
    other = new_age_key()
    c, _, err = console(tmp_path, SOPS_AGE_KEY=age_key.identity)
    assert run(["rotate", "--add-age", other.recipient, "--rm-age", age_key.recipient, str(enc)], c) == 0, (
        err.getvalue()
    )
    meta = decrypt(enc.read_bytes(), keys=other.keyring()).metadata
    assert meta.recipients == (other.recipient,)
    env = {"SOPS_AGE_KEY": other.identity, "SOPS_AGE_KEY_FILE": ""}
    assert b"CANARY-keytypes-77" in sops(["-d", str(enc)], env=env).stdout
    assert sops(["-d", str(enc)], check=False).returncode != 0  # the removed key no longer opens it
    c, _, err = console(tmp_path, SOPS_AGE_KEY=other.identity)
    assert run(["rotate", "--rm-age", other.recipient, str(enc)], c) == 1
    assert "none" in err.getvalue()


def test_sops_yaml_rule_with_pgp_keys_is_reported_not_dropped_silently(tmp_path: Path, age_key: AgeKey) -> None:
    enc = tmp_path / "s.sops.yaml"
    enc.write_bytes(encrypt(PLAIN, recipients=[age_key.recipient]))
    other = new_age_key()
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {age_key.recipient},{other.recipient}\n"
        "    pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n"
    )
    c, _, err = console(tmp_path, SOPS_AGE_KEY=age_key.identity)
    assert run(["updatekeys", "--yes", str(enc)], c) == 0, err.getvalue()
    assert "also names pgp keys" in err.getvalue()
    assert decrypt(enc.read_bytes(), keys=other.keyring()).metadata.recipients == (age_key.recipient, other.recipient)
