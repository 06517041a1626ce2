"""Fault injection for the emulator: latency, jitter, rate limiting, 5xx, dropped connections, lost replies.

:class:`Faults` is the frozen configuration; :class:`FaultInjector` draws the decisions. Every request
that reaches the faulty layer consumes exactly five numbers from one ``random.Random(seed)``, in a
fixed order, so with a seed the same sequence of requests meets the same faults whatever happened
before (a request's outcome never changes how many numbers it draws). The rate limiter is a sliding
window of the admitted requests of the last 60 seconds on an injectable monotonic clock.

Nothing here touches state or I/O: the front ends (transport, server) apply the delay and the drop.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ERROR_STATUSES", "Draw", "FaultInjector", "Faults"]

ERROR_STATUSES: tuple[int, ...] = (500, 502, 503, 504)
WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Faults:
    """What can go wrong, and how often.

    latency_ms/jitter_ms: every request is answered ``latency_ms + U(0, jitter_ms)`` late.
    rate_limit: admitted requests per minute (sliding window); beyond it 429 with Retry-After.
    error_rate: fraction answered 500/502/503/504 *before* anything is applied.
    drop_rate: fraction whose connection is closed with no answer, before anything is applied.
    lost_reply_rate: fraction of successful writes (create/update/delete) whose change *is* applied
        but whose answer is lost: half the time the connection drops, otherwise a 5xx.
    seed: makes every decision reproducible.
    routes: when given, drops, 5xx and lost replies hit only these routes (e.g. {"create"}), so a test
        can make every write of one kind fail while reads succeed.
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_limit: int | None = None
    error_rate: float = 0.0
    drop_rate: float = 0.0
    lost_reply_rate: float = 0.0
    seed: int | None = None
    routes: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency and jitter must be >= 0")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate limit must be at least 1 request per minute")
        for name in ("error_rate", "drop_rate", "lost_reply_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} must be between 0 and 1")

    @property
    def active(self) -> bool:
        return bool(
            self.latency_ms
            or self.jitter_ms
            or self.rate_limit
            or self.error_rate
            or self.drop_rate
            or self.lost_reply_rate
        )


@dataclass(frozen=True)
class Draw:
    """The random decisions for one request."""

    delay: float  # seconds
    drop: bool
    error_status: int | None
    lost: int | None  # None: reply normally; 0: drop after applying; else the 5xx to answer after applying


class FaultInjector:
    """Thread-safe decisions for a sequence of requests."""

    def __init__(self, faults: Faults, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.faults = faults
        self._clock = clock
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._window: deque[float] = deque()

    def draw(self) -> Draw:
        f = self.faults
        with self._lock:
            u_jitter, u_drop, u_error, u_lost, u_kind = (self._rng.random() for _ in range(5))
        delay = (f.latency_ms + u_jitter * f.jitter_ms) / 1000.0
        drop = u_drop < f.drop_rate
        error_status = ERROR_STATUSES[int(u_kind * len(ERROR_STATUSES))] if u_error < f.error_rate else None
        lost: int | None = None
        if u_lost < f.lost_reply_rate:
            lost = 0 if u_kind < 0.5 else ERROR_STATUSES[int((u_kind - 0.5) * 2 * len(ERROR_STATUSES))]
        return Draw(delay, drop, error_status, lost)

    def hits(self, route: str) -> bool:
        """Whether drops, 5xx and lost replies may hit ``route``."""
        return self.faults.routes is None or route in self.faults.routes

    def admit(self) -> int | None:
        """None if the request fits the rate limit (and is counted); else Retry-After in whole seconds."""
        limit = self.faults.rate_limit
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            while self._window and self._window[0] <= now - WINDOW_SECONDS:
                self._window.popleft()
            if len(self._window) < limit:
                self._window.append(now)
                return None
            return max(1, math.ceil(self._window[0] + WINDOW_SECONDS - now))

    def reset(self) -> None:
        """Forget the rate window and restart the random sequence from the seed."""
        with self._lock:
            self._window.clear()
            self._rng = random.Random(self.faults.seed)
