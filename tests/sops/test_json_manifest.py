"""Issue 14 item 3: manifests in JSON (plaintext, or SOPS-encrypted ``.json`` as sops writes it, tab-indented)
go through validate/plan/apply with the same file-and-line diagnostics as YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import SopsRun
from support import AgeKey

CANARY = "CANARY-json-manifest-4d2a"

GOOD = {
    "version": 1,
    "secrets": {"API_KEY": {"value": CANARY, "description": "the key"}, "DB_URL": {"value": "postgres://u@h/db"}},
}


def test_plaintext_json_manifest_validates_plans_and_applies(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "m.json").write_text(json.dumps(GOOD, indent=2))
    site = str(tmp_path / "site.json")
    assert cli("validate", "m.json").code == 0
    plan = cli("plan", "--local", site, "--detailed-exitcode", "m.json")
    assert plan.code == 2 and "API_KEY" in plan.out and CANARY not in plan.out + plan.err
    assert cli("apply", "--local", site, "--auto-approve", "m.json").code == 0
    assert cli("plan", "--local", site, "--detailed-exitcode", "m.json").code == 0


def test_json_diagnostics_have_file_line_and_column(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = (
        '{\n  "version": 1,\n  "secrets": {\n    "OK": {"value": "x"},\n'
        '    "bad name!": {"value": "y"},\n    "NUM": {"value": 5},\n    "wixReserved": {"value": "z"}\n  }\n}\n'
    )
    (tmp_path / "m.json").write_text(text)
    result = cli("validate", "m.json")
    assert result.code == 1
    assert "m.json:5:5:" in result.err and "bad name!" in result.err
    assert "m.json:6:" in result.err and "NUM" in result.err
    assert "m.json:7:5:" in result.err and "wix" in result.err
    # the same manifest in YAML reports the same lines
    yaml_text = (
        'version: 1\nsecrets:\n  # pad\n  OK: {value: "x"}\n  "bad name!": {value: "y"}\n  NUM: {value: 5}\n'
        '  wixReserved: {value: "z"}\n'
    )
    (tmp_path / "m.yaml").write_text(yaml_text)
    yresult = cli("validate", "m.yaml")
    lines = sorted(int(n) for n in re.findall(r"m\.json:(\d+):", result.err))
    ylines = sorted(int(n) for n in re.findall(r"m\.yaml:(\d+):", yresult.err))
    assert lines == ylines == [5, 6, 7]


def test_json_syntax_errors_and_duplicates_are_clear(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.json").write_text('{\n  "version": 1,\n  "secrets": {\n    "A": {"value": "' + CANARY + '",}\n')
    result = cli("validate", "bad.json")
    assert result.code == 1 and "bad.json:4:" in result.err and "JSON syntax error" in result.err
    assert CANARY not in result.err and "Traceback" not in result.err
    (tmp_path / "dup.json").write_text('{"version": 1,\n "secrets": {"A": {"value": "x"},\n  "A": {"value": "y"}}}')
    result = cli("validate", "dup.json")
    assert result.code == 1 and "dup.json:3:3:" in result.err and "first defined on line 2" in result.err
    (tmp_path / "deep.json").write_text('{"version": 1, "x": ' + "[" * 10_000 + "]" * 10_000 + "}")
    result = cli("validate", "deep.json")
    assert result.code == 1 and "nested deeper" in result.err and "Traceback" not in result.err


def test_sops_encrypted_json_manifest_end_to_end(cli, tmp_path: Path, sops: SopsRun, age_key: AgeKey) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "plain.json").write_text(json.dumps(GOOD, indent=2))
    enc = sops(["-e", "--age", age_key.recipient, "--encrypted-regex", "^value$", "plain.json"]).stdout
    assert enc.startswith(b"{\n\t") and CANARY.encode() not in enc
    (tmp_path / "m.sops.json").write_bytes(enc)
    env = {"SOPS_AGE_KEY": age_key.identity}
    site = str(tmp_path / "site.json")
    assert cli("validate", "m.sops.json", env=env).code == 0
    applied = cli("apply", "--local", site, "--auto-approve", "m.sops.json", env=env)
    assert applied.code == 0, applied.err
    assert CANARY not in applied.out + applied.err
    assert CANARY in (tmp_path / "site.json").read_text()
    assert cli("plan", "--local", site, "--detailed-exitcode", "m.sops.json", env=env).code == 0
    # a problem in the encrypted file is reported at its line in that file
    bad_plain = json.dumps({"version": 1, "secrets": {"OK": {"value": "x"}, "DB URL": {"value": "y"}}}, indent=2)
    (tmp_path / "bad.json").write_text(bad_plain)
    bad = sops(["-e", "--age", age_key.recipient, "--encrypted-regex", "^value$", "bad.json"]).stdout
    (tmp_path / "bad.sops.json").write_bytes(bad)
    line = next(i for i, ln in enumerate(bad.split(b"\n"), 1) if b'"DB URL"' in ln)
    result = cli("validate", "bad.sops.json", env=env)
    assert result.code == 1 and f"bad.sops.json:{line}:" in result.err and "DB URL" in result.err
