"""Metadata variants other sops versions write (field order, empty key lists, lastmodified forms)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.errors import SopsIntegrityError
from reconciler.sops import decrypt
from reconciler.sops.emit import dump
from reconciler.sops.store import Branch, load

from .conftest import SopsRun, sops_encrypt
from support import AgeKey

PLAIN = "db:\n  user: admin\n  port: 5432\nlist: [a, b]\n"


@pytest.fixture
def encrypted(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> bytes:
    return sops_encrypt(sops, tmp_path, PLAIN, [age_key.recipient], name="p.yaml")


def _rewrite_block(data: bytes, change: object) -> bytes:
    docs = load(data)
    block = docs[0].get("sops")
    assert isinstance(block, Branch)
    change(block)  # type: ignore[operator]
    return dump(docs)


def test_alphabetical_metadata_like_sops_3_13(encrypted: bytes, age_key: AgeKey, sops: SopsRun, tmp_path: Path) -> None:
    def alpha(block: Branch) -> None:
        block.items.sort(key=lambda kv: str(kv[0]))
        for entry in block.get("age"):
            entry.items.sort(key=lambda kv: str(kv[0]))

    data = _rewrite_block(encrypted, alpha)
    assert data.index(b"    age:") < data.index(b"    lastmodified:") < data.index(b"    version:")
    assert decrypt(data, keys=age_key.keyring()).documents[0]["db"]["port"] == 5432
    (tmp_path / "alpha.yaml").write_bytes(data)
    assert b"port: 5432" in sops(["-d", str(tmp_path / "alpha.yaml")]).stdout


def test_empty_key_lists_like_sops_3_7(encrypted: bytes, age_key: AgeKey) -> None:
    def old(block: Branch) -> None:
        block.items[0:0] = [("kms", []), ("gcp_kms", []), ("azure_kv", []), ("hc_vault", [])]
        block.items.insert(len(block.items) - 1, ("pgp", []))

    data = _rewrite_block(encrypted, old)
    assert b"kms: []" in data
    assert decrypt(data, keys=age_key.keyring()).documents[0]["list"] == ["a", "b"]


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        (r"lastmodified: \1T\2+00:00", True),  # offset written +00:00: re-formatted to Z for the MAC's AAD
        (r'lastmodified: "\1T\2.5Z"', True),  # fractional seconds dropped
        (r"lastmodified: \1T\2Z", True),  # unquoted (sops 3.11 reads it too)
        (r'lastmodified: "\1T\2+01:00"', False),  # another instant: the MAC cannot be decrypted
    ],
)
def test_lastmodified_forms(pattern: str, ok: bool, encrypted: bytes, age_key: AgeKey) -> None:
    text = re.sub(r'lastmodified: "(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)Z"', pattern, encrypted.decode())
    assert text != encrypted.decode()
    if ok:
        assert decrypt(text.encode(), keys=age_key.keyring()).documents[0]["db"]["user"] == "admin"
    else:
        with pytest.raises(SopsIntegrityError, match="modified or damaged"):
            decrypt(text.encode(), keys=age_key.keyring())


def test_armor_without_final_newline_and_crlf(encrypted: bytes, age_key: AgeKey) -> None:
    crlf = encrypted.replace(b"\n", b"\r\n")
    assert decrypt(crlf, keys=age_key.keyring()).documents[0]["db"]["port"] == 5432

    def strip(block: Branch) -> None:
        for entry in block.get("age"):
            entry.set("enc", entry.get("enc").rstrip("\n"))

    data = _rewrite_block(encrypted, strip)
    assert b"enc: |-" in data
    assert decrypt(data, keys=age_key.keyring()).documents[0]["db"]["port"] == 5432
