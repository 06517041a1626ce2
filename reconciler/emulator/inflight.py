"""How many API requests the emulator is serving at this moment, and the most it served at once.

The front ends (:mod:`.server`, :mod:`.transport`) hold an :class:`InFlight` for the whole life of
each API request, its latency included, so that tests prove concurrency by a count (the peak) instead
of a wall-clock time. Several emulators may share one gauge (sites served by separate emulators).
Control routes (``/_emulator/*``) are not counted. Thread-safe; stdlib only.
"""

from __future__ import annotations

import threading
from types import TracebackType

__all__ = ["InFlight"]


class InFlight:
    """A thread-safe gauge: ``with gauge:`` around a request; ``peak`` is the most at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def __enter__(self) -> InFlight:
        with self._lock:
            self.current += 1
            if self.current > self.peak:
                self.peak = self.current
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self.current -= 1

    def reset(self) -> None:
        """Start a new peak from the requests in flight now."""
        with self._lock:
            self.peak = self.current
