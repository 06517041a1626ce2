"""The flags of ``plan``, ``apply`` and ``drift``, and the dispatch of one run to the service.

:func:`run_site_command` maps the flags to service options (:mod:`reconciler.cli.frontend`) and runs
one of three flows of :mod:`reconciler.service`: the manifests on the command line (one site), a saved
plan file (:mod:`reconciler.cli.saved`), or sites of a project (:mod:`reconciler.cli.multisite`). The
service loads, plans, backs up, applies and audits; this module shows the plan, asks for confirmation,
turns SIGINT/SIGTERM during an apply into a graceful stop, and renders the outcome. Every value loaded
from a manifest or read from the site is registered with the console's redactor by the service before
anything is printed.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Literal

from reconciler.cli.app import add_output_options, add_site_options
from reconciler.cli.console import Console
from reconciler.errors import WixSecretsError

if TYPE_CHECKING:  # imported lazily: building the parser (--help, --version) must stay fast
    from reconciler.service import SiteOutcome

__all__ = ["add_plan_arguments", "run_site_command"]

Command = Literal["plan", "apply", "drift"]


def add_plan_arguments(parser: argparse.ArgumentParser, command: Command) -> None:
    parser.add_argument(
        "manifests",
        nargs="*",
        metavar="MANIFEST",
        help="manifest file(s); later ones override earlier"
        + ("; or one PLANFILE saved by `plan --out`, applied exactly, with no question" if command == "apply" else ""),
    )
    group = parser.add_argument_group("plan")
    if command != "drift":
        group.add_argument(
            "--prune",
            action="store_true",
            default=None,
            help="delete secrets the manifest does not declare (overrides policy.prune)",
        )
        group.add_argument(
            "--max-deletes",
            type=int,
            default=None,
            metavar="N",
            help="refuse a plan that deletes more than N secrets (default 5)",
        )
        group.add_argument(
            "--allow-mass-delete",
            action="store_true",
            help="allow plans that delete more than half of the site or come from a (nearly) empty manifest",
        )
    if command != "apply":
        group.add_argument(
            "--detailed-exitcode",
            action="store_true",
            help="exit 2 when there are changes (plan) or drift (drift), 0 when none, 1 on error",
        )
    if command != "drift":
        group.add_argument(
            "--target",
            action="append",
            default=[],
            metavar="NAME",
            help="limit the plan to this secret (repeatable); the output says the plan is partial",
        )
    if command == "plan":
        group.add_argument(
            "--out",
            metavar="PLANFILE",
            help="save the plan; `wix-secrets apply PLANFILE` applies exactly it or refuses if stale (exit 4)",
        )
    if command == "apply":
        backup = parser.add_argument_group("backup")
        backup.add_argument(
            "--backup-dir",
            metavar="DIR",
            help="where to write the encrypted backup of values deleted or overwritten "
            "(default $XDG_STATE_HOME/wix-secrets/backups)",
        )
        backup.add_argument(
            "--backup-age",
            metavar="RECIPIENT",
            action="append",
            default=[],
            help="age recipient of the backup (default: the manifest recipients proven by our own key, "
            "and those .sops.yaml pins)",
        )
        backup.add_argument("--no-backup", action="store_true", help="do not write a backup (not recommended)")
    if command == "apply":
        group.add_argument(
            "--audit-log",
            metavar="FILE",
            help="append one JSON line per applied change to FILE (schemas/audit.schema.json; never a value)",
        )
    project = parser.add_argument_group("many sites (project file)")
    project.add_argument(
        "--site", action="append", default=[], metavar="NAME", help="a site of the project file (repeatable)"
    )
    project.add_argument("--all", action="store_true", help="every site of the project file, concurrently")
    project.add_argument("--project", metavar="FILE", help="the project file (default: nearest wix-secrets.yaml)")
    group.add_argument(
        "--value-cache",
        metavar="DIR",
        help="skip reading values that have not changed since the last run (SOPS manifests only; "
        "keeps per secret its updatedDate and a keyed MAC of the value, never the value)",
    )
    from reconciler.cli.codeaware import add_code_arguments

    add_code_arguments(parser, command)
    group.add_argument("--json-file", metavar="FILE", help="also write the JSON document to FILE")
    group.add_argument("--markdown-file", metavar="FILE", help="also write the Markdown summary to FILE")
    add_output_options(parser)
    add_site_options(parser)


def run_site_command(args: argparse.Namespace, console: Console, command: Command) -> int:
    """plan / apply / drift: one site (the manifests given), a saved plan, or sites of a project."""
    from reconciler.cli.frontend import check_output_flags, finish_site, options_from_args
    from reconciler.render import RunInfo
    from reconciler.service import SiteOutcome

    try:
        check_output_flags(args, console)
        options = options_from_args(args, command, console)
    except WixSecretsError as exc:
        outcome = SiteOutcome(command, RunInfo(command, tuple(getattr(args, "manifests", None) or ())), error=exc)
        return finish_site(outcome, args, console)
    if getattr(args, "site", None) or getattr(args, "all", False):
        from reconciler.cli.multisite import run_project_command

        return run_project_command(args, console, options)
    if command == "apply" and len(args.manifests) == 1:
        from reconciler.cli.saved import apply_saved_command
        from reconciler.service import read_plan_file

        try:
            saved = read_plan_file(console.resolve(args.manifests[0]))
        except WixSecretsError as exc:
            outcome = SiteOutcome(command, RunInfo(command, tuple(args.manifests)), error=exc)
            return finish_site(outcome, args, console)
        if saved is not None:
            return apply_saved_command(args, console, options, args.manifests[0], saved)
    return _single(args, console, options)


def _single(args: argparse.Namespace, console: Console, options: object) -> int:
    from reconciler.cli.frontend import (
        CliEvents,
        confirm,
        connection_from_args,
        finish_site,
        service_hooks,
        signals_stop,
    )
    from reconciler.render import RunInfo
    from reconciler.render.code import with_code
    from reconciler.render.human import render_plan
    from reconciler.service import Options, SiteOutcome, Stop, run_site

    assert isinstance(options, Options)
    command = options.command
    try:
        connection = connection_from_args(args, console)
    except WixSecretsError as exc:
        outcome = SiteOutcome(command, RunInfo(command, tuple(args.manifests)), error=exc)
        return finish_site(outcome, args, console)
    human = not args.json and not args.markdown
    shown = False

    stop = Stop()
    with signals_stop(stop, console) as arm, CliEvents(console, progress=not args.json) as events:

        def before_apply(planned: SiteOutcome) -> None:
            nonlocal shown
            if human and planned.plan is not None:
                text = render_plan(planned.plan, planned.info, color=console.color, verbose=bool(args.verbose))
                console.out(with_code(text, planned.code, color=console.color))
                shown = True
            if not args.auto_approve:
                confirm(console)
            arm()

        outcome = run_site(
            args.manifests,
            options,
            connection,
            before_apply=before_apply,
            **service_hooks(console, events, stop),
        )
    return finish_site(outcome, args, console, plan_shown=shown)
