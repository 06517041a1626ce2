"""The emulator core: one request in (method, target, headers, body), one :class:`Reply` out.

Owns routing (the three path prefixes, percent-decoding with ``+`` literal, query strings ignored),
authentication (API key, Wix app tokens from ``POST /oauth2/token`` with expiry, which with an API key
configured need the app secret or that key as ``client_secret``; Wix user tokens given as
``user_tokens``), the five Secrets endpoints with Wix's status codes and envelopes, the undocumented
behaviours it can play (:class:`~.quirks.Quirks`, and the ``X-Wix-Consistent`` token), the fault
layer's ordering, the request log (the last ``max_log`` requests; per-route counts stay exact) and the
``/_emulator/*`` control routes (which need the API key when one is configured, and refuse browsers'
cross-origin requests). It never sleeps and never touches sockets: the front ends
(:mod:`.transport`, :mod:`.server`) apply ``Reply.delay`` and ``Reply.drop``. Thread-safe.

Stdlib only; it must not import ``reconciler.wix``, ``reconciler.model`` or ``reconciler.plan``.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from reconciler.emulator.envelopes import (
    Violation,
    application_error,
    check_id,
    check_secret,
    system_error,
    validation_error,
)
from reconciler.emulator.faults import FaultInjector, Faults
from reconciler.emulator.inflight import InFlight
from reconciler.emulator.quirks import CONSISTENCY_HEADER, Quirks
from reconciler.emulator.state import EmulatorSaveError, SecretStore, StoredSecret
from reconciler.hosts import is_loopback_host as is_loopback

__all__ = ["ROUTES", "Emulator", "Reply", "RequestRecord"]

log = logging.getLogger("reconciler.emulator")

PREFIXES = ("/_api/cloud-secrets-vault-server", "/secrets-service", "")
SECRETS_PATH = "/api/v1/secrets"
ROUTES = ("list", "get_value", "create", "update", "delete", "token", "other")
WRITES = frozenset({"create", "update", "delete"})
TOKEN_PREFIX = "wxemu."
DEFAULT_TOKEN_TTL = 14400.0
#: The request log keeps the most recent this many requests (the per-route counts stay exact).
MAX_LOG = 100_000


@dataclass(frozen=True)
class Reply:
    """What to answer. ``drop``: close the connection without answering (status is then 0)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    delay: float = 0.0
    drop: bool = False
    fault: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class RequestRecord(NamedTuple):
    """One request as the log keeps it. status is None when the connection was dropped.

    fault: None, "drop", "error", "rate_limit", "lost_drop", "lost_error" or "save_failed".
    """

    method: str
    route: str
    status: int | None
    fault: str | None


class _RequestLog(list[RequestRecord]):
    """The request log: a list whose ``clear()`` also zeroes the exact counters kept beside it, so a
    test that clears ``emulator.requests`` counts from zero in :meth:`Emulator.counts` as well."""

    def __init__(self, counters: tuple[Counter[str], ...]) -> None:
        super().__init__()
        self._counters = counters

    def clear(self) -> None:
        super().clear()
        for counter in self._counters:
            counter.clear()


def _route(method: str, path: str) -> tuple[str, str | None]:
    """(route name, the decoded name/id parameter) for a path without query string."""
    for prefix in PREFIXES:
        base = prefix + SECRETS_PATH
        if path == base or path.startswith(base + "/"):
            rest = path[len(base) :]
            break
    else:
        if path.rstrip("/") == "/oauth2/token":
            return ("token" if method == "POST" else "other"), None
        return "other", None
    if rest in ("", "/"):
        return {"GET": "list", "POST": "create"}.get(method, "other"), None
    segments = rest[1:].split("/")
    if len(segments) == 2 and segments[0] == "name" and method == "GET":
        return "get_value", unquote(segments[1])
    if len(segments) == 1:
        return {"PATCH": "update", "DELETE": "delete"}.get(method, "other"), unquote(segments[0])
    return "other", None


class Emulator:
    """The Wix Secrets API behaviour over an in-memory or file-backed :class:`SecretStore`."""

    def __init__(
        self,
        *,
        state_file: str | os.PathLike[str] | None = None,
        faults: Faults | None = None,
        api_key: str | None = None,
        app_secret: str | None = None,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] | None = None,
        user_tokens: Iterable[str] = (),
        quirks: Quirks | None = None,
        max_log: int = MAX_LOG,
        in_flight: InFlight | None = None,
    ) -> None:
        self.in_flight = in_flight if in_flight is not None else InFlight()  # held by the front ends
        self.faults = faults or Faults()
        self.quirks = quirks or Quirks()
        self.api_key = api_key
        self.app_secret = app_secret
        self.user_tokens: set[str] = {t for t in user_tokens if t}
        self._version = 0
        self._replica: list[StoredSecret] | None = None
        self._replica_version = 0
        self._replica_reads = 0
        self.token_ttl = token_ttl
        self._clock = clock
        path = Path(state_file) if state_file is not None else None
        self.store = SecretStore(path, wall_ms=wall_ms) if wall_ms else SecretStore(path)
        self._injector = FaultInjector(self.faults, clock=clock)
        self._tokens: dict[str, float] = {}
        self._log_lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        # the most recent max_log (counts stay exact); ``requests.clear()`` also zeroes the counts
        self.requests: list[RequestRecord] = _RequestLog((self._counts, self._by_status, self._faults))
        self._max_log = max(1, max_log)

    # -- request log ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Requests per route name (every route present, zero included)."""
        with self._log_lock:
            found = Counter(self._counts)
        return {route: found.get(route, 0) for route in ROUTES}

    def reset(self, *, state: bool = False) -> None:
        """Clear the request log (in place), the rate window, the fault sequence; state=True: secrets too."""
        with self._log_lock:
            self.requests.clear()
            self._counts.clear()
            self._by_status.clear()
            self._faults.clear()
        self.in_flight.reset()
        self._injector.reset()
        if state:
            with self.store.transaction(write=True) as store:
                store.clear()

    def _record(self, method: str, route: str, reply: Reply) -> Reply:
        with self._log_lock:
            status = None if reply.drop else reply.status
            self.requests.append(RequestRecord(method, route, status, reply.fault))
            self._counts[route] += 1
            self._by_status[str(status)] += 1
            if reply.fault:
                self._faults[reply.fault] += 1
            if len(self.requests) > self._max_log + self._max_log // 4:  # amortised trimming
                del self.requests[: len(self.requests) - self._max_log]
        log.debug(
            "%s %s -> %s%s",
            method,
            route,
            "dropped" if reply.drop else reply.status,
            f" ({reply.fault})" if reply.fault else "",
        )
        return reply

    # -- entry point ----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request. ``target`` is the raw request target (path and query, still encoded)."""
        method = method.upper()
        path, _, query = target.partition("?")
        path = path.partition("#")[0]
        if path.startswith("/_emulator/"):
            return self._control(method, path, query, headers)
        lower = {k.lower(): v for k, v in headers.items()}
        route, param = _route(method, path)
        draw = self._injector.draw() if self.faults.active else None
        if draw and not self._injector.hits(route):
            draw = dataclasses.replace(draw, drop=False, error_status=None, lost=None)
        delay = draw.delay if draw else 0.0
        if draw and draw.drop:
            return self._record(method, route, Reply(0, (), b"", delay, drop=True, fault="drop"))
        if route != "token":
            retry_after = self._injector.admit()
            if retry_after is not None:
                body429 = application_error("RESOURCE_EXHAUSTED", "Too many requests", "rate limit exceeded")
                extra = (("retry-after", str(retry_after)),)
                reply = _json(429, body429, delay, fault="rate_limit", extra=extra)
                return self._record(method, route, reply)
        if draw and draw.error_status:
            return self._record(method, route, _json(draw.error_status, system_error(), delay, fault="error"))
        try:
            status, payload = self._dispatch(method, route, param, lower, body)
        except EmulatorSaveError:  # rolled back: nothing changed, say so with a retryable status
            log.info("emulator: %s %s not saved (state file write failed); rolled back", method, route)
            reply = _json(503, system_error("the change could not be saved; nothing was changed"), delay)
            return self._record(method, route, dataclasses.replace(reply, fault="save_failed"))
        except Exception as exc:  # a broken state file, a full disk: answer like a server, keep serving
            log.error("emulator failure on %s %s: %s", method, route, type(exc).__name__)
            status, payload = 500, system_error()
        consistent: tuple[tuple[str, str], ...] = ()
        if status == 200 and route != "token":
            with self._log_lock:
                if route in WRITES:
                    self._version += 1
                consistent = ((CONSISTENCY_HEADER, self.consistency_token()),)
        if draw and draw.lost is not None and route in WRITES and status == 200:
            if draw.lost == 0:
                return self._record(method, route, Reply(0, (), b"", delay, drop=True, fault="lost_drop"))
            return self._record(method, route, _json(draw.lost, system_error(), delay, fault="lost_error"))
        return self._record(method, route, _json(status, payload, delay, extra=consistent))

    # -- control routes (not logged; with an API key configured they need it) ---------------------

    def _control(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        lower = {k.lower(): v for k, v in headers.items()}
        if not _same_origin(lower):
            return _json(403, application_error("PERMISSION_DENIED", "cross-origin requests are refused"))
        if self.api_key is not None:
            given = lower.get("authorization", "").strip()
            if not hmac.compare_digest(given.encode(), self.api_key.encode()):
                return _json(401, application_error("UNAUTHENTICATED", "control routes need the emulator's API key"))
        if path == "/_emulator/requests" and method == "GET":
            with self._log_lock:
                records = list(self.requests)
                total = sum(self._counts.values())
                by_status, faults = dict(self._by_status), dict(self._faults)
            return _json(
                200,
                {
                    "total": total,
                    "counts": self.counts(),
                    "byStatus": by_status,
                    "faults": faults,
                    "maxInFlight": self.in_flight.peak,
                    "requests": [r._asdict() for r in records],
                    "logged": len(records),
                },
            )
        if path == "/_emulator/reset" and method == "POST":
            flag = parse_qs(query).get("state", ["0"])[-1]
            self.reset(state=flag.lower() in ("1", "true", "yes"))
            return _json(200, {})
        return _json(404, application_error("NOT_FOUND", f"no emulator control route {method} {path}"))

    # -- the API --------------------------------------------------------------------------------

    def _dispatch(
        self, method: str, route: str, param: str | None, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if route == "token":
            return self._token(headers, body)
        if route == "other":
            return 404, application_error("NOT_FOUND", f"no route for {method} on this path")
        refused = self._authenticate(headers)
        if refused:
            return refused
        if route in ("list", "get_value"):
            stale = self._lagged_view(headers.get(CONSISTENCY_HEADER, ""))
            if stale is not None:
                return self._read(route, param, stale)
            with self.store.transaction(write=False) as store:
                return self._read(route, param, store.all())
        if self.quirks.no_members_area:
            return 428, application_error(
                "FAILED_PRECONDITION",
                "Preconditions must be met",
                "the Wix Members Area app must be installed on the site to create or manage secrets",
            )
        if route == "delete":
            assert param is not None
            violations = check_id(param)
            if violations:
                return 400, validation_error(violations)
            with self.store.transaction(write=True) as store:
                record = store.by_id(param)
                if record is None:
                    return 404, application_error("NOT_FOUND", "secret not found", "no secret with this id")
                store.delete(record)
                return 200, {}
        parsed = _parse_body(body)
        if isinstance(parsed, str):
            return 400, application_error("INVALID_ARGUMENT", parsed)
        secret = parsed.get("secret")
        if not isinstance(secret, dict):
            return 400, validation_error([Violation("secret", "is required", "REQUIRED_FIELD")])
        if route == "create":
            return self._create(secret)
        assert route == "update" and param is not None
        return self._update(param, secret)

    def _read(self, route: str, param: str | None, records: list[StoredSecret]) -> tuple[int, dict[str, Any]]:
        if route == "list":
            return 200, {"secrets": [s.info() for s in records]}
        found = next((s for s in records if s.name == param), None)
        if found is None:
            return 404, application_error("NOT_FOUND", "secret not found", "no secret with this name")
        return 200, {"value": found.value}

    def _lagged_view(self, token: str) -> list[StoredSecret] | None:
        """Under ``read_lag``: the stale replica for a read that does not echo a fresh enough token."""
        lag = self.quirks.read_lag
        if not lag:
            return None
        seen = _token_version(token)
        with self._log_lock:
            if self._replica is None:
                self._take_replica()
            if seen is not None and seen > self._replica_version:
                return None  # the token proves a write the replica has not seen: read the primary
            view = self._replica
            self._replica_reads += 1
            if self._replica_reads >= lag:
                self._take_replica()
        assert view is not None
        return view

    def _take_replica(self) -> None:
        with self.store.transaction(write=False) as store:
            self._replica = [dataclasses.replace(s) for s in store.all()]
        self._replica_version = self._version
        self._replica_reads = 0

    def consistency_token(self) -> str:
        return f"emu-{self._version}"

    def _create(self, secret: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        fields, violations = check_secret(secret, partial=False)
        if violations:
            return 400, validation_error(violations)
        with self.store.transaction(write=True) as store:
            if store.by_name(fields["name"]) is not None:
                return 409, application_error("ALREADY_EXISTS", "a secret with this name already exists")
            cap = self.quirks.max_secrets
            if cap is not None and len(store.all()) >= cap:
                return 429, application_error(
                    "RESOURCE_EXHAUSTED",
                    "Secrets quota exceeded",
                    f"a site can hold at most {cap} secrets (quota)",
                )
            record = store.create(fields["name"], fields["value"], fields.get("description"))
            return 200, {"id": record.id}

    def _update(self, secret_id: str, secret: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        fields, violations = check_secret(secret, partial=True)
        violations = check_id(secret_id) + violations
        if violations:
            return 400, validation_error(violations)
        with self.store.transaction(write=True) as store:
            record = store.by_id(secret_id)
            if record is None:
                return 404, application_error("NOT_FOUND", "secret not found", "no secret with this id")
            new_name = fields.get("name")
            if new_name is not None and new_name != record.name and store.by_name(new_name) is not None:
                return 409, application_error("ALREADY_EXISTS", "a secret with this name already exists")
            description = fields.get("description")
            if description == "" and self.quirks.keep_description_on_empty:
                description = None
            store.update(record, name=new_name, value=fields.get("value"), description=description)
            return 200, {}

    # -- auth -----------------------------------------------------------------------------------

    def _authenticate(self, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]] | None:
        """None if allowed, else the refusal (the message never echoes the credential).

        Wix app tokens (``wxemu.``, from /oauth2/token) and Wix user tokens (``user_tokens``, the
        ``--token`` of the CLI flow) are identities; anything else is taken as an API key.
        """
        credential = headers.get("authorization", "").strip()
        if not credential:
            return _unauthenticated("missing Authorization header")
        if credential.startswith(TOKEN_PREFIX):
            with self._log_lock:
                expires = self._tokens.get(credential)
            if expires is None:
                return _unauthenticated("unknown access token")
            if self._clock() >= expires:
                return _unauthenticated("access token expired")
            return None
        if any(hmac.compare_digest(credential.encode(), t.encode()) for t in self.user_tokens):
            return None
        if self.api_key is not None and not hmac.compare_digest(credential.encode(), self.api_key.encode()):
            return _unauthenticated("invalid API key or access token")
        if self.quirks.refuse_api_keys:
            return 403, application_error(
                "PERMISSION_DENIED",
                "Permission denied",
                "API keys cannot call this method; authenticate as a Wix app or Wix user",
            )
        if self.quirks.require_site_id and not headers.get("wix-site-id", "").strip():
            return 428, application_error(
                "MISSING_METASITE_ID", "Preconditions must be met", "the wix-site-id header is required"
            )
        return None

    def _token(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """RFC 6749 client_credentials, Wix flavour (JSON body; form-encoded also accepted)."""
        params: dict[str, Any]
        if "x-www-form-urlencoded" in headers.get("content-type", ""):
            params = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        else:
            parsed = _parse_body(body)
            if isinstance(parsed, str):
                return 400, {"error": "invalid_request", "error_description": parsed}
            params = parsed
        if params.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "only client_credentials"}
        missing = [k for k in ("client_id", "client_secret", "instance_id") if not params.get(k)]
        if missing:
            return 400, {"error": "invalid_request", "error_description": f"missing {', '.join(missing)}"}
        required = self.app_secret if self.app_secret is not None else self.api_key
        if required is not None and not hmac.compare_digest(str(params["client_secret"]).encode(), required.encode()):
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
        token = TOKEN_PREFIX + secrets.token_hex(24)
        with self._log_lock:
            now = self._clock()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + self.token_ttl
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl)}


def _same_origin(headers: Mapping[str, str]) -> bool:
    """False for a request a browser sent from another origin (Origin of a non-loopback host, or
    ``Sec-Fetch-Site: cross-site``). Tools (curl, httpx, the SDK in Node) send neither header."""
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return False
    origin = headers.get("origin", "").strip()
    if not origin:
        return True
    host = urlsplit(origin).hostname or ""
    return is_loopback(host)


def _unauthenticated(why: str) -> tuple[int, dict[str, Any]]:
    return 401, application_error("UNAUTHENTICATED", why)


def _token_version(token: str) -> int | None:
    prefix, _, number = token.strip().partition("-")
    if prefix != "emu" or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


def _parse_body(body: bytes) -> dict[str, Any] | str:
    """The JSON object in a request body, or why there is none."""
    if not body.strip():
        return "request body is empty"
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "request body is not valid JSON"
    if not isinstance(parsed, dict):
        return "request body must be a JSON object"
    return parsed


def _json(
    status: int,
    payload: Mapping[str, Any],
    delay: float = 0.0,
    *,
    fault: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> Reply:
    headers = (("content-type", "application/json"), ("x-wix-request-id", str(uuid.uuid4())), *extra)
    return Reply(status, headers, json.dumps(payload, ensure_ascii=False).encode("utf-8"), delay, fault=fault)
