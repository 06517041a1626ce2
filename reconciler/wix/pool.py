"""An HTTP connection pool whose cost per request does not grow with the concurrency.

httpcore 1.0's pool, behind every ``httpx.AsyncClient``, re-examines every connection (polling each
idle socket) for every waiting request whenever a request starts or ends: O(C²) work per request at
concurrency C. At C = 32 that costs more CPU than 50 ms of network latency can hide (a 1,000-secret
plan took 5 to 10 s instead of 1.7 s). :class:`ShardedTransport` keeps a free list of
single-connection transports instead: a request takes the most recently used free one (or opens a new
one) and gives it back when its response is closed, so each connection is still kept alive and
reused, and the work per request is constant. There are never more shards than requests that were in
flight at once, which the client's concurrency bound limits.

httpcore runs ``import sniffio`` on every lock acquisition; sniffio is a dependency of wix-secrets so
that import is a lookup in ``sys.modules`` (absent, each failed import would scan ``sys.path`` again,
several times per request). Importing this module has no side effect.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from typing import cast

import httpx

__all__ = ["ShardedTransport"]


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
    """Single-connection ``httpx.AsyncHTTPTransport`` shards, one per concurrent request."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, keepalive_expiry: float = 5.0) -> None:
        self._ssl = httpx.create_ssl_context(verify=verify, trust_env=False)  # made once, shared
        self._limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=keepalive_expiry)
        self._free: list[httpx.AsyncHTTPTransport] = []
        self._shards: list[httpx.AsyncHTTPTransport] = []

    @property
    def size(self) -> int:
        """How many connections (shards) have been opened so far."""
        return len(self._shards)

    def _take(self) -> httpx.AsyncHTTPTransport:
        if self._free:
            return self._free.pop()
        shard = httpx.AsyncHTTPTransport(verify=self._ssl, trust_env=False, limits=self._limits)
        self._shards.append(shard)
        return shard

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = self._take()
        try:
            response = await shard.handle_async_request(request)
        except BaseException:
            self._free.append(shard)
            raise
        stream = _ReleasingStream(cast(httpx.AsyncByteStream, response.stream), lambda: self._free.append(shard))
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        shards, self._shards, self._free = self._shards, [], []
        for shard in shards:
            await shard.aclose()
