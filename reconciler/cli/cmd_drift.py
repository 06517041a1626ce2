"""``wix-secrets drift``: report how the site differs from the manifest. Guaranteed read-only.

The drift command runs on the client's read-only view, an object that has no write methods at all, so
no code path can send a create, update or delete.
"""

from __future__ import annotations

import argparse

from reconciler.cli.app import add_subcommand
from reconciler.cli.console import Console

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "drift",
        help="report differences between the site and the manifest (read-only)",
        description="Report secrets that differ from the manifest, were added outside it, or are missing. "
        "Honours policy.ignore. Uses a client that cannot send a write. With --detailed-exitcode: "
        "0 in sync, 2 drift, 1 error.",
    )
    from reconciler.cli.runner import add_plan_arguments

    add_plan_arguments(parser, "drift")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from reconciler.cli.runner import run_site_command

    return run_site_command(args, console, "drift")
