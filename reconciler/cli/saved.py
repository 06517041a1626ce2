"""``plan --out PLANFILE`` and ``apply PLANFILE``: write a saved plan, and apply exactly it or refuse.

``apply PLANFILE`` asks no second question: the plan was reviewed when it was made. It reloads the
manifests the plan names and checks their keyed digest, lists the site once and checks every secret
the plan touches (id, name, description, ``updatedDate``) and every name it creates; any difference
is a stale plan (exit 4) that names what changed, and nothing is sent. Then it backs up what it will
destroy, applies the saved changes (values from the manifest) and verifies.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from reconciler.cli.console import Console
from reconciler.cli.runner import (
    SiteRun,
    apply_run,
    backup_before_apply,
    emit,
    emit_error,
    exit_code_of,
    outputs,
    register_values,
    run_info,
)
from reconciler.cli.site import SiteSettings, open_client, site_settings
from reconciler.errors import StalePlanError, UsageError, WixSecretsError
from reconciler.fsutil import atomic_write
from reconciler.planfile import SavedPlan, binding_key, desired_digest, dumps, is_plan_file, loads, stale_reasons

__all__ = ["apply_saved", "read_plan_file", "save_plan"]


def save_plan(run: SiteRun, args: argparse.Namespace, console: Console) -> Path:
    assert run.planned is not None
    key = binding_key(run.desired, run.environ)
    settings = run.settings
    text = dumps(
        run.planned.plan,
        manifests=list(run.info.manifest_paths),
        digest=desired_digest(run.desired, key),
        site={
            "api_url": None if settings.local else settings.api_url,
            "local": settings.local,
            "site_id": settings.site_id,
        },
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        limits={
            "max_deletes": getattr(args, "max_deletes", None),
            "allow_mass_delete": bool(getattr(args, "allow_mass_delete", False)),
            "prune": getattr(args, "prune", None),
            "targets": list(getattr(args, "target", None) or []),  # shown by `show`; the changes are already limited
        },
    )
    target = console.resolve(args.out)
    atomic_write(target, console.redactor.scrub(text).encode("utf-8"))
    console.err(f"Saved the plan to {args.out}. To apply exactly this plan: wix-secrets apply {args.out}")
    return target


def read_plan_file(console: Console, path: str) -> SavedPlan | None:
    """The saved plan in ``path``, or None if it is not a plan file (then it is a manifest)."""
    try:
        data = console.resolve(path).read_bytes()
    except OSError:
        return None
    if not is_plan_file(data):
        return None
    return loads(data, source=path)


def _settings(args: argparse.Namespace, console: Console, saved: SavedPlan) -> SiteSettings:
    given = site_settings(args, console)
    local, api_url = saved.site.get("local"), saved.site.get("api_url")
    if getattr(args, "local", None) and given.local != local:
        raise UsageError(f"the plan was made for {local or api_url}, not for the --local site given")
    if getattr(args, "api_url", None) and given.api_url != api_url:
        raise UsageError(f"the plan was made for {local or api_url}, not for {given.api_url}")
    return SiteSettings(
        local=local,
        api_url=api_url or given.api_url,
        site_id=saved.site.get("site_id") or given.site_id,
        concurrency=given.concurrency,
        rate_limit=None if local and args.rate_limit is None else given.rate_limit,
        retries=given.retries,
        timeout=given.timeout,
    )


def apply_saved(args: argparse.Namespace, console: Console, path: str, saved: SavedPlan) -> int:
    from reconciler.operations import load_desired

    settings = _settings(args, console, saved)
    info = run_info("apply", list(saved.manifests), None, settings)
    try:
        desired = load_desired(list(saved.manifests), environ=console.environ, cwd=console.cwd)
        register_values(console, desired)
        info = run_info("apply", list(saved.manifests), desired, settings)
        if desired_digest(desired, binding_key(desired, console.environ)) != saved.digest:
            raise StalePlanError(
                f"the saved plan {path} is stale: the manifest changed since it was made",
                changed=["manifest"],
                detail=f"manifests: {', '.join(saved.manifests)}",
            )
        run = SiteRun("apply", settings, desired, info, dict(console.environ))
        return asyncio.run(_apply(run, args, console, saved, path))
    except WixSecretsError as exc:
        emit_error(console, args, info, exc)
        raise


async def _apply(run: SiteRun, args: argparse.Namespace, console: Console, saved: SavedPlan, path: str) -> int:
    from reconciler.guards import DEFAULT_MAX_DELETES, Limits, check_guards
    from reconciler.model import RemoteState
    from reconciler.operations import PlannedSite
    from reconciler.planfile import to_plan

    async with open_client(run.settings, console) as client:
        listed = await client.list_secrets()
        reasons = stale_reasons(saved, listed)
        if reasons:
            raise StalePlanError(
                f"the saved plan {path} is stale: {len(reasons)} secret(s) changed on the site since it was made",
                changed=reasons,
                detail="\n".join(f"  {r}" for r in reasons),
            )
        plan = to_plan(saved, run.desired)
        remote = RemoteState(secrets=tuple(listed))
        run.planned = PlannedSite(run.desired, remote, plan)
        max_deletes = saved.limits.get("max_deletes")
        check_guards(
            plan,
            run.desired,
            remote,
            Limits(
                max_deletes=DEFAULT_MAX_DELETES if max_deletes is None else int(max_deletes),
                allow_mass_delete=bool(saved.limits.get("allow_mass_delete")),
            ),
        )
        register_values(console, remote=remote)
        if not args.json and not args.markdown:
            console.out(outputs(run, console, verbose=False).human)
            console.out(f"\nApplying the saved plan {path} (made {saved.created}).")
        await backup_before_apply(run, args, console, client)
        await apply_run(run, console, client)
        from reconciler.cli.multisite import write_audit

        write_audit(run, args, console)
        applied = outputs(run, console, verbose=False)
        if not args.json and not args.markdown:
            console.out("")
        emit(console, args, applied)
        return exit_code_of(run, args)
