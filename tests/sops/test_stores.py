"""Issue 14 items 1-2: every sops store (YAML, JSON, dotenv, INI, binary), both directions, against the
real sops 3.11 binary.

Per store and sample (comments, unicode, empty values, nested JSON, a 1 MiB binary):
A. sops encrypts -> ``wix-secrets decrypt`` prints exactly what ``sops -d`` prints;
B. we encrypt -> ``sops -d`` prints exactly what it prints for its own encryption;
C. edit / set / unset / rotate / updatekeys in that store -> the file still opens with ``sops -d``;
D. ``--extract``, ``--in-place``, ``--output-type`` as sops has them;
E. every store's file fed to every other store's reader: either exactly sops' output, or a clear
   refusal (never exit 0 with different output, never a traceback).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

from reconciler.cli import run
from reconciler.sops import decrypt_text, encrypt

from .conftest import SopsRun, console
from support import AgeKey, new_age_key

EXT = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}

SAMPLES: dict[str, dict[str, bytes]] = {
    "yaml": {
        "comments_unicode_empty": (
            "# top comment\nname: Zoë ☃ 日本\nempty: ''\nnull_value: null\nnested:\n  # inner\n"
            "  list: [1, two, 3.5]\n  deep: {a: {b: c}}\n"
        ).encode(),
    },
    "json": {
        "nested": b'{"a": {"b": {"c": [1, 2, {"d": "e"}]}}, "list": [[], {}, [[1]]], "empty": "", '
        b'"n": null, "t": true, "f": false}\n',
        "numbers": b'{"int": 1, "neg": -5, "float": 1.5, "big": 12345678901234567890, "tiny": 0.0000001, '
        b'"huge": 1e21, "exp": 2.5E+3, "zero": 0, "negzero": -0}',
        "strings": '{"html": "<a href=\\"x\\">&amp;</a>", "unicode": "Zoë ☃ 日本 \\u2028", '
        '"ctrl": "tab\\there\\nnew\\u0001\\b\\f", "slash": "a\\/b", "emoji": "\\ud83d\\ude00"}'.encode(),
        "compact_order": b'{"z":1,"a":{"y":2,"b":[true,false,null]},"m":"last"}',
    },
    "dotenv": {
        "comments_unicode_empty": (
            "# a comment\nNAME=Zoë ☃\nEMPTY=\nWITH_EQ=a=b=c\nMULTI=line1\\nline2\n# another\n"
            "SPACED = value with spaces \nURL=https://x.example/?q=1#frag\n"
        ).encode(),
    },
    "ini": {
        "sections_comments": (
            "; top comment\n[database]\n# key comment\nuser = admin\npassword = s3cr3t ; inline comment\n"
            'empty =\n\n[unicode]\nname = Zoë ☃ 日本\nquoted = "  padded  "\ncolon: value\n'
        ).encode(),
        "default_section": b"global = 1\nother = two\n[s]\nk = v\n",
    },
    "binary": {
        "text_crlf": "line one\r\nZoë ☃\r\n\ttabbed\n".encode(),
        "random_1mib": random.Random(14).randbytes(1024 * 1024),
    },
}
CASES = [(fmt, name) for fmt, samples in SAMPLES.items() for name in samples]


def write_plain(tmp_path: Path, fmt: str, name: str) -> Path:
    path = tmp_path / f"{name}.{EXT[fmt]}"
    path.write_bytes(SAMPLES[fmt][name])
    return path


def sops_encrypted(sops: SopsRun, tmp_path: Path, fmt: str, name: str, key: AgeKey) -> Path:
    plain = write_plain(tmp_path, fmt, name)
    enc = tmp_path / f"{name}.sops.{EXT[fmt]}"
    enc.write_bytes(sops(["-e", "--age", key.recipient, str(plain)]).stdout)
    return enc


def our_decrypt(tmp_path: Path, key: AgeKey, *args: str) -> tuple[int, bytes, str]:
    out_file = tmp_path / "ours.out"
    out_file.unlink(missing_ok=True)
    c, _out, err = console(tmp_path, key)
    code = run(["decrypt", *args, "-o", str(out_file)], c)
    data = out_file.read_bytes() if out_file.exists() else b""
    return code, data, err.getvalue()


@pytest.mark.parametrize(("fmt", "name"), CASES)
def test_sops_encrypts_we_decrypt_byte_identical(
    fmt: str, name: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey
) -> None:
    enc = sops_encrypted(sops, tmp_path, fmt, name, age_key)
    expected = sops(["-d", str(enc)]).stdout
    code, ours, err = our_decrypt(tmp_path, age_key, str(enc))
    assert code == 0, err
    assert ours == expected
    if fmt == "binary":
        assert ours == SAMPLES[fmt][name]


@pytest.mark.parametrize(("fmt", "name"), CASES)
def test_we_encrypt_sops_decrypts_byte_identical(
    fmt: str, name: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey
) -> None:
    plain = write_plain(tmp_path, fmt, name)
    theirs = sops(["-d", str(sops_encrypted(sops, tmp_path, fmt, name, age_key))]).stdout
    c, _, err = console(tmp_path, age_key)
    ours_enc = tmp_path / f"ours.{EXT[fmt]}"
    assert run(["encrypt", str(plain), "--age", age_key.recipient, "-o", str(ours_enc)], c) == 0, err.getvalue()
    raw = ours_enc.read_bytes()
    if fmt != "binary":
        assert b"ENC[AES256_GCM," in raw
    assert sops(["-d", str(ours_enc)]).stdout == theirs
    # and our own decrypt of our file prints the same bytes
    assert decrypt_text(raw, keys=age_key.keyring(), fmt=fmt) == theirs


def test_binary_file_no_longer_decrypts_to_yaml(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    """The issue's silent failure: ``decrypt secret.txt`` printed ``data: |+ ...`` with exit 0."""
    plain = tmp_path / "secret.txt"
    plain.write_bytes(b"password=hunter2\n")
    enc = tmp_path / "secret.enc.txt"
    enc.write_bytes(sops(["-e", "--age", age_key.recipient, str(plain)]).stdout)
    c, out, err = console(tmp_path, age_key)
    assert run(["decrypt", str(enc)], c) == 0, err.getvalue()
    assert out.getvalue() == "password=hunter2\n" == sops(["-d", str(enc)]).stdout.decode()


EDITS = {  # (file format, sample, old bytes, new bytes) for edit
    "yaml": ("comments_unicode_empty", "Zoë", "Zoe"),
    "json": ("nested", '"e"', '"edited"'),
    "dotenv": ("comments_unicode_empty", "Zoë", "Zoe"),
    "ini": ("sections_comments", "admin", "root"),
    "binary": ("text_crlf", "line one", "line 1"),
}


@pytest.mark.parametrize("fmt", sorted(EDITS))
def test_edit_each_store_and_sops_reads_it(fmt: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    name, old, new = EDITS[fmt]
    enc = sops_encrypted(sops, tmp_path, fmt, name, age_key)
    editor = tmp_path / "ed.py"
    editor.write_text(
        "import sys\np = sys.argv[1]\ndata = open(p, 'rb').read()\n"
        f"assert {old.encode()!r} in data\nopen(p, 'wb').write(data.replace({old.encode()!r}, {new.encode()!r}))\n"
    )
    c, _, err = console(tmp_path, age_key, EDITOR=f"{sys.executable} {editor}")
    before = sops(["-d", str(enc)]).stdout
    assert run(["edit", str(enc)], c) == 0, err.getvalue()
    assert sops(["-d", str(enc)]).stdout == before.replace(old.encode(), new.encode())


SET_PATHS = {  # a path to set, its expected effect checked through sops --extract
    "yaml": ('["nested"]["added"]', "yaml"),
    "json": ('["a"]["b"]["new"]', "json"),
    "dotenv": ('["NEW_KEY"]', "dotenv"),
    "ini": ('["database"]["port"]', "ini"),
}


@pytest.mark.parametrize("fmt", sorted(SET_PATHS))
def test_set_and_unset_by_path_each_store(fmt: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    name = EDITS[fmt][0]
    enc = sops_encrypted(sops, tmp_path, fmt, name, age_key)
    path, _ = SET_PATHS[fmt]
    c, _, err = console(tmp_path, age_key, stdin="v@lue ☃")
    assert run(["set", str(enc), path], c) == 0, err.getvalue()
    assert "v@lue" not in err.getvalue()
    assert sops(["-d", "--extract", path, str(enc)]).stdout == "v@lue ☃".encode()
    c, _, err = console(tmp_path, age_key)
    assert run(["unset", str(enc), path], c) == 0, err.getvalue()
    assert sops(["-d", "--extract", path, str(enc)], check=False).returncode != 0
    assert sops(["-d", str(enc)]).stdout == sops(["-d", str(sops_encrypted(sops, tmp_path, fmt, name, age_key))]).stdout


def test_set_on_dotenv_by_plain_name(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    enc = sops_encrypted(sops, tmp_path, "dotenv", "comments_unicode_empty", age_key)
    c, _, err = console(tmp_path, age_key, stdin="xyz")
    assert run(["set", str(enc), "NAME"], c) == 0, err.getvalue()
    assert b"NAME=xyz\n" in sops(["-d", str(enc)]).stdout


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_rotate_and_updatekeys_each_store(fmt: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    name = next(iter(SAMPLES[fmt]))
    enc = sops_encrypted(sops, tmp_path, fmt, name, age_key)
    expected = sops(["-d", str(enc)]).stdout
    c, _, err = console(tmp_path, age_key)
    assert run(["rotate", str(enc)], c) == 0, err.getvalue()
    assert sops(["-d", str(enc)]).stdout == expected
    other = new_age_key()
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {age_key.recipient},{other.recipient}\n")
    c, _, err = console(tmp_path, age_key)
    assert run(["updatekeys", "--yes", str(enc)], c) == 0, err.getvalue()
    assert sops(["-d", str(enc)], env={"SOPS_AGE_KEY": other.identity, "SOPS_AGE_KEY_FILE": ""}).stdout == expected


EXTRACTS = [
    ("json", "nested", '["a"]["b"]'),
    ("json", "nested", '["a"]["b"]["c"]'),
    ("json", "nested", '["empty"]'),
    ("json", "numbers", '["float"]'),
    ("yaml", "comments_unicode_empty", '["nested"]["list"]'),
    ("yaml", "comments_unicode_empty", '["nested"]["deep"]'),
    ("yaml", "comments_unicode_empty", '["name"]'),
    ("dotenv", "comments_unicode_empty", '["NAME"]'),
    ("ini", "sections_comments", '["database"]'),
    ("ini", "sections_comments", '["database"]["user"]'),
]


@pytest.mark.parametrize(("fmt", "name", "path"), EXTRACTS)
def test_extract_like_sops(fmt: str, name: str, path: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    enc = sops_encrypted(sops, tmp_path, fmt, name, age_key)
    code, ours, err = our_decrypt(tmp_path, age_key, "--extract", path, str(enc))
    theirs = sops(["-d", "--extract", path, str(enc)], check=False)
    if theirs.returncode == 0:
        assert code == 0, err
        assert ours == theirs.stdout
    else:  # e.g. a whole INI section: sops cannot write it either
        assert code == 1 and ours == b"" and "Traceback" not in err


CONVERSIONS = [
    ("json", "nested", "yaml"),
    ("yaml", "comments_unicode_empty", "json"),
    ("dotenv", "comments_unicode_empty", "json"),
    ("json", "compact_order", "dotenv"),
    ("ini", "sections_comments", "json"),
    ("json", "nested", "binary"),
]


@pytest.mark.parametrize(("fmt", "name", "out"), CONVERSIONS)
def test_output_type_like_sops(fmt: str, name: str, out: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    enc = sops_encrypted(sops, tmp_path, fmt, name, age_key)
    theirs = sops(["-d", "--output-type", out, str(enc)], check=False)
    code, ours, err = our_decrypt(tmp_path, age_key, "--output-type", out, str(enc))
    if theirs.returncode == 0:
        assert code == 0, err
        assert ours == theirs.stdout
    else:
        assert code == 1 and "Traceback" not in err and ours == b""


def test_decrypt_in_place(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    enc = sops_encrypted(sops, tmp_path, "json", "nested", age_key)
    expected = sops(["-d", str(enc)]).stdout
    c, out, err = console(tmp_path, age_key)
    assert run(["decrypt", "--in-place", str(enc)], c) == 0, err.getvalue()
    assert enc.read_bytes() == expected and out.getvalue() == ""


def test_encrypt_output_type(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    plain = write_plain(tmp_path, "yaml", "comments_unicode_empty")
    c, _, err = console(tmp_path, age_key)
    target = tmp_path / "out.json"
    assert (
        run(["encrypt", str(plain), "--age", age_key.recipient, "--output-type", "json", "-o", str(target)], c) == 0
    ), err.getvalue()
    assert target.read_bytes().startswith(b"{\n\t")
    expected = sops(
        [
            "-d",
            "--input-type",
            "yaml",
            "--output-type",
            "json",
            str(sops_encrypted(sops, tmp_path, "yaml", "comments_unicode_empty", age_key)),
        ]
    ).stdout
    assert sops(["-d", str(target)]).stdout == expected


@pytest.mark.parametrize("writer", sorted(SAMPLES))
def test_every_store_read_by_every_other_store(writer: str, sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    name = next(iter(SAMPLES[writer]))
    enc = sops_encrypted(sops, tmp_path, writer, name, age_key)
    for reader in SAMPLES:
        if reader == writer:
            continue
        theirs = sops(["-d", "--input-type", reader, "--output-type", reader, str(enc)], check=False)
        code, ours, err = our_decrypt(tmp_path, age_key, "--input-type", reader, "--output-type", reader, str(enc))
        assert "Traceback" not in err
        if code == 0:  # success only with exactly sops' output
            assert theirs.returncode == 0 and ours == theirs.stdout, (writer, reader)
        else:
            assert code == 1 and ours == b"", (writer, reader)
            assert "not a sops" in err or "--input-type" in err or "invalid" in err, (writer, reader, err)


def test_unknown_type_is_refused(tmp_path: Path, age_key: AgeKey) -> None:
    plain = write_plain(tmp_path, "json", "nested")
    c, out, _err = console(tmp_path, age_key)
    assert run(["decrypt", "--input-type", "toml", str(plain)], c) != 0
    assert out.getvalue() == ""


def test_api_encrypt_every_store_roundtrip(age_key: AgeKey) -> None:
    for fmt, samples in SAMPLES.items():
        for name, plain in samples.items():
            if name == "random_1mib":
                continue
            enc = encrypt(plain, recipients=[age_key.recipient], fmt=fmt)
            again = decrypt_text(enc, keys=age_key.keyring(), fmt=fmt)
            assert (
                decrypt_text(encrypt(again, recipients=[age_key.recipient], fmt=fmt), keys=age_key.keyring(), fmt=fmt)
                == again
            )


def test_binary_decrypt_to_the_real_stdout_is_byte_exact(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    import subprocess

    enc = sops_encrypted(sops, tmp_path, "binary", "random_1mib", age_key)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home"), "SOPS_AGE_KEY": age_key.identity}
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "decrypt", str(enc)],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == SAMPLES["binary"]["random_1mib"] == sops(["-d", str(enc)]).stdout
