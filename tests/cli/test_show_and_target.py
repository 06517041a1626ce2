"""``show PLANFILE`` and ``--target NAME`` (issue 13, item 19), against the embedded emulator (--local).

``show`` reads only the plan file: it is proven by running it with no key, no credential and the site
file gone. ``--target`` is proven by the site afterwards (only the targeted secrets changed) and by the
warning in every output mode, including JSON validated by the schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.plan import Action, Change, Plan
from reconciler.schema import load_schema
from reconciler.target import target_plan

from support import VALUES_ONLY, new_age_key, write_sops_manifest

CANARY = "CANARY-5b0f-show-target-never-print"
KEY = new_age_key()
KEY_ENV = {"SOPS_AGE_KEY": KEY.identity}


def encrypted_manifest(path: Path, secrets: dict[str, str], extra: str = "") -> Path:
    """``secrets`` (then ``extra``) SOPS-encrypted to ``KEY``, the values only."""
    return write_sops_manifest(path, secrets, KEY.recipient, extra, rules=VALUES_ONLY)


def site_names(site: Path) -> dict[str, Any]:
    from reconciler.emulator import Emulator, EmulatorTransport
    from reconciler.wix import WixSecretsClient
    from reconciler.wix.auth import ApiKeyAuth

    async def names() -> dict[str, Any]:
        client = WixSecretsClient(
            api_url="http://127.0.0.1",
            auth=ApiKeyAuth("k", "s"),
            transport=EmulatorTransport(Emulator(state_file=site)),
        )
        async with client:
            listed = await client.list_secrets()
            return {s.name: s for s in listed}

    import asyncio

    return asyncio.run(names())


@pytest.fixture
def saved(cli: Any, tmp_path: Path) -> Path:
    """A site with A=one, B=CANARY; a saved plan that updates A, creates C and deletes B."""
    site = tmp_path / "site.json"
    first = encrypted_manifest(tmp_path / "a.sops.yaml", {"A": "one", "B": CANARY})
    assert cli("apply", "--local", str(site), "--auto-approve", "--no-backup", str(first), env=KEY_ENV).code == 0
    second = encrypted_manifest(tmp_path / "b.sops.yaml", {"A": "two", "C": "new"}, "policy:\n  prune: true\n")
    planned = cli("plan", "--local", str(site), "--out", "p.json", str(second), env=KEY_ENV)
    assert planned.code == 0, planned.err
    return tmp_path / "p.json"


def test_show_prints_the_saved_plan_without_a_key_or_the_site(cli: Any, saved: Path, tmp_path: Path) -> None:
    (tmp_path / "site.json").unlink()  # nothing to read: show must not need the site
    for name in ("a.sops.yaml", "b.sops.yaml"):
        (tmp_path / name).unlink()  # nor the manifests
    result = cli("show", "p.json")  # no SOPS key, no Wix credential
    assert result.code == 0, result.err
    assert "Saved plan p.json (made " in result.out
    assert "~ A" in result.out and "+ C" in result.out and "- B" in result.out
    assert "Saved changes: 1 to create, 1 to update, 0 to rename, 1 to delete." in result.out
    assert "unchanged" not in result.out  # a plan file keeps only changes: no false "0 unchanged"
    assert "wix-secrets apply p.json" in result.out
    assert CANARY not in result.out + result.err


def test_show_json_is_valid_and_names_the_plan_file(cli: Any, saved: Path) -> None:
    result = cli("show", "--json", "p.json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    jsonschema.validate(doc, load_schema("plan"))
    assert doc["command"] == "show"
    assert doc["saved_plan"]["path"] == "p.json" and doc["saved_plan"]["created"]
    assert [(c["action"], c["name"]) for c in doc["changes"]] == [("update", "A"), ("create", "C"), ("delete", "B")]
    assert doc["targets"] == []
    assert CANARY not in result.out


def test_show_markdown(cli: Any, saved: Path) -> None:
    result = cli("show", "--markdown", "p.json")
    assert result.code == 0, result.err
    assert result.out.startswith("### wix-secrets plan:")
    assert "| ~ | `A` |" in result.out and "Saved plan `p.json`" in result.out


def test_show_refuses_a_manifest_and_a_missing_file(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("version: 1\nsecrets: {}\n")
    not_plan = cli("show", "m.yaml")
    assert not_plan.code == 1
    assert "m.yaml is not a saved plan" in not_plan.err and "plan --out" in not_plan.err
    missing = cli("show", "nope.json")
    assert missing.code == 1 and "nope.json: no such file" in missing.err
    assert "Traceback" not in not_plan.err + missing.err


@pytest.mark.parametrize(
    "damage",
    [
        {"changes": "oops"},
        {"changes": [1, 2]},
        {"limits": {"targets": 5}},
        {"limits": {"targets": "A"}},
        {"limits": {"targets": [1]}},
        {"site": {"local": 5}},
        {"site": "x"},
        {"changes": [{"action": "create", "name": "A\u001b]0;pwned\u0007", "remote": None}]},
        {"limits": {"targets": ["A\u001b[2J"]}},
    ],
    ids=repr,
)
def test_show_refuses_a_damaged_plan(cli: Any, saved: Path, damage: dict[str, Any]) -> None:
    doc = json.loads(saved.read_text())
    doc.update(damage)
    saved.write_text(json.dumps(doc, indent=2))
    result = cli("show", "p.json")
    assert result.code == 1, result.out
    assert "Traceback" not in result.err and "p.json" in result.err


# --target


def test_target_plan_keeps_only_the_targets_and_warns() -> None:
    plan = Plan(
        changes=(
            Change(Action.CREATE, "A"),
            Change(Action.UPDATE, "B", changed=("value",)),
            Change(Action.RENAME, "NEW", previous_name="OLD"),
            Change(Action.NOOP, "D"),
        ),
        warnings=("B: something", "D: other"),
        conflicts=("E: a conflict",),
    )
    limited = target_plan(plan, ["B", "OLD"])
    assert [c.name for c in limited.changes] == ["B", "NEW"]  # a rename is targeted by its old name too
    assert limited.warnings[0].startswith("targeted plan: only B, OLD (--target). It may be incomplete")
    assert limited.warnings[1:] == ("B: something",)
    assert limited.conflicts == plan.conflicts  # a conflict anywhere still stops the apply
    assert target_plan(plan, []) is plan


def test_target_that_matches_nothing_is_a_usage_error() -> None:
    from reconciler.errors import UsageError

    plan = Plan(changes=(Change(Action.CREATE, "A"),))
    with pytest.raises(UsageError, match="--target NOPE: no such secret"):
        target_plan(plan, ["A", "NOPE"])
    lenient = target_plan(plan, ["A", "NOPE"], strict=False)  # several sites: a warning per site instead
    assert [c.name for c in lenient.changes] == ["A"]
    assert "--target NOPE: no such secret in this site's manifest or on the site" in lenient.warnings


def test_targeted_apply_changes_only_the_target(cli: Any, tmp_path: Path) -> None:
    site = tmp_path / "site.json"
    first = encrypted_manifest(tmp_path / "a.sops.yaml", {"A": "one", "B": CANARY})
    assert cli("apply", "--local", str(site), "--auto-approve", "--no-backup", str(first), env=KEY_ENV).code == 0
    before = site_names(site)
    second = encrypted_manifest(tmp_path / "b.sops.yaml", {"A": "two", "B": CANARY + "x", "C": "new"})

    plan = cli("plan", "--local", str(site), "--target", "C", "--detailed-exitcode", str(second), env=KEY_ENV)
    assert plan.code == 2, plan.err
    assert "+ C" in plan.out and "~ A" not in plan.out and "~ B" not in plan.out
    assert "Warning: targeted plan: only C (--target). It may be incomplete" in plan.out

    applied = cli(
        "apply", "--local", str(site), "--auto-approve", "--no-backup", "--target", "C", "--target", "A",
        str(second), env=KEY_ENV,
    )  # fmt: skip
    assert applied.code == 0, applied.err
    assert (
        "Warning: targeted apply (--target C, A): other changes the manifest asks for were not applied" in applied.out
    )
    after = site_names(site)
    assert set(after) == {"A", "B", "C"}
    assert after["B"].updated_date == before["B"].updated_date  # B not targeted: untouched
    assert after["A"].updated_date != before["A"].updated_date
    rest = cli("plan", "--local", str(site), "--detailed-exitcode", str(second), env=KEY_ENV)
    assert rest.code == 2 and "~ B" in rest.out and "+ C" not in rest.out


def test_targeted_plan_says_so_in_json_and_markdown(cli: Any, tmp_path: Path) -> None:
    site = tmp_path / "site.json"
    manifest = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": "one", "B": CANARY})
    result = cli("plan", "--local", str(site), "--json", "--target", "A", str(manifest), env=KEY_ENV)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    jsonschema.validate(doc, load_schema("plan"))
    assert doc["targets"] == ["A"]
    assert [c["name"] for c in doc["changes"]] == ["A"]
    assert doc["warnings"][0].startswith("targeted plan: only A")
    md = cli("plan", "--local", str(site), "--markdown", "--target", "A", str(manifest), env=KEY_ENV)
    assert "> [!WARNING]\n> targeted plan: only A" in md.out


def test_unknown_target_is_an_error_and_sends_no_write(cli: Any, tmp_path: Path) -> None:
    site = tmp_path / "site.json"
    manifest = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": "one"})
    result = cli("apply", "--local", str(site), "--auto-approve", "--target", "a", str(manifest), env=KEY_ENV)
    assert result.code == 1
    assert "--target a: no such secret in the manifest or on the site" in result.err
    assert site_names(site) == {}


def test_targeted_saved_plan_is_shown_as_targeted(cli: Any, tmp_path: Path) -> None:
    site = tmp_path / "site.json"
    manifest = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": "one", "B": "two"})
    assert cli("plan", "--local", str(site), "--target", "B", "--out", "p.json", str(manifest), env=KEY_ENV).code == 0
    shown = cli("show", "p.json")
    assert "+ B" in shown.out and "+ A" not in shown.out
    assert "targeted plan: only B" in shown.out
    assert json.loads(cli("show", "--json", "p.json").out)["targets"] == ["B"]
    applied = cli("apply", "--local", str(site), "p.json", env=KEY_ENV)
    assert applied.code == 0, applied.err
    assert set(site_names(site)) == {"B"}


def test_applying_a_saved_plan_without_changes_exits_0(cli: Any, tmp_path: Path) -> None:
    site = tmp_path / "site.json"
    manifest = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": "one"})
    assert cli("apply", "--local", str(site), "--auto-approve", str(manifest), env=KEY_ENV).code == 0
    assert cli("plan", "--local", str(site), "--out", "p.json", str(manifest), env=KEY_ENV).code == 0
    applied = cli("apply", "--local", str(site), "p.json", env=KEY_ENV)
    assert applied.code == 0, applied.out + applied.err  # was 3: "nothing-to-do" counted as a partial apply
    assert "No changes" in applied.out


def test_target_with_several_sites(cli: Any, tmp_path: Path) -> None:
    import shutil

    root = Path(__file__).resolve().parents[2]
    project = tmp_path / "project"
    shutil.copytree(root / "examples" / "project", project, ignore=shutil.ignore_patterns("demo-*"))
    result = cli("plan", "--all", "--json", "--target", "NEWSLETTER_API_KEY", "--target", "LOG_LEVEL", cwd=project)
    assert result.code == 0, result.out + result.err
    doc = json.loads(result.out)
    jsonschema.validate(doc, load_schema("project-result"))
    for site in doc["sites"]:
        jsonschema.validate({k: v for k, v in site.items() if k != "exit_code"}, load_schema("plan"))
        assert site["targets"] == ["NEWSLETTER_API_KEY", "LOG_LEVEL"]
        assert site["warnings"][0].startswith("targeted plan:")
    names = {s["site"]["name"]: sorted(c["name"] for c in s["changes"]) for s in doc["sites"]}
    assert names == {"shop": ["LOG_LEVEL"], "blog": ["LOG_LEVEL", "NEWSLETTER_API_KEY"], "shop-staging": ["LOG_LEVEL"]}
    shop = next(s for s in doc["sites"] if s["site"]["name"] == "shop")
    assert "--target NEWSLETTER_API_KEY: no such secret in this site's manifest" in shop["warnings"][1]
