"""``--json`` prints exactly one JSON document on stdout in every case (issue 11 item 5), valid
against ``schemas/plan.schema.json`` (or ``project-result`` for many sites): a plan, a guard refusal
(plan and error together), a refused apply, an invalid manifest, a usage error. ``--json --markdown``
is a usage error. Runs against the embedded emulator (``--local``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.schema import load_schema

CANARY = "CANARY-json-one-document-5b7e"


def one_document(text: str, schema: str = "plan") -> dict[str, Any]:
    doc, end = json.JSONDecoder().raw_decode(text)
    assert text[end:].strip() == "", "more than one document on stdout"
    jsonschema.Draft202012Validator(load_schema(schema)).validate(doc)
    assert CANARY not in text
    return doc  # type: ignore[no-any-return]


def manifest(path: Path, names: list[str]) -> Path:
    path.write_text("version: 1\nsecrets:\n" + "".join(f"  {n}:\n    value: {CANARY}-{n}\n" for n in names))
    return path


def seeded(cli: Any, tmp_path: Path, count: int) -> str:
    site = str(tmp_path / "site.json")
    full = manifest(tmp_path / "full.yaml", [f"S{i}" for i in range(count)])
    assert cli("apply", "--local", site, "--auto-approve", "--no-backup", str(full)).code == 0
    return site


def test_a_guard_refusal_is_one_document_with_the_plan_and_the_error(cli: Any, tmp_path: Path) -> None:
    site = seeded(cli, tmp_path, 8)
    small = manifest(tmp_path / "small.yaml", ["S0"])
    for argv in (("plan",), ("apply", "--auto-approve")):
        result = cli(*argv, "--local", site, "--prune", "--json", str(small))
        assert result.code == 5
        doc = one_document(result.out)
        assert doc["summary"]["delete"] == 7 and len(doc["changes"]) == 8
        assert doc["error"]["type"] == "GuardError" and doc["error"]["exit_code"] == 5
        assert doc["exit_code"] == 5
        assert "more than --max-deletes 5" in result.err


def test_a_refused_apply_is_one_document_with_the_plan_and_the_error(cli: Any, tmp_path: Path) -> None:
    site = str(tmp_path / "site.json")
    m = manifest(tmp_path / "m.yaml", ["A"])
    result = cli("apply", "--local", site, "--json", str(m))  # no terminal, no --auto-approve
    assert result.code == 1
    doc = one_document(result.out)
    assert doc["summary"]["create"] == 1 and doc["error"]["type"] == "ApprovalError" and doc["result"] is None


def test_errors_before_a_plan_are_one_document(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsecrets:\n  'not a name!':\n    value: x\n")
    for argv in (
        ("plan", "--local", "s.json", "--json", str(bad)),
        ("plan", "--local", "s.json", "--json", "missing.yaml"),
        ("plan", "--local", "s.json", "--json", "--json-file", "no/such/folder/x.json", str(bad)),
        ("apply", "--local", "s.json", "--json", "--max-deletes", "-1", str(bad)),
        ("plan", "--json", "--all", "--project", "missing.yaml"),
    ):
        result = cli(*argv)
        assert result.code == 1, argv
        doc = one_document(result.out)
        assert doc["error"]["exit_code"] == 1 and doc["exit_code"] == 1
    assert not (tmp_path / "s.json").exists() and not (tmp_path / "no").exists()
    invalid = one_document(cli("plan", "--local", "s.json", "--json", str(bad)).out)
    assert invalid["diagnostics"] and invalid["diagnostics"][0]["line"] == 3


def test_a_bad_command_line_with_json_is_one_document(cli: Any) -> None:
    result = cli("plan", "--json", "--no-such-flag", "m.yaml")
    assert result.code == 1
    assert one_document(result.out)["error"]["type"] == "UsageError"


def test_json_and_markdown_together_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.yaml", ["A"])
    result = cli("plan", "--local", str(tmp_path / "s.json"), "--json", "--markdown", str(m))
    assert result.code == 1
    assert "--json and --markdown both given" in result.err
    assert one_document(result.out)["error"]["type"] == "UsageError"
    assert not (tmp_path / "s.json").exists()  # refused before anything ran


def test_an_interrupted_or_partial_document_keeps_its_version(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.yaml", ["A", "B"])
    result = cli("apply", "--local", str(tmp_path / "s.json"), "--auto-approve", "--json", str(m))
    doc = one_document(result.out)
    assert doc["format_version"] == "1" and doc["result"]["applied"] == 2 and doc["exit_code"] == 0


def test_the_single_and_multi_site_documents_share_one_version_machinery() -> None:
    from reconciler.errors import GuardError
    from reconciler.executor import NOT_STARTED, ApplyResult, ItemResult
    from reconciler.plan import Action, Change, Plan
    from reconciler.render import RunInfo
    from reconciler.render.json import FORMAT_VERSION, project_document, site_document

    change = Change(Action.CREATE, "A")
    result = ApplyResult(items=(ItemResult(change, "skipped", error=NOT_STARTED),), converged=False)
    info = RunInfo("apply", ("m.yaml",), site_name="shop")
    interrupted = site_document(
        info, plan=Plan((change,)), result=result, error=None, diagnostics=(), exit_code=143, interrupted="SIGTERM"
    )
    refused = site_document(
        info, plan=Plan((change,)), result=None, error=GuardError("no", guard="g"), diagnostics=(), exit_code=5
    )
    for doc in (interrupted, refused):
        jsonschema.Draft202012Validator(load_schema("plan")).validate(doc)
    project = project_document("apply", [interrupted, refused], {"sites": 2}, 143)
    assert project["format_version"] == interrupted["format_version"] == FORMAT_VERSION
    assert project["tool"] == interrupted["tool"]
    summary = dict.fromkeys(
        (
            "sites",
            "failed",
            "with_changes",
            "applied",
            "create",
            "update",
            "rename",
            "delete",
            "unchanged",
            "unmanaged",
            "ignored",
        ),
        0,
    )
    jsonschema.Draft202012Validator(load_schema("project-result")).validate({**project, "summary": summary})
