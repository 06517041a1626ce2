"""The async Wix Secrets API client: one per site, with pacing, retries and idempotent writes.

This module owns the public client and the retry rules of each operation; every request goes through
:class:`~reconciler.wix.engine.RequestEngine` (concurrency, rate budget, auth, error mapping, backoff).
Writes are made safe to retry:

* a create whose answer was lost (network error or 5xx after sending) is checked by listing, and
  reading the value of a same-named secret, before it is sent again; a 409 on the retry of our own
  create is success when the existing secret holds our value;
* a delete answered 404 on a retry is done;
* an update of name/description whose answer was lost is checked by listing; a value update is
  simply sent again (PATCH is idempotent).

:meth:`WixSecretsClient.read_only` gives a :class:`ReadOnlyClient` with no write methods at all.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import logging
import random
import time
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, TypeVar

import httpx

from reconciler import __version__
from reconciler.errors import AlreadyExistsError, NotFoundError, RemoteError
from reconciler.model import RemoteSecret, Sensitive
from reconciler.redact import Redactor
from reconciler.wix import wire
from reconciler.wix.auth import Auth, check_api_url
from reconciler.wix.engine import CallState, RequestEngine
from reconciler.wix.pool import SharedTransport
from reconciler.wix.ratelimit import DEFAULT_RATE_LIMIT, Clock, RateLimiter, RequestStats, Sleep

__all__ = ["DEFAULT_USER_AGENT", "ReadOnlyClient", "WixSecretsClient"]

log = logging.getLogger("reconciler.wix")

DEFAULT_USER_AGENT = f"wix-secrets/{__version__} (+https://github.com/wix-secrets/wix-secrets)"
_T = TypeVar("_T")


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing: the client neither stores nor sends cookies."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class WixSecretsClient:
    """Async client for the secrets of one Wix site. Use as ``async with``, or call :meth:`aclose`."""

    def __init__(
        self,
        *,
        api_url: str,
        auth: Auth,
        transport: httpx.AsyncBaseTransport | None = None,
        concurrency: int = 32,
        rate_limit: float | None = DEFAULT_RATE_LIMIT,
        retries: int = 5,
        timeout: float = 30.0,
        user_agent: str | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        burst: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        rng: random.Random | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.api_url = check_api_url(api_url)
        self._auth = auth
        self._http = httpx.AsyncClient(
            base_url=self.api_url,
            # keep-alive connections shared by the clients of this event loop, bounded in number (see pool)
            transport=transport if transport is not None else SharedTransport(),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent or DEFAULT_USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
            trust_env=False,
            cookies=_NoCookies(),  # the API sets none; parsing each answer costs ~25 µs
        )
        self._engine = RequestEngine(
            http=self._http,
            auth=auth,
            concurrency=concurrency,
            limiter=RateLimiter(rate_limit, burst=burst, clock=clock, sleep=sleep),
            retries=retries,
            clock=clock,
            sleep=sleep,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            rng=rng,
            deadline=timeout,
            redactor=redactor,
        )
        self.stats: RequestStats = self._engine.stats

    def __repr__(self) -> str:
        return f"WixSecretsClient(api_url={self.api_url!r}, auth={self._auth!r})"

    @property
    def limiter(self) -> RateLimiter:
        return self._engine.limiter

    # -- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> WixSecretsClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def read_only(self) -> ReadOnlyClient:
        return ReadOnlyClient(self)

    # -- public operations -------------------------------------------------------------------------

    async def list_secrets(self) -> list[RemoteSecret]:
        return await self._counted(self._list())

    async def get_value(self, name: str) -> Sensitive:
        """The value of the secret called ``name``; NotFoundError when there is none."""
        return await self._counted(self._get_value(name))

    async def create(self, name: str, value: Sensitive, description: str | None) -> str:
        """Create a secret and return its id. Safe to retry: never creates it twice."""
        return await self._counted(self._create(name, value, description))

    async def update(
        self,
        id: str,
        *,
        name: str | None = None,
        value: Sensitive | None = None,
        description: str | None = None,
    ) -> None:
        """PATCH only the given fields of the secret ``id``."""
        if name is None and value is None and description is None:
            raise ValueError("update() needs at least one of name, value, description")
        await self._counted(self._update(id, name=name, value=value, description=description))

    async def delete(self, id: str) -> None:
        await self._counted(self._delete(id))

    async def _counted(self, call: Awaitable[_T]) -> _T:
        try:
            result = await call
        except RemoteError:
            self.stats.failures += 1
            raise
        return result

    # -- operations with their retry rules ---------------------------------------------------------

    async def _list(self) -> list[RemoteSecret]:
        response = await self._read(wire.SECRETS_PATH, CallState("list", ""))
        return wire.parse_secret_list(wire.decode_json(response, "list"), response)

    async def _get_value(self, name: str) -> Sensitive:
        if not name:
            raise ValueError("a secret name must not be empty")
        response = await self._read(wire.value_path(name), CallState("get_value", name))
        value = wire.parse_value(wire.decode_json(response, "get_value"), response)
        if self._engine.redactor is not None:
            self._engine.redactor.add(value.reveal())  # before anything else is done with it
        return value

    async def _read(self, path: str, state: CallState) -> httpx.Response:
        while True:
            out = await self._engine.attempt("GET", path, state)
            if out.response is not None:
                return out.response
            await self._engine.after_failure(state, out)

    async def _create(self, name: str, value: Sensitive, description: str | None) -> str:
        state = CallState("create", name)
        body = wire.create_body(name, value, description)
        while True:
            if state.maybe_applied:
                found = await self._find_created(name, value, state)
                if found is not None:
                    return found
            out = await self._engine.attempt("POST", wire.SECRETS_PATH, state, body=body, sensitive=(value,))
            if out.response is not None:
                return wire.parse_created_id(wire.decode_json(out.response, "create"), out.response)
            if isinstance(out.error, AlreadyExistsError) and state.attempt > 1:
                found = await self._find_created(name, value, state, conflict=out.error)
                if found is not None:
                    return found
            await self._engine.after_failure(state, out)

    async def _find_created(
        self, name: str, value: Sensitive, state: CallState, conflict: AlreadyExistsError | None = None
    ) -> str | None:
        """After a lost create answer: the id of ``name`` if it exists with ``value``.

        None when it does not exist (send again); AlreadyExistsError when it exists with another value.
        """
        existing = {s.name: s for s in await self._list()}.get(name)
        if existing is None:
            if conflict is not None:
                raise conflict
            log.info("create %s: not on the site after a lost answer; sending again", name)
            return None
        try:
            current = await self._get_value(name)
        except NotFoundError:  # deleted in between: it is not there
            if conflict is not None:
                raise conflict from None
            return None
        if current == value:
            log.info("create %s: already created by an earlier attempt (id %s)", name, existing.id)
            return existing.id
        if conflict is not None:
            raise conflict
        raise AlreadyExistsError(
            f"Wix API create {name}: a secret with this name already exists with another value",
            status=409,
            operation="create",
        )

    async def _update(self, id: str, *, name: str | None, value: Sensitive | None, description: str | None) -> None:
        state = CallState("update", id if name is None else f"{id} (name {name})")
        body = wire.update_body(name=name, value=value, description=description)
        sensitive = (value,) if value is not None else ()
        while True:
            if state.maybe_applied and value is None and await self._update_visible(id, name, description):
                return
            out = await self._engine.attempt("PATCH", wire.id_path(id), state, body=body, sensitive=sensitive)
            if out.response is not None:
                return
            if (
                isinstance(out.error, AlreadyExistsError)
                and state.attempt > 1
                and state.maybe_applied
                and await self._update_visible(id, name, description)
            ):
                return
            await self._engine.after_failure(state, out)

    async def _update_visible(self, id: str, name: str | None, description: str | None) -> bool:
        current = {s.id: s for s in await self._list()}.get(id)
        done = (
            current is not None
            and (name is None or current.name == name)
            and (description is None or current.description == description)
        )
        if done:
            log.info("update %s: already applied by an earlier attempt", id)
        return done

    async def _delete(self, id: str) -> None:
        state = CallState("delete", id)
        while True:
            out = await self._engine.attempt("DELETE", wire.id_path(id), state)
            if out.response is not None:
                return
            if isinstance(out.error, NotFoundError) and state.attempt > 1:
                log.info("delete %s: gone on retry (404); done", id)
                return
            await self._engine.after_failure(state, out)


class ReadOnlyClient:
    """A view of a :class:`WixSecretsClient` that can only list secrets and read values.

    It has no write methods at all, so code holding one (the drift command) cannot change the site.
    """

    __slots__ = ("_client",)

    def __init__(self, client: WixSecretsClient) -> None:
        self._client = client

    async def list_secrets(self) -> list[RemoteSecret]:
        return await self._client.list_secrets()

    async def get_value(self, name: str) -> Sensitive:
        return await self._client.get_value(name)

    @property
    def stats(self) -> RequestStats:
        return self._client.stats

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ReadOnlyClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ReadOnlyClient({self._client!r})"
