"""``apply PLANFILE``: apply a saved plan exactly, or refuse; the work is the service's.

``apply PLANFILE`` asks no second question: the plan was reviewed when it was made. The service
verifies the file's MAC (exit 4: modified), that this run's own target (``--local``/``--api-url``/
``--site-id`` and ``WIX_*`` variables) is the plan's (exit 4, before any request), the manifest digest
and the site (stale: exit 4, nothing sent); then it backs up, applies, verifies and audits. This module
shows the plan being applied and renders the outcome.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.console import Console
from reconciler.cli.frontend import CliEvents, connection_from_args, finish_site, service_hooks, signals_stop
from reconciler.errors import WixSecretsError

if TYPE_CHECKING:
    from reconciler.planfile import SavedPlan
    from reconciler.service import Options, SiteOutcome

__all__ = ["apply_saved_command"]


def apply_saved_command(
    args: argparse.Namespace, console: Console, options: Options, path: str, saved: SavedPlan
) -> int:
    from reconciler.render import RunInfo
    from reconciler.render.human import render_plan
    from reconciler.service import SiteOutcome, Stop, apply_plan_file

    try:
        connection = connection_from_args(args, console)
    except WixSecretsError as exc:
        return finish_site(SiteOutcome("apply", RunInfo("apply", tuple(saved.manifests)), error=exc), args, console)
    human = not args.json and not args.markdown
    shown = False
    stop = Stop()
    with signals_stop(stop, console) as arm, CliEvents(console, progress=not args.json) as events:

        def before_apply(planned: SiteOutcome) -> None:
            nonlocal shown
            if human and planned.plan is not None:
                console.out(render_plan(planned.plan, planned.info, color=console.color))
                console.out(f"\nApplying the saved plan {path} (made {saved.created}).")
                shown = True
            arm()

        outcome = apply_plan_file(
            Path(path),
            options,
            connection,
            before_apply=before_apply,
            saved=saved,
            **service_hooks(console, events, stop),
        )
    return finish_site(outcome, args, console, plan_shown=shown)
