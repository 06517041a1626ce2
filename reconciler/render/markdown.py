"""Markdown for pull-request comments and GitHub step summaries: names, actions and fingerprints only.

A fingerprint is only ever of a declared (new) value; nothing derived from a site value is shown.
Every piece of text this module did not write (names, site label, reasons, warnings, conflicts, server
errors, paths, fingerprints read from a plan file) goes through :mod:`reconciler.render.mdescape`."""

from __future__ import annotations

from reconciler.executor import ApplyResult
from reconciler.plan import Action, Change, Plan
from reconciler.render import RunInfo
from reconciler.render.human import summary_line
from reconciler.render.mdescape import md_code, md_text

__all__ = ["render_markdown"]

_ICONS = {
    Action.CREATE: "➕ create",
    Action.UPDATE: "✏️ update",
    Action.RENAME: "🔀 rename",
    Action.DELETE: "🗑️ delete",
    Action.NOOP: "unchanged",
    Action.UNMANAGED: "not managed",
}


def _fields(change: Change) -> str:
    parts = []
    for field in change.changed:
        if field == "name":
            parts.append(f"name (was {md_code(change.previous_name or '')})")
        elif field == "value" and change.fingerprint_after:
            parts.append(f"value → {md_code(change.fingerprint_after)}")
        else:
            parts.append(md_text(field))
    if change.action is Action.DELETE and change.reason:
        parts.append(md_text(change.reason))
    return ", ".join(parts)


def render_markdown(plan: Plan, info: RunInfo, result: ApplyResult | None = None) -> str:
    drift = info.command == "drift"
    title = "Drift" if drift else ("Apply" if result is not None else "Plan")
    lines = [f"### wix-secrets {title.lower()}: {md_text(info.site_label)}", ""]
    lines.append(f"**{md_text(summary_line(plan, drift=drift))}**")
    lines.append("")
    rows = [c for c in plan.changes if c.action.is_change]
    statuses = {}
    if result is not None:
        statuses = {id(item.change): item for item in result.items}
    if rows:
        header = "| | Secret | Action | Changes |" + (" Result |" if result is not None else "")
        lines.append(header)
        lines.append("|---|---|---|---|" + ("---|" if result is not None else ""))
        for change in rows:
            cells = [change.action.symbol, md_code(change.name), _ICONS[change.action], _fields(change)]
            if result is not None:
                item = statuses.get(id(change))
                outcome: str = md_text(item.status) if item else "not run"
                if item and item.error:
                    outcome += f" – {md_text(item.error)}"
                cells.append(outcome)
            row = "| " + " | ".join(cells) + " |"
            lines.append(row)
        lines.append("")
    for warning in plan.warnings:
        lines.append(f"> [!WARNING]\n> {md_text(warning)}\n")
    for conflict in plan.conflicts:
        lines.append(f"> [!CAUTION]\n> {md_text(conflict)}\n")
    if result is not None:
        lines.append(
            f"Result: **{result.status}** — {result.count('applied')} applied, {result.count('failed')} failed, "
            f"{result.count('skipped')} skipped" + (", site verified." if result.converged else ".")
        )
        lines.append("")
    manifests = ", ".join(md_code(p) for p in info.manifest_paths)
    lines.append(f"<sub>Manifest {manifests}. Values are never shown; fingerprints are of new values.</sub>")
    return "\n".join(lines) + "\n"
