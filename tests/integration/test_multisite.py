"""Many sites from a project file: ``plan``/``apply``/``drift`` with ``--site`` and ``--all``.

Three sites, each on its own emulator over loopback HTTP with its own API key (taken from the
variable its project entry names), sharing a common manifest with per-site overrides. Checks: per-site
sections and a combined summary, concurrency, the combined JSON document against its schema, the
most severe exit code, and a broken site that fails alone (and stops apply everywhere).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from reconciler.cli.multisite import most_severe
from reconciler.emulator import Emulator
from reconciler.emulator.faults import Faults
from reconciler.emulator.inflight import InFlight
from reconciler.schema import load_schema

from support import SECRETS_API, EmulatorSites, wix_headers, write_dedented

CANARY = "CANARY-multi-3c2b1a09-8f7e-4d6c-b5a4-938271605f4e"
SITES = ("shop", "blog", "staging")


@pytest.fixture
def in_flight() -> InFlight:
    """One gauge shared by the three emulators: API requests in flight across all sites."""
    return InFlight()


@pytest.fixture
def servers(in_flight: InFlight, emulator_site: EmulatorSites) -> dict[str, tuple[Emulator, str]]:
    return {
        name: emulator_site(api_key=f"key-{name}", faults=Faults(latency_ms=150), in_flight=in_flight) for name in SITES
    }


def project(tmp_path: Path, servers: dict[str, tuple[Emulator, str]]) -> Path:
    write_dedented(
        tmp_path / "secrets" / "common.yaml",
        f"""\
        version: 1
        secrets:
          SHARED_TOKEN:
            value: {CANARY}
            description: shared by every site
          LOG_LEVEL:
            value: level-info
        """,
    )
    for name in SITES:
        write_dedented(
            tmp_path / "secrets" / f"{name}.yaml",
            f"""\
            version: 1
            secrets:
              SITE_NAME:
                value: site-name-of-{name}
              LOG_LEVEL:
                value: {"level-debug" if name == "staging" else "level-warn"}
            """,
        )
    entries = "\n".join(
        f"""\
          - name: {name}
            environment: {"staging" if name == "staging" else "production"}
            site_id: site-{name}
            api_url: {servers[name][1]}
            manifests: [secrets/{name}.yaml]
            credentials:
              api_key_env: {name.upper()}_WIX_API_KEY"""
        for name in SITES
    )
    return write_dedented(
        tmp_path / "wix-secrets.yaml",
        "version: 1\ndefaults:\n  manifests: [secrets/common.yaml]\nsites:\n" + textwrap.indent(entries, ""),
    )


def creds() -> dict[str, str]:
    return {f"{name.upper()}_WIX_API_KEY": f"key-{name}" for name in SITES}


def listing(url: str, name: str) -> dict[str, Any]:
    r = httpx.get(url + SECRETS_API, headers=wix_headers(api_key=f"key-{name}", site_id=f"site-{name}"))
    r.raise_for_status()
    return {s["name"]: s for s in r.json()["secrets"]}


def value(url: str, site: str, secret: str) -> str:
    r = httpx.get(
        f"{url}{SECRETS_API}/name/{secret}", headers=wix_headers(api_key=f"key-{site}", site_id=f"site-{site}")
    )
    r.raise_for_status()
    return str(r.json()["value"])


def test_plan_all_has_a_section_per_site_and_a_combined_summary(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    result = cli("plan", "--all", "--detailed-exitcode", env=creds())
    assert result.code == 2, result.out + result.err
    for name in SITES:
        assert f"=== {name} [" in result.out
        assert f"  {name}: changes (exit 2)" in result.out
    assert result.out.index("=== shop") < result.out.index("=== blog") < result.out.index("=== staging")
    assert "Summary of 3 site(s): 3 with changes, 0 failed. Total: 9 to create" in result.out
    assert CANARY not in result.out + result.err
    for emulator, _ in servers.values():
        assert emulator.counts().get("create", 0) == 0


def test_sites_are_planned_concurrently(cli: Any, tmp_path: Path, servers: Any, in_flight: InFlight) -> None:
    project(tmp_path, servers)
    assert cli("plan", "--site", "shop", env=creds()).code == 0
    assert in_flight.peak == 1  # one site: its single list
    in_flight.reset()
    assert cli("plan", "--all", env=creds()).code == 0
    # each (empty) site's plan is one list; planned one after another the peak would stay 1
    assert sum(emulator.counts()["list"] for emulator, _ in servers.values()) == 4
    assert in_flight.peak == len(SITES)


def test_apply_all_applies_every_site_with_its_own_credentials(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    result = cli("apply", "--all", "--auto-approve", "--audit-log", "audit.jsonl", env=creds())
    assert result.code == 0, result.out + result.err
    assert result.out.count("Apply complete: 3 applied") == 3
    for name in SITES:
        _, url = servers[name]
        site = listing(url, name)
        assert set(site) == {"SHARED_TOKEN", "LOG_LEVEL", "SITE_NAME"}
        assert value(url, name, "SITE_NAME") == f"site-name-of-{name}"
        assert value(url, name, "LOG_LEVEL") == ("level-debug" if name == "staging" else "level-warn")  # override
        assert value(url, name, "SHARED_TOKEN") == CANARY
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 9 and {json.loads(line)["site"]["name"] for line in lines} == set(SITES)
    again = cli("plan", "--all", "--detailed-exitcode", env=creds())
    assert again.code == 0, again.out
    assert CANARY not in result.out + result.err + again.out


def test_apply_asks_once_for_all_sites(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    refused = cli("apply", "--all", env=creds(), stdin="no\n", tty=True)
    assert refused.code == 1
    assert refused.err.count("Do you want to perform these actions?") == 1
    assert "This applies the plans of 3 site(s): shop, blog, staging." in refused.err
    assert all(listing(url, n) == {} for n, (_, url) in servers.items())
    accepted = cli("apply", "--site", "shop", "--site", "blog", env=creds(), stdin="yes\n", tty=True)
    assert accepted.code == 0, accepted.out + accepted.err
    assert listing(servers["staging"][1], "staging") == {}
    assert len(listing(servers["shop"][1], "shop")) == 3


def test_a_broken_site_fails_alone_and_blocks_apply(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    write_dedented(tmp_path / "secrets" / "blog.yaml", "version: 1\nsecrets:\n  wixBad:\n    value: x\n")
    env = creds()
    del env["STAGING_WIX_API_KEY"]
    plan = cli("plan", "--all", "--detailed-exitcode", env=env)
    assert plan.code == 1
    assert "=== blog" in plan.out and "secrets/blog.yaml:3" in plan.out and "starts with 'wix'" in plan.out
    assert "missing credentials: STAGING_WIX_API_KEY not set" in plan.out
    shop = plan.out[plan.out.index("=== shop") : plan.out.index("=== blog")]
    assert "3 to create" in shop  # the healthy site still planned
    assert "Summary of 3 site(s): 1 with changes, 2 failed." in plan.out
    applied = cli("apply", "--all", "--auto-approve", env=env)
    assert applied.code == 1
    assert "nothing was applied: 2 site(s) failed to plan (blog, staging)" in applied.err
    assert listing(servers["shop"][1], "shop") == {}


def test_json_document_is_valid_and_each_site_matches_the_plan_schema(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    env = creds()
    del env["BLOG_WIX_API_KEY"]
    (tmp_path / "out").mkdir()  # an output path's folder must exist (no silent mkdir)
    result = cli("plan", "--all", "--json", "--json-file", "out/plan.json", env=env)
    assert result.code == 1
    doc = json.loads(result.out)
    jsonschema.Draft202012Validator(load_schema("project-result")).validate(doc)
    for site in doc["sites"]:
        jsonschema.Draft202012Validator(load_schema("plan")).validate(
            {k: v for k, v in site.items() if k != "exit_code"}
        )
    assert [s["site"]["name"] for s in doc["sites"]] == list(SITES)
    assert [s["exit_code"] for s in doc["sites"]] == [0, 1, 0]
    assert doc["summary"]["failed"] == 1 and doc["summary"]["create"] == 6 and doc["exit_code"] == 1
    assert json.loads((tmp_path / "out" / "plan.json").read_text()) == doc
    assert CANARY not in result.out


def test_guard_and_changes_give_the_most_severe_code(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    assert cli("apply", "--all", "--auto-approve", env=creds()).code == 0
    shop = "version: 1\nsecrets:\n  SITE_NAME:\n    value: changed\npolicy:\n  prune: true\n"
    write_dedented(tmp_path / "secrets" / "shop.yaml", shop)
    write_dedented(tmp_path / "secrets" / "common.yaml", "version: 1\nsecrets: {}\n")
    result = cli("plan", "--all", "--detailed-exitcode", "--max-deletes", "0", env=creds())
    assert result.code == 5, result.out  # shop would delete 2 (guard, 5) > changes elsewhere (2)
    assert "  shop: refused by a safety guard (exit 5)" in result.out
    assert most_severe([0, 2, 3, 5, 4]) == 5 and most_severe([2, 1, 5]) == 1 and most_severe([]) == 0


def test_drift_site_and_usage_errors(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    drift = cli("drift", "--site", "blog", "--detailed-exitcode", env=creds())
    assert drift.code == 2 and "=== blog" in drift.out and "=== shop" not in drift.out
    unknown = cli("plan", "--site", "nope", env=creds())
    assert unknown.code == 1 and "unknown site: nope" in unknown.err and "shop, blog, staging" in unknown.err
    both = cli("plan", "--site", "shop", "m.yaml", env=creds())
    assert both.code == 1 and "cannot be combined" in both.err
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    found = cli("plan", "--site", "shop", env=creds(), cwd=sub)  # the project file is found upward
    assert found.code == 0, found.err
    assert "../../secrets/shop.yaml" in json.dumps(found.out) or "=== shop" in found.out


def test_sites_command_lists_and_prints_a_matrix(cli: Any, tmp_path: Path, servers: Any) -> None:
    project(tmp_path, servers)
    matrix = cli("sites", "--matrix")
    assert matrix.code == 0, matrix.err
    entries = json.loads(matrix.out)["include"]
    assert [(e["site"], e["environment"]) for e in entries] == [
        ("shop", "production"),
        ("blog", "production"),
        ("staging", "staging"),
    ]
    assert entries[0]["manifests"] == "secrets/common.yaml secrets/shop.yaml"
    assert entries[0]["site_id"] == "site-shop" and entries[0]["api_key_env"] == "SHOP_WIX_API_KEY"
    assert "\n" not in matrix.out.strip()  # one line, for $GITHUB_OUTPUT
    only = json.loads(cli("sites", "--matrix", "--environment", "staging").out)["include"]
    assert [e["site"] for e in only] == ["staging"]
    listed = cli("sites")
    assert "shop [production]: site site-shop; manifests: secrets/common.yaml, secrets/shop.yaml" in listed.out
    doc = json.loads(cli("sites", "--json").out)
    assert doc["sites"][0]["credentials"] == {"api_key_env": "SHOP_WIX_API_KEY"}


def test_the_sharded_workflow_consumes_the_matrix_of_the_example_project(cli: Any) -> None:
    import re

    import yaml

    root = Path(__file__).resolve().parents[2]
    out = cli("sites", "--matrix", "--project", "examples/project/wix-secrets.yaml", cwd=root, env={})
    assert out.code == 0, out.err
    line = out.out.strip()
    assert "\n" not in line  # `echo "matrix=$(...)" >> $GITHUB_OUTPUT` needs one line
    entries = json.loads(line)["include"]
    assert [e["site"] for e in entries] == ["shop", "blog", "shop-staging"]
    for entry in entries:
        for manifest in entry["manifests"].split():
            assert (root / manifest).is_file(), manifest
        assert entry["manifests"].split()[0] == "examples/project/common.yaml"
    workflow_text = (root / "examples" / "github" / "sharded.yml").read_text()
    workflow = yaml.safe_load(workflow_text)
    jobs = workflow["jobs"]
    step = next(s for s in jobs["sites"]["steps"] if s.get("id") == "matrix")
    assert "wix-secrets sites --matrix" in step["run"] and '"matrix=' in step["run"]
    assert jobs["sites"]["outputs"]["matrix"] == "${{ steps.matrix.outputs.matrix }}"
    for name in ("plan", "apply"):
        assert jobs[name]["needs"] == "sites"
        assert jobs[name]["strategy"]["matrix"] == "${{ fromJSON(needs.sites.outputs.matrix) }}"
        assert jobs[name]["strategy"]["fail-fast"] is False
    plan_step = next(s for s in jobs["plan"]["steps"] if str(s.get("uses", "")).startswith("wix-secrets/"))
    assert plan_step["with"]["manifest"] == "${{ matrix.manifests }}"
    assert plan_step["with"]["command"] == "plan"
    referenced = set(re.findall(r"(?<![.\w])matrix\.(\w+)", workflow_text))
    assert referenced <= set(entries[0]), referenced - set(entries[0])
    action = yaml.safe_load((root / "action.yml").read_text())
    assert set(plan_step["with"]) <= set(action["inputs"])
    apply_steps = jobs["apply"]["steps"]
    run = next(s["run"] for s in apply_steps if "wix-secrets apply" in str(s.get("run", "")))
    assert '--site "$SITE"' in run and "--audit-log" in run and "${{" not in run
    upload = next(s for s in apply_steps if "upload-artifact" in str(s.get("uses", "")))
    assert upload["with"]["path"] == "audit/${{ matrix.site }}.jsonl"
    for job in jobs.values():
        for s in job["steps"]:
            assert "${{" not in str(s.get("run", "")), "expressions reach scripts only through env"
