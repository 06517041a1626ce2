"""Saved plans: write one after ``plan``, and apply exactly it or refuse.

A plan file is untrusted input (a CI artifact). Applying one:

1. parse it; load the manifests it names with the apply run's own environment and compute the MAC key
   (from the SOPS data key, or for a plaintext manifest from the site credential of the apply run);
2. refuse a file whose MAC does not verify (exit 4, "the plan file was modified");
3. refuse when the apply run's own target (its ``--local``/``--api-url``/``--site-id`` and environment)
   is not the plan's (exit 4) — both before any request;
4. check the manifest digest, then list the site once and check every secret the plan touches (stale:
   exit 4, nothing sent); check the guards with the plan's (MAC-bound) limits;
5. back up, apply the saved changes (values from the manifest), verify, audit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import StalePlanError, UsageError
from reconciler.fsutil import write_output
from reconciler.service.connection import Connection
from reconciler.service.session import SiteSession

if TYPE_CHECKING:
    from reconciler.model import DesiredState
    from reconciler.planfile import SavedPlan

__all__ = ["apply_saved", "check_target", "read_plan_file", "save_plan"]


def save_plan(session: SiteSession, path: Path) -> Path:
    """Write the session's plan to ``path`` (mode 0600, atomically), bound by a keyed MAC."""
    from reconciler.planfile import binding_key, desired_digest, dumps, mac_key

    assert session.planned is not None and session.desired is not None
    c = session.connection
    local = session.local_plan_secret(create=True)
    text = dumps(
        session.planned.plan,
        manifests=list(session.outcome.info.manifest_paths),
        digest=desired_digest(
            session.desired, binding_key(session.desired, session.environ, identity=c.auth, local_secret=local)
        ),
        site={"api_url": None if c.local else c.api_url, "local": c.local, "site_id": c.site_id},
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        limits={
            "max_deletes": session.options.max_deletes,
            "allow_mass_delete": session.options.allow_mass_delete,
            "prune": session.options.prune,
            "targets": list(session.options.targets),  # shown by `show`; the changes are already limited
        },
        key=mac_key(session.desired, session.environ, identity=c.auth, local_secret=local),
    )
    target = path if path.is_absolute() else session.cwd / path
    # Not passed through the redactor: the file is built from names, ids, descriptions and keyed
    # fingerprints only, and scrubbing a value that happens to equal a field name would break the MAC.
    write_output(target, text.encode("utf-8"), what="plan file")
    session.outcome.saved_plan = target
    return target


def read_plan_file(path: Path) -> SavedPlan | None:
    """The saved plan in ``path``, or None if it is not a plan file (then it is a manifest)."""
    from reconciler.planfile import is_plan_file, loads

    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not is_plan_file(data):
        return None
    return loads(data, source=str(path))


def check_target(saved: SavedPlan, connection: Connection, *, source: str) -> None:
    """Refuse (exit 4) unless the apply run's own target is the plan's."""
    site: Mapping[str, object] = saved.site
    planned_local, planned_url, planned_id = site.get("local"), site.get("api_url"), site.get("site_id")
    planned = f"local site {planned_local}" if planned_local else f"{planned_url} (site {planned_id or '?'})"
    same = (
        (connection.local == planned_local)
        and (connection.local is not None or connection.api_url == planned_url)
        and (connection.site_id or None) == (planned_id or None)
    )
    if not same:
        raise StalePlanError(
            f"the plan file {source} was made for {planned}, but this apply targets {connection.target}; "
            "nothing was sent",
            changed=["site"],
            hint="apply it with the same --local/--api-url/--site-id (or WIX_* variables) as the plan, "
            "or make a new plan for this site",
        )


async def apply_saved(
    session: SiteSession,
    saved: SavedPlan,
    *,
    source: str,
    preloaded: tuple[Sequence[str], DesiredState] | None = None,
) -> None:
    """Check ``saved`` and make it the session's plan (built from the apply run's own options and
    target); then ``session.apply()`` applies it. ``preloaded`` is used when the caller has loaded
    exactly the manifests the plan names already: ``(their paths, the desired state)`` (one decrypt)."""
    from reconciler.guards import DEFAULT_MAX_DELETES, Limits, check_guards
    from reconciler.model import RemoteState
    from reconciler.operations import PlannedSite
    from reconciler.planfile import binding_key, desired_digest, mac_key, stale_reasons, to_plan, verify_mac

    if preloaded is not None and _resolved(session, preloaded[0]) == _resolved(session, saved.manifests):
        desired = preloaded[1]
        session.use(desired, list(saved.manifests))
    else:
        desired = session.load(list(saved.manifests))
    local = session.local_plan_secret()
    try:
        key = mac_key(desired, session.environ, identity=session.connection.auth, local_secret=local)
    except UsageError as exc:
        hint = exc.hint
        if session.connection.local and desired.fingerprint_key is None:
            hint = (
                "a plan of a plaintext manifest for a local site is keyed by the local key of the user who "
                "made it (~/.config/wix-secrets/backup-key.txt, or under $XDG_CONFIG_HOME): apply it as that "
                "user, on that machine, or make the plan again here"
            )
        raise StalePlanError(
            f"cannot verify the plan file {source}: {exc.summary}", changed=["plan file"], hint=hint
        ) from None
    verify_mac(saved, key, source=source)
    check_target(saved, session.connection, source=source)
    binding = binding_key(desired, session.environ, identity=session.connection.auth, local_secret=local)
    if desired_digest(desired, binding) != saved.digest:
        raise StalePlanError(
            f"the saved plan {source} is stale: the manifest changed since it was made",
            changed=["manifest"],
            detail=f"manifests: {', '.join(saved.manifests)}",
        )
    client = await session.client()
    listed = await client.list_secrets()
    reasons = stale_reasons(saved, listed)
    if reasons:
        raise StalePlanError(
            f"the saved plan {source} is stale: {len(reasons)} secret(s) changed on the site since it was made",
            changed=reasons,
            detail="\n".join(f"  {r}" for r in reasons),
        )
    plan = to_plan(saved, desired, listed)
    remote = RemoteState(secrets=tuple(listed))
    session.planned = PlannedSite(desired, remote, plan)
    session.outcome.plan = plan
    session.outcome.remote = remote
    max_deletes = saved.limits.get("max_deletes")
    check_guards(
        plan,
        desired,
        remote,
        Limits(
            max_deletes=DEFAULT_MAX_DELETES if max_deletes is None else int(max_deletes),
            allow_mass_delete=bool(saved.limits.get("allow_mass_delete")),
        ),
    )


def _resolved(session: SiteSession, paths: Sequence[str]) -> list[str]:
    return [os.path.realpath(session.cwd / Path(p).expanduser()) for p in paths]
