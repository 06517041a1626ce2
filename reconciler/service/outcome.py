"""The typed result of a run, and THE exit-code policy.

A :class:`SiteOutcome` says what happened to one site: the plan (if one was made), the guard's verdict,
the apply result, the error that stopped the run, whether a signal interrupted it, and where the backup
and the saved plan went. A :class:`ProjectOutcome` holds one per site. :func:`exit_code` is the only
place deciding an exit code from an outcome (``errors.exit_code_for`` maps a bare error); the CLI and
the Action return it as it is (the Action's "2 becomes 0 unless detailed-exitcode" is its own input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import Diagnostic, ExitCode, PartialApplyError, WixSecretsError
from reconciler.render import RunInfo

if TYPE_CHECKING:
    from reconciler.codeguard import CodeReport
    from reconciler.executor import ApplyResult
    from reconciler.model import RemoteState
    from reconciler.plan import Plan

__all__ = ["ProjectOutcome", "SiteOutcome", "exit_code", "most_severe"]

# exit codes of an interrupted apply: 128 + the signal number, as shells report them
INTERRUPTED_CODES = {"SIGINT": 130, "SIGTERM": 143}

_SEVERITY: dict[int, int] = {
    ExitCode.OK: 0,
    ExitCode.CHANGES: 1,
    ExitCode.PARTIAL: 2,
    ExitCode.STALE: 3,
    ExitCode.GUARD: 4,
    ExitCode.ERROR: 5,
    130: 6,
    143: 6,
}


@dataclass
class SiteOutcome:
    """What happened to one site. ``plan`` is None when the run stopped before planning."""

    command: str
    info: RunInfo
    detailed_exitcode: bool = False
    plan: Plan | None = None
    remote: RemoteState | None = None
    guard_error: WixSecretsError | None = None
    result: ApplyResult | None = None
    error: WixSecretsError | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    interrupted: str | None = None  # "SIGINT"/"SIGTERM" when a signal stopped the apply
    backup_path: Path | None = None
    saved_plan: Path | None = None
    warnings: list[str] = field(default_factory=list)
    name: str | None = None  # the project's site name
    code: CodeReport | None = None  # code-aware findings and overdue secrets (reconciler.codeguard)

    @property
    def has_changes(self) -> bool:
        return bool(self.plan is not None and self.plan.has_changes)

    @property
    def failed(self) -> bool:
        """Stopped by an error, a conflict or a guard (the other sites of a project are not applied)."""
        if self.error is not None or self.plan is None:
            return True
        return bool(self.plan.conflicts or self.guard_error)

    @property
    def refusal(self) -> WixSecretsError | None:
        """The error to report: the one that stopped the run, else the guard's refusal."""
        return self.error or self.guard_error

    @property
    def exit_code(self) -> int:
        return exit_code(self)

    @property
    def not_started(self) -> int:
        """Changes an interrupted apply did not start."""
        if self.result is None:
            return 0
        return sum(1 for i in self.result.items if i.status == "skipped" and i.error == NOT_STARTED)

    def raise_for_status(self) -> SiteOutcome:
        """Raise the error that stopped the run, or PartialApplyError when some changes failed."""
        if self.refusal is not None:
            raise self.refusal
        if self.result is not None and self.result.status not in ("success", "nothing-to-do"):
            raise PartialApplyError(
                f"{self.result.count('applied')} applied, {self.result.count('failed')} failed, "
                f"{self.result.count('skipped')} skipped; run apply again to finish"
            )
        return self


NOT_STARTED = "not started: the apply was interrupted"


def exit_code(outcome: SiteOutcome) -> int:
    """The one exit-code policy for one site.

    error that stopped the run → its own code (1, 4 stale, 5 guard); conflicts → 1; guard → 5;
    interrupted apply → 130/143; apply → 0 if everything applied and verified, else 3;
    plan/drift → 2 with ``detailed_exitcode`` when there are changes (drift: or overdue secrets), else 0.
    """
    if outcome.error is not None:
        return int(outcome.error.exit_code)
    if outcome.plan is None:
        return int(ExitCode.ERROR)
    if outcome.plan.conflicts:
        return int(ExitCode.ERROR)
    if outcome.guard_error is not None:
        return int(outcome.guard_error.exit_code)
    if outcome.interrupted is not None:
        return INTERRUPTED_CODES.get(outcome.interrupted, int(ExitCode.ERROR))
    if outcome.result is not None:
        return int(ExitCode.OK if outcome.result.status in ("success", "nothing-to-do") else ExitCode.PARTIAL)
    if outcome.command == "apply":
        return int(ExitCode.OK)
    # drift of unmanaged secrets matters only when prune is on, and then they are planned deletes
    if outcome.plan.has_changes and outcome.detailed_exitcode:
        return int(ExitCode.CHANGES)
    if outcome.command == "drift" and outcome.code is not None and outcome.code.overdue and outcome.detailed_exitcode:
        return int(ExitCode.CHANGES)  # values older than their max_age: rotation overdue
    return int(ExitCode.OK)


def most_severe(codes: list[int]) -> int:
    """The most severe exit code: interrupted > 1 error > 5 guard > 4 stale > 3 partial > 2 changes > 0."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 5), default=int(ExitCode.OK))


@dataclass
class ProjectOutcome:
    """Every chosen site of a project, in the project file's order."""

    command: str
    sites: list[SiteOutcome]
    blocked: list[str] = field(default_factory=list)  # apply: the sites that failed to plan, if any
    applied: bool = False

    @property
    def exit_code(self) -> int:
        return most_severe([s.exit_code for s in self.sites])

    def summary(self) -> dict[str, int]:
        totals = {"create": 0, "update": 0, "rename": 0, "delete": 0, "unchanged": 0, "unmanaged": 0, "ignored": 0}
        for site in self.sites:
            if site.plan is not None and site.error is None:
                for key, count in site.plan.summary().items():
                    totals[key] = totals.get(key, 0) + count
        return {
            "sites": len(self.sites),
            "failed": sum(1 for s in self.sites if s.failed),
            "with_changes": sum(1 for s in self.sites if not s.failed and s.has_changes),
            "applied": sum(1 for s in self.sites if s.result is not None),
            **totals,
        }
