"""The argument parser: global flags, shared option groups, and the list of subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import logging

from reconciler import __version__
from reconciler.cli.console import Console
from reconciler.redact import RedactingFilter

__all__ = [
    "COMMAND_MODULES",
    "add_output_options",
    "add_site_options",
    "build_parser",
    "configure_logging",
    "parse_args",
]

# Order here is the order in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "cmd_validate",
    "cmd_plan",
    "cmd_apply",
    "cmd_show",
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

colour: only on a terminal; never with --no-color, NO_COLOR (non-empty) or TERM=dumb;
  FORCE_COLOR (non-empty) forces it, e.g. in CI logs that render ANSI colours

Documentation: https://github.com/wix-secrets/wix-secrets#readme
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wix-secrets",
        description="Declarative GitOps reconciler for the Wix Secrets Manager.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"wix-secrets {__version__}")
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
        help="no colour (also: NO_COLOR set to a non-empty value; FORCE_COLOR=1 forces colour off a terminal)",
    )


def add_subcommand(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    usage: str | None = None,
) -> argparse.ArgumentParser:
    """A subparser that also accepts the global flags after the command name."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        usage=usage,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_options(parser, suppress=True)
    parser.set_defaults(subcommand=name)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; a usage error prints the usage of the subcommand it belongs to, not the top level's.

    argparse reports unknown arguments from the top-level parser (its usage line lists only the global
    flags); here they are reported by the subcommand's parser, whose usage shows what it accepts.
    Raises SystemExit like ``parse_args`` (0 for --help/--version, 2 for a usage error).
    """
    args, extras = parser.parse_known_args(argv)
    if extras:
        target = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                target = action.choices.get(getattr(args, "subcommand", None) or "", parser)
        target.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


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
        help=(
            "requests per minute per site, shared by all concurrent requests; 0: unlimited "
            "(default 150, env WIX_RATE_LIMIT; Wix allows 200, shared)"
        ),
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
