"""Test doubles for the Wix client tests: a virtual-time clock and a scriptable fake Wix API.

Both plug into the client only through its constructor seams (``clock``, ``sleep``, ``transport``);
nothing of the client is patched.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import time
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from reconciler.model import Sensitive
from reconciler.wix import ApiKeyAuth, WixSecretsClient
from reconciler.wix.auth import Auth

T = TypeVar("T")
PREFIX = "/_api/cloud-secrets-vault-server/api/v1/secrets"
API_KEY = "IST.test-api-key-0123456789"
SITE_ID = "site-123"


class FakeClock:
    """Virtual time: ``sleep`` parks the caller until every task is idle, then time jumps ahead.

    Sleepers wake in deadline order, one at a time, so the order of events is the real-time order.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        if delay <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self.now + delay, next(self._seq), fut))
        await fut

    async def drive(self, coro: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(coro)
        while not task.done():
            for _ in range(30):
                await asyncio.sleep(0)
                if task.done():
                    break
            if task.done():
                break
            if self._waiters:
                wake, _, fut = heapq.heappop(self._waiters)
                self.now = max(self.now, wake)
                if not fut.cancelled():
                    fut.set_result(None)
            else:
                await asyncio.sleep(0.001)
        return task.result()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(self.drive(coro))


@dataclass
class Seen:
    """One request as the fake saw it."""

    method: str
    op: str
    raw_path: str
    headers: httpx.Headers
    body: Any
    time: float


@dataclass
class _Hook:
    op: str
    action: httpx.Response | Exception
    after_apply: bool
    remaining: int


def op_of(method: str, path: str) -> str:
    if path == "/oauth2/token":
        return "token"
    rest = path[len(PREFIX) :]
    if rest == "":
        return {"GET": "list", "POST": "create"}[method]
    if rest.startswith("/name/"):
        return "get_value"
    return {"PATCH": "update", "DELETE": "delete"}[method]


def envelope(status: int, code: str, message: str = "") -> httpx.Response:
    body = {"message": message, "details": {"applicationError": {"code": code, "description": message}}}
    return httpx.Response(status, json=body, headers={"x-wix-request-id": f"req-{status}"})


@dataclass
class FakeWix:
    """An in-memory Wix Secrets API behind ``httpx.MockTransport`` with one-shot failure hooks."""

    clock: FakeClock | None = None
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> name/value/description
    requests: list[Seen] = field(default_factory=list)
    hooks: list[_Hook] = field(default_factory=list)
    tokens_issued: int = 0
    token_lifetime: int = 14400
    valid_tokens: set[str] = field(default_factory=set)
    hide_from_list: int = 0  # answer this many lists as if nothing existed (eventual consistency)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fail(
        self, op: str, action: httpx.Response | Exception | int, *, after_apply: bool = False, times: int = 1
    ) -> None:
        if isinstance(action, int):
            action = envelope(action, "X") if action != 503 else httpx.Response(503, json={})
        self.hooks.append(_Hook(op, action, after_apply, times))

    def ops(self) -> list[str]:
        return [s.op for s in self.requests]

    def count(self, op: str) -> int:
        return sum(1 for s in self.requests if s.op == op)

    def add(self, name: str, value: str, description: str = "") -> str:
        sid = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        self.secrets[sid] = {"name": name, "value": value, "description": description}
        return sid

    def by_name(self, name: str) -> tuple[str, dict[str, str]] | None:
        for sid, s in self.secrets.items():
            if s["name"] == name:
                return sid, s
        return None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        op = op_of(request.method, path)
        body = json.loads(request.content) if request.content else None
        now = self.clock() if self.clock else 0.0
        self.requests.append(Seen(request.method, op, request.url.raw_path.decode(), request.headers, body, now))
        hook = next((h for h in self.hooks if h.op == op and h.remaining > 0), None)
        if hook is not None:
            hook.remaining -= 1
            if not hook.after_apply:
                return self._act(hook.action)
            self._apply(request, op, body)
            return self._act(hook.action)
        return self._apply(request, op, body)

    @staticmethod
    def _act(action: httpx.Response | Exception) -> httpx.Response:
        if isinstance(action, Exception):
            raise action
        return action

    def _apply(self, request: httpx.Request, op: str, body: Any) -> httpx.Response:
        if op == "token":
            self.tokens_issued += 1
            token = f"tok-{self.tokens_issued}"
            self.valid_tokens.add(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": self.token_lifetime})
        auth = request.headers.get("authorization", "")
        if auth != API_KEY and auth not in self.valid_tokens:
            return envelope(401, "UNAUTHENTICATED", "bad credentials")
        path = request.url.path
        if op == "list":
            if self.hide_from_list > 0:
                self.hide_from_list -= 1
                return httpx.Response(200, json={"secrets": []})
            items = [{"id": k, "name": v["name"], "description": v["description"]} for k, v in self.secrets.items()]
            return httpx.Response(200, json={"secrets": items})
        if op == "get_value":
            name = urllib.parse.unquote(request.url.raw_path.decode().rsplit("/", 1)[1])
            found = self.by_name(name)
            if found is None:
                return envelope(404, "NOT_FOUND", "no such secret")
            return httpx.Response(200, json={"value": found[1]["value"]})
        if op == "create":
            secret = body["secret"]
            if self.by_name(secret["name"]) is not None:
                return envelope(409, "ALREADY_EXISTS", "name in use")
            sid = self.add(secret["name"], secret["value"], secret.get("description", ""))
            return httpx.Response(200, json={"id": sid})
        sid = urllib.parse.unquote(path.rsplit("/", 1)[1])
        if sid not in self.secrets:
            return envelope(404, "NOT_FOUND", "no such secret")
        if op == "update":
            patch = body["secret"]
            other = self.by_name(patch["name"]) if "name" in patch else None
            if other is not None:
                return envelope(409, "ALREADY_EXISTS", "name in use")
            self.secrets[sid].update(patch)
            return httpx.Response(200, json={})
        del self.secrets[sid]
        return httpx.Response(200, json={})


def make_client(
    fake: FakeWix,
    clock: FakeClock,
    *,
    auth: Auth | None = None,
    rate_limit: float | None = None,
    **kwargs: Any,
) -> WixSecretsClient:
    fake.clock = clock
    return WixSecretsClient(
        api_url="https://www.wixapis.com",
        auth=auth or ApiKeyAuth(Sensitive(API_KEY), SITE_ID),
        transport=fake.transport(),
        rate_limit=rate_limit,
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )


def run(fake: FakeWix, clock: FakeClock, body: Callable[[WixSecretsClient], Any], **kwargs: Any) -> Any:
    """``body(client)`` with a client of ``fake`` (``make_client``'s ``kwargs``), driven by ``clock``; its result."""

    async def main() -> Any:
        async with make_client(fake, clock, **kwargs) as client:
            return await body(client)

    return clock.run(main())


class ScaledClock:
    """Real time running ``factor`` times faster, shared by the client and the emulator.

    ``sleep(d)`` really sleeps ``d / factor`` seconds, so a one-minute rate window passes in a second
    while requests still travel over real sockets.
    """

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._origin = time.monotonic()

    def __call__(self) -> float:
        return (time.monotonic() - self._origin) * self.factor

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay) / self.factor)
