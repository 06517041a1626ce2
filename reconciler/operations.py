"""Use-cases shared by the CLI and the Action: load manifests, plan a site, apply a plan.

Functions here return values (states, plans, results) and never print. They read the manifest files
they are given and take the environment as a parameter; they are called by :mod:`reconciler.service`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import Diagnostic, ManifestError, UsageError
from reconciler.executor import (
    ApplyResult,
    KnownValues,
    Progress,
    SecretsReader,
    SecretsWriter,
    apply_plan,
    read_remote,
)
from reconciler.manifest import load_manifest, merge_states
from reconciler.model import DesiredState, RemoteState
from reconciler.plan import Plan, make_plan
from reconciler.valuefile import read_value_file

if TYPE_CHECKING:
    from reconciler.sops.keys import Passphrase

__all__ = ["PlannedSite", "apply_site", "home_of", "load_desired", "plan_site"]


def home_of(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def load_desired(
    paths: Sequence[str | Path], *, environ: Mapping[str, str], cwd: Path, passphrase: Passphrase | None = None
) -> DesiredState:
    """Read, decrypt and validate every manifest in ``paths`` (later ones override earlier ones).

    Every problem of every file is collected before :class:`ManifestError` is raised. ``passphrase``
    opens passphrase-protected identities (a front end with a terminal asks); None: they are skipped.
    """
    if not paths:
        raise UsageError("no manifest given", hint="pass the path of a manifest, e.g. examples/quickstart.yaml")
    keyring: list[Any] = []

    def keys() -> Any:
        if not keyring:
            from reconciler.sops import KeyRing

            keyring.append(KeyRing.discover(environ, home=home_of(environ), passphrase=passphrase))
        return keyring[0]

    states: list[DesiredState] = []
    diagnostics: list[Diagnostic] = []
    for raw in paths:
        shown = os.fspath(raw)
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else cwd / path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"{shown}: no such file") from None
        except OSError as exc:
            raise UsageError(f"{shown}: cannot read it ({exc.strerror or exc})") from None
        base = path.parent

        def read_file(rel: str, base: Path = base) -> bytes:
            target = Path(rel).expanduser()
            return read_value_file(target if target.is_absolute() else base / target)

        try:
            states.append(load_manifest(data, file=shown, keys=keys, environ=environ, read_file=read_file))
        except ManifestError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise ManifestError(diagnostics, file=os.fspath(paths[0]) if len(paths) == 1 else None)
    return merge_states(states)


@dataclass(frozen=True)
class PlannedSite:
    desired: DesiredState
    remote: RemoteState
    plan: Plan


async def plan_site(
    client: SecretsReader,
    desired: DesiredState,
    *,
    prune: bool | None = None,
    on_read: Callable[[int, int], None] | None = None,
    value_cache: KnownValues | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> PlannedSite:
    """Read the site (one list + one value read per declared secret) and compute the plan.

    ``value_cache`` lets unchanged secrets skip their value read (see :mod:`reconciler.valuecache`)."""
    remote = await read_remote(client, desired, on_read=on_read, value_cache=value_cache, on_warning=on_warning)
    plan = make_plan(desired, remote, prune=prune)
    return PlannedSite(desired, remote, plan)


async def apply_site(
    client: SecretsWriter,
    planned: PlannedSite,
    *,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
    concurrency: int | None = None,
) -> ApplyResult:
    return await apply_plan(client, planned.plan, progress=progress, stop=stop, concurrency=concurrency)
