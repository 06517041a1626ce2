"""Interop with the real sops 3.11 binary, both directions, over a matrix of shapes and rules.

A: sops encrypts -> we decrypt (MAC verified): our documents equal our go-yaml typing of the plaintext,
   and our plaintext output has the same tree (comments included) as ``sops -d``.
B: we encrypt -> ``sops -d`` prints exactly what it prints for sops' own encryption of the same input.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from reconciler.sops import EncryptionRules, decrypt, decrypt_text, encrypt
from reconciler.sops.store import Branch, Comment, load, to_plain

from .cases import CASES, RULES, RULES_INPUT, SHAPES
from .conftest import SopsRun, sops_encrypt
from support import AgeKey


def norm(value: Any) -> Any:
    """Comparable form: NaN -> marker, Branch -> list of pairs (comments kept)."""
    if isinstance(value, Branch):
        return [(k.value if isinstance(k, Comment) else k, norm(v)) for k, v in value.items]
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, Comment):
        return ("#", value.value)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float):
        return ("float", value, math.copysign(1, value))
    return (type(value).__name__ if not isinstance(value, str) else "str", value)


def sops_decrypt(sops: SopsRun, tmp_path: Path, data: bytes, name: str = "enc.yaml") -> bytes:
    path = tmp_path / name
    path.write_bytes(data)
    return sops(["-d", str(path)]).stdout


@pytest.mark.parametrize(("name", "text", "rules"), CASES, ids=[c[0] for c in CASES])
def test_sops_encrypts_we_decrypt(
    name: str, text: str, rules: dict[str, object], sops: SopsRun, tmp_path: Path, age_key: AgeKey
) -> None:
    enc = sops_encrypt(sops, tmp_path, text, [age_key.recipient], rules)
    result = decrypt(enc, keys=age_key.keyring())
    expected = [to_plain(d) for d in load(text.encode())]
    assert norm(result.documents) == norm(expected)
    assert result.recipients == (age_key.recipient,)
    assert len(result.data_key) == 32
    ours = decrypt_text(enc, keys=age_key.keyring())
    theirs = sops_decrypt(sops, tmp_path, enc)
    assert norm(load(ours)) == norm(load(theirs))
    assert ours == theirs  # byte for byte what sops -d prints


@pytest.mark.parametrize(("name", "text", "rules"), CASES, ids=[c[0] for c in CASES])
def test_we_encrypt_sops_decrypts(
    name: str, text: str, rules: dict[str, object], sops: SopsRun, tmp_path: Path, age_key: AgeKey
) -> None:
    ours = encrypt(text.encode(), recipients=[age_key.recipient], rules=EncryptionRules(**rules))  # type: ignore[arg-type]
    theirs = sops_encrypt(sops, tmp_path, text, [age_key.recipient], rules)
    assert sops_decrypt(sops, tmp_path, ours, "ours.yaml") == sops_decrypt(sops, tmp_path, theirs, "theirs.yaml")
    # and we read our own output back
    assert norm(decrypt(ours, keys=age_key.keyring()).documents) == norm(
        decrypt(theirs, keys=age_key.keyring()).documents
    )


@pytest.mark.parametrize("name", ["encrypted_regex", "unencrypted_suffix"])
def test_rule_metadata_matches_sops(name: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    rules = RULES[name]
    ours = encrypt(RULES_INPUT.encode(), recipients=[age_key.recipient], rules=EncryptionRules(**rules))  # type: ignore[arg-type]
    theirs = sops_encrypt(sops, tmp_path, RULES_INPUT, [age_key.recipient], rules)
    a = decrypt(ours, keys=age_key.keyring()).metadata
    b = decrypt(theirs, keys=age_key.keyring()).metadata
    assert a.rules == b.rules
    # the same keys are left in clear
    clear_ours = [k for k, v in load(ours)[0].items if isinstance(k, str) and not str(v).startswith("ENC[")]
    clear_theirs = [k for k, v in load(theirs)[0].items if isinstance(k, str) and not str(v).startswith("ENC[")]
    assert clear_ours == clear_theirs


def test_several_recipients_each_alone(sops: SopsRun, tmp_path: Path, age_key: AgeKey, age_key2: AgeKey) -> None:
    text = SHAPES["nested_maps"]
    for data in (
        encrypt(text.encode(), recipients=[age_key.recipient, age_key2.recipient]),
        sops_encrypt(sops, tmp_path, text, [age_key.recipient, age_key2.recipient]),
    ):
        for key in (age_key, age_key2):
            assert decrypt(data, keys=key.keyring()).documents[0]["db"]["port"] == 5432
            keyfile = tmp_path / "only.txt"
            keyfile.write_text(key.identity + "\n")
            (tmp_path / "multi.yaml").write_bytes(data)
            out = sops(["-d", str(tmp_path / "multi.yaml")], env={"SOPS_AGE_KEY_FILE": str(keyfile)}).stdout
            assert b"port: 5432" in out


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_recipients_both_ways(
    kind: str, sops: SopsRun, tmp_path: Path, request: pytest.FixtureRequest, age_key: AgeKey
) -> None:
    from reconciler.sops import KeyRing

    ssh = request.getfixturevalue("ssh_ed25519" if kind == "ed25519" else "ssh_rsa")
    keyfile = tmp_path / f"id_{kind}"
    keyfile.write_text(ssh.private_pem)
    keyfile.chmod(0o600)
    env = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(keyfile), "SOPS_AGE_KEY_FILE": str(tmp_path / "none.txt")}
    text = SHAPES["lists_of_maps"]
    ours = encrypt(text.encode(), recipients=[ssh.public])
    (tmp_path / "ssh.yaml").write_bytes(ours)
    assert sops(["-d", str(tmp_path / "ssh.yaml")], env=env).stdout == sops_decrypt(
        sops, tmp_path, sops_encrypt(sops, tmp_path, text, [age_key.recipient])
    )
    theirs = sops_encrypt(sops, tmp_path, text, [ssh.public])
    ring = KeyRing.discover({"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(keyfile)}, home=tmp_path / "nohome")
    assert decrypt(theirs, keys=ring).documents == decrypt(ours, keys=ring).documents
    assert decrypt(theirs, keys=ring).recipients == (ssh.public,)


def test_key_groups_shamir_both_ways(sops: SopsRun, tmp_path: Path, age_key: AgeKey, age_key2: AgeKey) -> None:
    from reconciler.sops import KeyRing

    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - age: ['{age_key.recipient}']\n      - age: ['{age_key2.recipient}']\n"
    )
    src = tmp_path / "groups.yaml"
    src.write_text(SHAPES["nested_maps"])
    theirs = sops(["--encrypt", str(src)]).stdout
    assert b"key_groups" in theirs
    both = KeyRing.from_identities([age_key.identity, age_key2.identity])
    assert decrypt(theirs, keys=both).documents[0]["db"]["user"] == "admin"
    ours = encrypt(
        SHAPES["nested_maps"].encode(),
        recipients=[],
        key_groups=[[age_key.recipient], [age_key2.recipient]],
        shamir_threshold=2,
    )
    keyfile = tmp_path / "both.txt"
    keyfile.write_text(age_key.identity + "\n" + age_key2.identity + "\n")
    (tmp_path / "ours.yaml").write_bytes(ours)
    env = {"SOPS_AGE_KEY_FILE": str(keyfile)}
    (tmp_path / "theirs.yaml").write_bytes(theirs)
    out = sops(["-d", str(tmp_path / "ours.yaml")], env=env).stdout
    assert out == sops(["-d", str(tmp_path / "theirs.yaml")], env=env).stdout
    assert b"user: admin" in out
    assert decrypt(ours, keys=both).documents == decrypt(theirs, keys=both).documents
    # one group alone is not enough
    with pytest.raises(Exception) as err:
        decrypt(ours, keys=age_key.keyring())
    assert type(err.value).__name__ == "SopsKeyNotFound"
