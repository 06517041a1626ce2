"""``wix-secrets plan``: read the site, show what apply would change. Sends no write."""

from __future__ import annotations

import argparse

from reconciler.cli.app import add_subcommand
from reconciler.cli.console import Console

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "plan",
        help="show what apply would change (reads the site, writes nothing)",
        description="Read the site's secrets (one list, then one value read per declared secret), compare "
        "them with the manifest and show the changes. Values are compared for real and never shown.",
    )
    from reconciler.cli.runner import add_plan_arguments

    add_plan_arguments(parser, "plan")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from reconciler.cli.runner import run_site_command

    return run_site_command(args, console, "plan")
