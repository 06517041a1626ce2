"""Code-aware plans end to end: the CLI against the emulator (in-process --local, and loopback HTTP)
with the sample site repository in examples/site-code (issue 15's "Done when")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.schema import load_schema

from support import EmulatorSites, wix_env

REPO = Path(__file__).resolve().parents[2]
SITE_CODE = "examples/site-code"
STRIPE_LINE = "examples/site-code/src/backend/payments.web.js:10:31"
WEBHOOK_LINE = "examples/site-code/src/backend/webhooks.js:6:34"
CANARY = "CANARY-7c1e9d3a-code-aware-5f2b"

SECRETS = {
    "STRIPE_API_KEY": "sk_test_example_not_a_real_key",
    "SENDGRID_API_KEY": "SG.example",
    "OPENAI_API_KEY": CANARY,
    "ACME_WEBHOOK_SECRET": "whsec_example",
    "OLD_UNUSED": "old",
}


def manifest(tmp_path: Path, body: str, name: str = "m.yaml") -> str:
    path = tmp_path / name
    path.write_text("version: 1\n" + body, encoding="utf-8")
    return str(path)


def full(extra: str = "", policy: str = "") -> str:
    """Every sample secret, then ``extra`` entries, then a policy block."""
    lines = ["secrets:"]
    lines += [f"  {n}:\n    value: {v}" for n, v in SECRETS.items() if f"  {n}:" not in extra]
    return "\n".join(lines) + "\n" + extra + (f"policy:\n{policy}" if policy else "")


@pytest.fixture
def site(cli, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """A local site holding every sample secret."""
    path = str(tmp_path / "site.json")
    seeded = cli("apply", "--local", path, "--auto-approve", manifest(tmp_path, full(), "seed.yaml"))
    assert seeded.code == 0, seeded.err
    return path


def state(path: str) -> dict[str, dict[str, str]]:
    return {s["name"]: s for s in json.loads(Path(path).read_text())["secrets"]}


def validate_plan_json(text: str) -> Any:
    doc = json.loads(text)
    jsonschema.validate(doc, load_schema("plan"))
    return doc


def test_deleting_a_referenced_secret_exits_5_naming_file_and_line(cli, site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = manifest(tmp_path, full("  STRIPE_API_KEY:\n    state: absent\n"))
    result = cli("plan", "--local", site, "--code", SITE_CODE, m, cwd=REPO)
    assert result.code == 5
    assert f"{STRIPE_LINE}  getSecret" in result.out  # under the change, in the plan
    assert "the plan deletes or renames away 1 secret(s) that the site's code reads" in result.err
    assert STRIPE_LINE in result.err and "--allow-breaking-code" in result.err
    assert CANARY not in result.out + result.err
    applied = cli("apply", "--local", site, "--auto-approve", "--code", SITE_CODE, m, cwd=REPO)
    assert applied.code == 5 and "STRIPE_API_KEY" in state(site)  # nothing deleted

    as_json = cli("plan", "--local", site, "--code", SITE_CODE, "--json", m, cwd=REPO)
    doc = validate_plan_json(as_json.out)
    code = doc["code"]
    assert isinstance(code, dict) and code["refused"] is True
    assert code["breaking"][0]["references"][0]["file"] == "examples/site-code/src/backend/payments.web.js"
    assert (code["breaking"][0]["references"][0]["line"], code["breaking"][0]["references"][0]["column"]) == (10, 31)
    # one document: the plan, the code section and the refusal together
    assert doc["error"]["exit_code"] == 5 and doc["exit_code"] == 5
    assert CANARY not in as_json.out


def test_allow_breaking_code_proceeds(cli, site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = manifest(tmp_path, full("  STRIPE_API_KEY:\n    state: absent\n"))
    planned = cli("plan", "--local", site, "--code", SITE_CODE, "--allow-breaking-code", m, cwd=REPO)
    assert planned.code == 0, planned.err
    assert "(allowed by --allow-breaking-code)" in planned.out
    applied = cli(
        "apply",
        "--local",
        site,
        "--auto-approve",
        "--no-backup",
        "--code",
        SITE_CODE,
        "--allow-breaking-code",
        m,
        cwd=REPO,
    )
    assert applied.code == 0, applied.err
    assert "STRIPE_API_KEY" not in state(site)


def test_renaming_away_and_pruning_are_refused(cli, site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    renamed = manifest(
        tmp_path,
        full(
            "  STRIPE_KEY_V2:\n    value: sk_test_example_not_a_real_key\n    renamed_from: [STRIPE_API_KEY]\n"
        ).replace("  STRIPE_API_KEY:\n    value: sk_test_example_not_a_real_key\n", ""),
    )
    result = cli("plan", "--local", site, "--code", SITE_CODE, renamed, cwd=REPO)
    assert result.code == 5, result.out + result.err
    assert "rename STRIPE_API_KEY → STRIPE_KEY_V2: the code reads 'STRIPE_API_KEY' at" in result.err
    assert STRIPE_LINE in result.err

    pruned = manifest(
        tmp_path,
        full(policy='  prune: true\n  code_dynamic_names: ["*_WEBHOOK_SECRET"]\n').replace(
            "  SENDGRID_API_KEY:\n    value: SG.example\n", ""
        ),
        "pruned.yaml",
    )
    result = cli("plan", "--local", site, "--code", SITE_CODE, pruned, cwd=REPO)
    assert result.code == 5
    assert "delete SENDGRID_API_KEY: the code reads 'SENDGRID_API_KEY' at" in result.err
    assert "examples/site-code/src/backend/mailer.jsw:10:42" in result.err
    assert "OLD_UNUSED" not in result.err  # pruned too, but no code reads it


def test_dynamic_references_keep_deletes_refused_until_names_are_listed(cli, site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    unknown = manifest(tmp_path, full("  OLD_UNUSED:\n    state: absent\n"))
    result = cli("plan", "--local", site, "--code", SITE_CODE, unknown, cwd=REPO)
    assert result.code == 5
    assert "references this tool cannot resolve" in result.err
    assert f"{WEBHOOK_LINE}  getSecret: a template literal with interpolation" in result.err
    assert "policy.code_dynamic_names" in result.err

    listed = manifest(
        tmp_path,
        full("  OLD_UNUSED:\n    state: absent\n", '  code_dynamic_names: ["*_WEBHOOK_SECRET"]\n'),
        "listed.yaml",
    )
    assert cli("plan", "--local", site, "--code", SITE_CODE, listed, cwd=REPO).code == 0
    webhook = manifest(
        tmp_path,
        full("  ACME_WEBHOOK_SECRET:\n    state: absent\n", '  code_dynamic_names: ["*_WEBHOOK_SECRET"]\n'),
        "webhook.yaml",
    )
    result = cli("plan", "--local", site, "--code", SITE_CODE, webhook, cwd=REPO)
    assert result.code == 5 and WEBHOOK_LINE in result.err
    assert "delete ACME_WEBHOOK_SECRET: the code may read it" in result.err


def test_names_the_code_reads_but_nobody_has(cli, site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code = tmp_path / "code"
    code.mkdir()
    (code / "extra.web.js").write_text('import { getSecret } from "wix-secrets-backend";\ngetSecret("NOWHERE");\n')
    m = manifest(tmp_path, full())
    plan = cli("plan", "--local", site, "--code", "code", "--json", m, cwd=tmp_path)
    assert plan.code == 0
    doc = validate_plan_json(plan.out)
    warnings = doc["warnings"]
    assert isinstance(warnings, list) and any(
        "'NOWHERE', which is neither declared nor on the site" in w for w in warnings
    )
    human = cli("plan", "--local", site, "--code", "code", m, cwd=tmp_path)
    assert "the code reads NOWHERE, which is neither declared nor on the site:" in human.out
    assert "code/extra.web.js:2:11" in human.out

    checked = cli("validate", "--code", "code", m, cwd=tmp_path)
    assert checked.code == 1
    assert "code/extra.web.js:2:11: error: the code reads 'NOWHERE' (getSecret)" in checked.err
    assert cli("validate", "--code", str(REPO / SITE_CODE), m, cwd=tmp_path).code == 0
    no_code = cli("validate", m, "--code", cwd=tmp_path)  # --code without PATH: the manifest's policy.code
    assert no_code.code == 1 and "has no policy.code" in no_code.err


def test_drift_lists_unreferenced_and_overdue_secrets(cli, site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = manifest(tmp_path, full(policy='  max_age: 90d\n  code_dynamic_names: ["*_WEBHOOK_SECRET"]\n'))
    fresh = cli("drift", "--local", site, "--code", SITE_CODE, "--detailed-exitcode", m, cwd=REPO)
    assert fresh.code == 0, fresh.out + fresh.err
    assert "Unreferenced: 1 secret(s) on the site that no scanned code reads" in fresh.out
    assert "  - OLD_UNUSED" in fresh.out and "Rotation overdue" not in fresh.out

    doc = json.loads(Path(site).read_text())  # age the values: the emulator keeps updatedDate in its state file
    for secret in doc["secrets"]:
        if secret["name"] in ("STRIPE_API_KEY", "OLD_UNUSED"):
            secret["updatedDate"] = "2020-01-02T03:04:05.000Z"
    Path(site).write_text(json.dumps(doc))
    drift = cli("drift", "--local", site, "--code", SITE_CODE, "--detailed-exitcode", m, cwd=REPO)
    assert drift.code == 2
    assert "Rotation overdue: 2 secret(s) older than their max_age:" in drift.out
    assert "STRIPE_API_KEY: value last changed 2020-01-02" in drift.out
    as_json = cli("drift", "--local", site, "--code", SITE_CODE, "--json", m, cwd=REPO)
    out = validate_plan_json(as_json.out)
    assert [o["name"] for o in out["overdue"]] == ["OLD_UNUSED", "STRIPE_API_KEY"]
    assert out["code"]["unreferenced"] == ["OLD_UNUSED"]
    markdown = cli("drift", "--local", site, "--code", SITE_CODE, "--markdown", m, cwd=REPO).out
    assert "#### Rotation overdue" in markdown and "`STRIPE_API_KEY`" in markdown
    assert "#### Site code" in markdown
    # without --detailed-exitcode drift still exits 0; plan lists overdue too
    assert cli("drift", "--local", site, m, cwd=REPO).code == 0
    plan = cli("plan", "--local", site, m, cwd=REPO)
    assert plan.code == 0 and "Rotation overdue: 2 secret(s)" in plan.out
    # per-secret max_age overrides the policy's
    relaxed = manifest(
        tmp_path,
        full(
            "  STRIPE_API_KEY:\n    value: sk_test_example_not_a_real_key\n    max_age: 999999w\n", "  max_age: 90d\n"
        ),
        "relaxed.yaml",
    )
    assert "STRIPE_API_KEY: value" not in cli("plan", "--local", site, relaxed, cwd=REPO).out


def test_policy_code_is_relative_to_the_manifest_and_stays_in_the_repository(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, emulator_site: EmulatorSites
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / SITE_CODE / "src", repo / "src")
    (repo / ".git").mkdir()
    (repo / "secrets").mkdir()
    site = str(tmp_path / "site.json")
    assert cli("apply", "--local", site, "--auto-approve", manifest(tmp_path, full(), "seed.yaml")).code == 0
    body = full("  STRIPE_API_KEY:\n    state: absent\n", '  code: ["../src/backend/*.web.js"]\n')
    m = manifest(repo / "secrets", body)
    result = cli("plan", "--local", site, m, cwd=tmp_path)
    assert result.code == 5
    assert "repo/src/backend/payments.web.js:10:31" in result.err

    outside = manifest(repo / "secrets", full(policy='  code: ["../../"]\n'), "outside.yaml")
    server_emulator, url = emulator_site(api_key="k")
    refused = cli("plan", outside, env=wix_env(url, api_key="k", site_id="s"), cwd=tmp_path)
    assert refused.code == 1
    assert "policy.code of" in refused.err and "is outside" in refused.err
    assert not any(server_emulator.counts().values())  # refused before any request


def test_project_site_code(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / SITE_CODE / "src", tmp_path / "src")
    site = str(tmp_path / "site.json")
    assert cli("apply", "--local", site, "--auto-approve", manifest(tmp_path, full(), "seed.yaml")).code == 0
    manifest(tmp_path, full("  OPENAI_API_KEY:\n    state: absent\n", '  code_dynamic_names: ["*_WEBHOOK_SECRET"]\n'))
    (tmp_path / "wix-secrets.yaml").write_text(
        "version: 1\nsites:\n  - name: shop\n    local: site.json\n    manifests: [m.yaml]\n    code: [src]\n"
    )
    result = cli("plan", "--site", "shop", cwd=tmp_path)
    assert result.code == 5, result.out + result.err
    assert "src/backend/assistant.web.ts:11:64" in result.out + result.err
    as_json = cli("plan", "--site", "shop", "--json", cwd=tmp_path)
    doc = json.loads(as_json.out)
    jsonschema.validate(doc, load_schema("project-result"))
    assert doc["sites"][0]["code"]["breaking"][0]["name"] == "OPENAI_API_KEY"
    assert "#### Site code" in cli("plan", "--site", "shop", "--markdown", cwd=tmp_path).out


def test_over_http_the_scan_adds_no_request(cli, tmp_path: Path, emulator_site: EmulatorSites) -> None:  # type: ignore[no-untyped-def]
    emulator, url = emulator_site(api_key="k")
    env = wix_env(url, api_key="k", site_id="s")
    seed = manifest(tmp_path, full(), "seed.yaml")
    assert cli("apply", "--auto-approve", seed, env=env).code == 0
    emulator.requests.clear()
    m = manifest(tmp_path, full("  STRIPE_API_KEY:\n    state: absent\n"))
    result = cli("plan", "--code", str(REPO / SITE_CODE), m, env=env, cwd=REPO)
    assert result.code == 5 and STRIPE_LINE in result.err
    # one list, one value read per declared present secret: the code guard reads files only
    counts = {route: n for route, n in emulator.counts().items() if n}
    assert counts == {"list": 1, "get_value": len(SECRETS) - 1}


def test_code_guard_is_reported_with_the_other_guards(cli, site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = manifest(tmp_path, full("  STRIPE_API_KEY:\n    state: absent\n  OLD_UNUSED:\n    state: absent\n"))
    result = cli("plan", "--local", site, "--code", SITE_CODE, "--max-deletes", "1", m, cwd=REPO)
    assert result.code == 5
    assert "max-deletes" in result.err and STRIPE_LINE in result.err
    assert "--max-deletes 2" in result.err and "--allow-breaking-code" in result.err
    passed = cli(
        "plan", "--local", site, "--code", SITE_CODE, "--max-deletes", "2", "--allow-breaking-code", m, cwd=REPO
    )
    assert passed.code == 0, passed.err
