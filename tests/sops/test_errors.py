"""Bad input gives a clear SopsError subclass (and a one-line CLI error, no traceback), never a warning.

Vectors are made with the real sops in tmp dirs and then damaged; sops itself must reject them too.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import run
from reconciler.cli.console import Console
from reconciler.errors import (
    SopsError,
    SopsFormatError,
    SopsIntegrityError,
    SopsKeyNotFound,
)
from reconciler.sops import KeyRing, decrypt, is_encrypted

from .conftest import SopsRun, sops_encrypt
from support import AgeKey, new_age_key

PLAIN = """\
db:
  user: admin
  password: hunter2
  port: 5432
public_unencrypted: visible
other: value
"""


@pytest.fixture
def encrypted(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> bytes:
    return sops_encrypt(sops, tmp_path, PLAIN, [age_key.recipient], name="plain.yaml")


def _flip_data(text: str, key: str) -> str:
    m = re.search(rf"^(\s*{key}: ENC\[AES256_GCM,data:)(.)", text, re.M)
    assert m
    ch = "A" if m.group(2) != "A" else "B"
    return text[: m.start(2)] + ch + text[m.end(2) :]


def _swap(text: str) -> str:
    user = re.search(r"^    user: (ENC\[.*\])$", text, re.M)
    pw = re.search(r"^    password: (ENC\[.*\])$", text, re.M)
    assert user and pw
    swapped = text.replace(user.group(0), "    user: " + pw.group(1))
    return swapped.replace(pw.group(0), "    password: " + user.group(1))


DAMAGE: dict[str, tuple[Callable[[str], str], type[SopsError], str]] = {
    "tampered_ciphertext": (lambda t: _flip_data(t, "password"), SopsIntegrityError, "modified or damaged"),
    "tampered_mac": (lambda t: _flip_data(t, "mac"), SopsIntegrityError, "modified or damaged"),
    "value_moved_to_other_key": (_swap, SopsIntegrityError, "modified or damaged"),
    "unencrypted_value_changed": (lambda t: t.replace("visible", "changed"), SopsIntegrityError, "MAC mismatch"),
    "key_removed": (lambda t: re.sub(r"^other: .*\n", "", t, flags=re.M), SopsIntegrityError, "MAC mismatch"),
    "lastmodified_changed": (
        lambda t: re.sub(r'lastmodified: "(\d{4})', r'lastmodified: "1999', t),
        SopsIntegrityError,
        "modified or damaged",
    ),
    "plaintext_where_encrypted": (
        lambda t: re.sub(r"^other: .*$", "other: value", t, flags=re.M),
        SopsIntegrityError,
        "should be encrypted",
    ),
    "truncated": (lambda t: t[: len(t) // 2], SopsFormatError, ""),
    "invalid_version": (lambda t: t.replace("version: 3.11.0", "version: foo"), SopsFormatError, "version"),
    "missing_version": (lambda t: t.replace("    version: 3.11.0\n", ""), SopsFormatError, "version"),
    "missing_sops_block": (lambda t: t[: t.index("sops:")], SopsFormatError, "not a sops file"),
    "missing_mac": (lambda t: re.sub(r"^    mac: .*\n", "", t, flags=re.M), SopsFormatError, "no MAC"),
    "damaged_age_block": (
        lambda t: re.sub(r"(-----BEGIN AGE ENCRYPTED FILE-----\n\s+)(....)", r"\1AAAA", t),
        SopsIntegrityError,
        "data key",
    ),
    "not_yaml": (lambda t: "{{{ not yaml", SopsFormatError, "invalid YAML"),
    "empty": (lambda t: "", SopsFormatError, "empty"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_file_is_an_error(case: str, encrypted: bytes, age_key: AgeKey, sops: SopsRun, tmp_path: Path) -> None:
    damage, error, words = DAMAGE[case]
    bad = damage(encrypted.decode()).encode()
    with pytest.raises(error) as info:
        decrypt(bad, keys=age_key.keyring())
    assert words in info.value.user_message()
    assert "hunter2" not in info.value.user_message()
    # sops agrees the file is bad
    path = tmp_path / "bad.yaml"
    path.write_bytes(bad)
    assert sops(["-d", str(path)], check=False).returncode != 0
    # and the CLI reports it in one clear message, exit 1, no traceback
    out, err = io.StringIO(), io.StringIO()
    console = Console(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(),
        environ={"SOPS_AGE_KEY": age_key.identity, "HOME": str(tmp_path)},
        cwd=tmp_path,
    )
    assert run(["decrypt", str(path)], console) == 1
    assert err.getvalue().startswith("Error: ")
    assert "Traceback" not in err.getvalue()
    assert out.getvalue() == ""


def test_wrong_key_lists_places_and_recipients(encrypted: bytes, age_key: AgeKey, tmp_path: Path) -> None:
    other = new_age_key()
    keyfile = tmp_path / "other.txt"
    keyfile.write_text(other.identity + "\n")
    ring = KeyRing.discover(
        {"SOPS_AGE_KEY_FILE": str(keyfile), "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        home=tmp_path / "home",
        platform="linux",
    )
    with pytest.raises(SopsKeyNotFound) as info:
        decrypt(encrypted, keys=ring)
    msg = info.value.user_message()
    assert age_key.recipient in msg
    assert f"SOPS_AGE_KEY_FILE={keyfile}: 1 identity" in msg
    for place in (
        "SOPS_AGE_KEY:",
        "SOPS_AGE_KEY_CMD:",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE:",
        str(tmp_path / "home" / ".ssh" / "id_ed25519"),
        str(tmp_path / "home" / ".ssh" / "id_rsa"),
        str(tmp_path / "xdg" / "sops" / "age" / "keys.txt"),
    ):
        assert place in msg
    assert other.identity not in msg


def test_no_key_at_all_cli(encrypted: bytes, tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(encrypted)
    err = io.StringIO()
    console = Console(
        stdout=io.StringIO(), stderr=err, stdin=io.StringIO(), environ={"HOME": str(tmp_path)}, cwd=tmp_path
    )
    assert run(["decrypt", "f.yaml"], console) == 1
    assert "no age identity" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_is_encrypted(encrypted: bytes) -> None:
    assert is_encrypted(encrypted)
    assert not is_encrypted(PLAIN.encode())
    assert not is_encrypted(b"sops:\n  version: 3\n")
    assert not is_encrypted(b"")


def test_repr_hides_key(encrypted: bytes, age_key: AgeKey) -> None:
    result = decrypt(encrypted, keys=age_key.keyring())
    assert result.data_key.hex() not in repr(result)
    assert str(result.data_key) not in repr(result)
    assert age_key.identity not in repr(age_key.keyring())


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("", SopsError, "empty"),
        ("# only a comment\n", SopsError, "empty"),
        ("- a\n- b\n", SopsFormatError, "mapping"),
        ("a: 1\nsops:\n  mac: x\n", SopsError, "already encrypted"),
        ("1: one\n", SopsFormatError, "non-string key"),
        ("a: 18446744073709551615\n", SopsError, "too large"),
        ("a: 1\na: 2\n", SopsFormatError, "duplicate key"),
        ("a: [1\n", SopsFormatError, "invalid YAML"),
    ],
)
def test_encrypt_rejects_bad_input(
    text: str, error: type[SopsError], words: str, age_key: AgeKey, sops: SopsRun, tmp_path: Path
) -> None:
    from reconciler.sops import encrypt

    with pytest.raises(error) as info:
        encrypt(text.encode(), recipients=[age_key.recipient])
    assert words in info.value.user_message()
    # sops refuses the same inputs
    src = tmp_path / "bad.yaml"
    src.write_text(text)
    assert sops(["--encrypt", "--age", age_key.recipient, str(src)], check=False).returncode != 0


def test_bad_recipient_is_an_encrypt_error(age_key: AgeKey) -> None:
    from reconciler.errors import SopsEncryptError
    from reconciler.sops import encrypt

    with pytest.raises(SopsEncryptError):
        encrypt(b"a: 1\n", recipients=["age1notarecipient"])
    with pytest.raises(SopsEncryptError):
        encrypt(b"a: 1\n", recipients=[])
