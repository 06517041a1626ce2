"""The layering issue 11 asks for, checked on the source: the service never touches the process
(argv, terminal, os.environ, print), the Action never imports the CLI, and no CLI module imports
another in a circle (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_service_and_the_api_never_touch_the_process() -> None:
    files = [*sorted((PACKAGE / "service").glob("*.py")), PACKAGE / "api.py"]
    assert len(files) >= 8
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in {
                    ("os", "environ"),
                    ("sys", "argv"),
                    ("sys", "stdin"),
                    ("sys", "stdout"),
                    ("sys", "stderr"),
                }, f"{path.name} reads {node.value.id}.{node.attr}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("print", "input"), f"{path.name} calls {node.func.id}()"
        assert not any(m.startswith("reconciler.cli") for m in imports(path)), path.name


def test_the_action_does_not_import_the_cli() -> None:
    assert not any(m.startswith("reconciler.cli") for m in imports(PACKAGE / "action.py"))


def test_no_cli_module_imports_another_in_a_circle() -> None:
    modules = {f"reconciler.cli.{p.stem}": p for p in (PACKAGE / "cli").glob("*.py") if p.stem != "__init__"}
    graph = {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    circles = sorted(name for name in graph if reaches(name, name, {name}))
    assert circles == [], circles


def test_the_manifest_does_not_import_the_planner() -> None:
    assert "reconciler.plan" not in imports(PACKAGE / "manifest.py")
    from reconciler.plan import matches_any  # the old import path still works

    assert matches_any("API_KEY", ["API_*"]) == "API_*"


def test_importing_the_client_has_no_side_effect_on_sys_modules() -> None:
    import subprocess
    import sys

    code = "import sys; before = dict(sys.modules); import reconciler.wix; print(sys.modules.get('sniffio', 'absent'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "absent"  # never a None entry hiding a module
