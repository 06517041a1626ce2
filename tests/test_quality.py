"""The project's own checks are part of the suite: mypy (strict) and ruff on everything shipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_strict_is_clean() -> None:
    """reconciler/ strictly, tests/ with the relaxed override of pyproject.toml (bodies type-checked)."""
    result = run("mypy")  # the packages of pyproject.toml: reconciler and tests
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "reconciler", "tests", "benchmarks")
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
