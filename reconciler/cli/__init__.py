"""The ``wix-secrets`` command line: parse, dispatch to one subcommand, map errors to exit codes.

Each subcommand lives in its own ``cmd_*.py`` module exposing ``register(subparsers)``; the module
imports heavy dependencies (httpx, yaml, cryptography) only inside the function that runs the
command, so ``--help`` and ``--version`` start fast. This package is, with :mod:`reconciler.action`,
the only place that reads files, the environment and the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence

from reconciler.cli.console import Console
from reconciler.errors import ExitCode, WixSecretsError, exit_code_for

__all__ = ["main", "run"]

log = logging.getLogger("reconciler")


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    return run(list(sys.argv[1:] if argv is None else argv), Console.from_process())


def run(argv: list[str], console: Console) -> int:
    """Run one command against ``console``; return the exit code. Never raises for user errors."""
    from reconciler.cli.app import build_parser, configure_logging, parse_args

    parser = build_parser()
    try:  # argparse writes --help, --version and usage errors to sys.stdout/stderr: send them to the console
        with contextlib.redirect_stdout(console.stdout), contextlib.redirect_stderr(console.stderr):
            args = parse_args(parser, argv)
    except SystemExit as exc:  # argparse: --help, --version, or a usage error (exit 2 -> 1)
        code = exc.code if isinstance(exc.code, int) else 1
        if code != 0:
            _usage_error_document(argv, console)
        return ExitCode.OK if code == 0 else ExitCode.ERROR
    if getattr(args, "no_color", False):
        console.color = False
    configure_logging(console, verbose=args.verbose, debug=args.debug)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(console.stderr)
        return ExitCode.ERROR
    try:
        return int(handler(args, console))
    except WixSecretsError as exc:
        console.err(f"Error: {exc.user_message()}")
        log.debug("error details", exc_info=True)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        console.err("Interrupted.")
        return 130
    except BrokenPipeError:
        return ExitCode.ERROR


def _usage_error_document(argv: list[str], console: Console) -> None:
    """``plan``/``apply``/``drift --json`` print one JSON document in every case, a bad command line too."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if "--json" not in argv or command not in ("plan", "apply", "drift"):
        return
    from reconciler.errors import UsageError
    from reconciler.render import RunInfo
    from reconciler.render.json import dumps, error_document

    error = UsageError(f"invalid command line for `wix-secrets {command}` (see the usage message)")
    doc = error_document(RunInfo(command), error)
    doc["exit_code"] = int(ExitCode.ERROR)
    console.out(dumps(doc))
