"""The embedded emulator as an ``httpx.AsyncBaseTransport``: no sockets, same behaviour and faults.

Used by ``--local PATH`` (``EmulatorTransport(Emulator(state_file=PATH))``) and by tests. Latency is
an ``asyncio.sleep`` (so concurrent requests overlap as on a network); a dropped connection or a lost
reply that drops raises :class:`httpx.RemoteProtocolError`, exactly what httpx raises when a real
server closes the connection without answering.
"""

from __future__ import annotations

import asyncio

import httpx

from reconciler.emulator.core import Emulator

__all__ = ["EmulatorTransport"]


class EmulatorTransport(httpx.AsyncBaseTransport):
    """Route httpx requests straight into an :class:`Emulator`; the URL's host is ignored."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/_emulator/"):
            return await self._handle(request)
        with self.emulator.in_flight:
            return await self._handle(request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        target = request.url.raw_path.decode("ascii")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.raw}
        reply = self.emulator.handle(request.method, target, headers, body)
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            message = "Server disconnected without sending a response."
            raise httpx.RemoteProtocolError(message, request=request)
        return httpx.Response(
            reply.status,
            headers=list(reply.headers),
            content=reply.body,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )
