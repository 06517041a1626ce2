"""The client against the real emulator over loopback HTTP (and in-process), including faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reconciler.emulator import Emulator, EmulatorServer, EmulatorTransport, Faults
from reconciler.errors import AuthError, NotFoundError
from reconciler.model import Sensitive
from reconciler.wix import ApiKeyAuth, OAuthClientCredentials, WixSecretsClient
from reconciler.wix.auth import Auth

from .fakes import ScaledClock

KEY = "IST.emulator-key-1234"
NAMES = ["PLAIN", "with#hash", "a+b=c@d$e-f_g", "#", "x+#+y"]


def api_key() -> ApiKeyAuth:
    return ApiKeyAuth(Sensitive(KEY), "site-1")


def route_counts(emulator: Emulator) -> dict[str, int]:
    counts = dict(emulator.counts())
    assert counts.pop("other") == 0
    return counts


def against_server(
    emulator: Emulator,
    body: Callable[[WixSecretsClient], Awaitable[Any]],
    *,
    auth: Auth | None = None,
    **kwargs: Any,
) -> Any:
    async def main(url: str) -> Any:
        kwargs.setdefault("rate_limit", None)
        async with WixSecretsClient(api_url=url, auth=auth or api_key(), timeout=10, **kwargs) as client:
            return await body(client), client.stats

    with EmulatorServer(emulator) as server:
        return asyncio.run(main(server.url))


def test_crud_round_trip_over_http_with_exact_request_counts() -> None:
    emulator = Emulator(api_key=KEY)

    async def body(c: WixSecretsClient) -> Any:
        ids = {name: await c.create(name, Sensitive(f"value of {name}"), f"about {name}") for name in NAMES}
        listed = {s.name: s for s in await c.list_secrets()}
        values = {name: await c.get_value(name) for name in NAMES}
        await c.update(ids["PLAIN"], name="RENAMED", description="new", value=Sensitive("new value"))
        renamed = await c.get_value("RENAMED")
        with pytest.raises(NotFoundError):
            await c.get_value("PLAIN")
        for sid in ids.values():
            await c.delete(sid)
        return ids, listed, values, renamed, await c.list_secrets()

    (ids, listed, values, renamed, after), stats = against_server(emulator, body)
    assert set(listed) == set(NAMES)
    assert all(listed[n].id == ids[n] and listed[n].description == f"about {n}" for n in NAMES)
    assert all(listed[n].created_date and listed[n].updated_date for n in NAMES)
    assert values == {n: Sensitive(f"value of {n}") for n in NAMES}
    assert renamed == Sensitive("new value")
    assert after == []
    expected = {"list": 2, "get_value": len(NAMES) + 2, "create": 5, "update": 1, "delete": 5, "token": 0}
    assert stats.requests == expected
    assert route_counts(emulator) == expected
    assert [r.status for r in emulator.requests].count(404) == 1
    assert (stats.retries, stats.failures) == (0, 1)


def test_in_process_transport() -> None:
    emulator = Emulator()

    async def main() -> Any:
        async with WixSecretsClient(
            api_url="https://www.wixapis.com", auth=api_key(), transport=EmulatorTransport(emulator)
        ) as c:
            sid = await c.create("with#hash", Sensitive("v-1234"), None)
            return sid, await c.list_secrets(), await c.get_value("with#hash")

    sid, listed, value = asyncio.run(main())
    assert [(s.id, s.name) for s in listed] == [(sid, "with#hash")]
    assert value == Sensitive("v-1234")


def test_wrong_api_key_is_an_auth_error() -> None:
    emulator = Emulator(api_key="IST.the-right-key")
    with pytest.raises(AuthError) as info:
        against_server(emulator, lambda c: c.list_secrets())
    assert info.value.status == 401
    assert KEY not in info.value.user_message()
    assert route_counts(emulator)["list"] == 1


def test_oauth_against_the_emulator() -> None:
    emulator = Emulator(api_key="IST.not-used", app_secret="app-secret-xyz")
    good = OAuthClientCredentials("app", Sensitive("app-secret-xyz"), "inst")

    async def body(c: WixSecretsClient) -> Any:
        await c.create("A", Sensitive("value-a"), None)
        return await c.get_value("A")

    value, stats = against_server(emulator, body, auth=good)
    assert value == Sensitive("value-a")
    assert stats.requests["token"] == 1 == route_counts(emulator)["token"]

    bad = OAuthClientCredentials("app", Sensitive("wrong-secret-abc"), "inst")
    with pytest.raises(AuthError) as info:
        against_server(emulator, lambda c: c.list_secrets(), auth=bad)
    assert "WIX_CLIENT_SECRET" in info.value.user_message()
    assert "wrong-secret-abc" not in info.value.user_message()


def test_faults_and_a_tight_rate_limit_still_create_everything_exactly_once() -> None:
    """100 concurrent creates against ~20% faults and a rate limit below the client's budget.

    Time runs 20x faster for both sides, so the emulator's one-minute window passes in 3 s. (At 60x the
    429s depended on the machine's speed: a loaded machine sent fewer than 60 requests a real second.
    At 20x it needs only 20 a second, so the rate limit is met whatever the load.)
    """
    clock = ScaledClock(20.0)
    faults = Faults(error_rate=0.1, drop_rate=0.05, lost_reply_rate=0.1, rate_limit=60, seed=20240601)
    emulator = Emulator(api_key=KEY, faults=faults, clock=clock)
    wanted = {f"SECRET_{i:03d}": f"value-{i:03d}-{'x' * (i % 7)}" for i in range(100)}

    async def body(c: WixSecretsClient) -> dict[str, str]:
        names = list(wanted)
        ids = await asyncio.gather(*(c.create(n, Sensitive(wanted[n]), None) for n in names))
        return dict(zip(names, ids, strict=True))

    ids, stats = against_server(
        emulator, body, rate_limit=240.0, retries=12, clock=clock, sleep=clock.sleep, backoff_base=2.0
    )
    with emulator.store.transaction(write=False) as store:
        stored = {s.name: (s.id, s.value) for s in store.all()}
    assert stored == {n: (ids[n], wanted[n]) for n in wanted}

    faults_seen = {r.fault for r in emulator.requests}
    assert {"rate_limit", "error", "drop"} <= faults_seen
    assert faults_seen & {"lost_drop", "lost_error"}
    # exactly as many requests as the emulator saw, per route; retries and 429s counted
    assert {k: v for k, v in stats.requests.items() if k != "token"} == {
        k: v for k, v in route_counts(emulator).items() if k != "token"
    }
    assert stats.throttled == sum(1 for r in emulator.requests if r.status == 429)
    assert stats.failures == 0
    assert stats.retries >= sum(1 for r in emulator.requests if r.fault) - 1
    successful_creates = [r for r in emulator.requests if r.route == "create" and r.status == 200]
    lost_creates = [r for r in emulator.requests if r.route == "create" and r.fault in ("lost_drop", "lost_error")]
    assert len(successful_creates) + len(lost_creates) == 100
