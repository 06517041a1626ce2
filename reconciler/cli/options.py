"""Command-line options that adjust the shared plan/apply flow, each behind one call in the front end.

* ``--local``/``--api-url``/``--site-id`` (and ``WIX_LOCAL_SITE``/``WIX_API_URL``) with ``--all`` or
  ``--site`` (:func:`project_site_options`): applied to the chosen sites, or a usage error; never
  silently ignored (:func:`reconciler.project.override_sites`).
* ``WIX_SECRETS_BACKUP_AGE`` (:func:`env_backup_age`): backup recipients when ``--backup-age`` is not given.
* After a targeted apply (``--target``, filtered by the service with :func:`reconciler.target.target_plan`),
  the reminder that the rest was not applied (:func:`applied_target_note`).

Only this CLI layer reads the flags, the environment and the terminal; the functions it calls are pure
or do only their own file I/O.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from reconciler.cli.console import Console
from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.project import ProjectSite

__all__ = ["applied_target_note", "env_backup_age", "project_site_options"]


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
