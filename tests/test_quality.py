"""The project's own checks are part of the suite: mypy (strict), ruff check and ruff format on everything shipped."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_strict_is_clean() -> None:
    """reconciler/, tests/ and benchmarks/, all with the strict settings of pyproject.toml (issue 11)."""
    result = run("mypy", "reconciler", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout, result.stdout


def test_mypy_configuration_does_not_relax_tests(tmp_path: Path) -> None:
    """No override loosens tests or benchmarks, and the configured strictness catches what it must:
    an unannotated function and an unused ``type: ignore`` in a test file are errors."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    assert set(config["files"]) == {"reconciler", "tests", "benchmarks"}
    for override in config.get("overrides", []):
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        assert not any(m.split(".")[0] in {"reconciler", "tests", "benchmarks"} for m in modules), override
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_x(fixture):\n    return fixture + 1  # type: ignore[operator]\n", encoding="utf-8")
    result = run("mypy", "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental", str(probe))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[no-untyped-def]" in result.stdout and "[unused-ignore]" in result.stdout, result.stdout


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "reconciler", "tests", "benchmarks", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    """One layout everywhere (`ruff format`), so a diff shows only what changed."""
    result = run("ruff", "format", "--check", "reconciler", "tests", "benchmarks", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plan_module_does_no_io() -> None:
    """The plan is a pure value: plan.py imports no I/O module (style.md, 'dependency direction')."""
    source = (ROOT / "reconciler" / "plan.py").read_text()
    for forbidden in ("import httpx", "import yaml", "import os", "import subprocess", "open("):
        assert forbidden not in source


def _imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_emulator_does_not_import_the_client() -> None:
    """The emulator stands beside the graph, so testing the client against it is not circular."""
    for path in (ROOT / "reconciler" / "emulator").glob("*.py"):
        for module in _imports(path):
            assert not module.startswith(("reconciler.wix", "reconciler.model", "reconciler.plan")), (
                f"{path.name} imports {module}"
            )
