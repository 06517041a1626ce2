"""Retries on a fake clock: 429 (Retry-After seconds / HTTP-date / none), 5xx, idempotent writes."""

from __future__ import annotations

import asyncio
import email.utils
import itertools
from typing import Any

import httpx
import pytest

from reconciler.errors import AlreadyExistsError, NotFoundError, RateLimitedError, ServerError
from reconciler.model import Sensitive
from reconciler.wix import WixSecretsClient

from .fakes import FakeClock, FakeWix, run

VALUE = "value-of-the-secret"


def too_many(headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"message": "", "details": {"applicationError": {"code": "RESOURCE_EXHAUSTED"}}}
    return httpx.Response(429, json=body, headers=headers or {})


# -- 429 -------------------------------------------------------------------------------------------


def test_429_retry_after_seconds_is_honoured() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", too_many({"retry-after": "7"}))
    run(fake, clock, lambda c: c.list_secrets())
    first, second = fake.requests
    assert second.time - first.time == pytest.approx(7)


def test_429_retry_after_http_date_is_honoured() -> None:
    fake, clock = FakeWix(), FakeClock()
    date = email.utils.formatdate(1_700_000_000, usegmt=True)
    later = email.utils.formatdate(1_700_000_000 + 12, usegmt=True)
    fake.fail("list", too_many({"retry-after": later, "date": date}))
    _, stats = run(fake, clock, lambda c: _with_stats(c, c.list_secrets()))
    first, second = fake.requests
    assert second.time - first.time == pytest.approx(12)
    assert (stats.throttled, stats.retries, stats.failures) == (1, 1, 0)
    assert stats.rate_limit_wait == pytest.approx(12)


async def _with_stats(c: WixSecretsClient, call: Any) -> Any:
    return await call, c.stats


def test_429_without_retry_after_backs_off_exponentially() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", too_many(), times=3)
    run(fake, clock, lambda c: c.list_secrets(), backoff_base=1.0)
    times = [s.time for s in fake.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    for gap, ceiling in zip(gaps, (1.0, 2.0, 4.0), strict=True):
        assert ceiling / 2 <= gap <= ceiling + 1e-9


def test_a_429_pauses_the_whole_client_and_halves_the_rate() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", too_many({"retry-after": "10"}))

    async def body(c: WixSecretsClient) -> Any:
        start = clock()
        await c.list_secrets()  # 429, waits 10 s, succeeds
        assert c.limiter.effective_rate == pytest.approx(100 + 4)  # halved, +2% after the success
        # Concurrent calls of other operations, started later, also respect the pause.
        fake.fail("get_value", too_many({"retry-after": "30"}))
        fake.add("A", VALUE)
        fake.add("B", VALUE)
        results = await asyncio.gather(c.get_value("A"), c.get_value("B"), c.list_secrets())
        return start, results

    start, _ = run(fake, clock, body, rate_limit=200.0)
    ops_times = [(s.op, s.time - start) for s in fake.requests]
    assert ops_times[0] == ("list", 0) and ops_times[1][1] == pytest.approx(10)
    throttled_at = ops_times[2][1]
    assert ops_times[2][0] == "get_value"
    # every request after the second 429 (its own retry, and the other get_value and the list, which
    # were waiting for their rate slots) went out only once its 30 s were over, spaced, not at once
    later = [t for _, t in ops_times[3:]]
    assert len(later) == 3
    assert min(later) == pytest.approx(throttled_at + 30)
    assert all(b - a > 1.0 for a, b in itertools.pairwise(later))  # rate now ~50/min


def test_the_rate_recovers_additively_after_a_429() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", too_many({"retry-after": "1"}))

    async def body(c: WixSecretsClient) -> list[float]:
        rates = []
        for _ in range(60):
            await c.list_secrets()
            rates.append(c.limiter.effective_rate or 0)
        return rates

    rates = run(fake, clock, body, rate_limit=100.0)
    assert rates[0] == pytest.approx(50 + 2)  # halved, then one success adds 2% of the rate
    assert all(b >= a for a, b in itertools.pairwise(rates))
    assert rates[-1] == pytest.approx(100)


# -- 5xx and network -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_then_fail(status: int) -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", httpx.Response(status, json={"message": "", "details": {}}), times=100)
    with pytest.raises(ServerError) as info:
        run(fake, clock, lambda c: c.list_secrets(), retries=5)
    assert info.value.status == status
    assert fake.count("list") == 6


def test_reads_retry_timeouts_and_dropped_connections() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", httpx.ReadTimeout("slow"))
    fake.fail("list", httpx.RemoteProtocolError("Server disconnected without sending a response."))
    fake.fail("list", httpx.ConnectError("refused"))
    _, stats = run(fake, clock, lambda c: _with_stats(c, c.list_secrets()))
    assert fake.count("list") == 4
    assert stats.retries == 3 and stats.requests["list"] == 4 and stats.failures == 0


# -- idempotent writes -----------------------------------------------------------------------------


def test_lost_create_answer_is_found_by_listing_and_not_sent_again() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.RemoteProtocolError("dropped"), after_apply=True)
    sid = run(fake, clock, lambda c: c.create("NEW", Sensitive(VALUE), None))
    assert fake.ops() == ["create", "list", "get_value"]
    assert sid in fake.secrets and fake.secrets[sid]["name"] == "NEW"


def test_create_5xx_that_was_not_applied_is_sent_again_after_checking() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.Response(503, json={}))
    sid = run(fake, clock, lambda c: c.create("NEW", Sensitive(VALUE), None))
    assert fake.ops() == ["create", "list", "create"]
    assert list(fake.secrets) == [sid]


def test_create_not_sent_at_all_is_resent_without_checking() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.ConnectError("refused"))
    run(fake, clock, lambda c: c.create("NEW", Sensitive(VALUE), None))
    assert fake.ops() == ["create", "create"]


def test_409_on_the_retry_of_our_own_create_is_success() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.ReadError("reset"), after_apply=True)
    fake.hide_from_list = 1  # the first check does not see it yet
    sid = run(fake, clock, lambda c: c.create("NEW", Sensitive(VALUE), "d"))
    assert fake.ops() == ["create", "list", "create", "list", "get_value"]
    assert len(fake.secrets) == 1 and sid in fake.secrets


def test_409_on_retry_with_another_value_is_already_exists() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.Response(502, json={}))
    fake.hide_from_list = 1

    async def body(c: WixSecretsClient) -> None:
        fake.add("NEW", "somebody-elses-value")
        await c.create("NEW", Sensitive(VALUE), None)

    with pytest.raises(AlreadyExistsError):
        run(fake, clock, body)
    assert fake.ops() == ["create", "list", "create", "list", "get_value"]


def test_lost_create_when_the_name_holds_another_value_is_already_exists() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.Response(500, json={}))

    async def body(c: WixSecretsClient) -> None:
        fake.add("NEW", "somebody-elses-value")
        await c.create("NEW", Sensitive(VALUE), None)

    with pytest.raises(AlreadyExistsError):
        run(fake, clock, body)
    assert fake.count("create") == 1


def test_409_on_first_try_fails_at_once() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.add("NEW", VALUE)
    with pytest.raises(AlreadyExistsError):
        run(fake, clock, lambda c: c.create("NEW", Sensitive(VALUE), None))
    assert fake.ops() == ["create"]


def test_delete_404_on_retry_is_done() -> None:
    fake, clock = FakeWix(), FakeClock()
    sid = fake.add("OLD", VALUE)
    fake.fail("delete", httpx.RemoteProtocolError("dropped"), after_apply=True)
    _, stats = run(fake, clock, lambda c: _with_stats(c, c.delete(sid)))
    assert fake.ops() == ["delete", "delete"]
    assert fake.secrets == {} and stats.failures == 0


def test_delete_404_on_first_try_is_not_found() -> None:
    fake, clock = FakeWix(), FakeClock()
    with pytest.raises(NotFoundError):
        run(fake, clock, lambda c: c.delete("00000000-0000-4000-8000-000000000099"))


def test_lost_rename_answer_is_checked_by_listing() -> None:
    fake, clock = FakeWix(), FakeClock()
    sid = fake.add("OLD", VALUE)
    fake.fail("update", httpx.Response(504, json={}), after_apply=True)
    run(fake, clock, lambda c: c.update(sid, name="NEW", description="d"))
    assert fake.ops() == ["update", "list"]
    assert fake.secrets[sid]["name"] == "NEW"


def test_lost_rename_not_applied_is_sent_again() -> None:
    fake, clock = FakeWix(), FakeClock()
    sid = fake.add("OLD", VALUE)
    fake.fail("update", httpx.ReadTimeout("slow"))
    run(fake, clock, lambda c: c.update(sid, name="NEW"))
    assert fake.ops() == ["update", "list", "update"]
    assert fake.secrets[sid]["name"] == "NEW"


def test_lost_value_update_is_simply_resent() -> None:
    fake, clock = FakeWix(), FakeClock()
    sid = fake.add("A", VALUE)
    fake.fail("update", httpx.ReadError("reset"), after_apply=True)
    run(fake, clock, lambda c: c.update(sid, value=Sensitive("new-value")))
    assert fake.ops() == ["update", "update"]
    assert fake.secrets[sid]["value"] == "new-value"


def test_write_retries_are_bounded() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.Response(503, json={}), times=100)
    with pytest.raises(ServerError):
        run(fake, clock, lambda c: c.create("NEW", Sensitive(VALUE), None), retries=2)
    assert fake.count("create") == 3


def test_409_on_the_retry_of_our_own_rename_is_success() -> None:
    fake, clock = FakeWix(), FakeClock()
    sid = fake.add("OLD", VALUE)
    fake.fail("update", httpx.RemoteProtocolError("dropped"), after_apply=True)
    fake.hide_from_list = 1  # the first check does not see the rename yet
    run(fake, clock, lambda c: c.update(sid, name="NEW"))
    assert fake.ops() == ["update", "list", "update", "list"]
    assert fake.secrets[sid]["name"] == "NEW"


def test_concurrent_requests_share_one_token_exchange() -> None:
    from reconciler.wix import OAuthClientCredentials

    fake, clock = FakeWix(), FakeClock()
    auth = OAuthClientCredentials("app", Sensitive("app-secret-value"), "inst")

    async def body(c: WixSecretsClient) -> Any:
        await asyncio.gather(*(c.list_secrets() for _ in range(10)))
        return c.stats

    stats = run(fake, clock, body, auth=auth)
    assert fake.count("token") == 1 == stats.requests["token"]
    assert str(stats).startswith("11 requests (list=10 token=1), 0 retries")


def test_a_429_asking_for_a_very_long_wait_is_raised_at_once() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", too_many({"retry-after": "3600"}))
    with pytest.raises(RateLimitedError) as info:
        run(fake, clock, lambda c: c.list_secrets())
    assert info.value.retry_after == 3600
    assert fake.count("list") == 1
