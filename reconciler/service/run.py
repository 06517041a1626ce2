"""The flows: plan/apply/drift of one site, of a saved plan, and of many sites of a project.

Each flow returns a typed outcome and never raises a WixSecretsError: the error that stopped a run is
in the outcome (with the plan, when one was made), and the exit code follows from it
(:func:`reconciler.service.outcome.exit_code`). ``before_apply`` is called once the plan is known and
before anything is written — the CLI shows the plan there and asks for confirmation (raising
ApprovalError to stop); the sync flows call it outside the event loop, so Ctrl-C at a prompt
interrupts at once. ``stop`` is asked before each write starts (see :class:`Stop`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import ManifestError, UsageError, WixSecretsError
from reconciler.redact import Redactor
from reconciler.render import RunInfo
from reconciler.service.connection import Connection
from reconciler.service.events import Events
from reconciler.service.options import Options
from reconciler.service.outcome import ProjectOutcome, SiteOutcome
from reconciler.service.saved import apply_saved, read_plan_file, save_plan
from reconciler.service.session import SiteSession, run_info

if TYPE_CHECKING:
    import httpx

    from reconciler.model import DesiredState
    from reconciler.planfile import SavedPlan
    from reconciler.project import ProjectSite
    from reconciler.sops.keys import Passphrase

__all__ = [
    "Stop",
    "apply_plan_file",
    "apply_plan_file_async",
    "run_project",
    "run_site",
    "run_site_async",
]


class Stop:
    """A request to stop starting writes (a signal arrived). ``reason`` is e.g. "SIGTERM"."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def __call__(self) -> bool:
        return self.reason is not None


def _record(outcome: SiteOutcome, exc: WixSecretsError) -> None:
    outcome.error = exc
    if isinstance(exc, ManifestError):
        outcome.diagnostics = exc.diagnostics


def _after_plan(session: SiteSession) -> None:
    """``plan --out``: save the plan unless conflicts or a guard refused it."""
    out = session.options.save_plan
    if session.options.command == "plan" and out is not None and not session.outcome.failed:
        save_plan(session, out)
        target = f"--local {session.connection.local} " if session.connection.local else ""
        session.events.notice(
            session.name,
            f"Saved the plan to {out}. To apply exactly this plan (to the same site): wix-secrets apply {target}{out}",
        )


def _interrupted(session: SiteSession, stop: Stop | None) -> None:
    if stop is not None and stop.reason is not None and session.outcome.result is not None:
        session.outcome.interrupted = stop.reason


def check_outputs(options: Options, cwd: Path) -> None:
    """Refuse, before any request, an output path (audit log, saved plan, backup folder) whose folder
    is missing, an audit log that is a symbolic link (it is appended to, so it would be followed), and
    a backup recipient the backup could not be encrypted to."""
    from reconciler.errors import OutputError
    from reconciler.fsutil import check_parent

    def resolve(path: Path) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else cwd / path

    for given, what in ((options.audit_log, "audit log"), (options.save_plan, "plan file")):
        if given is not None:
            check_parent(resolve(given), what)
    if options.audit_log is not None and resolve(options.audit_log).is_symlink():
        raise OutputError(
            f"refusing to write the audit log {options.audit_log}: it is a symbolic link",
            hint="point --audit-log at a regular file",
        )
    if options.backup.enabled and options.backup.directory is not None:
        directory = resolve(options.backup.directory)
        if not directory.is_dir():
            check_parent(directory, "backup folder")
    if options.backup.enabled and options.backup.recipients:
        from reconciler.sops.keys import parse_recipient

        for recipient in options.backup.recipients:
            parse_recipient(recipient)  # a recipient the backup could not be encrypted to: refused now


def _session(
    options: Options,
    connection: Connection,
    environ: Mapping[str, str],
    cwd: Path,
    events: Events | None,
    redactor: Redactor | None,
    transport: httpx.AsyncBaseTransport | None,
    name: str | None = None,
    passphrase: Passphrase | None = None,
) -> SiteSession:
    return SiteSession(
        options.check(),
        connection,
        environ=environ,
        cwd=cwd,
        events=events,
        redactor=redactor,
        name=name,
        transport=transport,
        passphrase=passphrase,
    )


def run_site(
    manifests: Sequence[str | Path],
    options: Options,
    connection: Connection,
    *,
    environ: Mapping[str, str],
    cwd: Path,
    events: Events | None = None,
    redactor: Redactor | None = None,
    before_apply: Callable[[SiteOutcome], None] | None = None,
    stop: Stop | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    passphrase: Passphrase | None = None,
    preloaded: DesiredState | None = None,
) -> SiteOutcome:
    """Load, plan (and with ``options.command == "apply"``: back up, apply, verify, audit) one site.
    ``preloaded`` is the manifests' desired state when the caller has loaded them already (one decrypt)."""
    session = _session(options, connection, environ, cwd, events, redactor, transport, passphrase=passphrase)
    with asyncio.Runner() as runner:
        try:
            if not manifests:
                raise UsageError("no manifest given", hint=f"wix-secrets {options.command} MANIFEST...")
            check_outputs(options, cwd)
            if preloaded is not None:
                session.use(preloaded, [os.fspath(m) for m in manifests])
            else:
                session.load(manifests)
            runner.run(session.plan())
            _after_plan(session)
            if options.command == "apply" and session.ready_to_apply:
                if before_apply is not None:
                    before_apply(session.outcome)
                runner.run(session.apply(stop=stop))
                _interrupted(session, stop)
        except WixSecretsError as exc:
            _record(session.outcome, exc)
        finally:
            runner.run(session.aclose())
    return session.outcome


async def run_site_async(
    manifests: Sequence[str | Path],
    options: Options,
    connection: Connection,
    *,
    environ: Mapping[str, str],
    cwd: Path,
    events: Events | None = None,
    redactor: Redactor | None = None,
    before_apply: Callable[[SiteOutcome], None] | None = None,
    stop: Stop | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    passphrase: Passphrase | None = None,
) -> SiteOutcome:
    """:func:`run_site` for callers that have an event loop."""
    session = _session(options, connection, environ, cwd, events, redactor, transport, passphrase=passphrase)
    async with session:
        try:
            if not manifests:
                raise UsageError("no manifest given", hint=f"wix-secrets {options.command} MANIFEST...")
            check_outputs(options, cwd)
            session.load(manifests)
            await session.plan()
            _after_plan(session)
            if options.command == "apply" and session.ready_to_apply:
                if before_apply is not None:
                    before_apply(session.outcome)
                await session.apply(stop=stop)
                _interrupted(session, stop)
        except WixSecretsError as exc:
            _record(session.outcome, exc)
    return session.outcome


def _saved_or_error(session: SiteSession, path: Path, saved: SavedPlan | None) -> SavedPlan:
    if saved is not None:
        return saved
    found = read_plan_file(path if path.is_absolute() else session.cwd / path)
    if found is None:
        raise UsageError(f"{path} is not a wix-secrets plan file")
    return found


def apply_plan_file(
    path: Path,
    options: Options,
    connection: Connection,
    *,
    environ: Mapping[str, str],
    cwd: Path,
    events: Events | None = None,
    redactor: Redactor | None = None,
    before_apply: Callable[[SiteOutcome], None] | None = None,
    stop: Stop | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    passphrase: Passphrase | None = None,
    saved: SavedPlan | None = None,
    preloaded: tuple[Sequence[str], DesiredState] | None = None,
) -> SiteOutcome:
    """Apply a saved plan exactly, or refuse (modified file, other target, stale: exit 4)."""
    session = _session(options, connection, environ, cwd, events, redactor, transport, passphrase=passphrase)
    with asyncio.Runner() as runner:
        try:
            check_outputs(options, cwd)
            plan_file = _saved_or_error(session, path, saved)
            runner.run(apply_saved(session, plan_file, source=str(path), preloaded=preloaded))
            if session.ready_to_apply:
                if before_apply is not None:
                    before_apply(session.outcome)
                runner.run(session.apply(stop=stop))
                _interrupted(session, stop)
        except WixSecretsError as exc:
            _record(session.outcome, exc)
        finally:
            runner.run(session.aclose())
    return session.outcome


async def apply_plan_file_async(
    path: Path,
    options: Options,
    connection: Connection,
    *,
    environ: Mapping[str, str],
    cwd: Path,
    events: Events | None = None,
    redactor: Redactor | None = None,
    stop: Stop | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    passphrase: Passphrase | None = None,
) -> SiteOutcome:
    """:func:`apply_plan_file` for callers that have an event loop."""
    session = _session(options, connection, environ, cwd, events, redactor, transport, passphrase=passphrase)
    async with session:
        try:
            check_outputs(options, cwd)
            plan_file = _saved_or_error(session, path, None)
            await apply_saved(session, plan_file, source=str(path))
            if session.ready_to_apply:
                await session.apply(stop=stop)
                _interrupted(session, stop)
        except WixSecretsError as exc:
            _record(session.outcome, exc)
    return session.outcome


def run_project(
    sites: Sequence[ProjectSite],
    options: Options,
    connect: Callable[[Mapping[str, str]], Connection],
    *,
    environ: Mapping[str, str],
    cwd: Path,
    events: Events | None = None,
    redactor: Redactor | None = None,
    before_apply: Callable[[ProjectOutcome], None] | None = None,
    stop: Stop | None = None,
    passphrase: Passphrase | None = None,
) -> ProjectOutcome:
    """Plan (and apply) many sites of a project concurrently, each with its own environment (the
    credentials its entry names), client and rate budget. ``connect`` builds a site's connection from
    its environment. Apply applies nothing if any site failed to plan, asks ``before_apply`` once,
    writes every backup before any site changes, then applies the sites concurrently."""
    from reconciler.project import site_environ

    options = options.check()
    shared = redactor if redactor is not None else Redactor()
    sessions: list[SiteSession] = []
    try:
        check_outputs(options, cwd)
        refused: WixSecretsError | None = None
    except WixSecretsError as exc:
        refused = exc
    for site in sites:
        env, missing = site_environ(site, environ)
        manifests = [os.path.relpath(m, cwd) for m in site.manifests]
        try:
            connection = connect(env)
        except WixSecretsError as exc:
            connection = Connection(local=site.local, api_url=site.api_url or "", site_id=site.site_id)
            session = _session(options, connection, env, cwd, events, shared, None, site.name, passphrase)
            session.outcome.info = _info(session, manifests)
            _record(session.outcome, exc)
            sessions.append(session)
            continue
        session = _session(options, connection, env, cwd, events, shared, None, site.name, passphrase)
        session.project_code = (site.code, site.code_base)  # reconciler.codescan.roots
        session.outcome.info = _info(session, manifests)
        sessions.append(session)
        if refused is not None:
            _record(session.outcome, refused)
            continue
        if missing:
            session.outcome.error = UsageError(
                f"missing credentials: {', '.join(missing)} not set (named in the project file)"
            )
            continue
        try:
            session.load(manifests)
        except WixSecretsError as exc:
            _record(session.outcome, exc)
    project = ProjectOutcome(options.command, [s.outcome for s in sessions])

    async def plan_one(session: SiteSession) -> None:
        try:
            await session.plan()
        except WixSecretsError as exc:
            _record(session.outcome, exc)

    async def plan_all() -> None:
        await asyncio.gather(*(plan_one(s) for s in sessions if s.desired is not None and s.outcome.error is None))

    async def backups(chosen: list[SiteSession]) -> bool:
        for session in chosen:
            try:
                await session.backup()
            except WixSecretsError as exc:
                _record(session.outcome, exc)
                return False
        return True

    async def apply_one(session: SiteSession) -> None:
        try:
            await session.apply(stop=stop, backup=False)  # every backup was written first, above
        except WixSecretsError as exc:
            _record(session.outcome, exc)
        finally:
            _interrupted(session, stop)

    async def close_all() -> None:
        await asyncio.gather(*(s.aclose() for s in sessions))

    with asyncio.Runner() as runner:
        try:
            runner.run(plan_all())
            chosen = [s for s in sessions if s.ready_to_apply]
            if options.command != "apply" or not chosen:
                return project
            project.blocked = [s.name or "?" for s in sessions if s.outcome.failed]
            if project.blocked:
                return project
            if before_apply is not None:
                try:
                    before_apply(project)
                except WixSecretsError as exc:
                    for session in chosen:
                        _record(session.outcome, exc)
                    return project
            if not runner.run(backups(chosen)):
                project.blocked = [s.name or "?" for s in sessions if s.outcome.error is not None]
                return project
            runner.run(_gather(apply_one(s) for s in chosen))
            project.applied = True
            return project
        finally:
            runner.run(close_all())


async def _gather(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    await asyncio.gather(*coroutines)


def _info(session: SiteSession, manifests: list[str]) -> RunInfo:
    return run_info(session.options.command, manifests, None, session.connection, session.name)
