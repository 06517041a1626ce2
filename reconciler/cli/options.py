"""Command-line options that adjust the shared plan/apply flow, each behind one call in the orchestration.

* ``--target NAME`` (:func:`limit_to_targets`): the computed plan limited to some secrets by the pure
  filter :func:`reconciler.target.target_plan`; the run's outputs then carry the targets and a warning.
* ``--local``/``--api-url``/``--site-id`` (and ``WIX_LOCAL_SITE``/``WIX_API_URL``) with ``--all`` or
  ``--site`` (:func:`project_site_options`): applied to the chosen sites, or a usage error; never
  silently ignored (:func:`reconciler.project.override_sites`).
* The backup's recipients when neither ``--backup-age`` nor the manifest gives one
  (:func:`env_backup_age`, :func:`local_backup_recipients`), and the name a ``--local`` site's backup
  takes (:func:`backup_site_label`).

Only this CLI layer reads the flags, the environment and the terminal; the functions it calls are pure
or do only their own file I/O.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli.console import Console
from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.project import ProjectSite

__all__ = [
    "applied_target_note",
    "backup_site_label",
    "env_backup_age",
    "limit_to_targets",
    "local_backup_recipients",
    "project_site_options",
]


def limit_to_targets(run: Any, args: argparse.Namespace) -> None:
    """--target: keep only the targeted changes of ``run.planned``; ``run.info`` records the targets.

    One site (``run.name`` is None) refuses a target that names no secret; a project site does not, as a
    target may belong to some of the chosen sites only."""
    targets = getattr(args, "target", None)
    if not targets or run.planned is None:
        return
    from reconciler.target import target_plan

    plan = target_plan(run.planned.plan, targets, strict=run.name is None)
    run.planned = dataclasses.replace(run.planned, plan=plan)
    run.info = dataclasses.replace(run.info, targets=tuple(targets))


def applied_target_note(info: Any) -> str:
    """After a targeted apply, the reminder that the rest of the manifest was not applied (or '')."""
    targets = getattr(info, "targets", ())
    if not targets:
        return ""
    return (
        f"\nWarning: targeted apply (--target {', '.join(targets)}): other changes the manifest asks for were "
        "not applied. Run `plan` without --target to see them."
    )


def project_site_options(sites: list[ProjectSite], args: argparse.Namespace, console: Console) -> list[ProjectSite]:
    """The chosen project sites with the command line's site options applied (or a UsageError)."""
    from reconciler.project import override_sites

    env = console.environ
    if getattr(args, "local", None) and getattr(args, "api_url", None):
        raise UsageError("--local and --api-url both given; choose one")
    local = (args.local, "--local") if getattr(args, "local", None) else None
    if local is None and env.get("WIX_LOCAL_SITE"):
        local = (env["WIX_LOCAL_SITE"], "WIX_LOCAL_SITE")
    api_url = (args.api_url, "--api-url") if getattr(args, "api_url", None) else None
    if api_url is None and env.get("WIX_API_URL") and local is None:
        api_url = (env["WIX_API_URL"], "WIX_API_URL")
    site_id = (args.site_id, "--site-id") if getattr(args, "site_id", None) else None
    return override_sites(
        sites,
        local=(str(console.resolve(local[0])), local[1]) if local else None,
        api_url=(api_url[0].rstrip("/"), api_url[1]) if api_url else None,
        site_id=site_id,
    )


def env_backup_age(console: Console) -> list[str]:
    """``WIX_SECRETS_BACKUP_AGE``: backup recipients, as ``--backup-age`` gives them (the flag wins)."""
    from reconciler.backupkey import recipients_from_env

    return recipients_from_env(console.environ)


def local_backup_recipients(console: Console) -> list[str]:
    """No recipient for the backup (a plaintext manifest): on a terminal, the local backup identity
    (created once, :mod:`reconciler.backupkey`), saying where it is; in CI none (the backup then refuses)."""
    if not console.interactive:
        return []
    from reconciler import backupkey
    from reconciler.operations import home_of

    identity = backupkey.ensure(console.environ, home_of(console.environ))
    if identity.created:
        console.err(
            f"Created a local backup identity in {identity.path} (mode 0600; public key {identity.recipient}). "
            "Keep it: it decrypts the backups of plaintext manifests, and `wix-secrets apply BACKUP` finds it there."
        )
    console.err(f"The backup is encrypted to the local backup identity {identity.path}.")
    return [identity.recipient]


def backup_site_label(settings: Any) -> str | None:
    """A ``--local`` site's backups are named after its file (``demo-site`` for ``demo-site.json``)."""
    local = getattr(settings, "local", None)
    return (Path(local).stem or None) if local else None
