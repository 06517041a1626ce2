"""Safety guards: refuse plans that destroy too much. A Wix secret that is deleted cannot be restored.

Pure functions of (plan, desired, remote, limits). A *destructive* change is a delete, or a rename of an
existing name (code reading the old name breaks just as if it had been deleted). Every guard is checked
and every one that refuses is reported at once, in one :class:`~reconciler.errors.GuardError` (exit
code 5) whose hint is the one set of flags that passes them all, so a user never meets a second
refusal after following the first hint.

The protection guard (a ``policy.protect`` secret deleted, renamed away, or overwritten under another
name) has no overriding flag: ``protect`` always wins. :func:`reconciler.plan.make_plan` never plans
such a change; the guard is the second line for plans that come from elsewhere (a saved plan file).
``plan`` shows the plan first and then the refusal, so a reviewer can see why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from reconciler.errors import GuardError
from reconciler.model import DesiredState, RemoteState
from reconciler.plan import Action, Change, Plan, matches_any

__all__ = ["DEFAULT_MAX_DELETES", "Limits", "Refusal", "check_guards", "refusals"]

DEFAULT_MAX_DELETES: Final = 5


@dataclass(frozen=True)
class Limits:
    max_deletes: int = DEFAULT_MAX_DELETES
    allow_mass_delete: bool = False


@dataclass(frozen=True)
class Refusal:
    """One guard that refuses: its name, why, and the flag that overrides it (None: nothing does)."""

    guard: str
    message: str
    flag: str | None


def _destructive(plan: Plan) -> tuple[Change, ...]:
    """Deletes, and renames of an existing name (the old name disappears)."""
    return tuple(
        c for c in plan.actionable if c.action is Action.DELETE or (c.action is Action.RENAME and c.remote is not None)
    )


def _label(change: Change) -> str:
    if change.action is Action.RENAME:
        return f"{change.previous_name} (renamed to {change.name})"
    return change.name


def _protected(plan: Plan, desired: DesiredState) -> list[Refusal]:
    found = []
    for change in plan.actionable:
        remote = change.remote
        if remote is None:
            continue
        pattern = matches_any(remote.name, desired.policy.protect)
        if pattern is None:
            continue
        if change.action is Action.DELETE:
            what = "deletes it"
        elif change.action is Action.RENAME:
            what = f"renames it to {change.name}"
        elif change.name != remote.name:
            what = f"overwrites it as {change.name}"
        else:
            continue  # declared with its own name: updating it is what the manifest asks for
        found.append(
            Refusal(
                "protect",
                f"{remote.name} is protected by {pattern!r} and the plan {what}; protect always wins",
                None,
            )
        )
    return found


def refusals(plan: Plan, desired: DesiredState, remote: RemoteState, limits: Limits) -> list[Refusal]:
    """Every guard that refuses the plan under ``limits`` (empty: the plan may be applied)."""
    found = _protected(plan, desired)
    destructive = _destructive(plan)
    if not destructive:
        return found
    count = len(destructive)
    labels = [_label(c) for c in destructive]
    names = ", ".join(labels[:10]) + (" ..." if count > 10 else "")
    renames = sum(1 for c in destructive if c.action is Action.RENAME)
    what = f"deletes or renames away {count} secrets" if renames else f"deletes {count} secrets"
    if count > limits.max_deletes:
        found.append(
            Refusal(
                "max-deletes",
                f"the plan {what}, more than --max-deletes {limits.max_deletes} ({names})",
                f"--max-deletes {count}",
            )
        )
    if limits.allow_mass_delete:
        return found
    managed = [s for s in remote.secrets if not matches_any(s.name, desired.policy.ignore)]
    present = len(desired.present())
    mass = "--allow-mass-delete"
    if present == 0:
        found.append(
            Refusal(
                "empty-manifest",
                f"the manifest declares no secret and the plan {what.replace(' secrets', '')} ({names}); "
                "an empty manifest is more often a mistake (a failed decryption, a wrong file) than a wish "
                "to empty the site",
                mass,
            )
        )
    elif len(managed) >= 5 and present * 10 <= len(managed):
        found.append(
            Refusal(
                "nearly-empty-manifest",
                f"the manifest declares {present} secret(s) for a site with {len(managed)}; the plan {what}",
                mass,
            )
        )
    elif count > 1 and count * 2 > len(managed):
        found.append(
            Refusal(
                "mass-delete",
                f"the plan {what} of the site's {len(managed)}, more than half",
                mass,
            )
        )
    return found


def check_guards(plan: Plan, desired: DesiredState, remote: RemoteState, limits: Limits) -> None:
    """Raise one :class:`GuardError` naming every guard that refuses, with the flags that pass them all."""
    found = refusals(plan, desired, remote, limits)
    if not found:
        return
    flags = list(dict.fromkeys(r.flag for r in found if r.flag))
    locked = [r for r in found if r.flag is None]
    if locked:
        hint = (
            "remove the change to the protected secret from the manifest (or the secret from "
            "policy.protect); no flag overrides protect"
        )
        if flags:
            hint += f"; the other guards pass with {' '.join(flags)}"
    else:
        hint = f"if this is intended, pass {' '.join(flags)}"
    if len(found) == 1:
        summary, detail = found[0].message, None
    else:
        summary = f"{len(found)} safety guards refused the plan"
        detail = "\n".join(f"  - {r.guard}: {r.message}" for r in found)
    raise GuardError(summary, guard=",".join(r.guard for r in found), detail=detail, hint=hint)
