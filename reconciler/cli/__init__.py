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
from reconciler.errors import ExitCode, Terminated, WixSecretsError, exit_code_for, withheld_traceback

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
    except Terminated:  # before KeyboardInterrupt: it is one
        console.err("SIGTERM: stopped before any write; nothing was changed.")
        _interrupted_document(argv, console, "SIGTERM")
        return 143
    except KeyboardInterrupt:
        console.err("Interrupted.")
        _interrupted_document(argv, console, "SIGINT")
        return 130
    except BrokenPipeError:
        return ExitCode.ERROR
    except Exception as exc:  # a bug: say so, and show where (with --debug) but never the message
        console.err(
            f"Error: internal error ({type(exc).__name__}): this is a bug in wix-secrets. Its message is "
            "withheld (it could quote a value); run again with --debug to see where it happened, and report it."
        )
        log.debug("%s", withheld_traceback(exc))
        _json_document(argv, console, WixSecretsError(f"internal error ({type(exc).__name__})"), int(ExitCode.ERROR))
        return ExitCode.ERROR


def _json_command(argv: list[str]) -> str | None:
    """The command when ``plan``/``apply``/``drift`` was asked for with ``--json``, else None."""
    command = next((a for a in argv if not a.startswith("-")), None)
    return command if "--json" in argv and command in ("plan", "apply", "drift") else None


def _json_document(
    argv: list[str],
    console: Console,
    error: WixSecretsError,
    code: int,
    *,
    error_type: str | None = None,
    interrupted: str | None = None,
) -> None:
    """``plan``/``apply``/``drift --json`` print one JSON document in every case: this one when the run
    ended before it printed its own (a bad command line, a signal before any write, a bug)."""
    command = _json_command(argv)
    if command is None or console.printed:  # never a second document after the first
        return
    from reconciler.render import RunInfo
    from reconciler.render.json import dumps, error_document

    doc = error_document(RunInfo(command), error)
    if error_type is not None:
        doc["error"].update(type=error_type, exit_code=code)
    doc["exit_code"] = code
    if interrupted is not None:
        doc["interrupted"] = interrupted
    with contextlib.suppress(Exception):  # the stream itself may be what failed
        console.out(dumps(doc))


def _usage_error_document(argv: list[str], console: Console) -> None:
    from reconciler.errors import UsageError

    command = _json_command(argv)
    error = UsageError(f"invalid command line for `wix-secrets {command}` (see the usage message)")
    _json_document(argv, console, error, int(ExitCode.ERROR))


def _interrupted_document(argv: list[str], console: Console, signal_name: str) -> None:
    """A signal ended the run before any write (Ctrl-C, or SIGTERM, while reading, planning or at the
    prompt); an apply interrupted later reports through its outcome."""
    code = 130 if signal_name == "SIGINT" else 143
    error = WixSecretsError(f"{signal_name}: stopped before any write")
    _json_document(argv, console, error, code, error_type="Interrupted", interrupted=signal_name)
