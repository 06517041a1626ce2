"""The public Python API: the exported names are pinned, the example script runs, and the sync and
async functions plan, apply, save and apply plan files and run projects against the emulator."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import reconciler
from reconciler import BackupOptions, Options

REPO = Path(__file__).resolve().parents[2]
AGE = {"SOPS_AGE_KEY_FILE": str(REPO / "examples" / "demo-age-key.txt")}
QUICKSTART = REPO / "examples" / "quickstart.sops.yaml"

EXPORTED = [
    "Action",
    "ApplyResult",
    "BackupOptions",
    "Change",
    "Connection",
    "DesiredState",
    "Events",
    "GuardError",
    "ManifestError",
    "Options",
    "PartialApplyError",
    "Plan",
    "ProjectOutcome",
    "SavedPlan",
    "SiteOutcome",
    "StalePlanError",
    "WixSecretsError",
    "__version__",
    "apply_plan_file",
    "apply_plan_file_async",
    "apply_project",
    "apply_project_async",
    "apply_site",
    "apply_site_async",
    "load_manifests",
    "load_plan_file",
    "local_site",
    "plan_project",
    "plan_project_async",
    "plan_site",
    "plan_site_async",
    "remote_site",
    "site_from_environ",
]


def test_the_exported_names_are_pinned_complete_and_sorted() -> None:
    assert reconciler.__all__ == EXPORTED
    assert sorted(reconciler.__all__) == reconciler.__all__
    for name in reconciler.__all__:
        assert getattr(reconciler, name) is not None, name
    with pytest.raises(AttributeError):
        _ = reconciler.no_such_name


def test_importing_the_package_stays_light() -> None:
    code = "import sys, reconciler; print(sorted(m for m in sys.modules if m.startswith(('httpx', 'reconciler.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_example_script_plans_applies_with_backup_and_audit(tmp_path: Path) -> None:
    script = REPO / "examples" / "python" / "plan_and_apply.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "apply: success, 4 applied, converged=True" in done.stdout
    assert "plan again: no changes" in done.stdout
    assert len(list((tmp_path / "backups").iterdir())) == 1
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["applied"] * 4
    assert "Traceback" not in done.stderr


def test_the_api_refuses_with_typed_errors_and_never_prints(tmp_path: Path, capsys: Any) -> None:
    site = reconciler.local_site(tmp_path / "site.json")
    with pytest.raises(reconciler.ManifestError) as bad:
        reconciler.load_manifests(b"version: 1\nsecrets:\n  'x y':\n    value: v\n")
    assert bad.value.diagnostics[0].line == 3
    full = b"version: 1\nsecrets:\n" + b"".join(b"  S%d:\n    value: v%d\n" % (i, i) for i in range(8))
    reconciler.apply_site(reconciler.load_manifests(full), site, options=Options(backup=BackupOptions(enabled=False)))
    one = reconciler.load_manifests(b"version: 1\npolicy:\n  prune: true\nsecrets:\n  S0:\n    value: v0\n")
    planned = reconciler.plan_site(one, site)
    assert planned.exit_code == 5 and isinstance(planned.guard_error, reconciler.GuardError)
    with pytest.raises(reconciler.GuardError):
        reconciler.apply_site(one, site)
    again = reconciler.plan_site([tmp_path / "m.yaml"], site) if (tmp_path / "m.yaml").write_bytes(full) else None
    assert again is not None and again.plan is not None and len(again.plan.changes) == 8
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_async_plan_save_and_apply_a_plan_file(tmp_path: Path) -> None:
    site = reconciler.local_site(tmp_path / "site.json")

    async def flow() -> reconciler.SiteOutcome:
        planned = await reconciler.plan_site_async([QUICKSTART], site, environ=AGE, out=tmp_path / "p.json")
        assert planned.saved_plan == tmp_path / "p.json"
        return await reconciler.apply_plan_file_async(tmp_path / "p.json", site, environ=AGE)

    outcome = asyncio.run(flow())
    assert outcome.result is not None and outcome.result.count("applied") == 4 and outcome.exit_code == 0
    saved = reconciler.load_plan_file(tmp_path / "p.json")
    assert [c.name for c in saved.changes] == sorted(c.name for c in saved.changes)
    other = reconciler.local_site(tmp_path / "other.json")
    with pytest.raises(reconciler.StalePlanError):
        reconciler.apply_plan_file(tmp_path / "p.json", other, environ=AGE)
    assert not (tmp_path / "other.json").exists()


def test_a_project_of_local_sites(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\nsecrets:\n  A:\n    value: aaaa\n")
    (tmp_path / "b.yaml").write_text("version: 1\nsecrets:\n  B:\n    value: bbbb\n")
    (tmp_path / "wix-secrets.yaml").write_text(
        "version: 1\nsites:\n  - name: one\n    local: one.json\n    manifests: [a.yaml]\n"
        "  - name: two\n    local: two.json\n    manifests: [b.yaml]\n"
    )
    planned = reconciler.plan_project(cwd=tmp_path)
    assert [s.name for s in planned.sites] == ["one", "two"] and planned.summary()["create"] == 2
    applied = asyncio.run(
        reconciler.apply_project_async(cwd=tmp_path, options=Options(backup=BackupOptions(enabled=False)))
    )
    assert applied.exit_code == 0 and applied.summary()["applied"] == 2
    assert not reconciler.plan_project(cwd=tmp_path, sites=["two"]).sites[0].has_changes
