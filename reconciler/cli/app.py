"""The argument parser: global flags, shared option groups, and the list of subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import logging

from reconciler import __version__
from reconciler.cli.console import Console
from reconciler.redact import RedactingFilter

__all__ = ["COMMAND_MODULES", "add_output_options", "add_site_options", "build_parser", "configure_logging"]

# Order here is the order in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "cmd_validate",
    "cmd_plan",
    "cmd_apply",
    "cmd_drift",
    "cmd_sops",
    "cmd_emulator",
    "cmd_import",
    "cmd_sites",
)

EPILOG = """\
exit codes:
  0  success (plan/drift: no changes)
  1  error (invalid manifest, bad credentials, Wix unreachable...)
  2  changes present (plan/drift with --detailed-exitcode)
  3  partial apply: some operations failed, the rest were applied
  4  saved plan is stale
  5  a safety guard refused the plan

Documentation: https://github.com/wix-secrets/wix-secrets#readme
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wix-secrets",
        description="Declarative GitOps reconciler for the Wix Secrets Manager.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wix-secrets {__version__}")
    add_global_options(parser)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"reconciler.cli.{name}")
        module.register(subparsers)
    return parser


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """-v/--debug/--no-color, accepted both before and after the subcommand."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("output")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS if suppress else 0,
        help="say what the tool is doing (requests, timings, retries); never values",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="log everything, including HTTP traffic metadata; values, keys and tokens stay redacted",
    )
    group.add_argument(
        "--no-color",
        action="store_true",
        default=argparse.SUPPRESS if suppress else default,
        help="no colour (also: NO_COLOR in the environment)",
    )


def add_subcommand(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, *, help: str, description: str
) -> argparse.ArgumentParser:
    """A subparser that also accepts the global flags after the command name."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_options(parser, suppress=True)
    return parser


def add_site_options(parser: argparse.ArgumentParser) -> None:
    """Where the site is and how to reach it (plan, apply, drift, import)."""
    group = parser.add_argument_group("site")
    group.add_argument(
        "--local",
        metavar="PATH",
        help="use the embedded emulated site persisted in PATH (env WIX_LOCAL_SITE); no network, no account",
    )
    group.add_argument(
        "--api-url",
        metavar="URL",
        help="Wix API origin (env WIX_API_URL; default https://www.wixapis.com); e.g. a `wix-secrets emulator`",
    )
    group.add_argument("--site-id", metavar="ID", help="site id for API-key auth (env WIX_SITE_ID)")
    group.add_argument(
        "--auth",
        choices=("api-key", "wix-app", "wix-cli", "token-command", "access-token"),
        help="which identity to use (env WIX_AUTH; default: the only one configured); see README",
    )
    group.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        default=None,
        help="requests in flight at once (default 32)",
    )
    group.add_argument(
        "--rate-limit",
        type=float,
        metavar="N",
        default=None,
        help="requests per minute per site, shared by all concurrent requests (default 150; Wix allows 200, shared)",
    )
    group.add_argument(
        "--timeout", type=float, metavar="SECONDS", default=None, help="per-request timeout (default 30)"
    )
    group.add_argument("--retries", type=int, metavar="N", default=None, help="retries of a failed request (default 5)")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("format")
    group.add_argument("--json", action="store_true", help="print a versioned JSON document instead of text")
    group.add_argument("--markdown", action="store_true", help="print Markdown (for pull-request comments)")


def configure_logging(console: Console, *, verbose: int, debug: bool) -> None:
    """Logs go to stderr through the redacting filter. httpx/httpcore only with --debug."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(console.stderr)
    handler.addFilter(RedactingFilter(console.redactor))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if debug else "%(message)s"))
    root.addHandler(handler)
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.getLogger("reconciler").setLevel(level)
    third_party = logging.DEBUG if debug else logging.WARNING
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(third_party)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
