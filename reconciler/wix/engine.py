"""One request attempt and the decision after a failed one: the engine under the Wix client.

This module owns what every request goes through: the concurrency bound, the shared rate budget
(:mod:`reconciler.wix.ratelimit`), authentication headers and the OAuth token exchange
(:mod:`reconciler.wix.auth`), mapping transport failures into :class:`~reconciler.errors.NetworkError`
(noting whether the request may have been applied), counting in :class:`RequestStats`, the
consistency token (the latest ``X-Wix-Consistent`` answer header, sent back on every later request as
the official SDK does, so a list right after a write sees it), and the retry decision: 401 token
renewal, 429 pause of the whole client, backoff for 5xx and network errors, bounded retries. The
operation-specific rules (idempotent writes) are in :mod:`reconciler.wix.client`.

Logs (logger ``reconciler.wix``) carry method, operation, secret name or id, status, timing, attempt
and waits, never headers, bodies, values or tokens.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.errors import (
    NetworkError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
    ServerError,
)
from reconciler.model import Sensitive
from reconciler.redact import Redactor
from reconciler.wix import wire
from reconciler.wix.auth import Auth, OAuthClientCredentials
from reconciler.wix.ratelimit import (
    Clock,
    RateLimiter,
    RequestStats,
    Sleep,
    backoff_delay,
    parse_retry_after,
)

__all__ = ["MAX_RESPONSE_BYTES", "MAX_RETRY_AFTER", "CallState", "Outcome", "RequestEngine"]

log = logging.getLogger("reconciler.wix")

#: A 429 asking to wait longer than this is not waited for: the error is raised.
MAX_RETRY_AFTER = 120.0
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Longest wait between retries of a request that could not connect (nothing was sent).
CONNECT_RETRY_CAP = 1.0
#: No answer of the Wix Secrets API comes near this (a list of thousands of secrets is well under 2 MiB).
MAX_RESPONSE_BYTES = 16 << 20
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class _TooLarge(Exception):
    """The answer exceeded MAX_RESPONSE_BYTES."""


@dataclass
class Outcome:
    """One attempt: the 200 response, or the error and whether the request may have been applied."""

    response: httpx.Response | None = None
    error: RemoteError | None = None
    maybe_applied: bool = False
    sent_at: float = 0.0
    generation: int = 0


@dataclass
class CallState:
    """One logical call across its attempts."""

    op: str
    target: str
    attempt: int = 0
    reauthed: bool = False
    maybe_applied: bool = False


class RequestEngine:
    """Sends requests for one client; implements :class:`~reconciler.wix.auth.TokenSession`."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        auth: Auth,
        concurrency: int,
        limiter: RateLimiter,
        retries: int,
        clock: Clock,
        sleep: Sleep,
        backoff_base: float,
        backoff_cap: float,
        rng: random.Random | None,
        deadline: float = 30.0,
        redactor: Redactor | None = None,
    ) -> None:
        self.http = http
        self.auth = auth
        self.limiter = limiter
        self.retries = retries
        self.stats = RequestStats()
        # absolute URLs are built by concatenation and parsed once (a relative path costs httpx two parses)
        self._origin = str(http.base_url).rstrip("/")
        self._semaphore = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self.deadline = deadline
        self._warned_unreachable = False
        #: The run's redactor: values read from the site are added the moment they are parsed, and
        #: every error text from the server is scrubbed with it.
        self.redactor = redactor
        #: The latest ``X-Wix-Consistent`` header Wix sent; echoed on every later request, as the SDK does.
        self.consistency_token: str | None = None
        self._waiting = 0
        self._wait_began = 0.0

    # -- TokenSession (used by OAuthClientCredentials) ---------------------------------------------

    def now(self) -> float:
        return self._clock()

    async def exchange_token(self, credentials: OAuthClientCredentials) -> wire.TokenGrant:
        """One token request (its retries belong to the request that needed the token)."""
        body = wire.token_body(credentials.client_id, credentials.client_secret, credentials.instance_id)
        out = await self.attempt(
            "POST",
            wire.TOKEN_PATH,
            CallState("token", ""),
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
            raise wire.token_error(response, client_id=credentials.client_id, client_secret=credentials.client_secret)
        grant = wire.parse_token(wire.decode_json(response, "token"), response)
        if self.redactor is not None:
            self.redactor.add(grant.access_token.reveal())  # a credential: registered as soon as it is read
        log.debug("token: obtained, valid for %.0fs", grant.expires_in)
        return grant

    # -- one attempt, and what happens after a failed one ------------------------------------------

    async def attempt(
        self,
        method: str,
        path: str,
        state: CallState,
        *,
        body: dict[str, Any] | None = None,
        sensitive: tuple[Sensitive, ...] = (),
        authenticate: bool = True,
        pace: bool = True,
    ) -> Outcome:
        state.attempt += 1
        op, target = state.op, state.target
        headers: dict[str, str] = {}
        generation = 0
        if authenticate:
            try:
                auth_headers = await self.auth.headers(self)
            except RemoteError as err:
                return Outcome(error=err, sent_at=self._clock())
            headers.update(auth_headers.headers)
            generation = auth_headers.generation
            if self.consistency_token:
                headers[wire.CONSISTENCY_HEADER] = self.consistency_token
        async with self._semaphore:
            if pace:
                sent_at, waited = await self._paced()
                if waited > 0:
                    log.debug("%s %s: waited %.0f ms for the rate budget", op, target, waited * 1000)
            else:
                sent_at = self._clock()
            self.stats.requests[op] += 1
            try:
                response = await self._send(method, path, headers, body)
            except httpx.HTTPError as exc:
                return self._transport_failure(exc, method, state, sent_at, generation)
            except (TimeoutError, _TooLarge) as exc:
                return self._incomplete(exc, state, sent_at, generation)
        elapsed = (self._clock() - sent_at) * 1000
        status = response.status_code
        if authenticate:
            self._remember_consistency(response)
        log.debug("%s %s %s -> %d in %.0f ms (attempt %d)", method, op, target, status, elapsed, state.attempt)
        if status == 200:
            if pace:
                self.limiter.succeeded()
            return Outcome(response=response, sent_at=sent_at, generation=generation)
        if status == 429:
            self.stats.throttled += 1
        if op == "token":  # the token endpoint's errors are mapped by exchange_token
            return Outcome(response=response, sent_at=sent_at)
        retry_after = None
        if status == 429:
            retry_after = parse_retry_after(
                response.headers.get("retry-after"), date_header=response.headers.get("date")
            )
        error = wire.error_from_response(
            response,
            operation=op,
            target=target,
            retry_after=retry_after,
            sensitive=sensitive,
            identity=self.auth.description if authenticate else None,
            alternatives=self.auth.alternatives if authenticate else "",
            site_id=getattr(self.auth, "site_id", None),
            redactor=self.redactor,
        )
        maybe_applied = isinstance(error, ServerError)
        return Outcome(error=error, maybe_applied=maybe_applied, sent_at=sent_at, generation=generation)

    async def _send(self, method: str, path: str, headers: dict[str, str], body: Any) -> httpx.Response:
        """Send and read the whole answer within ``deadline`` seconds and :data:`MAX_RESPONSE_BYTES`.

        httpx's own timeouts bound each read, not the whole answer: a server trickling a byte a second
        would never time out, and one sending gigabytes would be read into memory. The returned
        response holds the (decoded) body in memory.
        """
        # an absolute URL built by concatenation: a relative path costs httpx two URL parses
        request = self.http.build_request(method, httpx.URL(self._origin + path), headers=headers, json=body)
        async with asyncio.timeout(self.deadline):
            response = await self.http.send(request, stream=True)
            try:
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_RESPONSE_BYTES:
                        raise _TooLarge
            finally:
                await response.aclose()
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_HEADERS]
        return httpx.Response(response.status_code, headers=kept, content=bytes(data), request=request)

    def _incomplete(self, exc: BaseException, state: CallState, sent_at: float, generation: int) -> Outcome:
        what = f"Wix API {state.op} {state.target}".rstrip()
        error: RemoteError
        if isinstance(exc, _TooLarge):
            log.debug("%s: answer larger than %d bytes; not read further", what, MAX_RESPONSE_BYTES)
            error = ProtocolError(
                f"{what}: the answer is larger than {MAX_RESPONSE_BYTES // (1 << 20)} MiB; not read further",
                operation=state.op,
            )
        else:
            log.debug("%s: no complete answer within %gs", what, self.deadline)
            error = NetworkError(
                f"{what}: no complete answer within {self.deadline:g}s (--timeout)", operation=state.op
            )
        return Outcome(error=error, maybe_applied=True, sent_at=sent_at, generation=generation)

    async def _paced(self) -> tuple[float, float]:
        """``limiter.acquire()``, adding to ``stats.rate_limit_wait`` the wall-clock time during which at
        least one request waits (the union of the waits, not their sum over concurrent requests)."""
        if self._waiting == 0:
            self._wait_began = self._clock()
        self._waiting += 1
        try:
            sent_at, waited = await self.limiter.acquire()
        finally:
            self._waiting -= 1
            if self._waiting == 0:
                self.stats.rate_limit_wait += max(0.0, self._clock() - self._wait_began)
        return sent_at, waited

    def _remember_consistency(self, response: httpx.Response) -> None:
        token = response.headers.get(wire.CONSISTENCY_HEADER)
        if token and len(token) <= wire.MAX_CONSISTENCY_TOKEN and token.isascii() and token.isprintable():
            self.consistency_token = token

    def _transport_failure(
        self, exc: httpx.HTTPError, method: str, state: CallState, sent_at: float, generation: int
    ) -> Outcome:
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
        elif isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            url = str(self.http.base_url).rstrip("/")
            error = NetworkError(
                f"{what}: {url} is unreachable ({kind})",
                operation=state.op,
                hint="check --api-url / WIX_API_URL and the network; for a local emulator, is it running?",
            )
            if not self._warned_unreachable:
                self._warned_unreachable = True
                log.warning("cannot reach %s (%s); retrying", url, kind)
        elif isinstance(exc, httpx.TimeoutException):
            error = NetworkError(f"{what}: timed out ({kind})", operation=state.op)
        else:
            error = NetworkError(f"{what}: no answer ({kind}: {exc})", operation=state.op)
        error.__cause__ = exc
        return Outcome(
            error=error,
            maybe_applied=not isinstance(exc, _NOT_SENT),
            sent_at=sent_at,
            generation=generation,
        )

    async def after_failure(self, state: CallState, out: Outcome) -> None:
        """Return to try again (after waiting), or raise the attempt's error."""
        error = out.error
        assert error is not None
        state.maybe_applied = state.maybe_applied or out.maybe_applied
        if (
            error.status == 401
            and error.operation != "token"
            and not state.reauthed
            and self.auth.unauthorized(out.generation)
        ):
            state.reauthed = True
            state.attempt -= 1  # a token renewal does not use up a retry
            self.stats.retries += 1
            log.info("%s %s: 401, renewing the access token and trying again", state.op, state.target)
            return
        retryable = isinstance(error, RateLimitedError | NetworkError) or (
            isinstance(error, ServerError) and error.retryable
        )
        if not retryable or state.attempt > self.retries:
            if retryable:
                log.info("%s %s: giving up after %d attempts", state.op, state.target, state.attempt)
                tries = f"{state.attempt} attempts" if state.attempt > 1 else "1 attempt, not retried"
                error.summary += f" (gave up after {tries})"
                error.args = (error.summary,)
            raise error
        if isinstance(error, RateLimitedError):
            delay = error.retry_after
            if delay is None:
                delay = self._backoff(state.attempt)
            elif delay > MAX_RETRY_AFTER:
                log.info("%s %s: 429 asks to wait %.0fs; giving up", state.op, state.target, delay)
                raise error
            self.stats.retries += 1
            self.limiter.throttled(delay, sent_at=out.sent_at)
            log.info(
                "%s %s: 429 (attempt %d); pausing all requests for %.2fs, rate now %s/min",
                state.op,
                state.target,
                state.attempt,
                delay,
                _rate(self.limiter.effective_rate),
            )
            return
        self.stats.retries += 1
        delay = self._backoff(state.attempt)
        if isinstance(error, NetworkError) and not out.maybe_applied:
            delay = min(delay, CONNECT_RETRY_CAP)  # nothing was sent: a short schedule, never minutes of silence
        log.info(
            "%s %s: %s (attempt %d/%d); retrying in %.2fs",
            state.op,
            state.target,
            _reason(error),
            state.attempt,
            self.retries + 1,
            delay,
        )
        await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, base=self._backoff_base, cap=self._backoff_cap, rng=self._rng)


def _rate(rate: float | None) -> str:
    return "unlimited" if rate is None else f"{rate:.0f}"


def _reason(error: RemoteError) -> str:
    return f"HTTP {error.status}" if error.status is not None else type(error).__name__
