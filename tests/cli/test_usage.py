"""Usage errors, --help, --version and the colour switches, as a user meets them (issue 13, item 12)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__
from reconciler.cli.app import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def _subcommands() -> list[str]:
    return sorted(_subparsers())


def _required_positionals(command: str) -> list[str]:
    """Enough positional arguments that only the unknown flag is wrong."""
    argv: list[str] = []
    for action in _subparsers()[command]._actions:
        if not action.option_strings and action.nargs in (None, "+"):
            argv.append("a")
        elif action.option_strings and action.required:
            argv += [action.option_strings[-1], "a"]
    return argv


def test_there_are_subcommands_to_check() -> None:
    assert {"plan", "apply", "drift", "validate", "sites", "encrypt", "emulator"} <= set(_subcommands())


@pytest.mark.parametrize("command", _subcommands())
def test_an_unknown_flag_prints_the_subcommands_usage(cli: Any, command: str) -> None:
    result = cli(command, *_required_positionals(command), "--no-such-flag")
    assert result.code == 1
    assert f"usage: wix-secrets {command}" in result.err
    assert f"wix-secrets {command}: error: unrecognized arguments: --no-such-flag" in result.err
    assert "COMMAND ..." not in result.err  # not the top-level usage
    assert result.out == ""


def test_a_bad_flag_value_prints_the_subcommands_usage(cli: Any) -> None:
    result = cli("plan", "--max-deletes", "many", "m.yaml")
    assert result.code == 1
    assert "usage: wix-secrets plan" in result.err
    assert "argument --max-deletes: invalid int value: 'many'" in result.err


def test_an_unknown_command_prints_the_top_level_usage(cli: Any) -> None:
    result = cli("plna")
    assert result.code == 1
    assert "usage: wix-secrets [-h] [-V]" in result.err
    assert "invalid choice: 'plna'" in result.err


def test_an_unknown_global_flag_before_the_command_is_still_an_error(cli: Any) -> None:
    result = cli("--no-such-flag", "plan", "m.yaml")
    assert result.code == 1
    assert "unrecognized arguments: --no-such-flag" in result.err


def test_apply_help_mentions_planfile(cli: Any) -> None:
    result = cli("apply", "--help")
    assert result.code == 0
    assert "usage: wix-secrets apply [options] MANIFEST... | wix-secrets apply [options] PLANFILE" in result.out
    assert "plan --out" in result.out
    assert "wix-secrets show PLANFILE" in result.out


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_short_and_long(cli: Any, flag: str) -> None:
    result = cli(flag)
    assert result.code == 0
    assert result.out.strip() == f"wix-secrets {__version__}"


def test_help_documents_no_color_and_force_color(cli: Any) -> None:
    result = cli("--help")
    assert result.code == 0
    assert "NO_COLOR (non-empty)" in result.out
    assert "FORCE_COLOR (non-empty) forces it" in result.out
    readme = (ROOT / "README.md").read_text()
    assert "FORCE_COLOR" in readme and "NO_COLOR" in readme


def _color_of(env: dict[str, str]) -> bool:
    """Ask a real process (whose stdout is not a terminal) whether it would colour its output."""
    code = "from reconciler.cli.console import Console; print(Console.from_process().color)"
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip() == "True"


def test_empty_no_color_does_not_turn_colour_off() -> None:
    """no-color.org: NO_COLOR counts only when non-empty. FORCE_COLOR makes the difference visible off a TTY."""
    assert _color_of({"FORCE_COLOR": "1", "NO_COLOR": ""}) is True
    assert _color_of({"FORCE_COLOR": "1", "NO_COLOR": "1"}) is False
    assert _color_of({"FORCE_COLOR": ""}) is False
    assert _color_of({}) is False
