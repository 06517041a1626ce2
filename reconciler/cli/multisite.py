"""``plan``/``apply``/``drift`` with ``--site NAME`` or ``--all``: many sites of a project.

The service (:func:`reconciler.service.run_project`) plans the chosen sites concurrently, each with its
own environment (credentials from the variables its entry names), client and rate budget; apply asks
once, applies nothing if any site failed to plan, writes every backup before any site changes, then
applies the sites concurrently. This module renders the :class:`~reconciler.service.ProjectOutcome`:
one section per site in the project file's order and a combined summary (human), one Markdown
summary, or one JSON document (``schemas/project-result.schema.json``). The exit code is the most
severe of the sites': 1 error > 5 guard > 4 stale > 3 partial > 2 changes > 0.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from reconciler.cli.console import Console
from reconciler.cli.frontend import (
    CliEvents,
    confirm,
    connection_from_args,
    finish_site,
    service_hooks,
    signals_stop,
    site_json,
    site_markdown,
    write_file,
)
from reconciler.cli.options import project_site_options
from reconciler.errors import OutputError, UsageError, WixSecretsError
from reconciler.render import RunInfo
from reconciler.render.mdescape import md_fenced
from reconciler.service.outcome import most_severe

if TYPE_CHECKING:
    from reconciler.service import Options, ProjectOutcome

__all__ = ["most_severe", "run_project_command"]


def run_project_command(args: argparse.Namespace, console: Console, options: Options) -> int:
    from reconciler.project import find_project, load_project, select_sites
    from reconciler.service import SiteOutcome, Stop, run_project

    command = options.command
    try:
        if args.manifests:
            raise UsageError(
                "MANIFEST arguments cannot be combined with --site/--all",
                hint="the project file names each site's manifests",
            )
        path = find_project(console.cwd, getattr(args, "project", None))
        project = load_project(path, shown=os.path.relpath(path, console.cwd))
        sites = select_sites(project, getattr(args, "site", None) or [], all_sites=bool(getattr(args, "all", False)))
        sites = project_site_options(sites, args, console)  # --local/--api-url/--site-id (cli/options.py)
    except WixSecretsError as exc:  # no project to run: one error document, as for a single site
        return finish_site(SiteOutcome(command, RunInfo(command, tuple(args.manifests)), error=exc), args, console)
    environments = {s.name: s.environment for s in sites}
    human = not args.json and not args.markdown
    shown = False
    stop = Stop()
    with signals_stop(stop, console) as arm, CliEvents(console, progress=not args.json) as events:

        def before_apply(planned: ProjectOutcome) -> None:
            nonlocal shown
            if human:
                console.out(_human(planned, args, console, environments))
                shown = True
            if not args.auto_approve:
                chosen = [s.name or "?" for s in planned.sites if not s.failed and s.has_changes]
                console.err(f"\nThis applies the plans of {len(chosen)} site(s): {', '.join(chosen)}.")
                confirm(console)
            arm()

        outcome = run_project(
            sites,
            options,
            lambda env: connection_from_args(args, console, env, site=False),
            before_apply=before_apply,
            **service_hooks(console, events, stop),
        )
    return _emit(outcome, args, console, environments, shown=shown)


def _human(
    outcome: ProjectOutcome,
    args: argparse.Namespace,
    console: Console,
    environments: dict[str, str | None],
    *,
    applied: bool = False,
) -> str:
    from reconciler.render.code import with_code
    from reconciler.render.human import render_apply, render_plan

    parts: list[str] = []
    for site in outcome.sites:
        where = f"local {site.info.local}" if site.info.local else f"site {site.info.site_id or '?'}"
        env = environments.get(site.name or "")
        parts.append(f"=== {site.name}{f' [{env}]' if env else ''}: {where} ===")
        if site.plan is None:
            refusal = site.refusal
            parts.append(f"Error: {refusal.summary if refusal else 'not planned'}")
            parts.extend(d.format() for d in site.diagnostics)
        else:
            if applied and site.result is None:
                parts.append("No changes applied." if not site.has_changes else "Not applied.")
            elif site.result is not None:
                parts.append(render_apply(site.result, color=console.color).rstrip("\n"))
            else:
                verbose = bool(args.verbose) or outcome.command == "drift"
                text = render_plan(site.plan, site.info, color=console.color, verbose=verbose)
                text = with_code(text, site.code, color=console.color)
                parts.append(text.rstrip("\n"))
            if site.refusal is not None:
                parts.append(f"Error: {site.refusal.summary}")
        parts.append("")
    parts.append(_summary_text(outcome))
    return "\n".join(parts)


def _summary_text(outcome: ProjectOutcome) -> str:
    s = outcome.summary()
    lines = [
        f"Summary of {s['sites']} site(s): {s['with_changes']} with changes, {s['failed']} failed. "
        f"Total: {s['create']} to create, {s['update']} to update, {s['rename']} to rename, "
        f"{s['delete']} to delete, {s['unchanged']} unchanged."
    ]
    for site in outcome.sites:
        if site.plan is None and site.error is not None:
            state = f"error ({site.error.summary})"
        elif site.result is not None:
            state = f"applied: {site.result.status}"
        elif site.error is not None:
            state = f"error ({site.error.summary})"
        elif site.guard_error is not None:
            state = "refused by a safety guard"
        elif site.has_changes:
            state = "changes"
        else:
            state = "no changes"
        lines.append(f"  {site.name}: {state} (exit {site.exit_code})")
    return "\n".join(lines)


def _document(outcome: ProjectOutcome) -> dict[str, Any]:
    from reconciler.render.json import project_document

    return project_document(
        outcome.command, [site_json(s) for s in outcome.sites], outcome.summary(), outcome.exit_code
    )


def _markdown(outcome: ProjectOutcome) -> str:
    parts = [f"## wix-secrets {outcome.command}: {len(outcome.sites)} site(s)", ""]
    parts += [site_markdown(site) for site in outcome.sites]
    parts += [md_fenced(_summary_text(outcome)), ""]  # no line of it can close the block (issue 10.7)
    return "\n".join(parts)


def _emit(
    outcome: ProjectOutcome,
    args: argparse.Namespace,
    console: Console,
    environments: dict[str, str | None],
    *,
    shown: bool,
) -> int:
    from reconciler.render.json import dumps

    code = outcome.exit_code
    try:
        write_file(console, getattr(args, "json_file", None), dumps(_document(outcome)) + "\n", "JSON file")
        write_file(console, getattr(args, "markdown_file", None), _markdown(outcome), "Markdown file")
    except OutputError as exc:
        console.err(f"Error: {exc.user_message()}")
        code = most_severe([code, int(exc.exit_code)])
    if args.json:
        console.out(dumps(_document(outcome)))
    elif args.markdown:
        console.out(_markdown(outcome))
    else:
        if shown:
            console.out("")
        console.out(_human(outcome, args, console, environments, applied=outcome.applied))
    if outcome.blocked:
        console.err(
            f"Error: nothing was applied: {len(outcome.blocked)} site(s) failed to plan ({', '.join(outcome.blocked)})."
        )
    for site in outcome.sites:
        if site.interrupted is not None:
            from reconciler.cli.frontend import interrupted_line

            console.err(f"{site.name}: interrupted by {site.interrupted}: {interrupted_line(site)}.")
    return code
