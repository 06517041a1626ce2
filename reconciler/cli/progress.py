"""Progress on long work (issue 13.9): one line on a terminal, redrawn in place, with done/total, the
observed rate and an ETA; cleared when the work ends. Nothing at all when stderr is not a terminal (logs,
pipes, CI), with ``--json``, with ``-v`` (log lines would tear it) or on ``TERM=dumb``.

The ETA comes from the rate observed over the last few seconds (so a rate limit that sets in after the
first burst shows up in the estimate), never from an assumption. The clock is injected: tests drive it
by hand and never depend on speed. The line shows only the caller's label (fixed text and a site name
the run already shows) and counts: never a secret name, never a value.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from reconciler.cli.console import Console

__all__ = ["ProgressReporter", "format_duration"]

SHOW_AFTER = 0.5  # seconds: quicker work shows no progress at all
WINDOW = 10.0  # seconds of samples the rate is computed over
REDRAW_EVERY = 0.1  # seconds between redraws (the last one is always drawn)
_BAR = 20
_MAX_LINE = 79  # one row of an 80-column terminal: a wrapped line could not be redrawn in place


def format_duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``1h02m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class ProgressReporter:
    """Call it with ``(done, total)`` as work completes; use it as a context manager (or call
    :meth:`close`) so the line is cleared even when the work fails half-way."""

    def __init__(
        self,
        console: Console,
        label: str,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._label = label
        self._clock = clock
        self._active = (
            enabled
            and console.stderr_tty
            and not console.in_ci
            and console.environ.get("TERM") != "dumb"
            and not logging.getLogger("reconciler").isEnabledFor(logging.INFO)
        )
        self._started = clock()
        self._samples: deque[tuple[float, int]] = deque([(self._started, 0)])
        self._drawn = False
        self._last_draw = float("-inf")

    @property
    def active(self) -> bool:
        return self._active

    def __call__(self, done: int, total: int) -> None:
        if not self._active or total <= 0:
            return
        now = self._clock()
        self._sample(now, done)
        if done >= total:
            self.close()
            return
        if now - self._started < SHOW_AFTER or now - self._last_draw < REDRAW_EVERY:
            return
        self._last_draw = now
        self._console.stderr.write("\r" + self.line(done, total, now) + "\033[K")
        self._console.stderr.flush()
        self._drawn = True

    def _sample(self, now: float, done: int) -> None:
        self._samples.append((now, done))
        # keep the window, plus the newest sample older than it (so the rate spans the whole window)
        while len(self._samples) > 2 and now - self._samples[1][0] >= WINDOW:
            self._samples.popleft()

    def rate(self) -> float | None:
        """Items per second over the window, or None before anything was observed."""
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 <= t0 or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def eta(self, done: int, total: int) -> float | None:
        rate = self.rate()
        return None if rate is None else (total - done) / rate

    def line(self, done: int, total: int, now: float) -> str:
        filled = _BAR * min(done, total) // total
        bar = "█" * filled + "░" * (_BAR - filled)
        rate, eta = self.rate(), self.eta(done, total)
        tail = f" {bar} {done}/{total}"
        tail += f" · {rate:.1f}/s" if rate is not None else ""
        tail += f" · ETA {format_duration(eta)}" if eta is not None else " · ETA …"
        tail += f" · {format_duration(now - self._started)}"
        label = self._label
        if len(label) + len(tail) > _MAX_LINE:
            label = label[: max(0, _MAX_LINE - len(tail) - 1)] + "…"
        return label + tail

    def close(self) -> None:
        """Clear the line, if one was drawn."""
        if self._drawn:
            self._console.stderr.write("\r\033[K")
            self._console.stderr.flush()
            self._drawn = False

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
