"""A few end-to-end runs of the real console script as a subprocess against a real emulator process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import __version__

ROOT = Path(__file__).resolve().parents[2]
EXE = shutil.which("wix-secrets", path=os.path.dirname(sys.executable)) or "wix-secrets"


def run(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("WIX_", "SOPS_"))}
    full_env.update(env or {})
    return subprocess.run([EXE, *argv], env=full_env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def emulator_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--api-key", "e2e-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_version_and_help() -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"wix-secrets {__version__}"
    for command in (
        "",
        "validate",
        "plan",
        "apply",
        "drift",
        "emulator",
        "encrypt",
        "decrypt",
        "edit",
        "set",
        "unset",
        "updatekeys",
        "rotate",
        "keygen",
        "import",
        "sites",
    ):
        result = run(*([command] if command else []), "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "usage: wix-secrets" in result.stdout


def test_python_dash_m_is_the_same_program() -> None:
    result = subprocess.run([sys.executable, "-m", "reconciler", "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"wix-secrets {__version__}"


def test_quickstart_flow_over_http_with_an_api_key(emulator_url: str, tmp_path: Path) -> None:
    env = {
        "WIX_API_URL": emulator_url,
        "WIX_API_KEY": "e2e-key",
        "WIX_SITE_ID": "site",
        "SOPS_AGE_KEY_FILE": str(ROOT / "examples" / "demo-age-key.txt"),
    }
    manifest = str(ROOT / "examples" / "quickstart.sops.yaml")
    plan = run("plan", "--detailed-exitcode", manifest, env=env)
    assert plan.returncode == 2, plan.stderr
    assert "\033[" not in plan.stdout  # not a terminal: no colour
    apply = run("apply", "--auto-approve", manifest, env=env)
    assert apply.returncode == 0, apply.stderr
    again = run("plan", "--detailed-exitcode", manifest, env=env)
    assert again.returncode == 0, again.stdout
    wrong = run("plan", manifest, env={**env, "WIX_API_KEY": "wrong"})
    assert wrong.returncode == 1 and "401" in wrong.stderr and "wrong" not in wrong.stderr


def test_plain_http_to_a_remote_host_is_refused() -> None:
    result = run(
        "plan",
        "--api-url",
        "http://example.com",
        str(ROOT / "examples" / "quickstart.yaml"),
        env={"WIX_API_KEY": "k", "WIX_SITE_ID": "s"},
    )
    assert result.returncode == 1 and "plain HTTP" in result.stderr


def test_missing_credentials_say_which_variables_to_set() -> None:
    result = run("plan", str(ROOT / "examples" / "quickstart.yaml"))
    assert result.returncode == 1
    assert "WIX_API_KEY" in result.stderr and "WIX_SITE_ID" in result.stderr
