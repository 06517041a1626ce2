"""Request pacing for one Wix site: the shared rate budget, AIMD adaptation, backoff and counters.

This module owns *when* a request may be sent; it knows nothing about HTTP or JSON.

* :class:`RateLimiter` spaces the requests of a whole client evenly (GCRA, a token bucket with a
  small burst) so that a sustained run stays within ``rate`` requests per minute, counting the burst
  against the budget: in any 60-second window at most ``rate`` requests start.
* On a 429 the client calls :meth:`RateLimiter.throttled`: every request of the client pauses until
  the retry time, and the effective rate is halved (multiplicative decrease, once per congestion
  episode); each later success gives back a little (additive increase) up to the configured rate.
* :func:`backoff_delay` is exponential backoff with jitter, :func:`parse_retry_after` reads a
  ``Retry-After`` header (delta-seconds or HTTP-date).
* :class:`RequestStats` holds the exact counters reported after a run.

The clock and the sleep function are injected, so tests run on a fake clock without real waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "OPERATIONS",
    "Clock",
    "RateLimiter",
    "RequestStats",
    "Sleep",
    "backoff_delay",
    "parse_retry_after",
]

#: The default budget in requests per minute: Wix allows 200 per minute per app instance, and that budget
#: is shared with every other caller of the same instance (the site's own code, other tools), so the
#: tool keeps 25% headroom. AIMD still halves it on a 429 and gives it back on success.
DEFAULT_RATE_LIMIT: Final = 150.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: The operation names used in logs and in :attr:`RequestStats.requests`.
OPERATIONS: Final = ("list", "get_value", "create", "update", "delete", "token")

#: The effective rate never drops below this fraction of the configured rate.
MIN_RATE_FRACTION: Final = 1 / 16
#: Additive increase per successful request, as a fraction of the configured rate.
INCREASE_FRACTION: Final = 1 / 50


@dataclass
class RequestStats:
    """Exact counters of one client's traffic.

    ``requests`` counts every HTTP request attempted per operation (retries included), so it can be
    compared with a server's request log. ``retries`` counts attempts after the first,
    ``throttled`` the 429 answers received, ``failures`` the calls that finally raised, and
    ``rate_limit_wait`` the wall-clock seconds during which at least one request was waiting for the
    rate budget or a 429 pause (not summed over concurrent requests).
    """

    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPERATIONS, 0))
    retries: int = 0
    throttled: int = 0
    failures: int = 0
    rate_limit_wait: float = 0.0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def __str__(self) -> str:
        sent = " ".join(f"{op}={n}" for op, n in self.requests.items() if n)
        return (
            f"{self.total_requests} requests ({sent or 'none'}), {self.retries} retries, "
            f"{self.throttled} throttled, {self.failures} failed, {self.rate_limit_wait:.1f}s rate-limit wait"
        )

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return {
            "requests": dict(self.requests),
            "total_requests": self.total_requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "failures": self.failures,
            "rate_limit_wait": round(self.rate_limit_wait, 3),
        }


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, with "equal jitter".

    The result lies in ``[d/2, d]`` where ``d = min(cap, base * 2**(attempt-1))``, so retries of
    concurrent requests spread out but never retry immediately.
    """
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    r = rng.random() if rng is not None else random.random()
    return ceiling / 2 + r * ceiling / 2


def parse_retry_after(value: str | None, *, date_header: str | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when absent or unreadable.

    Accepts delta-seconds (``"3"``, ``"1.5"``) and an HTTP-date. A date is measured against the
    response's own ``Date`` header when there is one (immune to clock skew), else the local clock.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    reference = time.time()
    if date_header:
        with contextlib.suppress(TypeError, ValueError):
            reference = email.utils.parsedate_to_datetime(date_header).timestamp()
    return max(0.0, when.timestamp() - reference)


class RateLimiter:
    """A per-site request budget shared by every concurrent request of one client.

    ``rate`` is in requests per minute (None: unlimited, but 429 pauses still apply); ``burst`` is
    how many requests may start back to back after an idle period. The spacing interval is chosen
    so that burst plus sustained traffic still fits ``rate`` in any 60-second window.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        burst: int = 4,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError("rate must be positive (requests per minute) or None")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._rate = rate
        self._burst = burst if rate is None else max(1, min(burst, int(rate) // 2 or 1))
        self._effective = rate
        self._clock = clock
        self._sleep = sleep
        self._tat = -math.inf  # GCRA theoretical arrival time
        self._paused_until = -math.inf
        self._epoch = 0  # bumped on every pause, so sleeping reservations are re-made
        self._last_decrease = -math.inf

    @property
    def rate(self) -> float | None:
        """The configured budget (requests per minute)."""
        return self._rate

    @property
    def effective_rate(self) -> float | None:
        """The current, possibly reduced, rate after 429s."""
        return self._effective

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def _interval(self) -> float:
        if self._effective is None:
            return 0.0
        return 60.0 / max(self._effective - self._burst, self._effective / 2)

    async def acquire(self) -> tuple[float, float]:
        """Wait for a slot; return ``(send_time, seconds_waited)``.

        A reservation is made at once (first come, first served); when a 429 pause begins while
        waiting, the reservation is dropped and made again after the pause.
        """
        start = self._clock()
        while True:
            now = self._clock()
            epoch = self._epoch
            interval = self._interval()
            tat = max(self._tat, now, self._paused_until)
            at = max(tat - interval * (self._burst - 1), now, self._paused_until)
            self._tat = tat + interval
            if at > now:
                await self._sleep(at - now)
                if self._epoch != epoch:
                    continue
            sent = self._clock()
            return sent, max(0.0, sent - start)

    def throttled(self, delay: float, *, sent_at: float) -> float:
        """A request sent at ``sent_at`` got a 429: pause everyone for ``delay`` seconds.

        The rate is halved at most once per congestion episode: 429s for requests sent before the
        last decrease do not decrease it again. Returns the time the pause ends.
        """
        now = self._clock()
        until = now + max(0.0, delay)
        if until > self._paused_until:
            self._paused_until = until
        self._epoch += 1
        if self._rate is not None and self._effective is not None and sent_at > self._last_decrease:
            floor = self._rate * MIN_RATE_FRACTION
            self._effective = max(floor, self._effective / 2)
            self._last_decrease = now
        # Empty the bucket at the pause's end: after it, requests resume one interval apart, with no
        # catch-up burst of the reservations that were waiting.
        # (Every waiting reservation is re-made because the epoch changed.)
        self._tat = self._paused_until + self._interval() * (self._burst - 1)
        return self._paused_until

    def succeeded(self) -> None:
        """Additive increase after a successful request."""
        if self._rate is None or self._effective is None or self._effective >= self._rate:
            return
        self._effective = min(self._rate, self._effective + self._rate * INCREASE_FRACTION)
