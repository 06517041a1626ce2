"""Human output in the spirit of Terraform: ``+ ~ - →`` lines and a one-line summary.

Colour only when asked (the CLI decides: a TTY and no ``NO_COLOR``). A value is never shown; a value
change is shown as changed, with the keyed fingerprint of the new (declared) value when the manifest has
a data key. Nothing derived from the site's current value is shown (see :mod:`reconciler.fingerprint`).
"""

from __future__ import annotations

from reconciler.executor import ApplyResult
from reconciler.plan import Action, Change, Plan
from reconciler.render import RunInfo

__all__ = ["render_apply", "render_plan", "summary_line"]

_COLORS = {
    Action.CREATE: "\033[32m",
    Action.UPDATE: "\033[33m",
    Action.RENAME: "\033[36m",
    Action.DELETE: "\033[31m",
    Action.NOOP: "\033[2m",
    Action.UNMANAGED: "\033[2m",
}
_RESET = "\033[0m"
_BOLD = "\033[1m"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def summary_line(plan: Plan, *, drift: bool = False) -> str:
    s = plan.summary()
    text = (
        f"{s['create']} to create, {s['update']} to update, {s['rename']} to rename, "
        f"{s['delete']} to delete, {s['unchanged']} unchanged"
    )
    extras = []
    if s["unmanaged"]:
        extras.append(f"{s['unmanaged']} not managed")
    if s["ignored"]:
        extras.append(f"{s['ignored']} ignored")
    if extras:
        text += f" ({', '.join(extras)})"
    if drift:
        return ("Drift: " if plan.has_changes else "No drift: ") + text + "."
    return ("Plan: " if plan.has_changes else "No changes: ") + text + "."


def _detail(change: Change) -> str:
    parts: list[str] = []
    if change.action is Action.CREATE:
        parts.append("create")
    elif change.action is Action.DELETE:
        parts.append("delete" + (f" ({change.reason})" if change.reason else ""))
    elif change.action in (Action.UPDATE, Action.RENAME):
        fields = [f for f in change.changed if f != "name"]
        if change.action is Action.RENAME:
            parts.append(f"rename from {change.previous_name} (id {change.id} kept)")
        if fields:
            parts.append("update " + " and ".join(fields))
    if "value" in change.changed and change.action is not Action.CREATE:
        if change.fingerprint_after:
            parts.append(f"value changed → fp {change.fingerprint_after}")
        else:
            parts.append("value changed (hidden)")
    elif change.action is Action.CREATE and change.fingerprint_after:
        parts.append(f"value fp {change.fingerprint_after}")
    return "; ".join(parts)


def _description(change: Change) -> str:
    """``description: 'old' → 'new'`` as Terraform shows an attribute (repr: control characters escaped)."""
    if change.action is Action.CREATE or change.remote is None:
        return f"      description: {change.description!r}"
    return f"      description: {change.remote.description!r} → {change.description!r}"


def render_plan(plan: Plan, info: RunInfo, *, color: bool = False, verbose: bool = False) -> str:
    """The plan as text. Unmanaged secrets are always listed by name (names are not secret), as drift
    lists them; unchanged ones only with ``verbose``."""
    drift = info.command == "drift"
    lines: list[str] = []
    header = (
        f"{'Drift of' if drift else 'Plan for'} {info.site_label} from {', '.join(info.manifest_paths) or 'manifest'}"
    )
    lines.append(_paint(header, _BOLD, color))
    lines.append("")
    width = max((len(c.name) for c in plan.changes), default=0)
    shown = 0
    for change in plan.changes:
        if change.action is Action.NOOP and not verbose:
            continue
        shown += 1
        symbol = change.action.symbol
        label = change.name.ljust(width)
        if change.action.is_change:
            text = f"  {symbol} {label}  {_detail(change)}"
        else:
            text = f"  {symbol} {label}  {change.reason or change.action.value}"
        lines.append(_paint(text, _COLORS[change.action], color))
        if change.action in (Action.CREATE, Action.UPDATE, Action.RENAME) and "description" in change.changed:
            lines.append(_description(change))
        if change.action is Action.RENAME:
            lines.append(f"      warning: code that reads {change.previous_name!r} will break")
    if shown:
        lines.append("")
    for warning in plan.warnings:
        lines.append(_paint(f"Warning: {warning}", "\033[33m", color))
    for conflict in plan.conflicts:
        lines.append(_paint(f"Error: {conflict}", "\033[31m", color))
    if plan.warnings or plan.conflicts:
        lines.append("")
    lines.append(_paint(summary_line(plan, drift=drift), _BOLD, color))
    return "\n".join(lines)


def render_apply(result: ApplyResult, *, color: bool = False) -> str:
    """Per item what was done, then the outcome."""
    if not result.items:
        return "Nothing to apply."
    lines = []
    marks = {"applied": ("✓", "\033[32m"), "failed": ("✗", "\033[31m"), "skipped": ("·", "\033[33m")}
    for item in result.items:
        mark, code = marks[item.status]
        change = item.change
        what = change.action.value
        if change.action is Action.RENAME:
            what = f"rename from {change.previous_name}"
        text = f"  {mark} {change.name}: {what} {item.status}"
        if item.error:
            text += f" ({item.error})"
        lines.append(_paint(text, code, color))
    lines.append("")
    for problem in result.verification:
        lines.append(_paint(f"Verification: {problem}", "\033[31m", color))
    for note in result.warnings:
        lines.append(_paint(f"Warning: {note}", "\033[33m", color))
    applied, failed, skipped = result.count("applied"), result.count("failed"), result.count("skipped")
    outcome = {
        "success": "Apply complete",
        "partial": "Apply PARTIALLY complete",
        "error": "Apply FAILED",
        "nothing-to-do": "Nothing to apply",
    }[result.status]
    tail = f"{outcome}: {applied} applied, {failed} failed, {skipped} skipped."
    if result.converged and not failed and not skipped:
        tail += " The site matches the plan."
    elif result.status != "success":
        tail += " Run apply again to finish the job."
    lines.append(_paint(tail, _BOLD, color))
    return "\n".join(lines)
