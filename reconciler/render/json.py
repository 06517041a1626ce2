"""The versioned machine document for plan, apply and drift (``schemas/plan.schema.json``).

``format_version`` changes only when a field changes meaning or disappears; new fields may be added
within a version. The document holds names, ids, descriptions, actions and keyed fingerprints; never a
value and never an unkeyed hash of one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from reconciler import __version__
from reconciler.errors import Diagnostic, WixSecretsError
from reconciler.executor import ApplyResult
from reconciler.model import Unset
from reconciler.plan import Change, Plan
from reconciler.render import RunInfo

__all__ = [
    "FORMAT_VERSION",
    "diagnostic_dict",
    "dumps",
    "error_dict",
    "error_document",
    "plan_document",
    "project_document",
    "site_document",
]

FORMAT_VERSION: Final = "1"


def diagnostic_dict(d: Diagnostic) -> dict[str, Any]:
    return {
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "path": d.path,
        "message": d.message,
        "hint": d.hint,
        "severity": d.severity,
    }


def _change(change: Change) -> dict[str, Any]:
    fingerprint = None
    if change.fingerprint_after:  # "before" stays null: nothing derived from a site value is shown
        fingerprint = {"before": None, "after": change.fingerprint_after}
    return {
        "action": change.action.value,
        "name": change.name,
        "id": change.id,
        "previous_name": change.previous_name,
        "changed": list(change.changed),
        "description": None if isinstance(change.description, Unset) else change.description,
        "fingerprint": fingerprint,
        "protected": change.protected,
        "reason": change.reason,
    }


def _versioned(command: str) -> dict[str, Any]:
    """The fields every machine document starts with (single site, project)."""
    return {
        "format_version": FORMAT_VERSION,
        "tool": {"name": "wix-secrets", "version": __version__},
        "command": command,
    }


def _header(info: RunInfo) -> dict[str, Any]:
    return {
        **_versioned(info.command),
        "manifest": {"paths": list(info.manifest_paths), "digest": info.digest, "encrypted": info.encrypted},
        "site": {
            "name": info.site_name,
            "site_id": info.site_id,
            "api_url": info.api_url,
            "local": info.local,
        },
    }


def plan_document(plan: Plan, info: RunInfo, result: ApplyResult | None = None) -> dict[str, Any]:
    doc = _header(info)
    doc.update(
        {
            "summary": plan.summary(),
            "has_changes": plan.has_changes,
            "changes": [_change(c) for c in plan.changes],
            "ignored": list(plan.ignored),
            "warnings": list(plan.warnings),
            "conflicts": list(plan.conflicts),
            "targets": list(info.targets),
            "result": None if result is None else _result(result),
            "diagnostics": [diagnostic_dict(d) for d in info.diagnostics],
        }
    )
    return doc


def _result(result: ApplyResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "converged": result.converged,
        "applied": result.count("applied"),
        "failed": result.count("failed"),
        "skipped": result.count("skipped"),
        "verification": list(result.verification),
        "items": [
            {
                "name": item.change.name,
                "action": item.change.action.value,
                "id": item.new_id or item.change.id,
                "status": item.status,
                "error": item.error,
            }
            for item in result.items
        ],
    }


def error_document(info: RunInfo, error: WixSecretsError, diagnostics: Sequence[Diagnostic] = ()) -> dict[str, Any]:
    doc = _header(info)
    doc["error"] = error_dict(error)
    doc["diagnostics"] = [diagnostic_dict(d) for d in diagnostics]
    return doc


def error_dict(error: WixSecretsError) -> dict[str, Any]:
    return {"message": error.summary, "type": type(error).__name__, "exit_code": int(error.exit_code)}


def site_document(
    info: RunInfo,
    *,
    plan: Plan | None,
    result: ApplyResult | None,
    error: WixSecretsError | None,
    diagnostics: Sequence[Diagnostic],
    exit_code: int,
    interrupted: str | None = None,
) -> dict[str, Any]:
    """THE document of one site's run: the plan (when one was made) and the error together, if any."""
    if plan is None:
        doc = error_document(info, error or WixSecretsError("the site was not planned"), diagnostics)
    else:
        doc = plan_document(plan, info, result)
        if error is not None:
            doc["error"] = error_dict(error)
        if diagnostics:
            doc["diagnostics"] = [diagnostic_dict(d) for d in diagnostics]
    if interrupted is not None:
        doc["interrupted"] = interrupted
    doc["exit_code"] = exit_code
    return doc


def project_document(
    command: str, sites: Sequence[dict[str, Any]], summary: dict[str, int], exit_code: int
) -> dict[str, Any]:
    """The document of a multi-site run (``schemas/project-result.schema.json``): same version machinery."""
    return {**_versioned(command), "sites": list(sites), "summary": summary, "exit_code": exit_code}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)
