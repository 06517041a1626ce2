"""An HTTP connection pool whose cost per request does not grow with the concurrency.

httpcore 1.0's pool, behind every ``httpx.AsyncClient``, re-examines every connection (polling each
idle socket) for every waiting request whenever a request starts or ends: O(C²) work per request at
concurrency C. At C = 32 that costs more CPU than 50 ms of network latency can hide (a 1,000-secret
plan took 5 to 10 s instead of 1.7 s). :class:`ShardedTransport` keeps a free list of
single-connection transports instead: a request takes the most recently used free one (or opens a new
one) and gives it back when its response is closed, so each connection is still kept alive and
reused, and the work per request is constant. There are never more shards than requests that were in
flight at once, which the client's concurrency bound limits.

:class:`SharedTransport` is what a client gets by default: a handle on one such transport per event
loop, shared by every client of that loop (every site of a project planned in one process), with at
most :data:`SHARED_MAX_CONNECTIONS` requests in flight at once. The sites then reuse each other's
keep-alive connections, and memory and sockets stay bounded whatever the number of sites.

The TLS context (the CA bundle, ~35 ms of CPU to load) is made once per process, when the first
connection opens, and shared by every client: a fleet of sites pays it once.

httpcore runs ``import sniffio`` on every lock acquisition; sniffio is a dependency of wix-secrets so
that import is a lookup in ``sys.modules`` (absent, each failed import would scan ``sys.path`` again,
several times per request). Importing this module has no side effect.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import weakref
from collections.abc import AsyncIterator, Callable
from typing import cast

import httpx

__all__ = ["SHARED_MAX_CONNECTIONS", "ShardedTransport", "SharedTransport"]


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process, shared by every shard of every client.

    Loading the CA bundle costs about 35 ms of CPU: once per process, not once per client (per site,
    in a fleet) or per connection. It is made when the first connection is opened, not before.
    """
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body; closing it hands the shard back (once)."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """Single-connection ``httpx.AsyncHTTPTransport`` shards, one per concurrent request.

    ``max_connections``: at most this many requests in flight (and so connections open) at once;
    further requests wait for a connection to be given back. None: no bound beyond the callers'.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        keepalive_expiry: float = 5.0,
        max_connections: int | None = None,
    ) -> None:
        self._verify = verify
        self._limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=keepalive_expiry)
        self._free: list[httpx.AsyncHTTPTransport] = []
        self._shards: list[httpx.AsyncHTTPTransport] = []
        self._max = max_connections
        self._gate: asyncio.Semaphore | None = None

    @property
    def size(self) -> int:
        """How many connections (shards) have been opened so far."""
        return len(self._shards)

    def _take(self) -> httpx.AsyncHTTPTransport:
        if self._free:
            return self._free.pop()
        verify = self._verify if isinstance(self._verify, ssl.SSLContext) else _ssl_context(self._verify)
        shard = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, limits=self._limits)
        self._shards.append(shard)
        return shard

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        gate = self._gate
        if self._max is not None:
            if gate is None:
                gate = self._gate = asyncio.Semaphore(self._max)
            await gate.acquire()
        shard = self._take()

        def give_back() -> None:
            self._free.append(shard)
            if gate is not None:
                gate.release()

        try:
            response = await shard.handle_async_request(request)
        except BaseException:
            give_back()
            raise
        # the same response, its body wrapped (a second Response would copy the headers again)
        response.stream = _ReleasingStream(cast(httpx.AsyncByteStream, response.stream), give_back)
        return response

    async def aclose(self) -> None:
        shards, self._shards, self._free = self._shards, [], []
        for shard in shards:
            await shard.aclose()


#: Requests in flight at once, over all the clients of one event loop (e.g. every site of a project).
SHARED_MAX_CONNECTIONS = 256
_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[ShardedTransport, list[int]]] = (
    weakref.WeakKeyDictionary()
)


class SharedTransport(httpx.AsyncBaseTransport):
    """A client's handle on the one :class:`ShardedTransport` of the running event loop.

    Every client made without a transport of its own uses one: the sites of a project planned in one
    process then share their keep-alive connections (a connection freed by one site serves the next
    request of any site) and at most :data:`SHARED_MAX_CONNECTIONS` requests are in flight at once,
    which bounds memory and sockets whatever the number of sites. The shared transport is closed
    when the last handle that used it is closed.
    """

    def __init__(self) -> None:
        self._inner: ShardedTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def inner(self) -> ShardedTransport | None:
        """The shared transport this handle uses (None before its first request)."""
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            loop = asyncio.get_running_loop()
            entry = _shared.get(loop)
            if entry is None:
                entry = _shared[loop] = (ShardedTransport(max_connections=SHARED_MAX_CONNECTIONS), [0])
            entry[1][0] += 1
            self._inner, self._loop = entry[0], loop
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        inner, loop, self._inner, self._loop = self._inner, self._loop, None, None
        if inner is None or loop is None:
            return
        entry = _shared.get(loop)
        if entry is None or entry[0] is not inner:
            return
        entry[1][0] -= 1
        if entry[1][0] <= 0:
            del _shared[loop]
            await inner.aclose()
