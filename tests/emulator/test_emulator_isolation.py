"""The emulator stands beside the graph: importing it must not pull in the client, the model or the plan."""

from __future__ import annotations

import subprocess
import sys


def test_emulator_imports_neither_client_nor_model_nor_plan() -> None:
    code = (
        "import sys, reconciler.emulator, reconciler.emulator.server, reconciler.emulator.transport\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['reconciler', 'wix'], ['reconciler', 'model'], ['reconciler', 'plan']))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_cli_module_imports_the_emulator_lazily() -> None:
    code = "import sys, reconciler.cli.cmd_emulator\nprint('reconciler.emulator' in sys.modules)\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
