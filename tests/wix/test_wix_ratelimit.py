"""The shared rate budget on a fake clock, Retry-After parsing, backoff, stats."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time

import pytest

from reconciler.wix import RateLimiter, RequestStats, WixSecretsClient, backoff_delay, parse_retry_after

from .fakes import FakeClock, FakeWix, make_client


def test_requests_are_spaced_evenly_without_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(61.0, burst=1, clock=clock, sleep=clock.sleep)  # 60/(61-1) = 1 s

    async def main() -> list[float]:
        return [(await limiter.acquire())[0] for _ in range(5)]

    times = clock.run(main())
    assert [t - times[0] for t in times] == pytest.approx([0, 1, 2, 3, 4])


def test_small_burst_then_even_spacing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(64.0, burst=4, clock=clock, sleep=clock.sleep)  # interval 60/(64-4) = 1 s

    async def main() -> list[float]:
        return [(await limiter.acquire())[0] - 1000 for _ in range(7)]

    assert clock.run(main()) == pytest.approx([0, 0, 0, 0, 1, 2, 3])


def sliding_max(times: list[float], window: float = 60.0) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_sustained_concurrent_run_stays_within_the_budget() -> None:
    fake, clock = FakeWix(), FakeClock()

    async def main() -> None:
        async with make_client(fake, clock, rate_limit=200.0, concurrency=16) as c:
            await asyncio.gather(*(c.list_secrets() for _ in range(500)))
            assert c.stats.requests["list"] == 500
            assert c.stats.rate_limit_wait > 0

    clock.run(main())
    times = sorted(s.time for s in fake.requests)
    assert len(times) == 500
    assert sliding_max(times) <= 200
    assert times[-1] - times[0] == pytest.approx((500 - 4) * 60 / 196, rel=0.01)


def test_unlimited_rate_does_not_wait() -> None:
    fake, clock = FakeWix(), FakeClock()

    async def main(c: WixSecretsClient) -> None:
        await asyncio.gather(*(c.list_secrets() for _ in range(50)))

    async def outer() -> None:
        async with make_client(fake, clock, rate_limit=None) as c:
            await main(c)

    clock.run(outer())
    assert {s.time for s in fake.requests} == {1000.0}


def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0
    fake, clock = FakeWix(), FakeClock()
    inner = fake.handle

    async def slow(request):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await clock.sleep(1)
        in_flight -= 1
        return await inner(request)

    fake.handle = slow  # type: ignore[method-assign]

    async def main() -> None:
        async with make_client(fake, clock, rate_limit=None, concurrency=3) as c:
            await asyncio.gather(*(c.list_secrets() for _ in range(10)))

    clock.run(main())
    assert peak == 3
    assert fake.count("list") == 10


def test_throttle_pauses_and_reduces_once_per_episode() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100.0, burst=1, clock=clock, sleep=clock.sleep)

    async def main() -> None:
        sent_a, _ = await limiter.acquire()
        sent_b, _ = await limiter.acquire()
        limiter.throttled(5, sent_at=sent_a)
        limiter.throttled(5, sent_at=sent_b)  # same episode: no second decrease
        assert limiter.effective_rate == 50
        assert limiter.paused_until == pytest.approx(clock() + 5)
        sent_c, waited = await limiter.acquire()
        assert sent_c == pytest.approx(limiter.paused_until) and waited == pytest.approx(5)
        limiter.throttled(0, sent_at=sent_c)  # a new episode
        assert limiter.effective_rate == 25
        for _ in range(200):
            limiter.throttled(0, sent_at=clock() + 1)
        assert limiter.effective_rate == pytest.approx(100 / 16)  # floor
        for _ in range(100):
            limiter.succeeded()
        assert limiter.effective_rate == 100

    clock.run(main())


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(10, burst=0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("1.5", 1.5), (" 0 ", 0.0), ("-4", 0.0), ("", None), ("soon", None), ("nan", None)],
)
def test_parse_retry_after_seconds(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    base = 1_800_000_000
    header = email.utils.formatdate(base + 30, usegmt=True)
    assert parse_retry_after(header, date_header=email.utils.formatdate(base, usegmt=True)) == 30
    past = email.utils.formatdate(base - 30, usegmt=True)
    assert parse_retry_after(past, date_header=email.utils.formatdate(base, usegmt=True)) == 0
    soon = email.utils.formatdate(time.time() + 100, usegmt=True)
    assert 95 <= (parse_retry_after(soon) or 0) <= 101
    assert parse_retry_after(None) is None


def test_backoff_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(50):
            assert ceiling / 2 <= backoff_delay(attempt, rng=rng) <= ceiling
    assert len({backoff_delay(3, rng=rng) for _ in range(10)}) > 1


def test_stats_as_dict() -> None:
    stats = RequestStats()
    stats.requests["list"] += 2
    stats.retries = 1
    data = stats.as_dict()
    assert data["total_requests"] == 2 and data["retries"] == 1
    assert data["requests"] == {"list": 2, "get_value": 0, "create": 0, "update": 0, "delete": 0, "token": 0}


def test_rate_limit_wait_is_wall_clock_not_summed_over_concurrent_requests() -> None:
    fake, clock = FakeWix(), FakeClock()

    async def main() -> float:
        async with make_client(fake, clock, rate_limit=64.0, concurrency=16) as c:  # 1 request/s after 4
            await asyncio.gather(*(c.list_secrets() for _ in range(20)))
            return c.stats.rate_limit_wait

    waited = clock.run(main())
    times = sorted(s.time for s in fake.requests)
    span = times[-1] - times[0]
    assert span == pytest.approx(16, rel=0.01)
    assert waited == pytest.approx(span, rel=0.05)  # summed over 16 waiting requests it would be ~100 s


def test_default_budget_is_below_wix_limit() -> None:
    from reconciler.wix.ratelimit import DEFAULT_RATE_LIMIT

    assert DEFAULT_RATE_LIMIT == 150.0 < 200.0
    defaults = WixSecretsClient.__init__.__kwdefaults__
    assert defaults is not None and defaults["rate_limit"] == DEFAULT_RATE_LIMIT
