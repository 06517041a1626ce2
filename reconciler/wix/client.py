"""The async Wix Secrets API client: one per site, with pacing, retries and idempotent writes.

This module owns the request/retry loop around httpx: concurrency bound, shared rate budget
(:mod:`reconciler.wix.ratelimit`), authentication headers (:mod:`reconciler.wix.auth`), mapping of
transport failures into :class:`~reconciler.errors.NetworkError`, bounded retries with backoff, and
making writes safe to retry:

* a create whose answer was lost (network error or 5xx after sending) is checked by listing, and
  reading the value of a same-named secret, before it is sent again; a 409 on the retry of our own
  create is success when the existing secret holds our value;
* a delete answered 404 on a retry is done;
* an update of name/description whose answer was lost is checked by listing; a value update is
  simply sent again (PATCH is idempotent).

JSON field names live in :mod:`reconciler.wix.wire`. Logs (logger ``reconciler.wix``) carry method,
operation, secret name or id, status, timing and attempt, never headers, bodies, values or tokens.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx

from reconciler import __version__
from reconciler.errors import (
    AlreadyExistsError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
    ServerError,
)
from reconciler.model import RemoteSecret, Sensitive
from reconciler.wix import wire
from reconciler.wix.auth import Auth, OAuthClientCredentials, check_api_url
from reconciler.wix.ratelimit import (
    Clock,
    RateLimiter,
    RequestStats,
    Sleep,
    backoff_delay,
    parse_retry_after,
)

__all__ = ["DEFAULT_USER_AGENT", "ReadOnlyClient", "WixSecretsClient"]

log = logging.getLogger("reconciler.wix")

DEFAULT_USER_AGENT = f"wix-secrets/{__version__} (+https://github.com/wix-secrets/wix-secrets)"
#: A 429 asking to wait longer than this is not waited for: the error is raised.
MAX_RETRY_AFTER = 120.0
_T = TypeVar("_T")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class _Outcome:
    """One attempt: the 200 response, or the error and whether the request may have been applied."""

    response: httpx.Response | None = None
    error: RemoteError | None = None
    maybe_applied: bool = False
    sent_at: float = 0.0
    generation: int = 0


@dataclass
class _CallState:
    op: str
    target: str
    attempt: int = 0
    reauthed: bool = False
    maybe_applied: bool = False


class WixSecretsClient:
    """Async client for the secrets of one Wix site. Use as ``async with``, or call :meth:`aclose`."""

    def __init__(
        self,
        *,
        api_url: str,
        auth: Auth,
        transport: httpx.AsyncBaseTransport | None = None,
        concurrency: int = 16,
        rate_limit: float | None = 200.0,
        retries: int = 5,
        timeout: float = 30.0,
        user_agent: str | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        burst: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.api_url = check_api_url(api_url)
        self._auth = auth
        self._retries = retries
        self._clock = clock
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiter = RateLimiter(rate_limit, burst=burst, clock=clock, sleep=sleep)
        self.stats = RequestStats()
        self._http = httpx.AsyncClient(
            base_url=self.api_url,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent or DEFAULT_USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
            trust_env=False,
        )

    def __repr__(self) -> str:
        return f"WixSecretsClient(api_url={self.api_url!r}, auth={self._auth!r})"

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

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

    # -- TokenSession (used by OAuthClientCredentials) ---------------------------------------------

    def now(self) -> float:
        return self._clock()

    async def exchange_token(self, credentials: OAuthClientCredentials) -> wire.TokenGrant:
        """One token request (its retries belong to the request that needed the token)."""
        body = wire.token_body(credentials.client_id, credentials.client_secret, credentials.instance_id)
        out = await self._attempt(
            "POST",
            wire.TOKEN_PATH,
            _CallState("token", ""),
            body=body,
            authenticate=False,
            pace=False,
            sensitive=(credentials.client_secret,),
        )
        if out.response is None:
            assert out.error is not None
            raise out.error
        response = out.response
        if response.status_code != 200:
            raise wire.token_error(
                response, client_id=credentials.client_id, client_secret=credentials.client_secret
            )
        grant = wire.parse_token(wire.decode_json(response, "token"), response)
        log.debug("token: obtained, valid for %.0fs", grant.expires_in)
        return grant

    # -- operations with their retry rules ---------------------------------------------------------

    async def _list(self) -> list[RemoteSecret]:
        response = await self._read(wire.SECRETS_PATH, _CallState("list", ""))
        return wire.parse_secret_list(wire.decode_json(response, "list"), response)

    async def _get_value(self, name: str) -> Sensitive:
        if not name:
            raise ValueError("a secret name must not be empty")
        response = await self._read(wire.value_path(name), _CallState("get_value", name))
        return wire.parse_value(wire.decode_json(response, "get_value"), response)

    async def _read(self, path: str, state: _CallState) -> httpx.Response:
        while True:
            out = await self._attempt("GET", path, state)
            if out.response is not None:
                return out.response
            await self._after_failure(state, out)

    async def _create(self, name: str, value: Sensitive, description: str | None) -> str:
        state = _CallState("create", name)
        body = wire.create_body(name, value, description)
        while True:
            if state.maybe_applied:
                found = await self._find_created(name, value, state)
                if found is not None:
                    return found
            out = await self._attempt("POST", wire.SECRETS_PATH, state, body=body, sensitive=(value,))
            if out.response is not None:
                return wire.parse_created_id(wire.decode_json(out.response, "create"), out.response)
            if isinstance(out.error, AlreadyExistsError) and state.attempt > 1:
                found = await self._find_created(name, value, state, conflict=out.error)
                if found is not None:
                    return found
            await self._after_failure(state, out)

    async def _find_created(
        self, name: str, value: Sensitive, state: _CallState, conflict: AlreadyExistsError | None = None
    ) -> str | None:
        """After a lost create answer: the id of ``name`` if it exists with ``value``.

        None when it does not exist (send again); AlreadyExistsError when it exists with another value.
        """
        existing = {s.name: s for s in await self._list()}.get(name)
        if existing is None:
            log.info("create %s: not on the site after a lost answer; sending again", name)
            if conflict is not None:
                raise conflict
            return None
        if await self._get_value(name) == value:
            log.info("create %s: already created by an earlier attempt (id %s)", name, existing.id)
            return existing.id
        if conflict is not None:
            raise conflict
        raise AlreadyExistsError(
            f"Wix API create {name}: a secret with this name already exists with another value",
            status=409,
            operation="create",
        )

    async def _update(
        self, id: str, *, name: str | None, value: Sensitive | None, description: str | None
    ) -> None:
        state = _CallState("update", id if name is None else f"{id} (name {name})")
        body = wire.update_body(name=name, value=value, description=description)
        sensitive = (value,) if value is not None else ()
        while True:
            if state.maybe_applied and value is None and await self._update_visible(id, name, description):
                return
            out = await self._attempt("PATCH", wire.id_path(id), state, body=body, sensitive=sensitive)
            if out.response is not None:
                return
            if (
                isinstance(out.error, AlreadyExistsError)
                and state.attempt > 1
                and state.maybe_applied
                and await self._update_visible(id, name, description)
            ):
                return
            await self._after_failure(state, out)

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
        state = _CallState("delete", id)
        while True:
            out = await self._attempt("DELETE", wire.id_path(id), state)
            if out.response is not None:
                return
            if isinstance(out.error, NotFoundError) and state.attempt > 1:
                log.info("delete %s: gone on retry (404); done", id)
                return
            await self._after_failure(state, out)

    # -- one attempt, and what happens after a failed one ------------------------------------------

    async def _attempt(
        self,
        method: str,
        path: str,
        state: _CallState,
        *,
        body: dict[str, Any] | None = None,
        sensitive: tuple[Sensitive, ...] = (),
        authenticate: bool = True,
        pace: bool = True,
    ) -> _Outcome:
        state.attempt += 1
        op, target = state.op, state.target
        headers: dict[str, str] = {}
        generation = 0
        if authenticate:
            try:
                auth_headers = await self._auth.headers(self)
            except RemoteError as err:
                return _Outcome(error=err, sent_at=self._clock())
            headers.update(auth_headers.headers)
            generation = auth_headers.generation
        async with self._semaphore:
            if pace:
                sent_at, waited = await self._limiter.acquire()
                if waited > 0:
                    self.stats.rate_limit_wait += waited
                    log.debug("%s %s: waited %.0f ms for the rate budget", op, target, waited * 1000)
            else:
                sent_at = self._clock()
            self.stats.requests[op] += 1
            try:
                response = await self._http.request(method, path, headers=headers, json=body)
            except httpx.HTTPError as exc:
                return self._transport_failure(exc, method, state, sent_at, generation)
        elapsed = (self._clock() - sent_at) * 1000
        status = response.status_code
        log.debug(
            "%s %s %s -> %d in %.0f ms (attempt %d)", method, op, target, status, elapsed, state.attempt
        )
        if status == 200:
            if pace:
                self._limiter.succeeded()
            return _Outcome(response=response, sent_at=sent_at, generation=generation)
        if op == "token":  # the token endpoint's errors are mapped by exchange_token
            return _Outcome(response=response, sent_at=sent_at)
        retry_after = None
        if status == 429:
            self.stats.throttled += 1
            retry_after = parse_retry_after(
                response.headers.get("retry-after"), date_header=response.headers.get("date")
            )
        error = wire.error_from_response(
            response, operation=op, target=target, retry_after=retry_after, sensitive=sensitive
        )
        maybe_applied = isinstance(error, ServerError)
        return _Outcome(error=error, maybe_applied=maybe_applied, sent_at=sent_at, generation=generation)

    def _transport_failure(
        self, exc: httpx.HTTPError, method: str, state: _CallState, sent_at: float, generation: int
    ) -> _Outcome:
        elapsed = (self._clock() - sent_at) * 1000
        kind = type(exc).__name__
        log.debug(
            "%s %s %s -> %s after %.0f ms (attempt %d)",
            method,
            state.op,
            state.target,
            kind,
            elapsed,
            state.attempt,
        )
        what = f"Wix API {state.op} {state.target}".rstrip()
        error: RemoteError
        if isinstance(exc, httpx.UnsupportedProtocol) or not isinstance(exc, httpx.TransportError):
            error = ProtocolError(f"{what}: {kind}", operation=state.op)
        elif isinstance(exc, httpx.TimeoutException):
            error = NetworkError(f"{what}: timed out ({kind})", operation=state.op)
        else:
            error = NetworkError(f"{what}: no answer ({kind}: {exc})", operation=state.op)
        error.__cause__ = exc
        return _Outcome(
            error=error,
            maybe_applied=not isinstance(exc, _NOT_SENT),
            sent_at=sent_at,
            generation=generation,
        )

    async def _after_failure(self, state: _CallState, out: _Outcome) -> None:
        """Return to try again (after waiting), or raise the attempt's error."""
        error = out.error
        assert error is not None
        state.maybe_applied = state.maybe_applied or out.maybe_applied
        if (
            error.status == 401
            and error.operation != "token"
            and not state.reauthed
            and self._auth.unauthorized(out.generation)
        ):
            state.reauthed = True
            state.attempt -= 1  # a token renewal does not use up a retry
            self.stats.retries += 1
            log.info("%s %s: 401, renewing the access token and trying again", state.op, state.target)
            return
        retryable = isinstance(error, RateLimitedError | NetworkError) or (
            isinstance(error, ServerError) and error.retryable
        )
        if not retryable or state.attempt > self._retries:
            if retryable:
                log.info("%s %s: giving up after %d attempts", state.op, state.target, state.attempt)
            raise error
        self.stats.retries += 1
        if isinstance(error, RateLimitedError):
            delay = error.retry_after
            if delay is None:
                delay = self._backoff(state.attempt)
            elif delay > MAX_RETRY_AFTER:
                log.info("%s %s: 429 asks to wait %.0fs; giving up", state.op, state.target, delay)
                raise error
            self._limiter.throttled(delay, sent_at=out.sent_at)
            log.info(
                "%s %s: 429 (attempt %d); pausing all requests for %.2fs, rate now %s/min",
                state.op,
                state.target,
                state.attempt,
                delay,
                _rate(self._limiter.effective_rate),
            )
            return
        delay = self._backoff(state.attempt)
        log.info(
            "%s %s: %s (attempt %d/%d); retrying in %.2fs",
            state.op,
            state.target,
            _reason(error),
            state.attempt,
            self._retries + 1,
            delay,
        )
        await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, base=self._backoff_base, cap=self._backoff_cap, rng=self._rng)


def _rate(rate: float | None) -> str:
    return "unlimited" if rate is None else f"{rate:.0f}"


def _reason(error: RemoteError) -> str:
    return f"HTTP {error.status}" if error.status is not None else type(error).__name__


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
