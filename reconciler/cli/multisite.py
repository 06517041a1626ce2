"""``plan``/``apply``/``drift`` with ``--site NAME`` or ``--all``: many sites of a project, concurrently.

Owns the multi-site flow on top of the phases of :mod:`reconciler.cli.runner`: each chosen site of the
project file gets its own environment (credentials from the variables its entry names), its own
client and so its own rate budget; sites are planned concurrently, printed as one section each in the
project file's order, then a combined summary. ``apply`` asks once for every site with changes and
applies them concurrently, but applies nothing if any site failed to plan. A site that fails (invalid
manifest, missing credentials, Wix unreachable) fails alone in its section. The exit code is the most
severe of the sites': 1 error > 5 guard > 4 stale > 3 partial > 2 changes > 0.

Also owns the CLI side of the audit log (:func:`write_audit`), used by single-site apply too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from reconciler.cli.console import Console
from reconciler.cli.options import project_site_options
from reconciler.cli.runner import Command, SiteRun, apply_run, confirm, exit_code_of, outputs, plan_run, prepare
from reconciler.errors import Diagnostic, ExitCode, ManifestError, UsageError, WixSecretsError
from reconciler.project import ProjectSite
from reconciler.render import RunInfo

__all__ = ["most_severe", "run_project_command", "write_audit"]

_SEVERITY: dict[int, int] = {
    ExitCode.OK: 0,
    ExitCode.CHANGES: 1,
    ExitCode.PARTIAL: 2,
    ExitCode.STALE: 3,
    ExitCode.GUARD: 4,
    ExitCode.ERROR: 5,
}


def most_severe(codes: list[int]) -> int:
    """The most severe exit code: 1 error > 5 guard > 4 stale > 3 partial > 2 changes > 0 (unknown = error)."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 5), default=int(ExitCode.OK))


def write_audit(run: SiteRun, args: argparse.Namespace, console: Console) -> None:
    """Append the audit records of an applied run to ``--audit-log`` (if given)."""
    path = getattr(args, "audit_log", None)
    if not path or run.result is None or not run.result.items:
        return
    from reconciler.audit import append_records, build_records

    records = build_records(run.info, run.result, environ=console.environ, scrub=console.redactor.scrub)
    append_records(console.resolve(path), records)


@dataclass
class _Slot:
    """One chosen site: its run once prepared, or the error that stopped it."""

    site: ProjectSite
    info: RunInfo
    console: Console
    run: SiteRun | None = None
    error: WixSecretsError | None = None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def failed(self) -> bool:
        if self.error is not None or self.run is None or self.run.planned is None:
            return True
        return bool(self.run.planned.plan.conflicts or self.run.guard_error)

    def code(self, args: argparse.Namespace) -> int:
        if self.error is not None or self.run is None or self.run.planned is None:
            return int(self.error.exit_code if self.error else ExitCode.ERROR)
        return int(exit_code_of(self.run, args))


def run_project_command(args: argparse.Namespace, console: Console, command: Command) -> int:
    from reconciler.project import find_project, load_project, select_sites

    if args.manifests:
        raise UsageError(
            "MANIFEST arguments cannot be combined with --site/--all",
            hint="the project file names each site's manifests",
        )
    path = find_project(console.cwd, getattr(args, "project", None))
    project = load_project(path, shown=os.path.relpath(path, console.cwd))
    sites = select_sites(project, getattr(args, "site", None) or [], all_sites=bool(getattr(args, "all", False)))
    sites = project_site_options(sites, args, console)  # --local/--api-url/--site-id (reconciler.cli.options)
    slots = [_prepare(args, console, command, site) for site in sites]
    return asyncio.run(_run(slots, args, console, command))


def _prepare(args: argparse.Namespace, console: Console, command: Command, site: ProjectSite) -> _Slot:
    from reconciler.cli.site import site_settings
    from reconciler.project import site_environ

    manifests = [os.path.relpath(m, console.cwd) for m in site.manifests]
    env, missing = site_environ(site, console.environ)
    site_console = dataclasses.replace(console, environ=env)  # same streams and redactor
    info = RunInfo(command, tuple(manifests), site_id=site.site_id, api_url=site.api_url, local=site.local,
                   site_name=site.name)
    slot = _Slot(site, info, site_console)
    if missing:
        slot.error = UsageError(f"missing credentials: {', '.join(missing)} not set (named in the project file)")
        return slot
    site_args = argparse.Namespace(**{**vars(args), "local": None, "api_url": None, "site_id": None})
    try:
        settings = site_settings(site_args, site_console)
        slot.info = dataclasses.replace(info, site_id=settings.site_id)
        slot.run = prepare(site_args, site_console, command, manifests, settings=settings, environ=env,
                           name=site.name)
        slot.info = slot.run.info
    except ManifestError as exc:
        slot.error, slot.diagnostics = exc, exc.diagnostics
    except WixSecretsError as exc:
        slot.error = exc
    return slot


async def _run(slots: list[_Slot], args: argparse.Namespace, console: Console, command: Command) -> int:
    from reconciler.cli.site import open_client

    async with contextlib.AsyncExitStack() as stack:
        clients: dict[int, Any] = {}

        async def plan_one(index: int, slot: _Slot) -> None:
            assert slot.run is not None
            try:
                client = await stack.enter_async_context(open_client(slot.run.settings, slot.console))
                clients[index] = client
                await plan_run(slot.run, args, slot.console, client)
            except WixSecretsError as exc:
                slot.error = exc

        await asyncio.gather(*(plan_one(i, s) for i, s in enumerate(slots) if s.run is not None))
        to_apply = [i for i, s in enumerate(slots) if not s.failed and s.run is not None and s.run.has_changes]
        if command != "apply" or not to_apply:
            _emit(slots, args, console, command)
            return most_severe([s.code(args) for s in slots])
        failed = [s.site.name for s in slots if s.failed]
        human = not args.json and not args.markdown
        if failed:
            _emit(slots, args, console, command)
            console.err(f"Error: nothing was applied: {len(failed)} site(s) failed to plan ({', '.join(failed)}).")
            return most_severe([s.code(args) for s in slots])
        if human:
            console.out(_human(slots, args, console, command))
        if not args.auto_approve:
            names = ", ".join(slots[i].site.name for i in to_apply)
            console.err(f"\nThis applies the plans of {len(to_apply)} site(s): {names}.")
            confirm(console)

        # Encrypted backups of every site first: a failed backup stops the apply before any site changes.
        from reconciler.cli.runner import backup_before_apply

        for i in to_apply:
            run = slots[i].run
            assert run is not None
            await backup_before_apply(run, args, slots[i].console, clients[i])

        async def apply_one(index: int) -> None:
            run = slots[index].run
            assert run is not None
            await apply_run(run, slots[index].console, clients[index])
            write_audit(run, args, console)

        await asyncio.gather(*(apply_one(i) for i in to_apply))
        if human:
            console.out("")
        _emit(slots, args, console, command, applied=True)
        return most_severe([s.code(args) for s in slots])


def _section_header(slot: _Slot) -> str:
    env = f" [{slot.site.environment}]" if slot.site.environment else ""
    where = f"local {slot.info.local}" if slot.info.local else f"site {slot.info.site_id or '?'}"
    return f"=== {slot.site.name}{env}: {where} ==="


def _human(slots: list[_Slot], args: argparse.Namespace, console: Console, command: Command,
           *, applied: bool = False) -> str:
    parts: list[str] = []
    for slot in slots:
        parts.append(_section_header(slot))
        if slot.error is not None:
            parts.append(f"Error: {slot.error.summary}")
            parts.extend(d.format() for d in slot.diagnostics)
        elif slot.run is not None and slot.run.planned is not None:
            if applied and slot.run.result is None:
                parts.append("No changes applied." if not slot.run.has_changes else "Not applied.")
            else:
                parts.append(outputs(slot.run, slot.console, verbose=bool(args.verbose)).human.rstrip("\n"))
            if slot.run.guard_error is not None:
                parts.append(f"Error: {slot.run.guard_error.summary}")
        parts.append("")
    parts.append(_summary_text(slots, args, command))
    return "\n".join(parts)


def _summary(slots: list[_Slot], args: argparse.Namespace) -> dict[str, Any]:
    totals = {"create": 0, "update": 0, "rename": 0, "delete": 0, "unchanged": 0, "unmanaged": 0, "ignored": 0}
    for slot in slots:
        if slot.run is not None and slot.run.planned is not None:
            for key, count in slot.run.planned.plan.summary().items():
                totals[key] = totals.get(key, 0) + count
    return {
        "sites": len(slots),
        "failed": sum(1 for s in slots if s.failed),
        "with_changes": sum(1 for s in slots if not s.failed and s.run is not None and s.run.has_changes),
        "applied": sum(1 for s in slots if s.run is not None and s.run.result is not None),
        **totals,
    }


def _summary_text(slots: list[_Slot], args: argparse.Namespace, command: Command) -> str:
    s = _summary(slots, args)
    lines = [
        f"Summary of {s['sites']} site(s): {s['with_changes']} with changes, {s['failed']} failed. "
        f"Total: {s['create']} to create, {s['update']} to update, {s['rename']} to rename, "
        f"{s['delete']} to delete, {s['unchanged']} unchanged."
    ]
    for slot in slots:
        code = slot.code(args)
        if slot.error is not None:
            state = f"error ({slot.error.summary})"
        elif slot.run is not None and slot.run.result is not None:
            state = f"applied: {slot.run.result.status}"
        elif slot.run is not None and slot.run.guard_error is not None:
            state = "refused by a safety guard"
        elif slot.run is not None and slot.run.has_changes:
            state = "changes"
        else:
            state = "no changes"
        lines.append(f"  {slot.site.name}: {state} (exit {code})")
    return "\n".join(lines)


def _document(slots: list[_Slot], args: argparse.Namespace, command: Command) -> dict[str, Any]:
    from reconciler import __version__
    from reconciler.render.json import error_document, plan_document

    docs: list[dict[str, Any]] = []
    for slot in slots:
        if slot.error is not None or slot.run is None or slot.run.planned is None:
            error = slot.error or UsageError("the site was not planned")
            docs.append(error_document(slot.info, error, slot.diagnostics))
        else:
            doc = plan_document(slot.run.planned.plan, slot.run.info, slot.run.result)
            if slot.run.guard_error is not None:
                doc["error"] = {
                    "message": slot.run.guard_error.summary,
                    "type": type(slot.run.guard_error).__name__,
                    "exit_code": int(slot.run.guard_error.exit_code),
                }
            docs.append(doc)
        docs[-1]["exit_code"] = slot.code(args)
    return {
        "format_version": "1",
        "tool": {"name": "wix-secrets", "version": __version__},
        "command": command,
        "sites": docs,
        "summary": _summary(slots, args),
        "exit_code": most_severe([s.code(args) for s in slots]),
    }


def _markdown(slots: list[_Slot], args: argparse.Namespace, command: Command) -> str:
    from reconciler.render.markdown import render_markdown

    parts = [f"## wix-secrets {command}: {len(slots)} site(s)", ""]
    for slot in slots:
        if slot.run is not None and slot.run.planned is not None and slot.error is None:
            parts.append(render_markdown(slot.run.planned.plan, slot.run.info, slot.run.result))
        else:
            parts.append(f"### wix-secrets {command}: {slot.site.name}: error\n")
            parts.append(f"**{slot.error.summary if slot.error else 'not planned'}**\n")
            parts.extend(f"- `{d.location()}`: {d.message}" for d in slot.diagnostics)
            parts.append("")
    parts += ["```", _summary_text(slots, args, command), "```", ""]
    return "\n".join(parts)


def _emit(slots: list[_Slot], args: argparse.Namespace, console: Console, command: Command,
          *, applied: bool = False) -> None:
    from reconciler.cli.runner import write_file
    from reconciler.render.json import dumps

    doc = dumps(_document(slots, args, command))
    markdown = _markdown(slots, args, command)
    write_file(console, getattr(args, "json_file", None), doc + "\n")
    write_file(console, getattr(args, "markdown_file", None), markdown)
    if args.json:
        console.out(doc)
    elif args.markdown:
        console.out(markdown)
    else:
        console.out(_human(slots, args, console, command, applied=applied))
