"""The sops subcommands end to end, through ``reconciler.cli.run`` with an in-memory Console.

Files written by the commands are checked with the real ``sops -d``.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

from reconciler.cli import run
from reconciler.sops import decrypt, open_file
from reconciler.sops.config import rule_for_file

from .conftest import SopsRun, console
from support import AgeKey, new_age_key

MANIFEST = """\
# wix-secrets manifest
version: 1
secrets:
  API_KEY:
    value: key-one
    description: first
  DB_URL:
    value: postgres://u:p@h/db
"""


@pytest.fixture
def enc_manifest(tmp_path: Path, age_key: AgeKey) -> Path:
    src = tmp_path / "secrets.yaml"
    src.write_text(MANIFEST)
    c, _, err = console(tmp_path, age_key)
    assert (
        run(
            [
                "encrypt",
                "secrets.yaml",
                "--age",
                age_key.recipient,
                "--encrypted-regex",
                "^value$",
                "-o",
                "secrets.sops.yaml",
            ],
            c,
        )
        == 0
    ), err.getvalue()
    return tmp_path / "secrets.sops.yaml"


def test_encrypt_decrypt_roundtrip_and_sops_reads_it(
    enc_manifest: Path, tmp_path: Path, age_key: AgeKey, sops: SopsRun
) -> None:
    text = enc_manifest.read_text()
    assert "key-one" not in text and "description: first" in text
    c, out, _ = console(tmp_path, age_key)
    assert run(["decrypt", str(enc_manifest)], c) == 0
    assert out.getvalue() == sops(["-d", str(enc_manifest)]).stdout.decode()
    c, out, _ = console(tmp_path, age_key)
    assert run(["decrypt", str(enc_manifest), "-o", "plain.yaml"], c) == 0
    assert stat.S_IMODE((tmp_path / "plain.yaml").stat().st_mode) == 0o600
    assert "key-one" in (tmp_path / "plain.yaml").read_text()


def test_encrypt_in_place_with_sops_yaml_rule(tmp_path: Path, age_key: AgeKey, sops: SopsRun) -> None:
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: other/.*\\.yaml$\n    age: age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\n"
        f"  - path_regex: \\.yaml$\n    encrypted_regex: ^value$\n    age: {age_key.recipient}\n"
    )
    sub = tmp_path / "dir"
    sub.mkdir()
    (sub / "m.yaml").write_text(MANIFEST)
    c, _, err = console(sub, age_key)
    c.cwd = tmp_path
    assert run(["encrypt", "dir/m.yaml", "--in-place"], c) == 0, err.getvalue()
    data = (sub / "m.yaml").read_bytes()
    meta = decrypt(data, keys=age_key.keyring()).metadata
    assert meta.rules.encrypted_regex == "^value$"
    assert meta.recipients == (age_key.recipient,)
    assert b"key-one" in sops(["-d", str(sub / "m.yaml")]).stdout


def test_set_reads_value_from_stdin_and_keeps_other_ciphertexts(
    enc_manifest: Path, tmp_path: Path, age_key: AgeKey, sops: SopsRun
) -> None:
    before = enc_manifest.read_text()
    c, _, err = console(tmp_path, age_key, stdin="new-secret-value\n")
    assert run(["set", str(enc_manifest), "NEW", "--description", "added"], c) == 0, err.getvalue()
    assert "new-secret-value" not in err.getvalue()
    after = enc_manifest.read_text()
    old_api = re.search(r"API_KEY:\n\s+value: (ENC\[.*\])", before)
    assert old_api and old_api.group(1) in after  # IV stash: unchanged values keep their ciphertext
    docs = decrypt(after.encode(), keys=age_key.keyring()).documents
    assert docs[0]["secrets"]["NEW"] == {"value": "new-secret-value", "description": "added"}
    assert b"new-secret-value" in sops(["-d", str(enc_manifest)]).stdout
    c, _, err = console(tmp_path, age_key)
    assert run(["unset", str(enc_manifest), "NEW"], c) == 0, err.getvalue()
    assert "NEW" not in decrypt(enc_manifest.read_bytes(), keys=age_key.keyring()).documents[0]["secrets"]
    c, _, err = console(tmp_path, age_key)
    assert run(["unset", str(enc_manifest), "NEW"], c) == 1
    assert "no secret named" in err.getvalue()


EDITOR = """\
import os, stat, sys
path = sys.argv[1]
st = os.stat(path); dst = os.stat(os.path.dirname(path))
with open(os.environ["EDIT_LOG"], "w") as log:
    log.write(f"{path}\\n{stat.S_IMODE(st.st_mode):o}\\n{stat.S_IMODE(dst.st_mode):o}\\n")
text = open(path).read()
open(path, "w").write(text.replace("postgres://u:p@h/db", "postgres://new@h/db"))
sys.exit(int(os.environ.get("EDIT_EXIT", "0")))
"""


def test_edit_private_temp_file_removed_and_minimal_diff(
    enc_manifest: Path, tmp_path: Path, age_key: AgeKey, sops: SopsRun
) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR)
    log = tmp_path / "edit.log"
    before = enc_manifest.read_text()
    c, _, err = console(tmp_path, age_key, EDITOR=f"{sys.executable} {editor}", EDIT_LOG=str(log))
    assert run(["edit", str(enc_manifest)], c) == 0, err.getvalue()
    temp, mode, dirmode = log.read_text().split("\n")[:3]
    assert (mode, dirmode) == ("600", "700")
    assert not os.path.exists(temp) and not os.path.exists(os.path.dirname(temp))
    after = enc_manifest.read_text()
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    # only the edited value and the sops MAC/lastmodified lines change
    assert all(re.match(r"\s+(value|mac|lastmodified):", line) for line in changed), changed
    assert sum(1 for line in changed if "value:" in line) == 1
    assert b"postgres://new@h/db" in sops(["-d", str(enc_manifest)]).stdout


def test_edit_failure_removes_temp_and_keeps_file(enc_manifest: Path, tmp_path: Path, age_key: AgeKey) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR)
    log = tmp_path / "edit.log"
    before = enc_manifest.read_bytes()
    c, _, err = console(tmp_path, age_key, EDITOR=f"{sys.executable} {editor}", EDIT_LOG=str(log), EDIT_EXIT="3")
    assert run(["edit", str(enc_manifest)], c) == 1
    assert "status 3" in err.getvalue()
    temp = log.read_text().split("\n")[0]
    assert not os.path.exists(temp)
    assert enc_manifest.read_bytes() == before


def test_rotate_changes_data_key(enc_manifest: Path, tmp_path: Path, age_key: AgeKey, sops: SopsRun) -> None:
    key_before = open_file(enc_manifest.read_bytes(), keys=age_key.keyring()).data_key
    c, _, err = console(tmp_path, age_key)
    assert run(["rotate", str(enc_manifest)], c) == 0, err.getvalue()
    after = open_file(enc_manifest.read_bytes(), keys=age_key.keyring())
    assert after.data_key != key_before
    assert b"key-one" in sops(["-d", str(enc_manifest)]).stdout


def test_updatekeys(enc_manifest: Path, tmp_path: Path, age_key: AgeKey, sops: SopsRun) -> None:
    other = new_age_key()
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - encrypted_regex: ^value$\n    age: {age_key.recipient},{other.recipient}\n"
    )
    c, _, err = console(tmp_path, age_key)
    assert run(["updatekeys", str(enc_manifest)], c) == 1  # not interactive and no --yes
    assert "--yes" in err.getvalue()
    c, _, err = console(tmp_path, age_key)
    assert run(["updatekeys", str(enc_manifest), "--yes"], c) == 0, err.getvalue()
    assert f"+++ {other.recipient}" in err.getvalue()
    data = enc_manifest.read_bytes()
    assert decrypt(data, keys=other.keyring()).documents[0]["secrets"]["API_KEY"]["value"] == "key-one"
    keyfile = tmp_path / "other.txt"
    keyfile.write_text(other.identity + "\n")
    assert b"key-one" in sops(["-d", str(enc_manifest)], env={"SOPS_AGE_KEY_FILE": str(keyfile)}).stdout
    c, _, err = console(tmp_path, age_key)
    assert run(["updatekeys", str(enc_manifest), "--yes"], c) == 0
    assert "already up to date" in err.getvalue()


def test_keygen(tmp_path: Path, sops: SopsRun) -> None:
    c, _, err = console(tmp_path, None)
    assert run(["keygen", "-o", "k.txt"], c) == 0
    keyfile = tmp_path / "k.txt"
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    public = err.getvalue().split("Public key: ")[1].strip()
    assert public.startswith("age1") and public in keyfile.read_text()
    assert run(["keygen", "-o", "k.txt"], console(tmp_path, None)[0]) == 1  # never overwrites
    # the new key works with sops
    src = tmp_path / "x.yaml"
    src.write_text("a: b\n")
    c, _, _ = console(tmp_path, None)
    assert run(["encrypt", "x.yaml", "--age", public, "-o", "x.enc.yaml"], c) == 0
    assert sops(["-d", str(tmp_path / "x.enc.yaml")], env={"SOPS_AGE_KEY_FILE": str(keyfile)}).stdout == b"a: b\n"


def test_first_matching_creation_rule_wins(tmp_path: Path) -> None:
    cfg = tmp_path / ".sops.yaml"
    cfg.write_text(
        "creation_rules:\n  - path_regex: prod/\n    age: age1prod\n"
        "  - path_regex: \\.yaml$\n    age: [age1a, age1b]\n    encrypted_suffix: _secret\n"
        "  - age: age1fallback\n"
    )
    assert rule_for_file(cfg, tmp_path / "prod" / "x.yaml").age == ("age1prod",)  # type: ignore[union-attr]
    second = rule_for_file(cfg, tmp_path / "dev" / "x.yaml")
    assert second is not None and second.age == ("age1a", "age1b")
    assert second.rules.encrypted_suffix == "_secret"
    assert rule_for_file(cfg, tmp_path / "x.json").age == ("age1fallback",)  # type: ignore[union-attr]


def test_edit_invalid_yaml_keeps_file_and_removes_temp(enc_manifest: Path, tmp_path: Path, age_key: AgeKey) -> None:
    editor = tmp_path / "bad_editor.py"
    editor.write_text(
        "import os, sys\nopen(os.environ['EDIT_LOG'], 'w').write(sys.argv[1])\n"
        "open(sys.argv[1], 'w').write('a: [unclosed\\n')\n"
    )
    log = tmp_path / "edit.log"
    before = enc_manifest.read_bytes()
    c, _, err = console(tmp_path, age_key, EDITOR=f"{sys.executable} {editor}", EDIT_LOG=str(log))
    assert run(["edit", str(enc_manifest)], c) == 1
    assert "invalid YAML" in err.getvalue()
    assert not os.path.exists(log.read_text())
    assert enc_manifest.read_bytes() == before
