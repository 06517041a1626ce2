"""Fault injection: reproducible with a seed, 5xx before applying, lost replies after, drops, latency, 429."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer, EmulatorTransport, Faults

from .conftest import AUTH, PREFIX, FakeClock, make_api


def run_sequence(faults: Faults, n: int = 60) -> list[tuple[int | None, str | None]]:
    emulator = Emulator(faults=faults)
    for i in range(n):
        body = f'{{"secret":{{"name":"n{i}","value":"v"}}}}'.encode()
        emulator.handle("POST", PREFIX, AUTH, body)
    return [(r.status, r.fault) for r in emulator.requests]


def test_faults_are_reproducible_with_a_seed() -> None:
    faults = Faults(error_rate=0.2, drop_rate=0.1, lost_reply_rate=0.2, jitter_ms=5, seed=42)
    first = run_sequence(faults)
    assert first == run_sequence(faults)
    assert first != run_sequence(Faults(error_rate=0.2, drop_rate=0.1, lost_reply_rate=0.2, seed=7))
    kinds = {fault for _, fault in first}
    assert {"error", "drop", "lost_drop", "lost_error", None} <= kinds


def test_delays_are_reproducible_and_bounded() -> None:
    def delays(seed: int) -> list[float]:
        emulator = Emulator(faults=Faults(latency_ms=10, jitter_ms=20, seed=seed))
        return [emulator.handle("GET", PREFIX, AUTH, b"").delay for _ in range(20)]

    assert delays(1) == delays(1) != delays(2)
    assert all(0.010 <= d <= 0.030 for d in delays(1))


def test_reset_restarts_the_fault_sequence() -> None:
    emulator = Emulator(faults=Faults(error_rate=0.5, seed=3))
    statuses = [emulator.handle("GET", PREFIX, AUTH, b"").status for _ in range(20)]
    emulator.reset()
    assert [emulator.handle("GET", PREFIX, AUTH, b"").status for _ in range(20)] == statuses


def test_error_rate_answers_5xx_with_empty_envelope_and_never_applies() -> None:
    emulator = Emulator(faults=Faults(error_rate=1.0, seed=1))
    for api in make_api(emulator, "http"):
        for i in range(12):
            response = api.create(f"n{i}")
            assert response.status_code in (500, 502, 503, 504)
            assert response.json() == {"message": "", "details": {}}
            assert "x-wix-request-id" in response.headers
    with emulator.store.transaction(write=False) as store:
        assert store.all() == []
    assert {r.fault for r in emulator.requests} == {"error"}
    assert len({r.status for r in emulator.requests}) > 1


@pytest.mark.parametrize("mode", ["http", "transport"])
def test_lost_replies_apply_the_change_then_fail(mode: str) -> None:
    emulator = Emulator(faults=Faults(lost_reply_rate=1.0, seed=5))
    for api in make_api(emulator, mode):
        outcomes: list[int | None] = []
        for i in range(10):
            try:
                outcomes.append(api.create(f"n{i}").status_code)
            except httpx.RemoteProtocolError:
                outcomes.append(None)
        assert None in outcomes and any(o is not None and o >= 500 for o in outcomes)
        assert 200 not in outcomes
        listed = api.list()  # reads are never "lost"
        assert [s["name"] for s in listed.json()["secrets"]] == [f"n{i}" for i in range(10)]
        assert {r.fault for r in emulator.requests[:10]} == {"lost_drop", "lost_error"}


def test_failed_writes_are_not_turned_into_lost_replies() -> None:
    emulator = Emulator(faults=Faults(lost_reply_rate=1.0, seed=5))
    reply = emulator.handle("POST", PREFIX, AUTH, b'{"secret":{"name":"wixbad","value":"v"}}')
    assert reply.status == 400 and reply.fault is None


def test_drop_over_http_closes_the_connection_without_answer() -> None:
    emulator = Emulator(faults=Faults(drop_rate=1.0, seed=1))
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.url, headers=AUTH) as client:
        for _ in range(3):
            with pytest.raises(httpx.RemoteProtocolError):
                client.post(PREFIX, json={"secret": {"name": "n", "value": "v"}})
    assert [r.status for r in emulator.requests] == [None, None, None]
    assert {r.fault for r in emulator.requests} == {"drop"}
    with emulator.store.transaction(write=False) as store:
        assert store.all() == []


def test_drop_in_process_raises_like_a_dropped_connection() -> None:
    emulator = Emulator(faults=Faults(drop_rate=1.0, seed=1))

    async def go() -> None:
        async with httpx.AsyncClient(transport=EmulatorTransport(emulator), base_url="https://x") as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(PREFIX, headers=AUTH)

    asyncio.run(go())


def test_latency_in_process_is_an_async_sleep_that_overlaps() -> None:
    emulator = Emulator(faults=Faults(latency_ms=200, seed=0))

    async def go() -> float:
        async with httpx.AsyncClient(transport=EmulatorTransport(emulator), base_url="https://x") as client:
            start = time.perf_counter()
            responses = await asyncio.gather(*(client.get(PREFIX, headers=AUTH) for _ in range(20)))
            assert all(r.status_code == 200 for r in responses)
            return time.perf_counter() - start

    elapsed = asyncio.run(go())
    assert elapsed >= 0.2  # the latency is applied (a lower bound: load can only add to it)
    assert emulator.in_flight.peak == 20  # and overlaps: all twenty were in their latency at once
    assert emulator.in_flight.current == 0


def test_latency_over_http_does_not_serialise_64_keep_alive_connections() -> None:
    """64 threads, one kept-alive connection each, two rounds: the server answers all 64 at once.

    Threads and http.client, not an httpx pool: the proof is about the server, and a client pool
    could itself queue requests. Each round starts behind a barrier, so all 64 are sent before the
    first answer (500 ms away) comes back.
    """
    emulator = Emulator(faults=Faults(latency_ms=500, seed=0))
    barrier = threading.Barrier(64)
    peaks: list[int] = []
    reused: list[bool] = []

    def worker(host: str, port: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            first_socket = None
            for round_ in range(2):
                if barrier.wait() == 0:
                    emulator.in_flight.reset()
                barrier.wait()
                conn.request("GET", PREFIX, headers=AUTH)
                response = conn.getresponse()
                response.read()
                assert response.status == 200
                if barrier.wait() == 0:
                    peaks.append(emulator.in_flight.peak)
                if round_ == 0:
                    first_socket = conn.sock
            reused.append(conn.sock is first_socket)
        finally:
            conn.close()

    with EmulatorServer(emulator) as server:
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        threads = [threading.Thread(target=worker, args=(host, int(port))) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        seen = httpx.get(server.url + "/_emulator/requests").json()
    assert reused == [True] * 64  # the second round ran on the kept-alive connections
    assert peaks == [64, 64]  # every request of each round was in its latency at once
    assert seen["maxInFlight"] == 64
    assert seen["maxInFlight"] == 64
    assert emulator.counts()["list"] == 128


@pytest.mark.parametrize("mode", ["http", "transport"])
def test_rate_limit_answers_429_with_retry_after(mode: str) -> None:
    clock = FakeClock()
    emulator = Emulator(faults=Faults(rate_limit=3), clock=clock)
    for api in make_api(emulator, mode):
        assert [api.list().status_code for _ in range(3)] == [200, 200, 200]
        clock.advance(20)
        limited = api.list()
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "40"
        body = limited.json()
        assert body["details"]["applicationError"]["code"] == "RESOURCE_EXHAUSTED"
        assert isinstance(body["message"], str) and body["message"]
        assert api.create("blocked").status_code == 429
        assert (
            api.request(
                "POST",
                "/oauth2/token",
                auth=False,
                json={
                    "grant_type": "client_credentials",
                    "client_id": "a",
                    "client_secret": "b",
                    "instance_id": "c",
                },
            ).status_code
            == 200
        )  # the token endpoint is not throttled
        clock.advance(40)
        assert api.list().status_code == 200
        assert [r.fault for r in emulator.requests].count("rate_limit") == 2
    with emulator.store.transaction(write=False) as store:
        assert store.all() == []


def test_rate_limit_is_a_sliding_window() -> None:
    clock = FakeClock()
    emulator = Emulator(faults=Faults(rate_limit=2), clock=clock)
    assert emulator.handle("GET", PREFIX, AUTH, b"").status == 200
    clock.advance(30)
    assert emulator.handle("GET", PREFIX, AUTH, b"").status == 200
    clock.advance(29)
    reply = emulator.handle("GET", PREFIX, AUTH, b"")
    assert reply.status == 429 and dict(reply.headers)["retry-after"] == "1"
    clock.advance(1)
    assert emulator.handle("GET", PREFIX, AUTH, b"").status == 200  # the first one left the window
    assert emulator.handle("GET", PREFIX, AUTH, b"").status == 429


def test_control_routes_are_never_faulted() -> None:
    emulator = Emulator(faults=Faults(drop_rate=1.0, error_rate=1.0, rate_limit=1, seed=1))
    assert emulator.handle("GET", "/_emulator/requests", {}, b"").status == 200
    assert emulator.handle("POST", "/_emulator/reset", {}, b"").status == 200


@pytest.mark.parametrize("kwargs", [{"error_rate": 1.5}, {"drop_rate": -0.1}, {"latency_ms": -1}, {"rate_limit": 0}])
def test_invalid_fault_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Faults(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["http", "transport"])
def test_seeded_faults_reproduce_over_both_seams(mode: str) -> None:
    def outcomes() -> list[int | None]:
        emulator = Emulator(faults=Faults(error_rate=0.3, drop_rate=0.2, lost_reply_rate=0.3, seed=99))
        seen: list[int | None] = []
        for api in make_api(emulator, mode):
            for i in range(25):
                try:
                    seen.append(api.create(f"n{i}").status_code)
                except httpx.RemoteProtocolError:
                    seen.append(None)
        return seen

    first = outcomes()
    assert first == outcomes()
    assert None in first and 200 in first and any(s is not None and s >= 500 for s in first)
