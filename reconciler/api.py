"""The public Python API: plan and apply from a script, a Django command or another tool.

Everything here is re-exported by the top-level package (``from reconciler import plan, apply``) and
documented in ``docs/python-api.md``. Each function has a synchronous form for scripts and an
``*_async`` form for callers that already run an event loop. No function prints, reads ``sys.argv``
or the terminal; ``environ`` (credentials, ``SOPS_AGE_KEY``...) is a parameter, defaulting to an
empty mapping — pass ``os.environ`` explicitly to behave like the CLI.

Errors that stop a run before a plan exists (an invalid manifest, missing credentials, an unreachable
site, a stale or modified saved plan) are raised as :class:`~reconciler.errors.WixSecretsError`.
``apply`` raises the refusal of a safety guard or a conflict (nothing was written); a partial failure
is returned in the :class:`SiteOutcome` (``outcome.exit_code == 3``; ``raise_for_status()`` raises it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import UsageError
from reconciler.model import DesiredState
from reconciler.planfile import SavedPlan
from reconciler.service import (
    Connection,
    Events,
    Options,
    ProjectOutcome,
    SiteOutcome,
    SiteSession,
    connection_settings,
    read_plan_file,
    run_project,
    save_plan,
)
from reconciler.service.saved import apply_saved as _apply_saved

__all__ = [
    "apply_plan_file",
    "apply_plan_file_async",
    "apply_project",
    "apply_project_async",
    "apply_site",
    "apply_site_async",
    "load_manifests",
    "load_plan_file",
    "local_site",
    "plan_project",
    "plan_project_async",
    "plan_site",
    "plan_site_async",
    "remote_site",
    "site_from_environ",
]

Manifests = Sequence[str | os.PathLike[str] | bytes] | DesiredState


def _env(environ: Mapping[str, str] | None) -> dict[str, str]:
    return dict(environ or {})


def _cwd(cwd: str | os.PathLike[str] | None) -> Path:
    return Path(cwd) if cwd is not None else Path.cwd()


# --- sites ----------------------------------------------------------------------------------------


def local_site(path: str | os.PathLike[str], *, cwd: str | os.PathLike[str] | None = None) -> Connection:
    """An emulated site persisted in ``path`` (what ``--local PATH`` uses): no network, no account."""
    return connection_settings({}, cwd=_cwd(cwd), local=os.fspath(path))


def remote_site(
    api_url: str = "https://www.wixapis.com",
    *,
    site_id: str | None = None,
    concurrency: int | None = None,
    rate_limit: float | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    auth: str | None = None,
) -> Connection:
    """A Wix site over HTTPS (or a ``wix-secrets emulator`` on loopback). Credentials come from the
    ``environ`` given to each call (``WIX_API_KEY`` + site id, the Wix app variables, a token command
    or an access token). ``auth`` chooses the identity (``"api-key"``, ``"wix-app"``, ``"wix-cli"``,
    ``"token-command"``, ``"access-token"``), as ``--auth`` does; None: ``WIX_AUTH``, else the only one
    configured (:func:`reconciler.wix.identity.resolve_identity`)."""
    return connection_settings(
        {},
        cwd=Path.cwd(),
        api_url=api_url,
        site_id=site_id,
        concurrency=concurrency,
        rate_limit=rate_limit,
        retries=retries,
        timeout=timeout,
        auth=auth,
    )


def site_from_environ(
    environ: Mapping[str, str], *, cwd: str | os.PathLike[str] | None = None, **overrides: Any
) -> Connection:
    """The site the CLI would use with this environment (``WIX_LOCAL_SITE``, ``WIX_API_URL``,
    ``WIX_SITE_ID``), with keyword overrides (``local=``, ``api_url=``, ``site_id=``, ``auth=``,
    ``concurrency=``...)."""
    return connection_settings(environ, cwd=_cwd(cwd), **overrides)


# --- manifests ------------------------------------------------------------------------------------


def load_manifests(
    *sources: str | os.PathLike[str] | bytes,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    passphrase: Callable[[str], str | None] | None = None,
) -> DesiredState:
    """Read, decrypt (SOPS/age, keys found in ``environ`` like sops finds them) and validate manifests
    given as paths or bytes; later ones override earlier ones. Raises ManifestError with every problem.
    ``passphrase(label)`` opens a passphrase-protected identity file or ssh key (None: they are skipped);
    pass the result to :func:`plan_site` / :func:`apply_site`."""
    from reconciler.errors import Diagnostic, ManifestError
    from reconciler.manifest import load_manifest, merge_states
    from reconciler.operations import home_of, load_desired

    env, base = _env(environ), _cwd(cwd)
    if not sources:
        raise UsageError("no manifest given")
    states: list[DesiredState] = []
    diagnostics: list[Diagnostic] = []
    keyring: list[Any] = []

    def keys() -> Any:
        if not keyring:
            from reconciler.sops import KeyRing

            keyring.append(KeyRing.discover(env, home=home_of(env), passphrase=passphrase))
        return keyring[0]

    def read_file(rel: str) -> bytes:
        target = Path(rel).expanduser()
        return (target if target.is_absolute() else base / target).read_bytes()

    for index, source in enumerate(sources):
        try:
            if isinstance(source, bytes):
                name = f"<manifest {index + 1}>"
                states.append(load_manifest(source, file=name, keys=keys, environ=env, read_file=read_file))
            else:
                states.append(load_desired([Path(source)], environ=env, cwd=base, passphrase=passphrase))
        except ManifestError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise ManifestError(diagnostics)
    return merge_states(states)


def _load(session: SiteSession, manifests: Manifests) -> None:
    if isinstance(manifests, DesiredState):
        session.use(manifests, [manifests.source])
    elif manifests and all(not isinstance(m, bytes) for m in manifests):
        session.load([os.fspath(m) for m in manifests if not isinstance(m, bytes)])
    else:
        desired = load_manifests(*manifests, environ=session.environ, cwd=session.cwd)
        session.use(desired, [m if isinstance(m, str) else "<bytes>" for m in map(_shown, manifests)])


def _shown(source: str | os.PathLike[str] | bytes) -> str:
    return "<bytes>" if isinstance(source, bytes) else os.fspath(source)


# --- one site -------------------------------------------------------------------------------------


def _session(
    command: str,
    site: Connection,
    options: Options | None,
    environ: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    events: Events | None,
    transport: Any,
) -> SiteSession:
    opts = dataclasses.replace(options or Options(), command=command)  # type: ignore[arg-type]
    return SiteSession(opts.check(), site, environ=_env(environ), cwd=_cwd(cwd), events=events, transport=transport)


async def plan_site_async(
    manifests: Manifests,
    site: Connection,
    *,
    environ: Mapping[str, str] | None = None,
    options: Options | None = None,
    out: str | os.PathLike[str] | None = None,
    drift: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    events: Events | None = None,
    transport: Any = None,
) -> SiteOutcome:
    """Read the site and plan (``outcome.plan`` is the pure plan value; ``outcome.guard_error`` a
    refusal the apply would meet). ``out`` saves the plan for :func:`apply_plan_file`. ``drift``
    plans through a client that cannot write."""
    session = _session("drift" if drift else "plan", site, options, environ, cwd, events, transport)
    async with session:
        _load(session, manifests)
        await session.plan()
        if out is not None and not session.outcome.failed:
            save_plan(session, Path(out))
    return session.outcome


def plan_site(manifests: Manifests, site: Connection, **kwargs: Any) -> SiteOutcome:
    """Synchronous :func:`plan_site_async`."""
    return asyncio.run(plan_site_async(manifests, site, **kwargs))


def _refuse(outcome: SiteOutcome) -> None:
    if outcome.refusal is not None:
        raise outcome.refusal
    if outcome.plan is not None and outcome.plan.conflicts:
        raise UsageError(f"the plan has conflicts; nothing was changed: {'; '.join(outcome.plan.conflicts)}")


async def apply_site_async(
    manifests: Manifests,
    site: Connection,
    *,
    environ: Mapping[str, str] | None = None,
    options: Options | None = None,
    cwd: str | os.PathLike[str] | None = None,
    events: Events | None = None,
    transport: Any = None,
) -> SiteOutcome:
    """Plan, check the guards, back up what will be destroyed (``options.backup``), apply, verify and
    append the audit records (``options.audit_log``): the CLI's ``apply --auto-approve``."""
    session = _session("apply", site, options, environ, cwd, events, transport)
    async with session:
        _load(session, manifests)
        await session.plan()
        _refuse(session.outcome)
        await session.apply()
    return session.outcome


def apply_site(manifests: Manifests, site: Connection, **kwargs: Any) -> SiteOutcome:
    """Synchronous :func:`apply_site_async`."""
    return asyncio.run(apply_site_async(manifests, site, **kwargs))


def load_plan_file(path: str | os.PathLike[str]) -> SavedPlan:
    """Parse a saved plan (its MAC is verified when it is applied, with the manifests' key)."""
    saved = read_plan_file(Path(path))
    if saved is None:
        raise UsageError(f"{os.fspath(path)} is not a wix-secrets plan file")
    return saved


async def apply_plan_file_async(
    path: str | os.PathLike[str],
    site: Connection,
    *,
    environ: Mapping[str, str] | None = None,
    options: Options | None = None,
    cwd: str | os.PathLike[str] | None = None,
    events: Events | None = None,
    transport: Any = None,
) -> SiteOutcome:
    """Apply a saved plan exactly, or raise StalePlanError (modified file, another target than
    ``site``, a changed manifest or site): the CLI's ``apply PLANFILE``."""
    session = _session("apply", site, options, environ, cwd, events, transport)
    async with session:
        saved = load_plan_file(path if Path(path).is_absolute() else session.cwd / Path(path))
        await _apply_saved(session, saved, source=os.fspath(path))
        _refuse(session.outcome)
        await session.apply()
    return session.outcome


def apply_plan_file(path: str | os.PathLike[str], site: Connection, **kwargs: Any) -> SiteOutcome:
    """Synchronous :func:`apply_plan_file_async`."""
    return asyncio.run(apply_plan_file_async(path, site, **kwargs))


# --- a project of many sites ----------------------------------------------------------------------


def _project(
    command: str,
    project: str | os.PathLike[str] | None,
    sites: Sequence[str] | None,
    environ: Mapping[str, str] | None,
    options: Options | None,
    cwd: str | os.PathLike[str] | None,
    events: Events | None,
) -> ProjectOutcome:
    from reconciler.project import find_project, load_project, select_sites

    base = _cwd(cwd)
    env = _env(environ)
    path = find_project(base, os.fspath(project) if project is not None else None)
    chosen = select_sites(load_project(path), list(sites or ()), all_sites=not sites)
    opts = dataclasses.replace(options or Options(), command=command)  # type: ignore[arg-type]
    return run_project(
        chosen, opts, lambda site_env: connection_settings(site_env, cwd=base), environ=env, cwd=base, events=events
    )


def plan_project(
    project: str | os.PathLike[str] | None = None,
    *,
    sites: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    options: Options | None = None,
    cwd: str | os.PathLike[str] | None = None,
    events: Events | None = None,
) -> ProjectOutcome:
    """Plan every site of a project file (or those named in ``sites``), concurrently."""
    return _project("plan", project, sites, environ, options, cwd, events)


def apply_project(
    project: str | os.PathLike[str] | None = None,
    *,
    sites: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    options: Options | None = None,
    cwd: str | os.PathLike[str] | None = None,
    events: Events | None = None,
) -> ProjectOutcome:
    """Plan every chosen site; if all planned, back up every site, then apply them concurrently."""
    return _project("apply", project, sites, environ, options, cwd, events)


async def plan_project_async(project: str | os.PathLike[str] | None = None, **kwargs: Any) -> ProjectOutcome:
    """:func:`plan_project` from an event loop (runs in a worker thread)."""
    return await asyncio.to_thread(plan_project, project, **kwargs)


async def apply_project_async(project: str | os.PathLike[str] | None = None, **kwargs: Any) -> ProjectOutcome:
    """:func:`apply_project` from an event loop (runs in a worker thread)."""
    return await asyncio.to_thread(apply_project, project, **kwargs)
