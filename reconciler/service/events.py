"""Progress reported by the service while it works: the events callback protocol.

The service never prints. It tells an :class:`Events` object what it is doing; the CLI turns events
into progress bars and notes on stderr, the Action into log lines, a library caller into whatever it
likes (or nothing: :class:`NullEvents`). ``site`` is the project's site name, or None for a single
site. No event carries a value.
"""

from __future__ import annotations

from typing import Literal, Protocol

from reconciler.plan import Change

__all__ = ["Events", "NullEvents", "Phase"]

Phase = Literal["load", "read", "plan", "backup", "apply", "verify", "audit"]


class Events(Protocol):
    def phase_started(self, site: str | None, phase: Phase) -> None:
        """A phase of one site's run begins."""

    def request_done(self, site: str | None, phase: Phase, done: int, total: int) -> None:
        """One more of ``total`` requests of ``phase`` finished (value reads while planning)."""

    def change_applied(self, site: str | None, change: Change, status: str, done: int, total: int) -> None:
        """A change finished: ``status`` is "applied", "failed" or "skipped"; ``done`` of ``total``."""

    def warning(self, site: str | None, message: str) -> None:
        """Something the user should know that does not stop the run."""

    def notice(self, site: str | None, message: str) -> None:
        """A fact worth a line on stderr (where the backup went, where the plan was saved)."""


class NullEvents:
    """Ignores every event."""

    def phase_started(self, site: str | None, phase: Phase) -> None:
        return None

    def request_done(self, site: str | None, phase: Phase, done: int, total: int) -> None:
        return None

    def change_applied(self, site: str | None, change: Change, status: str, done: int, total: int) -> None:
        return None

    def warning(self, site: str | None, message: str) -> None:
        return None

    def notice(self, site: str | None, message: str) -> None:
        return None
