"""ShardedTransport: one keep-alive connection per concurrent request, given back when the response closes."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer, Faults
from reconciler.errors import NetworkError
from reconciler.model import Sensitive
from reconciler.wix import WixSecretsClient, pool
from reconciler.wix.auth import ApiKeyAuth
from reconciler.wix.pool import ShardedTransport, SharedTransport

from support import EmulatorSites, Site


@pytest.fixture
def server(emulator_site: EmulatorSites) -> Site[Emulator]:
    return emulator_site(api_key="k", faults=Faults(latency_ms=5))


def client(url: str, transport: httpx.AsyncBaseTransport, concurrency: int, retries: int = 5) -> WixSecretsClient:
    return WixSecretsClient(
        api_url=url,
        auth=ApiKeyAuth("k", "s"),
        transport=transport,
        concurrency=concurrency,
        rate_limit=None,
        retries=retries,
        backoff_base=0.001,
    )


def test_never_more_connections_than_concurrent_requests_and_they_are_reused(
    server: Site[Emulator],
) -> None:
    emulator, url = server
    transport = ShardedTransport()

    async def run() -> None:
        async with client(url, transport, concurrency=4) as c:
            await asyncio.gather(*(c.create(f"S{i}", Sensitive(f"v{i}"), None) for i in range(12)))
            assert 1 <= transport.size <= 4
            first = transport.size
            values = await asyncio.gather(*(c.get_value(f"S{i}") for i in range(12)))
            assert [v.reveal() for v in values] == [f"v{i}" for i in range(12)]
            assert transport.size == first  # kept alive and reused, none opened
        assert transport.size == 0  # closed with the client

    asyncio.run(run())
    assert emulator.counts()["create"] == 12 and emulator.counts()["get_value"] == 12


def test_failed_requests_give_their_connection_back() -> None:
    transport = ShardedTransport()
    emulator_drops = Emulator(api_key="k", faults=Faults(drop_rate=1.0))
    with EmulatorServer(emulator_drops) as dropping:

        async def run() -> None:
            async with client(dropping.url, transport, concurrency=2, retries=1) as c:
                for _ in range(3):
                    with pytest.raises(NetworkError):
                        await c.get_value("A")
                assert transport.size <= 2

        asyncio.run(run())
    assert emulator_drops.counts()["get_value"] == 6  # 3 calls x (1 try + 1 retry), all answered by a drop


def test_the_default_client_uses_it() -> None:
    c = WixSecretsClient(api_url="http://127.0.0.1:9", auth=ApiKeyAuth("k", "s"))
    try:
        assert isinstance(c._http._transport, SharedTransport)
    finally:
        asyncio.run(c.aclose())


def test_one_tls_context_per_process_shared_by_every_client(server: Site[Emulator]) -> None:
    """Loading the CA bundle is paid once per process, not once per site of a fleet."""
    _, url = server
    first, second = ShardedTransport(), ShardedTransport()

    async def run() -> list[ssl.SSLContext | None]:
        contexts: list[ssl.SSLContext | None] = []
        for transport in (first, second):
            async with client(url, transport, concurrency=2) as c:
                await c.list_secrets()
                shard = transport._shards[0]
                contexts.append(shard._pool._ssl_context)
        return contexts

    one, two = asyncio.run(run())
    assert one is two and one is not None
    assert one.verify_mode == ssl.CERT_REQUIRED and one.check_hostname  # still verifying


def test_the_client_keeps_no_cookies() -> None:
    """Cookies are neither parsed nor sent back: the API sets none, and parsing costs CPU per answer."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={"secrets": []}, headers={"set-cookie": "tracker=1; Path=/"})

    async def run() -> None:
        async with WixSecretsClient(
            api_url="https://www.wixapis.com", auth=ApiKeyAuth("k", "s"), transport=httpx.MockTransport(handler)
        ) as c:
            await c.list_secrets()
            await c.list_secrets()
            assert len(c._http.cookies.jar) == 0

    asyncio.run(run())
    assert seen == [None, None]


def test_a_bounded_transport_never_has_more_requests_in_flight_than_its_bound() -> None:
    emulator = Emulator(api_key="k", faults=Faults(latency_ms=30))
    transport = ShardedTransport(max_connections=3)
    with EmulatorServer(emulator) as srv:

        async def run() -> None:
            async with client(srv.url, transport, concurrency=10) as c:
                await asyncio.gather(*(c.create(f"S{i}", Sensitive(f"v{i}"), None) for i in range(10)))
                assert transport.size == 3

        asyncio.run(run())
    assert emulator.in_flight.peak == 3  # ten wanted at once, three at a time
    assert emulator.counts()["create"] == 10


def test_clients_of_one_loop_share_connections_within_one_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every site of a project in one process: one pool, at most SHARED_MAX_CONNECTIONS in flight."""
    monkeypatch.setattr(pool, "SHARED_MAX_CONNECTIONS", 4)
    emulator = Emulator(api_key="k", faults=Faults(latency_ms=30))
    with EmulatorServer(emulator) as srv:

        async def site(index: int) -> SharedTransport:
            c = WixSecretsClient(api_url=srv.url, auth=ApiKeyAuth("k", f"site-{index}"), concurrency=8, rate_limit=None)
            async with c:
                await asyncio.gather(*(c.create(f"S{index}_{i}", Sensitive("v"), None) for i in range(8)))
                handle = c._http._transport
                assert isinstance(handle, SharedTransport) and handle.inner is not None
                return handle

        async def run() -> None:
            handles = []
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(site(i)) for i in range(3)]
            handles = [t.result() for t in tasks]
            assert all(h.inner is None for h in handles)  # closed
            # the last close closed the shared transport; a new client gets a new one
            assert asyncio.get_running_loop() not in pool._shared

        asyncio.run(run())
    assert emulator.in_flight.peak == 4  # 24 wanted at once by three sites, four at a time
    assert emulator.counts()["create"] == 24
