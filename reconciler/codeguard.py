"""The code guard and code-aware findings: (plan, code references) → verdict. Pure; no I/O.

- :func:`check_code` — a delete (tombstone or prune) or a rename away of a name the code reads is
  *breaking*; while the scanned code holds a dynamic reference (or a file could not be scanned), every
  other delete or rename away is *uncertain* unless ``policy.code_dynamic_names`` lists the names
  dynamic references can take (then only those names count, as read by every dynamic reference).
  Either refuses the plan with :class:`~reconciler.errors.CodeGuardError` (guard ``code-references``,
  exit 5) naming each reference ``file:line:col``, unless ``--allow-breaking-code``.
- :func:`missing_names` — names the code reads that are neither declared nor on the site.
- :func:`unreferenced` — site secrets no code reads (drift: candidates for cleanup, never deleted).
- :func:`code_report` — all of it, plus overdue secrets (:mod:`reconciler.codescan.age`), as one value
  for the renderers (:mod:`reconciler.render.code`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from reconciler.codescan import CodeReference, CodeScan
from reconciler.codescan.age import Overdue, overdue_secrets
from reconciler.errors import CodeGuardError, GuardError
from reconciler.globs import matches_any
from reconciler.model import DesiredState, RemoteState
from reconciler.plan import Action, Plan

__all__ = [
    "GUARD_NAME",
    "Breaking",
    "CodeReport",
    "CodeVerdict",
    "check_code",
    "code_report",
    "combined_refusal",
    "missing_names",
    "unreferenced",
]

GUARD_NAME: Final = "code-references"
_SHOWN_REFERENCES: Final = 20  # per name in messages; the JSON document carries them all


@dataclass(frozen=True)
class Breaking:
    """A delete or rename away of ``name`` that code may still read.

    ``references`` are the static ones naming it; when empty, ``dynamic`` holds the dynamic references
    that may (and ``unscanned`` says files could not be read), so the refusal is conservative.
    """

    name: str
    action: str  # "delete" or "rename"
    new_name: str | None
    references: tuple[CodeReference, ...] = ()
    dynamic: tuple[CodeReference, ...] = ()
    unscanned: int = 0

    @property
    def certain(self) -> bool:
        return bool(self.references)

    @property
    def what(self) -> str:
        return f"rename {self.name} → {self.new_name}" if self.action == "rename" else f"delete {self.name}"


@dataclass(frozen=True)
class CodeVerdict:
    breaking: tuple[Breaking, ...] = ()
    allowed: bool = False  # --allow-breaking-code
    error: CodeGuardError | None = None


def _removed_names(plan: Plan) -> list[tuple[str, str, str | None]]:
    """(name, action, new name) for every name that no longer exists after the plan."""
    remaining = {c.name for c in plan.changes if c.action is not Action.DELETE}
    removed: list[tuple[str, str, str | None]] = []
    for change in plan.changes:
        if change.action is Action.DELETE and change.name not in remaining:
            removed.append((change.name, "delete", None))
        elif change.action is Action.RENAME and change.previous_name and change.previous_name not in remaining:
            removed.append((change.previous_name, "rename", change.name))
    return removed


def check_code(
    plan: Plan, scan: CodeScan, *, dynamic_names: tuple[str, ...] | None, allow_breaking: bool = False
) -> CodeVerdict:
    """Which deletes and renames would break code, and the guard's refusal (None if allowed or none)."""
    dynamic = scan.dynamic
    unscanned = len(scan.unscanned)
    breaking: list[Breaking] = []
    for name, action, new_name in _removed_names(plan):
        static = scan.of(name)
        if static:
            breaking.append(Breaking(name, action, new_name, static))
            continue
        if dynamic_names is not None:
            if dynamic and matches_any(name, dynamic_names):
                breaking.append(Breaking(name, action, new_name, (), dynamic, unscanned))
            elif unscanned:
                breaking.append(Breaking(name, action, new_name, (), (), unscanned))
        elif dynamic or unscanned:
            breaking.append(Breaking(name, action, new_name, (), dynamic, unscanned))
    if not breaking or allow_breaking:
        return CodeVerdict(tuple(breaking), allowed=allow_breaking)
    return CodeVerdict(tuple(breaking), error=_error(breaking, scan, dynamic_names))


def _error(breaking: list[Breaking], scan: CodeScan, dynamic_names: tuple[str, ...] | None) -> CodeGuardError:
    certain = [b for b in breaking if b.certain]
    lines: list[str] = []
    for b in breaking:
        if b.certain:
            lines.append(f"{b.what}: the code reads {b.name!r} at")
            lines += [f"  {r.location}  {r.api}" for r in b.references[:_SHOWN_REFERENCES]]
            if len(b.references) > _SHOWN_REFERENCES:
                lines.append(f"  ... and {len(b.references) - _SHOWN_REFERENCES} more")
        else:
            lines.append(f"{b.what}: the code may read it through a name this tool cannot resolve:")
            lines += [f"  {r.location}  {r.api}: {r.detail}" for r in b.dynamic[:_SHOWN_REFERENCES]]
            if len(b.dynamic) > _SHOWN_REFERENCES:
                lines.append(f"  ... and {len(b.dynamic) - _SHOWN_REFERENCES} more dynamic references")
            if b.unscanned:
                lines.append(f"  {b.unscanned} code file(s) could not be scanned: " + _unscanned_list(scan))
    if certain:
        summary = f"the plan deletes or renames away {len(certain)} secret(s) that the site's code reads" + (
            f", and {len(breaking) - len(certain)} it may read" if len(breaking) > len(certain) else ""
        )
        hint = "change the code first (or keep the secret); pass --allow-breaking-code if that code never runs"
    else:
        summary = (
            f"the plan deletes or renames away {len(breaking)} secret(s) while the site's code has references "
            "this tool cannot resolve"
        )
        hint = (
            "list the names those references can take in policy.code_dynamic_names"
            if dynamic_names is None
            else "narrow policy.code / --code so that every file can be scanned"
        ) + ", or pass --allow-breaking-code"
    return CodeGuardError(summary, detail="\n".join(lines), hint=hint)


def combined_refusal(other: GuardError, code: CodeGuardError) -> CodeGuardError:
    """One refusal naming the other guards (:func:`reconciler.guards.check_guards`) and the code guard,
    with the hints of both, so that following the hint never meets a second refusal."""
    parts = [f"{other.summary}" + (f"\n{other.detail}" if other.detail else ""), f"{code.summary}\n{code.detail or ''}"]
    combined = CodeGuardError(
        f"{len(other.guard.split(',')) + 1} safety guards refused the plan",
        detail="\n".join(f"- {part.rstrip()}" for part in parts),
        hint=f"{other.hint}; and for the code: {code.hint}" if other.hint else code.hint,
    )
    combined.guard = f"{other.guard},{GUARD_NAME}"
    return combined


def _unscanned_list(scan: CodeScan) -> str:
    shown = [f"{u.path} ({u.reason})" for u in scan.unscanned[:5]]
    return ", ".join(shown) + (" ..." if len(scan.unscanned) > 5 else "")


def missing_names(
    scan: CodeScan, desired: DesiredState, remote: RemoteState
) -> tuple[tuple[str, tuple[CodeReference, ...]], ...]:
    """Names the code reads that are neither declared (present) nor on the site: the code would fail."""
    known = {s.name for s in desired.present()} | {s.name for s in remote.secrets}
    missing = sorted(scan.names() - known)
    return tuple((name, scan.of(name)) for name in missing)


def unreferenced(
    remote: RemoteState, scan: CodeScan, *, ignore: Iterable[str], dynamic_names: tuple[str, ...] | None
) -> tuple[str, ...]:
    """Site secrets (not ignored) that no static reference reads and no listed dynamic name matches."""
    read = scan.names()
    patterns = tuple(ignore)
    found = [
        s.name
        for s in remote.secrets
        if s.name not in read
        and not matches_any(s.name, patterns)
        and not (dynamic_names and scan.dynamic and matches_any(s.name, dynamic_names))
    ]
    return tuple(sorted(found))


@dataclass(frozen=True)
class CodeReport:
    """Code-aware and age findings of one plan or drift run, for the renderers.

    ``scan`` is None when no code was given (then only ``overdue`` may be set).
    """

    scan: CodeScan | None = None
    verdict: CodeVerdict = CodeVerdict()
    missing: tuple[tuple[str, tuple[CodeReference, ...]], ...] = ()
    unreferenced: tuple[str, ...] = ()
    overdue: tuple[Overdue, ...] = ()
    dynamic_names: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        return self.scan is None and not self.overdue

    def warnings(self) -> tuple[str, ...]:
        found = [
            f"the code reads {name!r}, which is neither declared nor on the site (it would fail at run time): "
            + ", ".join(r.location for r in refs[:5])
            + (" ..." if len(refs) > 5 else "")
            for name, refs in self.missing
        ]
        if self.scan is not None and self.scan.unscanned:
            found.append(f"{len(self.scan.unscanned)} code file(s) could not be scanned: {_unscanned_list(self.scan)}")
        return tuple(found)


def code_report(
    plan: Plan,
    desired: DesiredState,
    remote: RemoteState,
    scan: CodeScan | None,
    *,
    command: str,
    now: datetime,
    allow_breaking: bool = False,
) -> CodeReport:
    """Everything code-aware about one run. ``command`` is plan, apply or drift: drift never refuses and
    lists unreferenced secrets; plan and apply check the guard."""
    policy = desired.policy
    rotating = {
        (c.previous_name or c.name) if c.action is Action.RENAME else c.name
        for c in plan.changes
        if "value" in c.changed or c.action is Action.DELETE
    }
    per_secret = {s.name: s.max_age for s in desired.present() if s.max_age is not None}
    for change in plan.of(Action.RENAME):  # a renamed secret's limit applies to its current name
        if change.previous_name and change.name in per_secret:
            per_secret[change.previous_name] = per_secret[change.name]
    overdue = overdue_secrets(
        remote.secrets,
        default_max_age=policy.max_age,
        per_secret=per_secret,
        now=now,
        skip=set(plan.ignored) | (rotating if command != "drift" else set()),
    )
    if scan is None:
        return CodeReport(overdue=overdue, dynamic_names=policy.code_dynamic_names)
    verdict = (
        CodeVerdict()
        if command == "drift"
        else check_code(plan, scan, dynamic_names=policy.code_dynamic_names, allow_breaking=allow_breaking)
    )
    return CodeReport(
        scan=scan,
        verdict=verdict,
        missing=missing_names(scan, desired, remote),
        unreferenced=unreferenced(remote, scan, ignore=policy.ignore, dynamic_names=policy.code_dynamic_names)
        if command == "drift"
        else (),
        overdue=overdue,
        dynamic_names=policy.code_dynamic_names,
    )
