"""Safety guards: refuse plans that delete too much. A Wix secret that is deleted cannot be restored.

Pure functions of (plan, desired, remote, limits). A guard that trips raises
:class:`~reconciler.errors.GuardError` (exit code 5) naming the guard, the numbers and the flag that
overrides it. ``plan`` shows the plan first and then the refusal, so a reviewer can see why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from reconciler.errors import GuardError
from reconciler.model import DesiredState, RemoteState
from reconciler.plan import Action, Plan, matches_any

__all__ = ["DEFAULT_MAX_DELETES", "Limits", "check_guards"]

DEFAULT_MAX_DELETES: Final = 5


@dataclass(frozen=True)
class Limits:
    max_deletes: int = DEFAULT_MAX_DELETES
    allow_mass_delete: bool = False


def check_guards(plan: Plan, desired: DesiredState, remote: RemoteState, limits: Limits) -> None:
    deletes = plan.of(Action.DELETE)
    if not deletes:
        return
    names = ", ".join(c.name for c in deletes[:10]) + (" ..." if len(deletes) > 10 else "")
    if len(deletes) > limits.max_deletes:
        raise GuardError(
            f"the plan deletes {len(deletes)} secrets, more than --max-deletes {limits.max_deletes}",
            guard="max-deletes",
            detail=f"deletions: {names}",
            hint=f"if this is intended, pass --max-deletes {len(deletes)}",
        )
    if limits.allow_mass_delete:
        return
    managed = [s for s in remote.secrets if not matches_any(s.name, desired.policy.ignore)]
    present = len(desired.present())
    if present == 0:
        raise GuardError(
            f"the manifest declares no secret and the plan deletes {len(deletes)}",
            guard="empty-manifest",
            detail=f"deletions: {names}. An empty manifest is more often a mistake (a failed decryption, "
            "a wrong file) than a wish to empty the site.",
            hint="pass --allow-mass-delete if this is intended",
        )
    if len(managed) >= 5 and present * 10 <= len(managed):
        raise GuardError(
            f"the manifest declares {present} secret(s) for a site with {len(managed)}; "
            f"the plan deletes {len(deletes)}",
            guard="nearly-empty-manifest",
            detail=f"deletions: {names}",
            hint="pass --allow-mass-delete if this is intended",
        )
    if len(deletes) > 1 and len(deletes) * 2 > len(managed):
        raise GuardError(
            f"the plan deletes {len(deletes)} of the site's {len(managed)} secrets, more than half",
            guard="mass-delete",
            detail=f"deletions: {names}",
            hint="pass --allow-mass-delete if this is intended",
        )
