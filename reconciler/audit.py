"""The audit trail: one JSON line per applied (or failed, or skipped) change, appended to a log file.

Owns the record format (``schemas/audit.schema.json``, ``audit_version`` "1"), building records from a
plan's changes and an :class:`~reconciler.executor.ApplyResult`, the CI context (taken from the
``GITHUB_*`` variables of the environment mapping passed in; this module never reads ``os.environ``),
and appending lines safely: the file is opened ``O_APPEND`` (created mode 0600, never through a
symlink) and each line is one ``write`` so concurrent writers (several sites, several runners on a
shared disk) never interleave inside a line; a failed append is rolled back. A record holds names,
ids, actions, statuses, keyed fingerprints and the manifest digest; never a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from reconciler import __version__
from reconciler.executor import ApplyResult
from reconciler.fsutil import append_lines
from reconciler.render import RunInfo

__all__ = ["AUDIT_VERSION", "append_records", "build_records", "ci_context"]

AUDIT_VERSION: Final = "1"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ci_context(environ: Mapping[str, str]) -> dict[str, str | None] | None:
    """Commit, actor, run URL, repository, ref and workflow of a GitHub Actions run; None outside one."""

    def get(name: str) -> str | None:
        return environ.get(name) or None

    if not (get("GITHUB_ACTIONS") or get("GITHUB_SHA") or get("GITHUB_RUN_ID")):
        return None
    run_url = None
    server = get("GITHUB_SERVER_URL") or "https://github.com"
    repo, run_id = get("GITHUB_REPOSITORY"), get("GITHUB_RUN_ID")
    if repo and run_id:
        run_url = f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
        if get("GITHUB_RUN_ATTEMPT"):
            run_url += f"/attempts/{get('GITHUB_RUN_ATTEMPT')}"
    return {
        "sha": get("GITHUB_SHA"),
        "actor": get("GITHUB_ACTOR"),
        "run_url": run_url,
        "repository": repo,
        "ref": get("GITHUB_REF"),
        "workflow": get("GITHUB_WORKFLOW"),
    }


def build_records(
    info: RunInfo,
    result: ApplyResult,
    *,
    environ: Mapping[str, str],
    time: str | None = None,
    scrub: Callable[[str], str] = lambda text: text,
) -> list[dict[str, Any]]:
    """One record per item of ``result`` (every actionable change of the applied plan)."""
    when = time or _now()
    ci = ci_context(environ)
    site = {"name": info.site_name, "site_id": info.site_id, "api_url": info.api_url, "local": info.local}
    records: list[dict[str, Any]] = []
    for item in result.items:
        change = item.change
        fingerprint = None
        if change.fingerprint_after:
            fingerprint = {"before": None, "after": change.fingerprint_after}
        records.append(
            {
                "audit_version": AUDIT_VERSION,
                "time": when,
                "tool": {"name": "wix-secrets", "version": __version__},
                "site": dict(site),
                "secret": {
                    "name": change.name,
                    "id": item.new_id or change.id,
                    "previous_name": change.previous_name,
                },
                "action": change.action.value,
                "changed": list(change.changed),
                "status": item.status,
                "error": None if item.error is None else scrub(item.error),
                "fingerprint": fingerprint,
                "plan_digest": info.digest,
                "manifests": list(info.manifest_paths),
                "converged": result.converged,
                "ci": ci,
            }
        )
    return records


def append_records(path: Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Append each record as one JSON line (one ``write`` each; see :func:`reconciler.fsutil.append_lines`:
    never through a symlink, nothing half-written on a full disk). Returns the number written."""
    lines = [
        (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8") for record in records
    ]
    return append_lines(path, lines, what="audit log")
