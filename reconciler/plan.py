"""The plan: a pure function of (desired state, remote state) to an immutable list of changes.

No I/O happens here: no httpx, no yaml, no os. Values are compared for real (the remote values were
read with GetSecretValue before planning), never displayed; the plan carries the desired values only
so that apply can send them. Renderers show at most the keyed fingerprint of a *desired* value
(:attr:`DesiredSecret.fingerprint`); nothing derived from a site's current value is ever part of a change
beyond "it differs" (see :mod:`reconciler.fingerprint`).

Vocabulary (as in Terraform's ``plans.Action``):

=========== ======= ======================================================================
action      symbol  meaning
=========== ======= ======================================================================
create      ``+``   the name is declared and absent remotely
update      ``~``   value and/or description differ
rename      ``→``   a ``renamed_from`` name exists remotely: PATCH its name by id (id kept);
                    may also change value and description in the same request
delete      ``-``   declared ``state: absent``, or undeclared with ``policy.prune``
no-op       ``=``   in sync
unmanaged   ``?``   exists remotely, not declared, kept (no prune, or protected)
=========== ======= ======================================================================

Order is deterministic: renames first (chains ordered so that no name collides), then creates and
updates by name, then deletes by name, then no-ops and unmanaged. ``conflicts`` lists problems that
make the plan unsafe to apply (a rename cycle, a case-only name clash with a remote secret...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.globs import matches_any  # re-exported: `from reconciler.plan import matches_any` still works
from reconciler.model import UNSET, DesiredSecret, DesiredState, RemoteSecret, RemoteState, Sensitive, Unset
from reconciler.siterules import cap_warning, name_warnings

__all__ = [
    "Action",
    "Change",
    "Plan",
    "make_plan",
    "matches_any",
]


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RENAME = "rename"
    DELETE = "delete"
    NOOP = "no-op"
    UNMANAGED = "unmanaged"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def is_change(self) -> bool:
        return self in (Action.CREATE, Action.UPDATE, Action.RENAME, Action.DELETE)


_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.RENAME: "→",
    Action.DELETE: "-",
    Action.NOOP: "=",
    Action.UNMANAGED: "?",
}


@dataclass(frozen=True)
class Change:
    """One planned action on one secret.

    ``name`` is the name after the change (for a delete, the remote name). ``remote`` is the secret as
    listed when the plan was made (None for a create): its id, name, description and ``updated_date``
    bind a saved plan to the remote state. ``value`` and ``description`` are what apply will send
    (only the fields in ``changed``); ``value`` is never rendered. ``fingerprint_after`` is the keyed
    fingerprint of the value apply will send; there is deliberately no fingerprint of the site's value.
    """

    action: Action
    name: str
    remote: RemoteSecret | None = None
    previous_name: str | None = None
    changed: tuple[str, ...] = ()
    value: Sensitive | None = field(default=None, repr=False)
    description: str | Unset = UNSET
    protected: bool = False
    reason: str | None = None
    fingerprint_after: str | None = None

    @property
    def id(self) -> str | None:
        return self.remote.id if self.remote else None


@dataclass(frozen=True)
class Plan:
    """An immutable plan. ``changes`` holds every declared and every non-ignored remote secret."""

    changes: tuple[Change, ...]
    ignored: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()

    def of(self, *actions: Action) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action in actions)

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action.is_change)

    @property
    def has_changes(self) -> bool:
        return bool(self.actionable)

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return {
            "create": counts["create"],
            "update": counts["update"],
            "rename": counts["rename"],
            "delete": counts["delete"],
            "unchanged": counts["no-op"],
            "unmanaged": counts["unmanaged"],
            "ignored": len(self.ignored),
        }


def make_plan(
    desired: DesiredState,
    remote: RemoteState,
    *,
    prune: bool | None = None,
) -> Plan:
    """Compute the plan that makes ``remote`` match ``desired``.

    ``prune`` overrides ``desired.policy.prune`` when given (the ``--prune`` flag).
    """
    policy = desired.policy
    do_prune = policy.prune if prune is None else prune
    warnings: list[str] = []
    conflicts: list[str] = []

    ignored = tuple(sorted(s.name for s in remote.secrets if matches_any(s.name, policy.ignore)))
    visible = [s for s in remote.secrets if not matches_any(s.name, policy.ignore)]
    by_name = {s.name: s for s in visible}
    folded: dict[str, list[str]] = {}
    for s in visible:
        folded.setdefault(s.name.casefold(), []).append(s.name)
    claimed: set[str] = set()  # remote ids accounted for by a declared entry

    renames: list[Change] = []
    others: list[Change] = []
    deletes: list[Change] = []
    quiet: list[Change] = []

    def _value_diff(d: DesiredSecret, r: RemoteSecret) -> tuple[list[str], str | None]:
        changed: list[str] = []
        after = None
        current = remote.values.get(r.id)
        if d.value is not None and (current is None or current != d.value):
            changed.append("value")
            after = d.fingerprint
        if not isinstance(d.description, Unset) and d.description != r.description:
            changed.append("description")
        return changed, after

    present = sorted(desired.present(), key=lambda s: s.name)
    refused: set[str] = set()  # declared names whose rename is refused: planned as nothing
    for d in present:
        for old in d.renamed_from:
            pattern = matches_any(old, policy.protect)
            if old in by_name and pattern and old != d.name:
                refused.add(d.name)
                conflicts.append(
                    f"{d.name}: renamed_from {old!r}, but {old} is protected by {pattern!r}; a protected "
                    "secret is never renamed away or overwritten under another name (protect always wins). "
                    f"Remove {old} from renamed_from, or from policy.protect first"
                )
    renames_by_target, rename_conflicts, rename_warnings = _resolve_renames(
        [d for d in present if d.name not in refused], by_name
    )
    conflicts.extend(rename_conflicts)
    warnings.extend(rename_warnings)
    moving = {source for source in renames_by_target.values()}  # remote names renamed away

    for d in present:
        if d.name in refused and d.name not in by_name:
            continue  # its rename is refused (a conflict): plan no create in its place
        source = renames_by_target.get(d.name)
        # a case-only rename (renamed_from: [api_key] on API_KEY) is the rename, not a clash
        clash = [n for n in folded.get(d.name.casefold(), []) if n not in (d.name, source)]
        if clash and d.name not in by_name:
            conflicts.append(
                f"{d.name}: the site has {', '.join(sorted(clash))}, which differs only by case; "
                "Wix may treat them as the same name. Rename one of them first."
            )
            continue
        if source is not None:
            r = by_name[source]
            claimed.add(r.id)
            changed, after = _value_diff(d, r)
            renames.append(
                Change(
                    Action.RENAME,
                    d.name,
                    r,
                    previous_name=r.name,
                    changed=("name", *changed),
                    value=d.value if "value" in changed else None,
                    description=d.description if "description" in changed else UNSET,
                    fingerprint_after=after,
                    reason=f"renamed from {r.name} (id kept); code reading {r.name!r} will break",
                )
            )
            continue
        if d.name in by_name and d.name not in moving:
            r = by_name[d.name]
            claimed.add(r.id)
            changed, after = _value_diff(d, r)
            target = others if changed else quiet
            target.append(
                Change(
                    Action.UPDATE if changed else Action.NOOP,
                    d.name,
                    r,
                    changed=tuple(changed),
                    value=d.value if "value" in changed else None,
                    description=d.description if "description" in changed else UNSET,
                    fingerprint_after=after,
                    reason=None if changed else "in sync",
                )
            )
            continue
        if d.value is None:  # a present secret always has a value once validated
            conflicts.append(f"{d.name}: no value")
            continue
        reuse = None
        if d.name in moving:
            reuse = f"reuses the name freed by the rename to {_target_of(renames_by_target, d.name)}"
        others.append(
            Change(
                Action.CREATE,
                d.name,
                None,
                changed=("value",) + (() if isinstance(d.description, Unset) else ("description",)),
                value=d.value,
                description=d.description,
                fingerprint_after=d.fingerprint,
                reason=reuse,
            )
        )

    declared_present = {d.name for d in desired.present()}
    for d in sorted(desired.absent(), key=lambda s: s.name):
        gone = by_name.get(d.name)
        if gone is None or gone.id in claimed:
            continue
        claimed.add(gone.id)
        pattern = matches_any(gone.name, policy.protect)
        if pattern:
            warnings.append(f"{gone.name}: declared absent but protected by {pattern!r}; not deleted")
            quiet.append(Change(Action.UNMANAGED, gone.name, gone, protected=True, reason=f"protected by {pattern!r}"))
        else:
            deletes.append(Change(Action.DELETE, gone.name, gone, reason="declared `state: absent`"))

    for r in sorted(visible, key=lambda s: s.name):
        if r.id in claimed or r.name in declared_present:
            continue
        pattern = matches_any(r.name, policy.protect)
        if do_prune and not pattern:
            deletes.append(Change(Action.DELETE, r.name, r, reason="not declared (prune)"))
        else:
            reason = f"protected by {pattern!r}" if pattern else "not declared; kept (prune is off)"
            quiet.append(Change(Action.UNMANAGED, r.name, r, protected=bool(pattern), reason=reason))

    warnings.extend(_site_rule_warnings(desired, remote, deletes, others, ignored))
    ordered_renames = _order_renames(renames)
    # A create may reuse a name that a rename frees; renames run first (see executor).
    creates_updates = tuple(sorted(others, key=lambda c: c.name))
    return Plan(
        changes=tuple(ordered_renames) + creates_updates + tuple(deletes) + tuple(quiet),
        ignored=ignored,
        warnings=tuple(warnings),
        conflicts=tuple(conflicts),
    )


def _site_rule_warnings(
    desired: DesiredState, remote: RemoteState, deletes: list[Change], others: list[Change], ignored: tuple[str, ...]
) -> list[str]:
    """The dashboard's name rules and the 64-secret cap (see :mod:`reconciler.siterules`)."""
    found = [] if desired.policy.names == "dashboard" else name_warnings(s.name for s in desired.present())
    creates = sum(1 for c in others if c.action is Action.CREATE)
    after = len(remote.secrets) + creates - len(deletes)
    cap = cap_warning(after, len(remote.secrets))
    return found + ([cap] if cap else [])


def _target_of(renames_by_target: dict[str, str], source: str) -> str:
    return next(t for t, s in renames_by_target.items() if s == source)


def _resolve_renames(
    present: Sequence[DesiredSecret], by_name: dict[str, RemoteSecret]
) -> tuple[dict[str, str], list[str], list[str]]:
    """Which declared secrets are renames of which remote names.

    A declared secret is renamed from a ``renamed_from`` name that exists on the site when its own
    name is free: absent from the site, or itself being renamed away (a chain, or a name reused by a
    new secret). Returns ({target: source}, conflicts, warnings).
    """
    conflicts: list[str] = []
    warnings: list[str] = []
    candidate: dict[str, str] = {}
    for d in present:
        sources = [old for old in d.renamed_from if old in by_name]
        if len(sources) > 1:
            conflicts.append(
                f"{d.name}: renamed_from names {', '.join(sources)} all exist on the site; keep only the one to rename"
            )
        elif sources:
            candidate[d.name] = sources[0]
    holder_moves_to = {source: target for target, source in candidate.items()}
    verdict: dict[str, bool] = {}

    def valid(target: str, trail: tuple[str, ...]) -> bool:
        if target in verdict:
            return verdict[target]
        if target in trail:
            cycle = [*trail[trail.index(target) :], target]
            conflicts.append(
                "renames form a cycle (" + " → ".join(cycle) + "); Wix cannot hold two secrets with one "
                "name, so rename through a temporary name in two steps"
            )
            for name in cycle:
                verdict[name] = False
            return False
        if target not in by_name:
            ok = True
        elif target in holder_moves_to:
            ok = valid(holder_moves_to[target], (*trail, target))
        else:
            ok = False
        verdict.setdefault(target, ok)
        return verdict[target]

    for target in sorted(candidate):
        if not valid(target, ()) and target in by_name and target not in holder_moves_to:
            warnings.append(
                f"{target}: renamed_from {candidate[target]!r} but both names exist on the site; "
                f"{candidate[target]!r} is left as it is (declare it `state: absent` to delete it)"
            )
    return {t: s for t, s in candidate.items() if verdict.get(t)}, conflicts, warnings


def _order_renames(renames: Sequence[Change]) -> list[Change]:
    """Order renames so that the rename away from a name runs before the rename onto it."""
    by_source = {c.previous_name: c for c in renames}
    ordered: list[Change] = []
    placed: set[int] = set()

    def place(change: Change) -> None:
        if id(change) in placed:
            return
        blocker = by_source.get(change.name)
        if blocker is not None and blocker is not change:
            place(blocker)
        placed.add(id(change))
        ordered.append(change)

    for change in sorted(renames, key=lambda c: c.name):
        place(change)
    return ordered
