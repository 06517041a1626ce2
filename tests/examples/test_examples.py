"""The CI examples, the action metadata and the pre-commit hooks: valid, safe, and consistent.

- action.yml and the example workflows validate against the public schemas (check-jsonschema's
  vendored vendor.github-actions / vendor.github-workflows / vendor.gitlab-ci);
- zizmor reports no finding on them (offline, strictest persona);
- every use of the action passes only inputs it declares (and the required ones), and reads only
  outputs it declares; every other action is pinned to a commit SHA;
- the files, commands, flags and jobs the examples refer to exist.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACTION: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
GITHUB = sorted((REPO / "examples" / "github").glob("*.yml"))
GITLAB = sorted((REPO / "examples" / "gitlab").glob("*.yml"))
OUR_ACTION = "wix-secrets/wix-secrets"
SHA = re.compile(r"[0-9a-f]{40}")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1)
    on = workflow.get("on", workflow.get(True))
    assert isinstance(on, dict)
    return on


def steps_of(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in the test environment"
    return str(path)


def test_there_are_examples() -> None:
    assert {p.name for p in GITHUB} >= {"plan-on-pull-request.yml", "apply-on-merge.yml", "drift-on-schedule.yml"}
    assert GITLAB


# --- schemas and zizmor ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-actions", [REPO / "action.yml"]),
        ("vendor.github-workflows", GITHUB),
        ("vendor.gitlab-ci", GITLAB),
    ],
    ids=["action", "github-workflows", "gitlab-ci"],
)
def test_public_schema(schema: str, files: list[Path]) -> None:
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_reports_no_finding() -> None:
    files = [REPO / "action.yml", REPO / ".pre-commit-hooks.yaml", *GITHUB]
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--persona=auditor", "--no-progress", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr


# --- the action's own metadata -----------------------------------------------------------------------


def test_action_inputs_and_outputs_are_the_documented_ones() -> None:
    assert set(ACTION["inputs"]) == {
        "command",
        "manifest",
        "site-id",
        "api-key",
        "auth",
        "age-key",
        "api-url",
        "prune",
        "max-deletes",
        "allow-mass-delete",
        "code",
        "allow-breaking-code",
        "backup-age",
        "no-backup",
        "backup-dir",
        "audit-log",
        "plan-file",
        "detailed-exitcode",
        "working-directory",
    }
    assert set(ACTION["outputs"]) == {
        "has-changes",
        "creates",
        "updates",
        "renames",
        "deletes",
        "plan-file",
        "summary-file",
        "backup-dir",
        "backup-file",
        "audit-log",
        "exit-code",
    }
    for name, spec in ACTION["inputs"].items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name)
        assert spec.get("description")


def test_action_runs_scripts_without_inline_expressions_and_pins_actions() -> None:
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        if "uses" in step:
            assert SHA.fullmatch(step["uses"].partition("@")[2]), step["uses"]
        else:
            assert "${{" not in step["run"]
            assert step["shell"] == "bash"
    run = ACTION["runs"]["steps"][-1]
    assert '"$WIX_SECRETS_PYTHON" -m reconciler.action' in run["run"]
    # the secrets only through the environment of the one step that needs them
    assert run["env"]["INPUT_API_KEY"] == "${{ inputs.api-key }}"
    assert run["env"]["INPUT_AGE_KEY"] == "${{ inputs.age-key }}"
    # every input reaches the entry point, and only through the run step's env: (an input declared but
    # not passed would be silently ignored)
    passed = {k: v for k, v in run["env"].items() if k.startswith("INPUT_")}
    assert passed == {
        f"INPUT_{name.upper().replace('-', '_')}": f"${{{{ inputs.{name} }}}}" for name in ACTION["inputs"]
    }
    others = ACTION["runs"]["steps"][:-1]
    assert not any("api-key" in str(s) or "age-key" in str(s) for s in others)


# --- GitHub examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_example_uses_the_action_correctly(path: Path) -> None:
    workflow = load(path)
    inputs = ACTION["inputs"]
    required = {name for name, spec in inputs.items() if spec.get("required")}
    ours: dict[tuple[str, str], dict[str, Any]] = {}
    for job, step in steps_of(workflow):
        if "uses" not in step:
            assert "${{" not in step["run"], f"{path.name}: expression inside a run script"
            continue
        name, _, ref = step["uses"].partition("@")
        assert SHA.fullmatch(ref), f"{path.name}: {step['uses']} is not pinned to a commit SHA"
        with_ = step.get("with") or {}
        if name == "actions/checkout":
            assert with_.get("persist-credentials") is False, f"{path.name}: checkout keeps credentials"
        if name == "actions/github-script":
            assert "${{" not in with_["script"], f"{path.name}: expression inside a github-script script"
        if name == OUR_ACTION:
            assert set(with_) <= set(inputs), f"{path.name}: unknown inputs {set(with_) - set(inputs)}"
            assert required <= set(with_), f"{path.name}: missing required inputs"
            assert with_["command"] in ("plan", "apply", "drift")
            for key in ("api-key", "age-key"):
                assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", with_[key]), "credentials come from secrets"
            ours[(job, step.get("id", ""))] = with_
    assert ours, f"{path.name} does not use the action"
    # every steps.<id>.outputs.<name> read from our action is an output it declares
    text = path.read_text(encoding="utf-8")
    ids = {step_id for _, step_id in ours}
    for step_id, output in re.findall(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", text):
        if step_id in ids:
            assert output in ACTION["outputs"], f"{path.name}: no output {output}"
    # least privilege: nothing by default, each job says what it needs
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {job_name} has no permissions block"
    # the workflow runs when the manifest it uses changes
    on = triggers(workflow)
    for event in ("pull_request", "push"):
        if event in on and on[event] and "paths" in on[event]:
            for with_ in ours.values():
                if "${{" not in with_["manifest"]:  # a literal path, not a matrix value
                    assert with_["manifest"] in on[event]["paths"]


def test_plan_example_posts_a_sticky_comment_of_the_summary_file() -> None:
    workflow = load(REPO / "examples" / "github" / "plan-on-pull-request.yml")
    assert "pull_request" in triggers(workflow) and "pull_request_target" not in triggers(workflow)
    job = workflow["jobs"]["plan"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    comment = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@"))
    assert comment["env"]["SUMMARY_FILE"] == "${{ steps.plan.outputs.summary-file }}"
    assert "!cancelled()" in comment["if"]
    script = comment["with"]["script"]
    assert "updateComment" in script and "createComment" in script and "startsWith(marker)" in script


def test_apply_example_is_behind_an_environment_with_a_per_site_concurrency_group() -> None:
    workflow = load(REPO / "examples" / "github" / "apply-on-merge.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    plan, apply = workflow["jobs"]["plan"], workflow["jobs"]["apply"]
    assert apply["needs"] == "plan"
    assert apply["environment"]["name"]
    assert apply["concurrency"]["group"].endswith("-shop")
    assert apply["concurrency"]["cancel-in-progress"] is False  # never cancel an apply half-way
    assert plan["outputs"]["has-changes"] == "${{ steps.plan.outputs.has-changes }}"
    assert "needs.plan.outputs.has-changes == 'true'" in apply["if"]
    # the saved plan travels from plan to apply as an artifact under the same name
    (plan_step,) = [s for s in plan["steps"] if s.get("id") == "plan"]
    upload = next(s for s in plan["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    download = next(s for s in apply["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    (apply_step,) = [s for s in apply["steps"] if s.get("id") == "apply"]
    assert upload["with"]["path"] == plan_step["with"]["plan-file"] == apply_step["with"]["plan-file"]
    assert upload["with"]["name"] == download["with"]["name"]
    assert apply_step["with"]["command"] == "apply"
    # the encrypted backup and the audit log of the apply are kept, from the paths the action outputs
    (keep,) = [s for s in apply["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert keep["with"]["path"].splitlines() == [
        "${{ steps.apply.outputs.backup-dir }}",
        "${{ steps.apply.outputs.audit-log }}",
    ]
    assert "!cancelled()" in keep["if"]


def test_drift_example_manages_one_issue() -> None:
    workflow = load(REPO / "examples" / "github" / "drift-on-schedule.yml")
    assert "schedule" in triggers(workflow)
    job = workflow["jobs"]["drift"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    drift = next(s for s in job["steps"] if s.get("id") == "drift")
    assert drift["with"]["command"] == "drift"
    assert drift["with"]["detailed-exitcode"] == "false"
    issue = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@"))
    assert issue["env"]["HAS_CHANGES"] == "${{ steps.drift.outputs.has-changes }}"
    assert "exit-code == '0'" in issue["if"]  # an error leaves the issue alone
    script = issue["with"]["script"]
    assert "issues.create" in script and "state: 'closed'" in script and "issues.update" in script


# --- GitLab example ----------------------------------------------------------------------------------


def _expand(command: str, variables: dict[str, str]) -> list[str]:
    text = re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", lambda m: variables.get(m.group(1), "VALUE"), command)
    return shlex.split(text)


def _script_commands(job: dict[str, Any]) -> Iterator[str]:
    for line in job.get("script", []) + job.get("before_script", []):
        # strip the shell plumbing around the tool: `... || code=$?`, `... || true`
        yield re.split(r"\s+\|\|\s+", line)[0]


@pytest.mark.parametrize("path", GITLAB, ids=lambda p: p.name)
def test_gitlab_example_commands_and_references_exist(path: Path) -> None:
    from reconciler.action_hooks import main as hooks_main
    from reconciler.cli.app import build_parser

    config = load(path)
    variables = {k: str(v) for k, v in config.get("variables", {}).items()}
    stages = set(config["stages"])
    jobs = {k: v for k, v in config.items() if isinstance(v, dict) and ("script" in v or k.startswith("."))}
    parser = build_parser()
    tool_commands = 0
    for name, job in jobs.items():
        if name.startswith("."):
            continue
        merged = {**jobs.get(job.get("extends", ""), {}), **job}
        assert merged.get("stage") in stages, name
        for need in job.get("needs", []):
            assert need in jobs, f"{name} needs unknown job {need}"
        for command in _script_commands(merged):
            argv = _expand(command, variables)
            if argv[:1] == ["wix-secrets"]:
                tool_commands += 1
                try:
                    parser.parse_args(argv[1:])
                except SystemExit as exc:  # argparse refused it: an unknown flag or command
                    raise AssertionError(f"{name}: `{command}` is not a valid wix-secrets command") from exc
            elif argv[:3] == ["python", "-m", "reconciler.action_hooks"]:
                tool_commands += 1
                with pytest.raises(SystemExit) as exited:
                    hooks_main([argv[3], "--help"])
                assert exited.value.code == 0, f"{name}: no hook {argv[3]}"
        # the files a job keeps as artifacts are the ones its commands write
        written = " ".join(merged.get("script", []))
        for artifact in merged.get("artifacts", {}).get("paths", []):
            assert artifact in written, f"{name}: artifact {artifact} is never written"
        if "apply" in name:
            assert merged["resource_group"] and merged["environment"]["action"] == "start"
    assert tool_commands >= 6


def test_gitlab_apply_uses_the_plan_saved_by_the_job_it_needs() -> None:
    config = load(REPO / "examples" / "gitlab" / "wix-secrets.gitlab-ci.yml")
    apply, plan = config["apply"], config["plan-main"]
    assert apply["needs"] == ["plan-main"]
    assert apply["resource_group"] == plan["resource_group"]
    saved = re.search(r"--out (\S+)", " ".join(plan["script"]))
    assert saved and saved.group(1) in plan["artifacts"]["paths"]
    assert f"wix-secrets apply {saved.group(1)}" in " ".join(apply["script"])


# --- pre-commit hooks --------------------------------------------------------------------------------


def test_pre_commit_hooks() -> None:
    from reconciler.action_hooks import main as hooks_main

    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"wix-secrets-check-encrypted", "wix-secrets-validate"}
    for hook in hooks:
        assert hook["language"] == "python"
        argv = shlex.split(hook["entry"])
        assert argv[:3] == ["python", "-m", "reconciler.action_hooks"]
        with pytest.raises(SystemExit) as exc:
            hooks_main([argv[3], "--help"])
        assert exc.value.code == 0
        files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])
        for name in ("secrets/shop.sops.yaml", "shop.sops.yml", "a/b.sops.json"):
            assert files.search(name) and not exclude.search(name), name
        for name in (".sops.yaml", "deep/dir/.sops.yaml"):
            assert exclude.search(name), name  # the SOPS configuration file is not a manifest
        assert not files.search("secrets/shop.yaml")


# --- docs/ci.md --------------------------------------------------------------------------------------


def _doc_blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_docs_snippets_parse_and_use_the_action_correctly() -> None:
    blocks = _doc_blocks("yaml")
    assert len(blocks) >= 5
    used = 0
    for block in blocks:
        data = yaml.safe_load(block)
        assert data is not None
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, dict) and str(item.get("uses", "")).startswith(OUR_ACTION + "@"):
                used += 1
                assert set(item["with"]) <= set(ACTION["inputs"])
            if isinstance(item, dict) and "uses" in item:
                assert SHA.fullmatch(item["uses"].partition("@")[2]), item["uses"]
                assert "${{" not in str((item.get("with") or {}).get("script", ""))
    assert used >= 1
    # every input and output of the action is documented in the tables
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    for name in [*ACTION["inputs"], *ACTION["outputs"]]:
        assert f"`{name}`" in text, name


def test_docs_point_at_files_and_places_that_exist() -> None:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\((\.\./[^)#]+)\)", text):
        assert (REPO / "docs" / link).resolve().is_file(), link
    action_source = (REPO / "reconciler" / "action.py").read_text(encoding="utf-8")
    assert "wix-secrets-backups" in text and '"wix-secrets-backups"' in action_source
    from reconciler.action_hooks import main as hooks_main

    for block in _doc_blocks("sh"):
        for line in block.splitlines():
            argv = shlex.split(line)
            if argv[:3] == ["python", "-m", "reconciler.action_hooks"]:
                with pytest.raises(SystemExit) as exc:
                    hooks_main([argv[3], "--help"])
                assert exc.value.code == 0
