"""The CLI against the emulator: in-process (--local) and over real loopback HTTP (--api-url).

Request counts are exact: a plan is 1 list + 1 value read per declared, present, non-ignored secret;
an apply adds one write per change and one verifying list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.emulator import Emulator
from reconciler.schema import load_schema

from support import Site, listing, seed, wix_env, write_dedented

CANARY = "CANARY-d41d8cd9-8f00-b204-e980-0998ecf8427e"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_dedented(
        tmp_path / "m.yaml",
        f"""\
        version: 1
        secrets:
          API_KEY:
            value: {CANARY}
            description: main key
          DB_URL:
            value: postgres://x
          legacy_thing:
            state: absent
        policy:
          ignore: ["ignored_*"]
        """,
    )


def test_local_plan_apply_then_no_changes(cli: Any, manifest: Path, tmp_path: Path) -> None:
    site = str(tmp_path / "site.json")
    first = cli("plan", "--local", site, "--detailed-exitcode", str(manifest))
    assert first.code == 2, first.err
    assert "Plan: 2 to create, 0 to update, 0 to rename, 0 to delete, 0 unchanged." in first.out
    applied = cli("apply", "--local", site, "--auto-approve", str(manifest))
    assert applied.code == 0, applied.err
    assert "Apply complete: 2 applied, 0 failed, 0 skipped. The site matches the plan." in applied.out
    again = cli("plan", "--local", site, "--detailed-exitcode", str(manifest))
    assert again.code == 0, again.err
    assert "No changes" in again.out
    assert (Path(site).stat().st_mode & 0o777) == 0o600
    for result in (first, applied, again):
        assert CANARY not in result.out + result.err


def test_http_plan_request_counts_are_exact(cli: Any, manifest: Path, wix_site: Site[Emulator]) -> None:
    emulator, url = wix_site
    seed(url, ("API_KEY", "old"), ("DB_URL", "postgres://x"), ("ignored_a", "i"), ("other", "o"))
    emulator.reset()
    result = cli("plan", "--detailed-exitcode", str(manifest), env=wix_env(url))
    assert result.code == 2, result.err
    counts = emulator.counts()
    assert counts["list"] == 1
    assert counts["get_value"] == 2  # API_KEY and DB_URL; never ignored_a, other, or the tombstone
    assert sum(v for k, v in counts.items() if k not in ("list", "get_value")) == 0
    assert "~ API_KEY" in result.out and "update value" in result.out


def test_http_apply_sends_one_write_per_change_and_one_verifying_list(
    cli: Any,
    manifest: Path,
    wix_site: Site[Emulator],
) -> None:
    emulator, url = wix_site
    ids = seed(url, ("API_KEY", "old"), ("legacy_thing", "x"), ("unrelated", "u"))
    emulator.reset()
    result = cli("apply", "--auto-approve", "--no-backup", str(manifest), env=wix_env(url))
    assert result.code == 0, result.out + result.err
    counts = emulator.counts()
    # plan: 1 list + 1 read (API_KEY; DB_URL does not exist yet); apply: update, create, delete + 1 list
    assert counts == {**counts, "list": 2, "get_value": 1, "create": 1, "update": 1, "delete": 1}
    site = listing(url)
    assert set(site) == {"API_KEY", "DB_URL", "unrelated"}
    assert site["API_KEY"]["id"] == ids["API_KEY"]
    assert site["API_KEY"]["description"] == "main key"
    emulator.reset()
    again = cli("plan", "--detailed-exitcode", str(manifest), env=wix_env(url))
    assert again.code == 0, again.out


def test_rename_keeps_the_id(cli: Any, tmp_path: Path, wix_site: Site[Emulator]) -> None:
    _emulator, url = wix_site
    ids = seed(url, ("db_url", "postgres://x"))
    m = write_dedented(
        tmp_path / "r.yaml",
        """\
        version: 1
        secrets:
          DATABASE_URL:
            value: postgres://x
            renamed_from: [db_url]
        """,
    )
    plan = cli("plan", str(m), env=wix_env(url))
    assert "→ DATABASE_URL" in plan.out and "rename from db_url" in plan.out and "will break" in plan.out
    result = cli("apply", "--auto-approve", "--no-backup", str(m), env=wix_env(url))
    assert result.code == 0, result.err
    assert listing(url)["DATABASE_URL"]["id"] == ids["db_url"]
    assert "db_url" not in listing(url)


def test_prune_guard_refuses_with_exit_5_and_max_deletes_raises_it(
    cli: Any,
    tmp_path: Path,
    wix_site: Site[Emulator],
) -> None:
    emulator, url = wix_site
    seed(url, *[(f"s{i}", "v") for i in range(8)])
    m = write_dedented(tmp_path / "p.yaml", "version: 1\nsecrets:\n  s0:\n    value: v\n  s1:\n    value: v\n")
    emulator.reset()
    refused = cli("apply", "--auto-approve", "--no-backup", "--prune", str(m), env=wix_env(url))
    assert refused.code == 5, refused.err
    assert "more than --max-deletes 5" in refused.err
    assert emulator.counts()["delete"] == 0
    refused = cli("apply", "--auto-approve", "--no-backup", "--prune", "--max-deletes", "6", str(m), env=wix_env(url))
    assert refused.code == 5 and "more than half" in refused.err
    done = cli(
        "apply",
        "--auto-approve",
        "--no-backup",
        "--prune",
        "--max-deletes",
        "6",
        "--allow-mass-delete",
        str(m),
        env=wix_env(url),
    )
    assert done.code == 0, done.err
    assert set(listing(url)) == {"s0", "s1"}


def test_apply_without_a_terminal_refuses_and_changes_nothing(
    cli: Any,
    manifest: Path,
    wix_site: Site[Emulator],
) -> None:
    emulator, url = wix_site
    result = cli("apply", str(manifest), env=wix_env(url))
    assert result.code == 1
    assert "no terminal to ask on" in result.err and "--auto-approve" in result.err
    assert emulator.counts()["create"] == 0


def test_apply_asks_and_only_yes_proceeds(cli: Any, manifest: Path, wix_site: Site[Emulator]) -> None:
    emulator, url = wix_site
    declined = cli("apply", str(manifest), env=wix_env(url), stdin="y\n", tty=True)
    assert declined.code == 1 and "cancelled" in declined.err
    assert emulator.counts()["create"] == 0
    accepted = cli("apply", str(manifest), env=wix_env(url), stdin="yes\n", tty=True)
    assert accepted.code == 0, accepted.err
    assert "Only 'yes' will be accepted" in accepted.err


def test_empty_plan_applies_nothing_and_asks_nothing(cli: Any, manifest: Path, tmp_path: Path) -> None:
    site = str(tmp_path / "s.json")
    assert cli("apply", "--local", site, "--auto-approve", str(manifest)).code == 0
    result = cli("apply", "--local", site, str(manifest))  # no tty, no --auto-approve: fine, nothing to do
    assert result.code == 0 and "No changes" in result.out


def test_json_output_is_valid_against_the_published_schema(
    cli: Any,
    manifest: Path,
    tmp_path: Path,
    wix_site: Site[Emulator],
) -> None:
    _emulator, url = wix_site
    seed(url, ("API_KEY", "old"))
    schema = load_schema("plan")
    plan = cli("plan", "--json", str(manifest), env=wix_env(url))
    doc = json.loads(plan.out)
    jsonschema.validate(doc, schema)
    assert doc["format_version"] == "1" and doc["summary"]["create"] == 1 and doc["summary"]["update"] == 1
    out_file = tmp_path / "apply.json"
    md_file = tmp_path / "apply.md"
    applied = cli(
        "apply",
        "--auto-approve",
        "--no-backup",
        "--json-file",
        str(out_file),
        "--markdown-file",
        str(md_file),
        str(manifest),
        env=wix_env(url),
    )
    doc = json.loads(out_file.read_text())
    jsonschema.validate(doc, schema)
    assert doc["result"]["status"] == "success" and doc["result"]["converged"] is True
    markdown = md_file.read_text()
    assert "| `API_KEY` |" in markdown and "Result: **success**" in markdown
    for text in (plan.out, plan.err, applied.out, applied.err, out_file.read_text(), markdown):
        assert CANARY not in text


def test_manifest_errors_send_no_request_and_report_every_problem(
    cli: Any,
    tmp_path: Path,
    wix_site: Site[Emulator],
) -> None:
    emulator, url = wix_site
    bad = write_dedented(
        tmp_path / "bad.yaml",
        f"""\
        version: 1
        secrets:
          wixNope:
            value: {CANARY}
          n:
            value: 12
        """,
    )
    result = cli("plan", "--json", str(bad), env=wix_env(url))
    assert result.code == 1
    doc = json.loads(result.out)
    jsonschema.validate(doc, load_schema("plan"))
    assert [d["line"] for d in doc["diagnostics"]] == [3, 6]
    assert emulator.requests == []
    assert CANARY not in result.out + result.err
    validated = cli("validate", str(bad))
    assert validated.code == 1 and "bad.yaml:3:3" in validated.err and "bad.yaml:6:5" in validated.err


def test_drift_is_read_only_and_reports_added_and_changed(
    cli: Any,
    manifest: Path,
    wix_site: Site[Emulator],
) -> None:
    emulator, url = wix_site
    seed(url, ("API_KEY", CANARY), ("DB_URL", "changed"), ("added_by_hand", "x"))
    emulator.reset()
    result = cli("drift", "--detailed-exitcode", str(manifest), env=wix_env(url))
    assert result.code == 2, result.err
    assert "~ DB_URL" in result.out and "added_by_hand" in result.out
    counts = emulator.counts()
    assert counts["create"] == counts["update"] == counts["delete"] == 0


def test_verbose_and_debug_never_show_values(cli: Any, manifest: Path, wix_site: Site[Emulator]) -> None:
    _emulator, url = wix_site
    seed(url, ("API_KEY", "old-" + CANARY))
    result = cli("--debug", "apply", "-v", "--auto-approve", "--no-backup", str(manifest), env=wix_env(url))
    assert result.code == 0, result.err
    assert "HTTP" in result.err or "request" in result.err.lower()
    assert CANARY not in result.out + result.err
    assert "test-key" not in result.err
