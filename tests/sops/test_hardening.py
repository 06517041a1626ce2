"""Issue 10 items 8, 11, 12, 14 (the SOPS parts): hostile or odd input gets a clear error, never a
traceback, unbounded work or plaintext where it should not be.

- ``edit`` with no editor configured and no terminal refuses (vi would print the plaintext to stdout);
- alias bombs and 10,000 levels of nesting are refused while parsing, before anything is decrypted;
- ``type:bytes`` values (sops never writes them, and the real sops cannot decrypt them) are refused;
- ``edit``'s temp dir is 0700 under ``$XDG_RUNTIME_DIR``; the plaintext left by an edit killed with
  SIGKILL is removed by the next edit.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import run
from reconciler.errors import SopsFormatError
from reconciler.sops import decrypt, encrypt, open_file

from .conftest import SopsRun, console
from support import AgeKey

SECRET = "CANARY-hardening-51b7"


@pytest.fixture
def enc_file(tmp_path: Path, age_key: AgeKey) -> Path:
    path = tmp_path / "s.sops.yaml"
    path.write_bytes(
        encrypt(f"version: 1\nsecrets:\n  A:\n    value: {SECRET}\n".encode(), recipients=[age_key.recipient])
    )
    return path


# ------------------------------------------------------------------ item 8: edit without an editor


def test_edit_without_editor_or_terminal_refuses_and_prints_nothing(
    enc_file: Path, tmp_path: Path, age_key: AgeKey
) -> None:
    before = enc_file.read_bytes()
    c, out, err = console(tmp_path, age_key)
    assert run(["edit", str(enc_file)], c) == 1
    assert "edit needs an editor" in err.getvalue() and "EDITOR" in err.getvalue()
    assert out.getvalue() == "" and SECRET not in err.getvalue()
    assert enc_file.read_bytes() == before


def test_edit_uses_visual_when_set(enc_file: Path, tmp_path: Path, age_key: AgeKey) -> None:
    c, _, err = console(tmp_path, age_key, VISUAL="true")
    assert run(["edit", str(enc_file)], c) == 0, err.getvalue()
    assert "no changes" in err.getvalue()


# ------------------------------------------------------------------ item 11: bombs and deep nesting


def _bomb(levels: int = 9) -> str:
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        text += f"a{i}: &a{i} [{refs}]\n"
    return text


DEEP = {
    "flow sequences": "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "flow mappings": "a: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
    "block mappings": "".join("  " * i + f"k{i}:\n" for i in range(10_000)) + "  " * 10_000 + "v\n",
    "block sequences": "".join("  " * i + "-\n" for i in range(10_000)) + "  " * 10_000 + "- v\n",
    "block mappings, comments": "# c\n" + "".join("  " * i + f"k{i}: # c\n" for i in range(10_000)) + "v: 1\n",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_a_clear_error(name: str, age_key: AgeKey) -> None:
    text = DEEP[name] + "sops:\n  mac: x\n  version: 3.11.0\n"
    with pytest.raises(SopsFormatError) as exc:
        decrypt(text.encode(), keys=age_key.keyring())
    assert "nest" in str(exc.value.summary)


def test_deep_nesting_to_encrypt_and_the_cli_is_a_clear_error(tmp_path: Path, age_key: AgeKey) -> None:
    with pytest.raises(SopsFormatError):
        encrypt(DEEP["block mappings"].encode(), recipients=[age_key.recipient])
    (tmp_path / "deep.yaml").write_text(DEEP["flow sequences"] + "sops:\n  mac: x\n  version: 3.11.0\n")
    c, out, err = console(tmp_path, age_key)
    assert run(["decrypt", "deep.yaml"], c) == 1
    assert "Traceback" not in err.getvalue() and "nest" in err.getvalue() and out.getvalue() == ""


def test_alias_bomb_is_refused_before_expanding(tmp_path: Path, age_key: AgeKey) -> None:
    # 9**9 (387 million) values once expanded; refused in well under a second of work
    text = _bomb() + "sops:\n  mac: x\n  version: 3.11.0\n"
    with pytest.raises(SopsFormatError) as exc:
        decrypt(text.encode(), keys=age_key.keyring())
    assert "alias bomb" in exc.value.summary
    with pytest.raises(SopsFormatError):
        encrypt(_bomb().encode(), recipients=[age_key.recipient])
    (tmp_path / "bomb.yaml").write_text(text)
    c, out, err = console(tmp_path, age_key)
    assert run(["decrypt", "bomb.yaml"], c) == 1 and "alias bomb" in err.getvalue() and out.getvalue() == ""


def test_a_few_aliases_still_decrypt(age_key: AgeKey) -> None:
    plain = b"base: &b {user: u, pass: p}\ncopy: *b\nlist: [*b, *b]\n"
    docs = decrypt(encrypt(plain, recipients=[age_key.recipient]), keys=age_key.keyring()).documents
    assert docs[0]["copy"] == {"user": "u", "pass": "p"} and len(docs[0]["list"]) == 2


# ------------------------------------------------------------------ item 12: type:bytes


def _with_bytes_value(age_key: AgeKey, raw: bytes) -> bytes:
    """A file whose value ``a`` is ``type:bytes`` with a correct MAC (only a forger writes this)."""
    data = encrypt(b"a: placeholder\nb: x\n", recipients=[age_key.recipient])
    f = open_file(data, keys=age_key.keyring())
    text = data.decode()
    old = re.search(r"a: (ENC\[.*?\])", text)
    assert old
    text = text.replace(old.group(1), f.cipher.encrypt(raw, "a:", "bytes"))
    lastmod = re.search(r'lastmodified: "(.*?)"', text)
    assert lastmod
    mac = hashlib.sha512(raw + b"x").hexdigest().upper()
    text = re.sub(r"mac: ENC\[.*?\]", "mac: " + f.cipher.encrypt(mac.encode(), lastmod.group(1), "str"), text)
    return text.encode()


@pytest.mark.parametrize("raw", [b"text", b"\xff\xfe not utf-8"])
def test_type_bytes_values_are_refused_like_sops(raw: bytes, tmp_path: Path, age_key: AgeKey, sops: SopsRun) -> None:
    data = _with_bytes_value(age_key, raw)
    (tmp_path / "b.yaml").write_bytes(data)
    assert sops(["-d", str(tmp_path / "b.yaml")], check=False).returncode != 0  # sops cannot either
    with pytest.raises(SopsFormatError) as exc:
        decrypt(data, keys=age_key.keyring())
    assert "type `bytes`" in exc.value.summary and "'a'" in exc.value.summary
    c, out, err = console(tmp_path, age_key)
    assert run(["decrypt", "b.yaml"], c) == 1 and out.getvalue() == "" and "Traceback" not in err.getvalue()


# ------------------------------------------------------------------ item 14: edit's temp file

EDITOR_LOG = """\
import os, stat, sys
path = sys.argv[1]
d = os.path.dirname(path)
open(os.environ["EDIT_LOG"], "w").write(f"{d}\\n{stat.S_IMODE(os.stat(d).st_mode):o}\\n")
"""

EDITOR_KILL_PARENT = """\
import os, signal, sys
open(os.environ["EDIT_LOG"], "w").write(os.path.dirname(sys.argv[1]))
os.kill(os.getppid(), signal.SIGKILL)
"""


def _runtime_dir(tmp_path: Path) -> Path:
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    return runtime


def test_edit_temp_dir_is_private_under_xdg_runtime_dir(enc_file: Path, tmp_path: Path, age_key: AgeKey) -> None:
    runtime = _runtime_dir(tmp_path)
    editor = tmp_path / "ed.py"
    editor.write_text(EDITOR_LOG)
    log = tmp_path / "log"
    c, _, err = console(
        tmp_path, age_key, EDITOR=f"{sys.executable} {editor}", EDIT_LOG=str(log), XDG_RUNTIME_DIR=str(runtime)
    )
    assert run(["edit", str(enc_file)], c) == 0, err.getvalue()
    where, mode = log.read_text().split()
    assert Path(where).parent == runtime and mode == "700"
    assert not Path(where).exists() and list(runtime.iterdir()) == []


def test_runtime_dir_open_to_others_is_not_used(enc_file: Path, tmp_path: Path, age_key: AgeKey) -> None:
    runtime = _runtime_dir(tmp_path)
    runtime.chmod(0o777)
    editor = tmp_path / "ed.py"
    editor.write_text(EDITOR_LOG)
    log = tmp_path / "log"
    c, _, err = console(
        tmp_path,
        age_key,
        EDITOR=f"{sys.executable} {editor}",
        EDIT_LOG=str(log),
        XDG_RUNTIME_DIR=str(runtime),
        TMPDIR=str(tmp_path),
    )
    assert run(["edit", str(enc_file)], c) == 0, err.getvalue()
    assert Path(log.read_text().split()[0]).parent == tmp_path


def test_plaintext_left_by_a_sigkilled_edit_is_removed_by_the_next_run(
    enc_file: Path, tmp_path: Path, age_key: AgeKey
) -> None:
    runtime = _runtime_dir(tmp_path)
    editor = tmp_path / "kill.py"
    editor.write_text(EDITOR_KILL_PARENT)
    log = tmp_path / "log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "SOPS_AGE_KEY": age_key.identity,
        "EDITOR": f"{sys.executable} {editor}",
        "EDIT_LOG": str(log),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "edit", str(enc_file)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    left = Path(log.read_text())
    assert left.parent == runtime and left.is_dir()
    assert any(SECRET.encode() in p.read_bytes() for p in left.iterdir())  # the plaintext the kill left
    c, _, err = console(tmp_path, age_key, EDITOR="true", XDG_RUNTIME_DIR=str(runtime))
    assert run(["edit", str(enc_file)], c) == 0, err.getvalue()
    assert not left.exists() and list(runtime.iterdir()) == []
    assert "interrupted edit" in err.getvalue()


def test_a_running_edit_temp_dir_is_not_removed(tmp_path: Path, enc_file: Path, age_key: AgeKey) -> None:
    runtime = _runtime_dir(tmp_path)
    live = runtime / f"wix-secrets-edit-{os.getppid()}-abc"  # our parent is alive
    live.mkdir(mode=0o700)
    c, _, err = console(tmp_path, age_key, EDITOR="true", XDG_RUNTIME_DIR=str(runtime))
    assert run(["edit", str(enc_file)], c) == 0, err.getvalue()
    assert live.is_dir()
