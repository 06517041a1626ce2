"""Every shell step of the CI examples runs, with bash, in a temporary checkout, against the emulator.

GitHub: each ``run:`` script of ``examples/github/*.yml`` (the other steps are the Action, tested on
its own, and JavaScript for comments and issues) runs with GitHub's shell (``bash -eo pipefail``), its
``env:`` expressions evaluated from a matrix entry, the job's Environment secrets and variables. The
sharded example runs per site of the example project, API-key sites and a Wix-app (OAuth) site, each
against its own emulator server (``WIX_API_URL``), and the emulator then holds the manifests' secrets.

GitLab: every job's ``before_script`` + ``script`` of ``examples/gitlab/*.yml`` runs with ``bash -e``,
in pipeline order (merge request, merge, schedule), against an emulator and a small fake GitLab API.

The install step (``python -m pip install URL``) is the one thing not run for real (no network in
tests): a ``python`` shim records it and checks the URL is a pinned archive of this repository; every
other ``python``/``wix-secrets`` call is the real one from the test environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pyrage
import pytest
import yaml

from reconciler.emulator import Emulator, EmulatorServer
from reconciler.sops import EncryptionRules, KeyRing, decrypt_text, encrypt

from fake_gitlab import FakeGitLab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PINNED = re.compile(r"https://github\.com/wix-secrets/wix-secrets/archive/([0-9a-f]{40})\.tar\.gz")
SECRETS_API = "/_api/cloud-secrets-vault-server/api/v1/secrets"


# --- the shell around the scripts ------------------------------------------------------------------


def shim(tmp_path: Path) -> tuple[Path, Path]:
    """A bin folder whose ``python`` records ``-m pip install`` (and checks its target) and runs anything
    else with the test interpreter; followed on PATH by the test environment's own bin folder."""
    folder = tmp_path / "shim-bin"
    folder.mkdir()
    log = tmp_path / "installs.log"
    script = folder / "python"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then\n'
        f'  echo "$*" >> "{log}"\n'
        "  exit 0\n"
        "fi\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    script.chmod(0o755)
    return folder, log


def base_env(tmp_path: Path, shim_bin: Path) -> dict[str, str]:
    keep = ("LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "PATH": f"{shim_bin}{os.pathsep}{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(tmp_path / "home"),
            "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
            "XDG_STATE_HOME": str(tmp_path / "home" / ".local" / "state"),
        }
    )
    return env


def bash(script: str, *, cwd: Path, env: dict[str, str], flags: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", *flags, "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def installs(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    for line in lines:
        assert PINNED.search(line), f"not a pinned archive of wix-secrets: {line}"
        assert "==" not in line  # not a PyPI version: wix-secrets is not published there
    return lines


# --- GitHub ------------------------------------------------------------------------------------------

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text: str, context: dict[str, dict[str, str]]) -> str:
    """The few GitHub expression forms the examples use in ``env:``: ``ctx.name`` and ``a || b``."""

    def one(match: re.Match[str]) -> str:
        for operand in match.group(1).split("||"):
            scope, _, name = operand.strip().partition(".")
            assert scope in context and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), f"unsupported: {operand}"
            value = context[scope].get(name, "")  # an unset secret or variable is the empty string
            if value:
                return value
        return ""

    return _EXPR.sub(one, text)


def run_steps(job: dict[str, Any], context: dict[str, dict[str, str]], *, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run the job's ``run:`` steps in order; returns their names. GITHUB_OUTPUT is a file in cwd."""
    ran = []
    for step in job["steps"]:
        if "run" not in step:
            continue
        step_env = {**env, **{k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()}}
        result = bash(step["run"], cwd=cwd, env=step_env, flags=("-e", "-o", "pipefail"))
        assert result.returncode == 0, f"{step.get('name')}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        ran.append(str(step.get("name")))
    return ran


class Site:
    """One emulated Wix site over loopback HTTP, with the credentials its Environment holds."""

    def __init__(self, emulator: Emulator, secrets: dict[str, str], vars_: dict[str, str]) -> None:
        self.emulator = emulator
        self.server = EmulatorServer(emulator)
        self.secrets = secrets
        self.vars = vars_

    def names(self, headers: dict[str, str]) -> list[str]:
        reply = httpx.get(self.server.url + SECRETS_API, headers=headers)
        reply.raise_for_status()
        return sorted(s["name"] for s in reply.json()["secrets"])


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The example project as a repository root, its sites real ones (the `local:` lines removed)."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "examples" / "project", root, ignore=shutil.ignore_patterns("demo-*"))
    text = (root / "wix-secrets.yaml").read_text()
    (root / "wix-secrets.yaml").write_text("\n".join(ln for ln in text.splitlines() if "local: demo-" not in ln))
    return root


def test_github_sharded_example_runs_for_api_key_and_wix_app_sites(tmp_path: Path, checkout: Path) -> None:
    workflow = yaml.safe_load((REPO / "examples" / "github" / "sharded.yml").read_text())
    shim_bin, log = shim(tmp_path)
    env = base_env(tmp_path, shim_bin)

    # job `sites`: install, then the matrix into $GITHUB_OUTPUT
    output = checkout / "github-output"
    ran = run_steps(workflow["jobs"]["sites"], {}, cwd=checkout, env={**env, "GITHUB_OUTPUT": str(output)})
    assert len(ran) == 2
    line = output.read_text().strip()
    assert line.startswith("matrix=") and "\n" not in line
    matrix = json.loads(line.removeprefix("matrix="))
    assert [e["site"] for e in matrix["include"]] == ["shop", "blog", "shop-staging"]

    sites = {
        "shop": Site(Emulator(api_key="shop-key"), {"WIX_API_KEY": "shop-key"}, {}),
        "blog": Site(Emulator(api_key="blog-key"), {"WIX_API_KEY": "blog-key"}, {}),
        "shop-staging": Site(
            Emulator(app_secret="staging-app-secret"),
            {"WIX_CLIENT_ID": "app-id", "WIX_CLIENT_SECRET": "staging-app-secret", "WIX_INSTANCE_ID": "inst-1"},
            {},
        ),
    }
    expected = {
        "shop": ["LOG_LEVEL", "PAYMENT_PROVIDER_KEY", "SENTRY_DSN"],
        "blog": ["LOG_LEVEL", "NEWSLETTER_API_KEY", "SENTRY_DSN"],
        "shop-staging": ["LOG_LEVEL", "PAYMENT_PROVIDER_KEY", "SENTRY_DSN"],
    }
    for site in sites.values():
        site.server.__enter__()
    try:
        # job `apply`, once per matrix entry, with that site's Environment; the emulator stands in for Wix
        for entry in matrix["include"]:
            site = sites[entry["site"]]
            context = {"matrix": entry, "secrets": site.secrets, "vars": site.vars}
            run_steps(workflow["jobs"]["apply"], context, cwd=checkout, env={**env, "WIX_API_URL": site.server.url})
            audit = checkout / "audit" / f"{entry['site']}.jsonl"
            assert len(audit.read_text().splitlines()) == 3, entry["site"]
        for name in ("shop", "blog"):
            headers = {"Authorization": f"{name}-key", "wix-site-id": "x"}
            assert sites[name].names(headers) == expected[name]
        token = httpx.post(
            sites["shop-staging"].server.url + "/oauth2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": "app-id",
                "client_secret": "staging-app-secret",
                "instance_id": "inst-1",
            },
        ).json()["access_token"]
        assert sites["shop-staging"].names({"Authorization": token}) == expected["shop-staging"]
    finally:
        for site in sites.values():
            site.server.__exit__(None, None, None)
    assert len(installs(log)) == 4  # the `sites` job, then the `apply` job once per site


def test_every_github_run_step_is_covered() -> None:
    """The run: steps of the GitHub examples are those the test above runs (the rest are `uses:`)."""
    for path in sorted((REPO / "examples" / "github").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job_name, job in workflow["jobs"].items():
            runs = [s for s in job.get("steps", []) if "run" in s]
            if path.name == "sharded.yml" and job_name in ("sites", "apply"):
                assert runs, job_name
            else:
                assert not runs, f"{path.name}: job {job_name} has run: steps no test executes"


# --- GitLab ------------------------------------------------------------------------------------------


def gitlab_job_script(config: dict[str, Any], name: str) -> str:
    job = config[name]
    base = config.get(job.get("extends", ""), {})
    lines = [*(job.get("before_script") or base.get("before_script") or []), *job["script"]]
    return "\n".join(lines)


def test_gitlab_example_jobs_run_in_pipeline_order(tmp_path: Path, gitlab: FakeGitLab) -> None:
    path = REPO / "examples" / "gitlab" / "wix-secrets.gitlab-ci.yml"
    config = yaml.safe_load(path.read_text())
    jobs = [k for k, v in config.items() if isinstance(v, dict) and "script" in v and not k.startswith(".")]
    assert sorted(jobs) == sorted(["validate", "plan", "plan-main", "apply", "drift"])

    identity = pyrage.x25519.Identity.generate()
    checkout = tmp_path / "checkout"
    (checkout / "secrets").mkdir(parents=True)
    plain = b"version: 1\nsecrets:\n  API_TOKEN:\n    value: tok-new-0001\n  WEBHOOK_SECRET:\n    value: whsec-0002\n"
    rules = EncryptionRules(encrypted_regex="^value$")
    manifest = checkout / "secrets" / "shop.sops.yaml"
    manifest.write_bytes(encrypt(plain, recipients=[str(identity.to_public())], rules=rules))

    shim_bin, log = shim(tmp_path)
    emulator = Emulator(api_key="gl-key")
    with EmulatorServer(emulator) as server:
        headers = {"Authorization": "gl-key", "wix-site-id": "site-1"}
        httpx.post(server.url + SECRETS_API, json={"secret": {"name": "API_TOKEN", "value": "old"}}, headers=headers)
        variables = {k: str(v) for k, v in config["variables"].items()}
        env = {
            **base_env(tmp_path, shim_bin),
            **variables,
            "CI_PROJECT_DIR": str(checkout),
            "CI_API_V4_URL": gitlab.url,
            "CI_PROJECT_ID": "42",
            "WIX_SECRETS_GITLAB_TOKEN": gitlab.token,
            "WIX_API_URL": server.url,
            "WIX_API_KEY": "gl-key",
            "WIX_SITE_ID": "site-1",
            "SOPS_AGE_KEY": str(identity),
        }

        def job(name: str, **more: str) -> subprocess.CompletedProcess[str]:
            result = bash(gitlab_job_script(config, name), cwd=checkout, env={**env, **more}, flags=("-e",))
            assert result.returncode == 0, f"{name}: exit {result.returncode}\n{result.stdout}{result.stderr}"
            return result

        mr = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}
        job("validate", **mr)
        job("plan", **mr)  # changes: exit 2 inside, the job passes and posts the note
        assert len(gitlab.notes) == 1 and "API_TOKEN" in gitlab.notes[0]["body"]
        push = {"CI_PIPELINE_SOURCE": "push"}
        job("plan-main", **push)
        assert (checkout / "shop.plan.json").is_file()
        job("apply", **push)
        site = {s["name"]: s for s in httpx.get(server.url + SECRETS_API, headers=headers).json()["secrets"]}
        assert sorted(site) == ["API_TOKEN", "WEBHOOK_SECRET"]
        [backup] = list((checkout / "backups").glob("*.sops.yaml"))  # API_TOKEN's old value, kept as an artifact
        restored = decrypt_text(backup.read_bytes(), keys=KeyRing.from_identities([str(identity)]))
        assert b"value: old\n" in restored
        assert json.loads((checkout / "apply.json").read_text())["result"]["status"] == "success"

        httpx.patch(
            f"{server.url}{SECRETS_API}/{site['WEBHOOK_SECRET']['id']}",
            json={"secret": {"value": "changed-by-hand"}},
            headers=headers,
        ).raise_for_status()
        job("drift", CI_PIPELINE_SOURCE="schedule", WIX_SECRETS_JOB="drift")
        assert len(gitlab.issues) == 1 and gitlab.issues[0]["title"] == "wix-secrets drift on site shop"
        assert "WEBHOOK_SECRET" in gitlab.issues[0]["description"]
    lines = installs(log)
    assert len(lines) == 5  # one install per job
