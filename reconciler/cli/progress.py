"""Progress on long work: a bar on a terminal, a few plain lines in CI logs, nothing for small jobs."""

from __future__ import annotations

import time

from reconciler.cli.console import Console

__all__ = ["ProgressReporter"]

_MIN_TOTAL = 40  # below this, work is quick and progress is noise


class ProgressReporter:
    def __init__(self, console: Console, label: str) -> None:
        self._console = console
        self._label = label
        self._tty = console.stderr_tty and not console.in_ci
        self._last_quarter = 0
        self._last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < _MIN_TOTAL:
            return
        if self._tty:
            now = time.monotonic()
            if done < total and now - self._last_draw < 0.05:
                return
            self._last_draw = now
            width = 30
            filled = width * done // total
            bar = "█" * filled + "░" * (width - filled)
            self._console.stderr.write(f"\r{self._label} {bar} {done}/{total}")
            self._console.stderr.flush()
            if done >= total:
                self._console.stderr.write("\r\033[K")
                self._console.stderr.flush()
            return
        quarter = 4 * done // total
        if quarter > self._last_quarter:
            self._last_quarter = quarter
            self._console.err(f"{self._label}: {done}/{total}")
