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

__all__ = ["FORMAT_VERSION", "diagnostic_dict", "dumps", "error_document", "plan_document"]

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


def _header(info: RunInfo) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "tool": {"name": "wix-secrets", "version": __version__},
        "command": info.command,
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


def error_document(
    info: RunInfo, error: WixSecretsError, diagnostics: Sequence[Diagnostic] = ()
) -> dict[str, Any]:
    doc = _header(info)
    doc["error"] = {"message": error.summary, "type": type(error).__name__, "exit_code": int(error.exit_code)}
    doc["diagnostics"] = [diagnostic_dict(d) for d in diagnostics]
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)
