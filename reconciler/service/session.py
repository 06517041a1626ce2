"""One site's run: load, plan, guards, value cache, backup, apply, verify, audit.

A :class:`SiteSession` owns one site's client for the length of a run and fills a
:class:`~reconciler.service.outcome.SiteOutcome`. Its steps are async (``plan``, ``apply``); the
front end decides what happens between them (show the plan, ask for confirmation). Every value loaded
from a manifest or read from the site is registered with the session's redactor before anything else
is done with it. Errors raised on purpose are WixSecretsError; :mod:`reconciler.service.run` turns them
into the outcome. Never prints; reports progress through :class:`~reconciler.service.events.Events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import OutputError
from reconciler.redact import Redactor
from reconciler.render import RunInfo
from reconciler.service.connection import Connection, open_client
from reconciler.service.events import Events, NullEvents
from reconciler.service.options import Options
from reconciler.service.outcome import SiteOutcome

if TYPE_CHECKING:
    import httpx

    from reconciler.model import DesiredState, RemoteState
    from reconciler.operations import PlannedSite
    from reconciler.plan import Change
    from reconciler.sops.keys import Passphrase

__all__ = ["SiteSession", "load_desired", "run_info"]

log = logging.getLogger("reconciler.service")


def load_desired(
    paths: Sequence[str | Path], *, environ: Mapping[str, str], cwd: Path, passphrase: Passphrase | None = None
) -> DesiredState:
    """Read, decrypt and validate manifests (see :func:`reconciler.operations.load_desired`)."""
    from reconciler.operations import load_desired as load

    return load(paths, environ=environ, cwd=cwd, passphrase=passphrase)


def run_info(
    command: str,
    manifests: Sequence[str],
    desired: DesiredState | None,
    connection: Connection | None,
    name: str | None = None,
) -> RunInfo:
    return RunInfo(
        command=command,
        manifest_paths=tuple(manifests),
        digest=desired.digest if desired else "",
        encrypted=bool(desired and desired.fingerprint_key is not None),
        site_id=connection.site_id if connection else None,
        api_url=None if connection is None or connection.local else connection.api_url,
        local=connection.local if connection else None,
        site_name=name,
    )


class SiteSession:
    """One site, one run. Use ``async with`` (or call :meth:`aclose`) to close the client."""

    def __init__(
        self,
        options: Options,
        connection: Connection,
        *,
        environ: Mapping[str, str],
        cwd: Path,
        events: Events | None = None,
        redactor: Redactor | None = None,
        name: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        passphrase: Passphrase | None = None,
    ) -> None:
        self.options = options
        self.passphrase = passphrase  # asks for the passphrase of a protected identity (front ends with a terminal)
        self.connection = connection
        self.environ = dict(environ)
        self.cwd = cwd
        self.events: Events = events or NullEvents()
        self.redactor = redactor if redactor is not None else Redactor()
        self.name = name
        self._transport = transport
        self.desired: DesiredState | None = None
        self.planned: PlannedSite | None = None
        self.outcome = SiteOutcome(
            options.command,
            run_info(options.command, [], None, connection, name),
            detailed_exitcode=options.detailed_exitcode,
            name=name,
        )
        self._client: Any = None
        self._stack = contextlib.AsyncExitStack()
        self._value_cache: Any = None
        self._local_secret: bytes | None = None  # local_plan_secret(), read once
        #: a project site's code: (paths or globs, the project file's folder); see reconciler.codescan.roots
        self.project_code: tuple[tuple[str, ...], str] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> SiteSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def client(self) -> Any:
        """The site's client, opened on first use."""
        if self._client is None:
            client = open_client(self.connection, self.environ, transport=self._transport, redactor=self.redactor)
            self._client = await self._stack.enter_async_context(client)
        return self._client

    # -- saved plans --------------------------------------------------------------------------------

    def local_plan_secret(self, *, create: bool = False) -> bytes | None:
        """For a ``--local`` site, the user's local key (the local backup identity, which never leaves
        this machine) that keys a saved plan when nothing else can (a plaintext manifest, no Wix
        credential). ``create``: make it if there is none yet (``plan --out``), saying where. None for a
        remote site, a SOPS manifest, or a Wix credential that keys the plan instead
        (:func:`reconciler.planfile.credential_secret`). Read once per session."""
        if not self.connection.local or self.desired is None or self.desired.fingerprint_key is not None:
            return None
        if self._local_secret is not None:
            return self._local_secret
        from reconciler import backupkey
        from reconciler.planfile import credential_secret

        if credential_secret(self.environ, identity=self.connection.auth) is not None:
            return None  # the Wix credential keys the plan: no local key needed (none is created)
        from reconciler.operations import home_of

        home = home_of(self.environ)
        found = backupkey.ensure(self.environ, home) if create else backupkey.find(self.environ, home)
        if found is None:
            return None
        if found.created:
            self.events.notice(
                self.name,
                f"Created the local key {found.path} (mode 0600): it keys saved plans of local sites and "
                "decrypts the backups of plaintext manifests; keep it.",
            )
        self._local_secret = backupkey.secret_of(found.path)
        return self._local_secret

    # -- load --------------------------------------------------------------------------------------

    def load(self, manifests: Sequence[str | Path]) -> DesiredState:
        """Load and validate the manifests (no request). Raises ManifestError with every problem."""
        self.events.phase_started(self.name, "load")
        shown = [os.fspath(m) for m in manifests]
        self.outcome.info = run_info(self.options.command, shown, None, self.connection, self.name)
        desired = load_desired(manifests, environ=self.environ, cwd=self.cwd, passphrase=self.passphrase)
        self.use(desired, shown)
        return desired

    def use(self, desired: DesiredState, manifests: Sequence[str]) -> None:
        """Take an already loaded desired state (from :func:`load_desired` or bytes)."""
        self.register(desired=desired)
        self.desired = desired
        self.outcome.info = run_info(self.options.command, manifests, desired, self.connection, self.name)

    def register(self, desired: DesiredState | None = None, remote: RemoteState | None = None) -> None:
        if desired is not None:
            for secret in desired.present():
                if secret.value is not None:
                    self.redactor.add(secret.value.reveal())
        if remote is not None:
            for value in remote.values.values():
                self.redactor.add(value.reveal())

    # -- plan --------------------------------------------------------------------------------------

    async def plan(self) -> SiteOutcome:
        """Read the site, plan, check the guards (a refusal is recorded, not raised)."""
        from reconciler.errors import WixSecretsError
        from reconciler.guards import check_guards
        from reconciler.operations import plan_site

        assert self.desired is not None, "load() first"
        if self.options.command == "plan" and self.options.save_plan is not None:
            from reconciler.planfile import binding_key

            secret = self.local_plan_secret(create=True)
            binding_key(
                self.desired, self.environ, identity=self.connection.auth, local_secret=secret
            )  # before any request
        code_scan = self._scan_code()  # local files only, before any request: a bad path sends nothing
        started = time.monotonic()
        client = await self.client()
        reader = client.read_only() if self.options.command == "drift" else client
        self._value_cache = self._open_value_cache()
        self.events.phase_started(self.name, "read")

        def on_read(done: int, total: int) -> None:
            self.events.request_done(self.name, "read", done, total)

        self.planned = await plan_site(
            reader,
            self.desired,
            prune=self.options.prune,
            on_read=on_read,
            value_cache=self._value_cache,
            on_warning=self._warn,
        )
        self.register(remote=self.planned.remote)
        self.events.phase_started(self.name, "plan")
        adjusted = self._uncleared().adjust(self.planned.plan)  # descriptions Wix kept: not planned again
        if adjusted is not self.planned.plan:
            self.planned = dataclasses.replace(self.planned, plan=adjusted)
        if self._value_cache is not None:
            from reconciler.valuecache import in_sync_ids

            self._value_cache.remember(self.planned.remote, in_sync=in_sync_ids(self.planned.plan))
            self._save_value_cache()
        log.info("%splanned in %.0f ms: %s", self._prefix, (time.monotonic() - started) * 1000, client.stats)
        if self.options.targets:  # --target: a pure filter of the plan; the outputs then say it is partial
            from reconciler.target import target_plan

            limited = target_plan(self.planned.plan, self.options.targets, strict=self.name is None)
            self.planned = dataclasses.replace(self.planned, plan=limited)
            self.outcome.info = dataclasses.replace(self.outcome.info, targets=self.options.targets)
        self.outcome.plan = self.planned.plan
        self.outcome.remote = self.planned.remote
        if self.options.command != "drift":
            try:
                check_guards(self.planned.plan, self.desired, self.planned.remote, self.options.limits)
            except WixSecretsError as exc:
                self.outcome.guard_error = exc
        self._check_code(code_scan)
        return self.outcome

    def _warn(self, message: str) -> None:
        """A warning for every front end: in the outcome, and as an event."""
        self.outcome.warnings.append(message)
        self.events.warning(self.name, message)

    def _scan_code(self) -> Any:
        """The site's code, scanned (None when no code is named); UsageError for a bad code path."""
        from reconciler.codescan import scan_code
        from reconciler.codescan.roots import code_roots

        assert self.desired is not None
        project = self.project_code or ((), None)
        roots = code_roots(
            self.desired, cwd=self.cwd, paths=self.options.code, project_code=project[0], project_dir=project[1]
        )
        return scan_code(roots, display_base=self.cwd) if roots else None

    def _check_code(self, code_scan: Any) -> None:
        """Code-aware findings and overdue secrets; the code guard's refusal joins the others'."""
        from reconciler.codeguard import code_report, combined_refusal
        from reconciler.errors import GuardError

        assert self.desired is not None and self.planned is not None
        report = code_report(
            self.planned.plan,
            self.desired,
            self.planned.remote,
            code_scan,
            command=self.options.command,
            now=datetime.now(UTC),
            allow_breaking=self.options.allow_breaking_code,
        )
        refusal = report.verdict.error
        if refusal is not None:
            if isinstance(self.outcome.guard_error, GuardError):
                refusal = combined_refusal(self.outcome.guard_error, refusal)
            self.outcome.guard_error = refusal
        self.outcome.code = report

    @property
    def _prefix(self) -> str:
        return f"{self.name}: " if self.name else ""

    @property
    def ready_to_apply(self) -> bool:
        """Planned, with changes, and nothing (conflict, guard) stops it."""
        return self.outcome.has_changes and not self.outcome.failed

    def _open_value_cache(self) -> Any:
        directory = self.options.value_cache
        if directory is None or self.desired is None:
            return None
        if self.desired.cache_key is None:
            message = (
                "--value-cache is unavailable for a plaintext manifest (the cache is keyed by the SOPS data key); "
                "reading every value"
            )
            self.outcome.warnings.append(message)
            self.events.warning(self.name, message)
            return None
        from reconciler.valuecache import ValueCache

        c = self.connection
        site = f"local:{c.local}" if c.local else f"{c.api_url} {c.site_id or ''}"
        return ValueCache.open(self._path(directory), site=site, key=self.desired.cache_key)

    def _save_value_cache(self) -> None:
        try:
            self._value_cache.save()
        except OSError as exc:
            message = f"cannot write the value cache {self._value_cache.path}: {exc.strerror or exc}"
            self.outcome.warnings.append(message)
            self.events.warning(self.name, message)

    def _uncleared(self) -> Any:
        """The descriptions Wix did not clear on this site (:mod:`reconciler.uncleared`)."""
        from reconciler.uncleared import Uncleared, state_file

        c = self.connection
        site = f"local:{c.local}" if c.local else f"{c.api_url} {c.site_id or ''}"
        return Uncleared(state_file(self.environ), site)

    def _remember_uncleared(self, kept: Sequence[tuple[str, str]]) -> None:
        if not kept:
            return
        memory = self._uncleared()
        if memory.remember(kept):
            try:
                memory.save()
            except OSError as exc:
                message = f"cannot write {memory.path}: {exc.strerror or exc}"
                self.outcome.warnings.append(message)
                self.events.warning(self.name, message)

    def _path(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.cwd / p

    # -- backup, apply, audit ----------------------------------------------------------------------

    async def backup(self) -> Path | None:
        """Write the encrypted backup of every value the plan deletes or overwrites, reading the ones
        the plan did not read (deletes). Any failure raises before anything is changed."""
        from reconciler import backup

        assert self.planned is not None
        values = dict(self.planned.remote.values)
        entries = backup.entries_needed(self.planned.plan, values)
        if not entries or not self.options.backup.enabled:
            return None
        recipients = backup.choose_recipients(
            self.options.backup.recipients,
            self.desired.recipients if self.desired else (),
            sources=self.desired.source.split(", ") if self.desired else (),
            cwd=self.cwd,
            environ=self.environ,
        )
        if not recipients and self.options.backup.local_identity:  # a plaintext manifest, on a terminal
            recipients = [self._local_backup_identity()]
        backup.require_recipients(recipients)
        self.events.phase_started(self.name, "backup")
        missing = [e.secret for e in entries if e.value is None]
        if missing:
            client = await self.client()
            read = await asyncio.gather(*(client.get_value(s.name) for s in missing))
            for secret, value in zip(missing, read, strict=True):
                values[secret.id] = value
                self.redactor.add(value.reveal())
            entries = backup.entries_needed(self.planned.plan, values)
        directory = self._backup_dir()
        c = self.connection
        site = self.name or (Path(c.local).stem if c.local else None) or c.site_id or "site"
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            path = backup.write(entries, directory=directory, recipients=recipients, site=site, created=created)
        except OSError as exc:
            raise OutputError(
                f"cannot write the backup in {directory}: {exc.strerror or exc}; nothing was applied"
            ) from None
        self.outcome.backup_path = path
        self.events.notice(self.name, f"Backup of {len(entries)} value(s) about to be deleted or overwritten: {path}")
        return path

    def _local_backup_identity(self) -> str:
        """The public key of the local backup identity (created once, reconciler.backupkey); says where."""
        from reconciler import backupkey
        from reconciler.operations import home_of

        identity = backupkey.ensure(self.environ, home_of(self.environ))
        if identity.created:
            self.events.notice(
                self.name,
                f"Created a local backup identity in {identity.path} (mode 0600; public key {identity.recipient}). "
                "Keep it: it decrypts the backups of plaintext manifests, and `wix-secrets apply BACKUP` finds it.",
            )
        self.events.notice(self.name, f"The backup is encrypted to the local backup identity {identity.path}.")
        return identity.recipient

    def _backup_dir(self) -> Path:
        given = self.options.backup.directory
        if given is not None:
            directory = self._path(given)
            if not directory.parent.is_dir():
                raise OutputError(
                    f"cannot write the backup in {directory}: the folder {directory.parent} does not exist",
                    hint="create it first, or choose another --backup-dir",
                )
            try:
                directory.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:
                raise OutputError(
                    f"cannot create the backup folder {directory}: {exc.strerror or exc}; nothing was applied"
                ) from None
            return directory
        from reconciler.fsutil import state_dir

        return self._path(state_dir(self.environ) / "backups")

    async def apply(self, *, stop: Callable[[], bool] | None = None, backup: bool = True) -> SiteOutcome:
        """Back up (unless ``backup`` is False: done already), apply, verify, write the audit records.
        ``stop`` is asked before each write starts."""
        from reconciler.operations import apply_site

        assert self.planned is not None
        if not self.ready_to_apply:
            return self.outcome
        if backup:
            await self.backup()
        client = await self.client()
        total = len(self.planned.plan.actionable)
        done = 0

        def progress(event: str, change: Change, status: Any) -> None:
            nonlocal done
            if event == "done":
                done += 1
                self.events.change_applied(self.name, change, str(status), done, total)
                log.info("%s %s: %s", change.action.value, change.name, status)

        self.events.phase_started(self.name, "apply")
        started = time.monotonic()
        result = await apply_site(
            client, self.planned, progress=progress, stop=stop, concurrency=self.connection.concurrency
        )
        self.outcome.result = result
        self.outcome.warnings.extend(result.warnings)  # e.g. "Wix did not clear the description of X"
        self._remember_uncleared(result.uncleared)
        log.info("%sapplied in %.0f ms: %s", self._prefix, (time.monotonic() - started) * 1000, client.stats)
        if self._value_cache is not None:  # the touched secrets have new updatedDates: read them next time
            self._value_cache.forget(i.change.remote.id for i in result.items if i.change.remote is not None)
            self._save_value_cache()
        self.write_audit()
        return self.outcome

    def write_audit(self) -> None:
        """Append the audit records of the applied run to ``options.audit_log`` (if set)."""
        path = self.options.audit_log
        result = self.outcome.result
        if path is None or result is None or not result.items:
            return
        from reconciler.audit import append_records, build_records

        self.events.phase_started(self.name, "audit")
        records = build_records(self.outcome.info, result, environ=self.environ, scrub=self.redactor.scrub)
        try:
            append_records(self._path(path), records)
        except OutputError as exc:
            raise OutputError(
                f"{exc.summary}. The apply itself ran ({result.count('applied')} applied); "
                "its records are missing from the audit log",
                hint=exc.hint,
            ) from None
