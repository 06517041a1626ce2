"""The composite action itself: action.yml's steps, run the way the runner runs them.

Each ``run:`` step's script is executed with ``bash --noprofile --norc -eo pipefail`` (the runner's
``shell: bash``) with its ``env:`` mapping evaluated the way GitHub evaluates it; the ``uses:`` steps
are the only ones skipped, their job done here (setup-python: the test venv's interpreter; cache:
nothing to restore). The install step really creates a virtual environment and pip-installs the
package from the action's checkout. The outputs are then read through ``outputs.*.value`` exactly as
a workflow would read ``steps.<id>.outputs.*``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emulator import Emulator

from .gha import API_KEY, CANARIES, SITE_ID, ActionRun, collect, encrypt_manifest, manifest_yaml, parse_github_output
from support import AgeKey, Site

REPO = Path(__file__).resolve().parents[2]
ACTION: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONTEXT_PATH = re.compile(r"[a-z]+(\.[A-Za-z0-9_-]+)+")


def evaluate(text: str, contexts: Mapping[str, Mapping[str, Any]]) -> str:
    """Substitute ``${{ a.b.c }}`` the way GitHub does for plain context lookups (missing: "")."""

    def lookup(match: re.Match[str]) -> str:
        path = match.group(1)
        assert CONTEXT_PATH.fullmatch(path), f"only plain context lookups are expected here, not {path!r}"
        head, *rest = path.split(".")
        value: Any = contexts[head]
        for part in rest:
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return "" if value is None else str(value)

    return EXPRESSION.sub(lookup, text)


@dataclass
class CompositeRun:
    run: ActionRun  # the last step's view, plus the composite outputs
    outputs: dict[str, str]
    steps: dict[str, dict[str, str]]
    failed_step: str | None


class Job:
    """One job on a simulated runner: the action's checkout, a workspace and RUNNER_TEMP."""

    def __init__(self, root: Path, action_path: Path) -> None:
        self.root = root
        self.action_path = action_path
        self.workspace = root / "workspace"
        self.workspace.mkdir(parents=True)
        self.temp = root / "runner-temp"  # shared by the steps of the job, like the runner's
        self.temp.mkdir()
        self.home = root / "home"
        self.home.mkdir()
        self.count = 0

    def run_action(self, inputs: Mapping[str, str]) -> CompositeRun:
        declared = ACTION["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"not inputs of the action: {unknown}"
        inputs_ctx = {name: spec.get("default", "") for name, spec in declared.items()} | dict(inputs)
        for name, spec in declared.items():
            if spec.get("required"):
                assert inputs_ctx.get(name), f"required input {name} missing"
        steps: dict[str, dict[str, str]] = {}
        contexts: dict[str, Mapping[str, Any]] = {
            "inputs": inputs_ctx,
            "steps": steps,
            "runner": {"temp": str(self.temp), "os": "Linux"},
            "github": {"action_path": str(self.action_path), "workspace": str(self.workspace)},
        }
        log: list[str] = []
        last_files: dict[str, str] = {}
        code = 0
        failed: str | None = None
        for index, step in enumerate(ACTION["runs"]["steps"]):
            step_id = step.get("id", f"__step{index}")
            if "uses" in step:
                steps[step_id] = {"outputs": self._uses(step, contexts)}  # type: ignore[dict-item]
                continue
            assert step.get("shell") == "bash"
            script = step["run"]
            assert "${{" not in script, "expressions must reach scripts through env:, never inline"
            self.count += 1
            files_dir = self.root / f"step-{self.count}"
            files_dir.mkdir()
            files = {}
            for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV"):
                (files_dir / name.lower()).touch()
                files[name] = str(files_dir / name.lower())
            env = {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": str(self.home),
                "LANG": "C.UTF-8",
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_ACTION_PATH": str(self.action_path),
                "RUNNER_TEMP": str(self.temp),
                "RUNNER_OS": "Linux",
                **files,
            }
            for key, value in (step.get("env") or {}).items():
                env[key] = evaluate(str(value), contexts)
            script_file = files_dir / "script.sh"
            script_file.write_text(script, encoding="utf-8")
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
                cwd=self.workspace,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=300,
                check=False,
            )
            log.append(proc.stdout.decode("utf-8"))
            steps[step_id] = {"outputs": parse_github_output(Path(files["GITHUB_OUTPUT"]).read_text())}  # type: ignore[dict-item]
            last_files = files
            code = proc.returncode
            if code != 0:
                failed = step_id
                break
        outputs = {name: evaluate(str(spec["value"]), contexts) for name, spec in ACTION["outputs"].items()}
        run = collect(code, "".join(log[-1:]), last_files, self.temp / "__nothing__")
        run.files = {
            str(p.relative_to(self.temp)): p.read_text(encoding="utf-8", errors="replace")
            for p in self.temp.glob("wix-secrets-*/**/*")
            if p.is_file() and "venv" not in p.parts
        }
        return CompositeRun(run, outputs, {k: v["outputs"] for k, v in steps.items()}, failed)  # type: ignore[misc]

    def _uses(self, step: Mapping[str, Any], contexts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
        uses = str(step["uses"])
        name, _, ref = uses.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{uses} is not pinned to a commit SHA"
        with_ = {k: evaluate(str(v), contexts) for k, v in (step.get("with") or {}).items()}
        if name == "actions/setup-python":
            assert re.fullmatch(r"3\.\d+", with_["python-version"]), "Python must be pinned"
            assert with_.get("update-environment") == "false", "must not change the job's python"
            version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
            return {"python-path": sys.executable, "python-version": version}
        if name == "actions/cache":
            assert with_["path"] and with_["path"].startswith(str(self.temp))
            assert with_["key"].startswith("wix-secrets-pip-Linux-") and not with_["key"].endswith("-")
            return {"cache-hit": "false"}
        raise AssertionError(f"unexpected action {uses}")


@pytest.fixture(scope="module")
def action_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's checkout as the runner downloads it (only what installing needs; no build litter)."""
    dest = tmp_path_factory.mktemp("action-checkout")
    for name in ("action.yml", "pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "reconciler", dest / "reconciler", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, action_checkout: Path, age_key: AgeKey) -> Job:
    """One job for the module: its first use of the action installs, the later ones reuse that venv."""
    job = Job(tmp_path_factory.mktemp("job"), action_checkout)
    manifest = job.workspace / "secrets" / "shop.sops.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(encrypt_manifest(manifest_yaml(CANARIES), age_key.recipient))
    return job


def test_composite_steps_plan_apply_drift(job: Job, site: Site[Emulator], age_key: AgeKey) -> None:
    common = {
        "manifest": "secrets/*.sops.yaml",
        "site-id": SITE_ID,
        "api-key": API_KEY,
        "age-key": age_key.identity,
        "api-url": site.url,
    }

    plan = job.run_action({"command": "plan", **common})
    assert plan.failed_step is None, plan.run.log
    # the install step ran for real: a venv with the package from the action's checkout
    python = Path(plan.steps["install"]["python"])
    assert python.is_file() and job.temp in python.parents
    probe = subprocess.run(
        [str(python), "-c", "import reconciler.action, sys; print(reconciler.action.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=job.workspace,
        env={"PATH": "/usr/bin:/bin", "HOME": str(job.home)},
    )
    assert str(job.action_path) not in probe.stdout and "site-packages" in probe.stdout
    # a lean venv: the base Python's pip installed into it, none was seeded (nor setuptools)
    lean = subprocess.run([str(python), "-c", "import pip"], capture_output=True, check=False, cwd=job.workspace)
    assert lean.returncode != 0 and b"No module named 'pip'" in lean.stderr
    stamp = (python.parents[1] / "wix-secrets-stamp").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", stamp)
    assert plan.outputs["has-changes"] == "true"
    assert (plan.outputs["creates"], plan.outputs["updates"], plan.outputs["deletes"]) == ("4", "0", "0")
    assert plan.outputs["exit-code"] == "2"
    summary = Path(plan.outputs["summary-file"]).read_text(encoding="utf-8")
    assert "STRIPE_API_KEY" in summary and summary.strip() in plan.run.summary
    assert plan.run.log.startswith("::add-mask::")
    plan.run.assert_no_leak()

    apply = job.run_action({"command": "apply", **common})
    assert apply.failed_step is None, apply.run.log
    # the same checkout and Python in the same job: the venv installed above is reused, not rebuilt
    assert apply.steps["install"] == {"python": str(python), "reused": "true"}
    assert apply.outputs["exit-code"] == "0"
    assert apply.outputs["creates"] == "4"
    # the paths a later upload-artifact step keeps, through the composite's outputs
    assert apply.outputs["backup-dir"] == str(job.temp / "wix-secrets-backups")
    assert apply.outputs["backup-file"] == ""  # only creates: nothing overwritten or deleted
    assert apply.outputs["audit-log"] == str(job.temp / "wix-secrets-audit.jsonl")
    assert len(Path(apply.outputs["audit-log"]).read_text(encoding="utf-8").splitlines()) == 4
    with site.emulator.store.transaction(write=False) as store:
        assert {s.name: s.value for s in store.all()} == CANARIES
    apply.run.assert_no_leak()

    drift = job.run_action({"command": "drift", "detailed-exitcode": "true", **common})
    assert drift.failed_step is None, drift.run.log
    assert drift.steps["install"]["reused"] == "true"
    assert drift.outputs["has-changes"] == "false"
    assert drift.outputs["exit-code"] == "0"
    assert "<!-- wix-secrets:drift:" in Path(drift.outputs["summary-file"]).read_text(encoding="utf-8")
    drift.run.assert_no_leak()


def test_composite_fails_the_step_on_a_broken_manifest(job: Job, site: Site[Emulator], age_key: AgeKey) -> None:
    broken = job.workspace / "broken" / "shop.sops.yaml"  # not under secrets/: the other test globs that
    broken.parent.mkdir(exist_ok=True)
    broken.write_text("version: 2\nsecrets: {}\n", encoding="utf-8")
    result = job.run_action(
        {
            "command": "plan",
            "manifest": "broken/shop.sops.yaml",
            "site-id": SITE_ID,
            "api-key": API_KEY,
            "api-url": site.url,
        }
    )
    assert result.failed_step == "run"
    assert Path(result.steps["install"]["python"]).is_file()
    assert result.run.code == 1
    assert result.outputs["exit-code"] == "1"
    assert result.outputs["has-changes"] == ""
    assert any(line.startswith("::error file=broken/shop.sops.yaml,line=1") for line in result.run.log_lines)
    assert site.emulator.requests == []


def test_composite_install_does_not_reuse_a_venv_from_another_checkout(
    tmp_path: Path, action_checkout: Path, age_key: AgeKey
) -> None:
    """A venv left in RUNNER_TEMP by another checkout (or by an install that did not finish) is rebuilt.

    The checkout here has a pyproject.toml pip cannot read, so the rebuild fails fast: the step fails,
    the stale venv is gone, and no stamp is written that a later step could trust.
    """
    other = tmp_path / "other-checkout"
    shutil.copytree(action_checkout, other)
    (other / "pyproject.toml").write_text("[project\n", encoding="utf-8")
    job = Job(tmp_path / "job", other)
    stale = job.temp / "wix-secrets-action-venv"
    (stale / "bin").mkdir(parents=True)
    ran = tmp_path / "stale-python-ran"
    (stale / "bin" / "python").write_text(f"#!/bin/sh\ntouch {ran}\nexit 0\n", encoding="utf-8")
    (stale / "bin" / "python").chmod(0o755)
    (stale / "wix-secrets-stamp").write_text("0" * 64 + "\n", encoding="utf-8")
    result = job.run_action({"command": "plan", "manifest": "secrets/*.sops.yaml", "age-key": age_key.identity})
    assert result.failed_step == "install"
    assert "reused" not in result.steps["install"]
    assert not (stale / "wix-secrets-stamp").exists()
    assert not ran.exists()
