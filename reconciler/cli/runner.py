"""The flow shared by ``plan``, ``apply`` and ``drift``, in phases that compose.

1. :func:`prepare` — load and validate the manifests, resolve the site settings (no request);
2. :func:`plan_run` — read the site and compute the plan and the guard verdict;
3. :func:`outputs` — render human text, the JSON document and Markdown (pure strings);
4. :func:`apply_run` — apply the plan.

:func:`run_site_command` strings them together for one site; several sites (``--all``) run phase 2
concurrently and phase 4 after one confirmation. Output goes where the flags say: human text on stdout
by default, ``--json`` or ``--markdown`` instead, ``--json-file``/``--markdown-file`` in addition.
Every value loaded from a manifest or read from the site is registered with the console's redactor
before anything is printed.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from reconciler.cli.app import add_output_options, add_site_options
from reconciler.cli.console import Console
from reconciler.cli.options import (
    applied_target_note,
    backup_site_label,
    env_backup_age,
    limit_to_targets,
    local_backup_recipients,
)
from reconciler.cli.progress import ProgressReporter
from reconciler.cli.site import SiteSettings, open_client, site_settings
from reconciler.errors import ApprovalError, Diagnostic, ExitCode, ManifestError, UsageError, WixSecretsError
from reconciler.render import RunInfo

if TYPE_CHECKING:  # imported lazily: building the parser (--help, --version) must stay fast
    from reconciler.executor import ApplyResult
    from reconciler.model import DesiredState, RemoteState
    from reconciler.operations import PlannedSite

__all__ = [
    "Outputs",
    "SiteRun",
    "add_plan_arguments",
    "apply_run",
    "backup_before_apply",
    "confirm",
    "emit",
    "outputs",
    "plan_run",
    "prepare",
    "run_site_command",
]

log = logging.getLogger("reconciler.cli")
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
            help="age recipient of the backup (default: the manifest's own recipients)",
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
    group.add_argument("--json-file", metavar="FILE", help="also write the JSON document to FILE")
    group.add_argument("--markdown-file", metavar="FILE", help="also write the Markdown summary to FILE")
    add_output_options(parser)
    add_site_options(parser)


@dataclass
class SiteRun:
    """One site's run through the phases. ``name`` is the project's site name, if any."""

    command: Command
    settings: SiteSettings
    desired: DesiredState
    info: RunInfo
    environ: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    planned: PlannedSite | None = None
    guard_error: WixSecretsError | None = None
    result: ApplyResult | None = None
    stats: Any = None
    value_cache: Any = None  # reconciler.valuecache.ValueCache with --value-cache

    @property
    def has_changes(self) -> bool:
        return bool(self.planned and self.planned.plan.has_changes)


def register_values(console: Console, desired: DesiredState | None = None, remote: RemoteState | None = None) -> None:
    if desired is not None:
        for secret in desired.present():
            if secret.value is not None:
                console.redactor.add(secret.value.reveal())
    if remote is not None:
        for value in remote.values.values():
            console.redactor.add(value.reveal())


def write_file(console: Console, path: str | None, text: str) -> None:
    if path:
        target = console.resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(console.redactor.scrub(text), encoding="utf-8")


def run_info(
    command: Command,
    manifests: list[str],
    desired: DesiredState | None,
    settings: SiteSettings | None,
    name: str | None = None,
) -> RunInfo:
    return RunInfo(
        command=command,
        manifest_paths=tuple(manifests),
        digest=desired.digest if desired else "",
        encrypted=bool(desired and desired.fingerprint_key is not None),
        site_id=settings.site_id if settings else None,
        api_url=None if settings is None or settings.local else settings.api_url,
        local=settings.local if settings else None,
        site_name=name,
    )


def prepare(
    args: argparse.Namespace,
    console: Console,
    command: Command,
    manifests: list[str],
    *,
    settings: SiteSettings | None = None,
    environ: dict[str, str] | None = None,
    name: str | None = None,
) -> SiteRun:
    """Phase 1: load and validate (no request). Raises ManifestError/SopsError/UsageError."""
    from reconciler.operations import load_desired

    env = dict(console.environ if environ is None else environ)
    settings = settings or site_settings(args, console)
    desired = load_desired(manifests, environ=env, cwd=console.cwd)
    register_values(console, desired)
    return SiteRun(command, settings, desired, run_info(command, manifests, desired, settings, name), env, name)


async def plan_run(run: SiteRun, args: argparse.Namespace, console: Console, client: Any) -> None:
    """Phase 2: read the site, plan, check the guards. Fills ``run.planned`` and ``run.guard_error``."""
    from reconciler.guards import DEFAULT_MAX_DELETES, Limits, check_guards
    from reconciler.operations import plan_site

    started = time.monotonic()
    reader = client.read_only() if run.command == "drift" else client
    label = f"{run.name}: reading values" if run.name else "reading values"
    run.value_cache = _open_value_cache(run, args, console)
    run.planned = await plan_site(
        reader,
        run.desired,
        prune=getattr(args, "prune", None),
        on_read=ProgressReporter(console, label),
        value_cache=run.value_cache,
    )
    register_values(console, remote=run.planned.remote)
    limit_to_targets(run, args)  # --target (reconciler.cli.options)
    if run.value_cache is not None:
        from reconciler.valuecache import in_sync_ids

        run.value_cache.remember(run.planned.remote, in_sync=in_sync_ids(run.planned.plan))
        _save_value_cache(run, console)
    log.info(
        "%splanned in %.0f ms: %s",
        f"{run.name}: " if run.name else "",
        (time.monotonic() - started) * 1000,
        client.stats,
    )
    if run.command != "drift":
        max_deletes = getattr(args, "max_deletes", None)
        limits = Limits(
            max_deletes=DEFAULT_MAX_DELETES if max_deletes is None else max_deletes,
            allow_mass_delete=bool(getattr(args, "allow_mass_delete", False)),
        )
        try:
            check_guards(run.planned.plan, run.desired, run.planned.remote, limits)
        except WixSecretsError as exc:
            run.guard_error = exc


@dataclass(frozen=True)
class Outputs:
    human: str
    json: str
    markdown: str


def outputs(run: SiteRun, console: Console, *, verbose: bool) -> Outputs:
    """Phase 3: render the plan (and the result, once applied). Pure strings."""
    from reconciler.render.human import render_apply, render_plan
    from reconciler.render.json import dumps, plan_document
    from reconciler.render.markdown import render_markdown

    assert run.planned is not None
    plan = run.planned.plan
    human = render_plan(plan, run.info, color=console.color, verbose=verbose or run.command == "drift")
    if run.result is not None:
        human = render_apply(run.result, color=console.color) + applied_target_note(run.info)
    return Outputs(
        human=human,
        json=dumps(plan_document(plan, run.info, run.result)),
        markdown=render_markdown(plan, run.info, run.result),
    )


def emit(console: Console, args: argparse.Namespace, out: Outputs, *, human: bool = True) -> None:
    """Write outputs where the flags say."""
    write_file(console, getattr(args, "json_file", None), out.json + "\n")
    write_file(console, getattr(args, "markdown_file", None), out.markdown)
    if args.json:
        console.out(out.json)
    elif args.markdown:
        console.out(out.markdown)
    elif human:
        console.out(out.human)


async def apply_run(run: SiteRun, console: Console, client: Any) -> ApplyResult:
    """Phase 4: apply the plan. Never raises for a failed operation; see the result."""
    from reconciler.operations import apply_site

    assert run.planned is not None
    started = time.monotonic()
    run.result = await apply_site(client, run.planned, progress=_item_progress(console, run))
    log.info(
        "%sapplied in %.0f ms: %s",
        f"{run.name}: " if run.name else "",
        (time.monotonic() - started) * 1000,
        client.stats,
    )
    if run.value_cache is not None:  # the touched secrets have new updatedDates: read them next time
        run.value_cache.forget(i.change.remote.id for i in run.result.items if i.change.remote is not None)
        _save_value_cache(run, console)
    return run.result


def _open_value_cache(run: SiteRun, args: argparse.Namespace, console: Console) -> Any:
    """The site's value cache with --value-cache DIR; None without the flag or without a data key."""
    directory = getattr(args, "value_cache", None)
    if not directory:
        return None
    if run.desired.cache_key is None:
        console.err(
            f"warning: {run.name + ': ' if run.name else ''}--value-cache is unavailable for a plaintext "
            "manifest (the cache is keyed by the SOPS data key); reading every value"
        )
        return None
    from reconciler.valuecache import ValueCache

    settings = run.settings
    site = f"local:{settings.local}" if settings.local else f"{settings.api_url} {settings.site_id or ''}"
    return ValueCache.open(console.resolve(directory), site=site, key=run.desired.cache_key)


def _save_value_cache(run: SiteRun, console: Console) -> None:
    try:
        run.value_cache.save()
    except OSError as exc:
        console.err(f"warning: cannot write the value cache {run.value_cache.path}: {exc.strerror or exc}")


async def backup_before_apply(run: SiteRun, args: argparse.Namespace, console: Console, client: Any) -> None:
    """Write the encrypted backup of every value the plan deletes or overwrites, reading the ones the
    plan did not read (deletes). Any failure stops the apply before it changes anything."""
    from datetime import UTC, datetime
    from pathlib import Path

    from reconciler import backup

    assert run.planned is not None
    values = dict(run.planned.remote.values)
    entries = backup.entries_needed(run.planned.plan, values)
    if not entries or getattr(args, "no_backup", False):
        return
    missing = [e.secret for e in entries if e.value is None]
    if missing:
        import asyncio

        read = await asyncio.gather(*(client.get_value(s.name) for s in missing))
        for secret, value in zip(missing, read, strict=True):
            values[secret.id] = value
            console.redactor.add(value.reveal())
        entries = backup.entries_needed(run.planned.plan, values)
    state = console.environ.get("XDG_STATE_HOME") or str(Path(console.environ.get("HOME", "~")) / ".local/state")
    directory = console.resolve(getattr(args, "backup_dir", None) or Path(state) / "wix-secrets" / "backups")
    recipients = list(getattr(args, "backup_age", None) or env_backup_age(console) or run.desired.recipients)
    if not recipients:  # a plaintext manifest: the local backup identity, on a terminal only
        recipients = local_backup_recipients(console)
    site = run.name or backup_site_label(run.settings) or run.settings.site_id or "site"
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = backup.write(entries, directory=directory, recipients=recipients, site=site, created=created)
    console.err(f"Backup of {len(entries)} value(s) about to be deleted or overwritten: {path}")


def confirm(console: Console) -> None:
    if not console.interactive:
        raise ApprovalError(
            "refusing to apply without confirmation: there is no terminal to ask on",
            hint="review the plan above and pass --auto-approve (or apply a saved plan file)",
        )
    answer = console.ask("\nDo you want to perform these actions? Only 'yes' will be accepted: ")
    if answer != "yes":
        raise ApprovalError("apply cancelled; nothing was changed")


def _item_progress(console: Console, run: SiteRun) -> Any:
    assert run.planned is not None
    total = len(run.planned.plan.actionable)
    reporter = ProgressReporter(console, f"{run.name}: applying" if run.name else "applying")
    done = 0

    def progress(event: str, change: Any, status: Any) -> None:
        nonlocal done
        if event == "done":
            done += 1
            reporter(done, total)
            log.info("%s %s: %s", change.action.value, change.name, status)

    return progress


def emit_error(
    console: Console,
    args: argparse.Namespace,
    info: RunInfo,
    error: WixSecretsError,
    diagnostics: tuple[Diagnostic, ...] = (),
) -> None:
    """The error as a JSON document / Markdown, where the flags ask for them."""
    from reconciler.render.json import dumps, error_document

    doc = dumps(error_document(info, error, diagnostics))
    if args.json:
        console.out(doc)
    write_file(console, getattr(args, "json_file", None), doc + "\n")
    if getattr(args, "markdown_file", None) or args.markdown:
        lines = [f"### wix-secrets {info.command}: error", "", f"**{error.summary}**", ""]
        lines += [f"- `{d.location()}`: {d.message}" + (f" ({d.hint})" if d.hint else "") for d in diagnostics]
        text = "\n".join(lines) + "\n"
        if args.markdown:
            console.out(text)
        write_file(console, getattr(args, "markdown_file", None), text)


def exit_code_of(run: SiteRun, args: argparse.Namespace) -> int:
    assert run.planned is not None
    plan = run.planned.plan
    if plan.conflicts:
        return ExitCode.ERROR
    if run.guard_error is not None:
        return run.guard_error.exit_code
    if run.result is not None:
        return ExitCode.OK if run.result.status in ("success", "nothing-to-do") else ExitCode.PARTIAL
    if run.command == "apply":
        return ExitCode.OK
    drifted = plan.has_changes or (run.command == "drift" and bool(plan.summary()["unmanaged"]))
    return ExitCode.CHANGES if drifted and getattr(args, "detailed_exitcode", False) else ExitCode.OK


def run_site_command(args: argparse.Namespace, console: Console, command: Command) -> int:
    """plan / apply / drift for one site (the manifests on the command line)."""
    if getattr(args, "max_deletes", None) is not None and args.max_deletes < 0:
        raise UsageError("--max-deletes must be 0 or more")
    if getattr(args, "site", None) or getattr(args, "all", False):
        from reconciler.cli.multisite import run_project_command

        return run_project_command(args, console, command)
    if not args.manifests:
        raise UsageError("no manifest given", hint=f"wix-secrets {command} MANIFEST...")
    info = run_info(command, args.manifests, None, None)
    if command == "apply" and len(args.manifests) == 1:
        from reconciler.cli.saved import apply_saved, read_plan_file

        saved = read_plan_file(console, args.manifests[0])
        if saved is not None:
            return apply_saved(args, console, args.manifests[0], saved)
    try:
        settings = site_settings(args, console)
        info = run_info(command, args.manifests, None, settings)
        run = prepare(args, console, command, args.manifests, settings=settings)
        info = run.info
        import asyncio

        return asyncio.run(_single(run, args, console))
    except ManifestError as exc:
        emit_error(console, args, info, exc, exc.diagnostics)
        raise
    except WixSecretsError as exc:
        emit_error(console, args, info, exc)
        raise


async def _single(run: SiteRun, args: argparse.Namespace, console: Console) -> int:
    async with open_client(run.settings, console) as client:
        await plan_run(run, args, console, client)
        assert run.planned is not None
        plan = run.planned.plan
        out = outputs(run, console, verbose=bool(args.verbose))
        stop = run.command != "apply" or not plan.has_changes or plan.conflicts or run.guard_error
        if stop:
            emit(console, args, out)
            if plan.conflicts:
                console.err("Error: the plan has conflicts (listed above); nothing was changed.")
            if run.guard_error is not None:
                raise run.guard_error
            if run.command == "plan" and getattr(args, "out", None) and not plan.conflicts:
                from reconciler.cli.saved import save_plan

                save_plan(run, args, console)
            return exit_code_of(run, args)
        if not args.json and not args.markdown:
            console.out(out.human)
        if not args.auto_approve:
            confirm(console)
        await backup_before_apply(run, args, console, client)
        await apply_run(run, console, client)
        from reconciler.cli.multisite import write_audit

        write_audit(run, args, console)
        applied = outputs(run, console, verbose=bool(args.verbose))
        if not args.json and not args.markdown:
            console.out("")
        emit(console, args, applied)
        return exit_code_of(run, args)
