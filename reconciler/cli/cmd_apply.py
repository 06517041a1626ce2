"""``wix-secrets apply``: plan, ask for ``yes`` (or ``--auto-approve``), apply, verify."""

from __future__ import annotations

import argparse

from reconciler.cli.app import add_subcommand
from reconciler.cli.console import Console

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "apply",
        usage="%(prog)s [options] MANIFEST... | %(prog)s [options] PLANFILE",
        help="make the site match the manifest",
        description="Plan, show the plan, ask for 'yes' on a terminal, then apply it: renames first, creates "
        "and updates next, deletes last and only if nothing else failed. Afterwards the site is listed "
        "again to confirm that it converged. Exit 3 if some operations failed (run apply again to finish). "
        "`wix-secrets apply PLANFILE` applies a plan saved by `plan --out PLANFILE` exactly, without asking, "
        "or refuses with exit 4 if the manifest or the site changed since; `wix-secrets show PLANFILE` shows it.",
    )
    from reconciler.cli.runner import add_plan_arguments

    add_plan_arguments(parser, "apply")
    parser.add_argument("--auto-approve", action="store_true", help="apply without asking")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from reconciler.cli.runner import run_site_command

    return run_site_command(args, console, "apply")
