"""``--target NAME``: limit a plan to some secrets, as Terraform's ``-target`` limits a plan to some resources.

A pure filter on a computed :class:`~reconciler.plan.Plan` (no I/O): the plan is computed for the whole
manifest as usual (so prune, renames and protections mean what they always mean), then only the changes
whose name, previous name or remote name is a target are kept. Conflicts are all kept (a conflict
anywhere still stops an apply), and a warning says, loudly, that the plan is partial: like Terraform's
"Resource targeting is in effect", the rest of the manifest is neither shown nor applied.

A target that names no secret of the manifest or of the site is a usage error (a typo would otherwise
show "No changes" for a secret that has changes).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.errors import UsageError
from reconciler.plan import Change, Plan

__all__ = ["target_plan", "target_warning"]


def target_warning(targets: Sequence[str]) -> str:
    """The warning every output of a targeted plan carries."""
    return (
        f"targeted plan: only {', '.join(sorted(set(targets)))} (--target). It may be incomplete: other "
        "changes the manifest asks for are neither shown nor applied. Run without --target to see them all; "
        "--target is for exceptional cases, not routine use."
    )


def _names(change: Change) -> set[str]:
    names = {change.name}
    if change.previous_name:
        names.add(change.previous_name)
    if change.remote is not None:
        names.add(change.remote.name)
    return names


def target_plan(plan: Plan, targets: Sequence[str], *, strict: bool = True) -> Plan:
    """``plan`` limited to the changes of the secrets named by ``targets`` (exact names).

    With ``strict`` (one site), raises :class:`UsageError` naming every target that matches no secret of
    the plan (declared, remote, unchanged, unmanaged or ignored); several sites pass ``strict=False``, as
    a target may belong to some of them only. With no target, returns ``plan`` unchanged.
    """
    if not targets:
        return plan
    wanted = set(targets)
    known: set[str] = set(plan.ignored)
    for change in plan.changes:
        known |= _names(change)
    unknown = sorted(wanted - known)
    if unknown and strict:
        raise UsageError(
            f"--target {', '.join(unknown)}: no such secret in the manifest or on the site",
            hint="targets are exact, case-sensitive secret names",
        )
    kept = tuple(c for c in plan.changes if _names(c) & wanted)
    warnings = tuple(w for w in plan.warnings if any(name in w for name in wanted))
    if unknown:  # several sites: say which targets this site does not have
        warnings = (f"--target {', '.join(unknown)}: no such secret in this site's manifest or on the site", *warnings)
    return Plan(
        changes=kept,
        ignored=tuple(n for n in plan.ignored if n in wanted),
        warnings=(target_warning(targets), *warnings),
        conflicts=plan.conflicts,
    )
