"""The Wix Secrets API on the wire: paths, JSON request bodies, response parsing, error envelopes.

This is the only module that knows the API's JSON field names (``secret``, ``createdDate``,
``applicationError``, ``access_token``...). It turns model values into request bodies, 200 answers
into :class:`~reconciler.model.RemoteSecret` / :class:`~reconciler.model.Sensitive`, and any other
answer into the :class:`~reconciler.errors.RemoteError` tree. It does no I/O.

Error messages never contain a value: bodies of failed answers are not quoted except for the Wix
``message``/``description`` strings, and those are scrubbed of the values the request carried.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    FieldViolation,
    InvalidRequestError,
    NotFoundError,
    PreconditionError,
    ProtocolError,
    QuotaExceededError,
    RateLimitedError,
    RemoteError,
    ServerError,
)
from reconciler.model import RemoteSecret, Sensitive
from reconciler.redact import Redactor

__all__ = [
    "CONSISTENCY_HEADER",
    "NAME_SAFE",
    "SECRETS_PATH",
    "TOKEN_PATH",
    "TokenGrant",
    "create_body",
    "decode_json",
    "error_from_response",
    "id_path",
    "parse_created_id",
    "parse_secret_list",
    "parse_token",
    "parse_value",
    "token_body",
    "token_error",
    "update_body",
    "value_path",
]

SECRETS_PATH: Final = "/_api/cloud-secrets-vault-server/api/v1/secrets"
TOKEN_PATH: Final = "/oauth2/token"
#: The header the official SDK stores from every answer and sends back on every later request.
CONSISTENCY_HEADER: Final = "X-Wix-Consistent"
MAX_CONSISTENCY_TOKEN: Final = 4096
#: Characters left as they are in a name path segment (the official SDK sends them raw); ``#``,
#: ``/``, ``%``, ``?`` and everything else are percent-encoded.
NAME_SAFE: Final = "+=@$-_"
DEFAULT_TOKEN_LIFETIME: Final = 14400.0

_HINT_401 = (
    "check the credentials: WIX_API_KEY and WIX_SITE_ID, or WIX_CLIENT_ID, WIX_CLIENT_SECRET and "
    "WIX_INSTANCE_ID, or run `wix login` again for --auth wix-cli; an API key must come from the site "
    "owner's account"
)
_HINT_403 = (
    "the identity lacks the 'Manage Secrets' permission (SECRETS_VAULT.*) on this site, or the site id is "
    "wrong; Wix documents the Secrets API for Wix app and Wix user identities, so an API key may be refused "
    "even with every permission: try --auth wix-cli or a Wix app"
)
_HINT_428 = (
    "Wix requires a precondition: creating and changing secrets needs the Wix Members Area app installed on "
    "the site (reading values does not), and every request needs the site context (the site id)"
)
#: A 429 whose envelope says this is about a quota or cap, not about the request rate.
_QUOTA_WORDS = re.compile(r"quota|\bcap\b|maximum|at most|limit reached|too many secrets|max_", re.IGNORECASE)
_RATE_WORDS = re.compile(r"rate|too many requests|throttl|per minute", re.IGNORECASE)


# -- paths -----------------------------------------------------------------------------------------


def value_path(name: str) -> str:
    """``.../secrets/name/{name}`` with the name percent-encoded (``#`` becomes ``%23``)."""
    return f"{SECRETS_PATH}/name/{urllib.parse.quote(name, safe=NAME_SAFE)}"


def id_path(secret_id: str) -> str:
    return f"{SECRETS_PATH}/{urllib.parse.quote(secret_id, safe='-')}"


# -- request bodies --------------------------------------------------------------------------------


def create_body(name: str, value: Sensitive, description: str | None) -> dict[str, Any]:
    secret: dict[str, str] = {"name": name, "value": value.reveal()}
    if description is not None:
        secret["description"] = description
    return {"secret": secret}


def update_body(
    *, name: str | None = None, value: Sensitive | None = None, description: str | None = None
) -> dict[str, Any]:
    """A PATCH body with only the given fields (there is no fieldMask)."""
    secret: dict[str, str] = {}
    if name is not None:
        secret["name"] = name
    if description is not None:
        secret["description"] = description
    if value is not None:
        secret["value"] = value.reveal()
    return {"secret": secret}


def token_body(client_id: str, client_secret: Sensitive, instance_id: str) -> dict[str, Any]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret.reveal(),
        "instance_id": instance_id,
    }


# -- 200 answers -----------------------------------------------------------------------------------


def _protocol(operation: str, response: httpx.Response, what: str) -> ProtocolError:
    return ProtocolError(
        f"Wix API {operation}: unexpected answer: {what}",
        status=response.status_code,
        request_id=response.headers.get("x-wix-request-id"),
        operation=operation,
    )


def decode_json(response: httpx.Response, operation: str) -> dict[str, Any]:
    """The JSON object of a 200 answer; ProtocolError for an empty, non-JSON or non-object body."""
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        ctype = response.headers.get("content-type", "no content type")
        raise _protocol(operation, response, f"body is not JSON ({ctype}, {len(response.content)} bytes)") from None
    if not isinstance(data, dict):
        raise _protocol(operation, response, f"body is a JSON {type(data).__name__}, not an object")
    if _ESCAPED_SURROGATE.search(response.content) and _has_surrogate(data):
        raise _protocol(operation, response, "body holds a lone UTF-16 surrogate (not Unicode text)")
    return data


#: A JSON escape of a UTF-16 surrogate; only bodies containing one are walked by :func:`_has_surrogate`.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_surrogate(data: object) -> bool:
    """Whether a decoded JSON document holds a string that is not valid Unicode (a lone surrogate)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _text(value: object) -> str:
    """A server string made printable: lone surrogates replaced (they cannot be written as UTF-8)."""
    text = _str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def parse_secret_list(data: Mapping[str, Any], response: httpx.Response) -> list[RemoteSecret]:
    """``{"secrets": [...]}``; a missing ``secrets`` key is an empty list. Values are never read."""
    items = data.get("secrets")
    if items is None:
        return []
    if not isinstance(items, list):
        raise _protocol("list", response, "'secrets' is not a list")
    result: list[RemoteSecret] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _protocol("list", response, f"secrets[{index}] is not an object")
        sid, name = item.get("id"), item.get("name")
        if not isinstance(sid, str) or not sid or not isinstance(name, str) or not name:
            raise _protocol("list", response, f"secrets[{index}] has no id or name")
        result.append(
            RemoteSecret(
                id=sid,
                name=name,
                description=_str(item.get("description")),
                created_date=_str(item.get("createdDate")),
                updated_date=_str(item.get("updatedDate")),
            )
        )
    return result


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_value(data: Mapping[str, Any], response: httpx.Response) -> Sensitive:
    value = data.get("value")
    if not isinstance(value, str):
        raise _protocol("get_value", response, "no string 'value'")
    return Sensitive(value)


def parse_created_id(data: Mapping[str, Any], response: httpx.Response) -> str:
    sid = data.get("id")
    if not isinstance(sid, str) or not sid:
        raise _protocol("create", response, "no 'id'")
    return sid


@dataclass(frozen=True)
class TokenGrant:
    """An OAuth access token (kept wrapped so it cannot be printed) and its lifetime in seconds."""

    access_token: Sensitive
    expires_in: float


def parse_token(data: Mapping[str, Any], response: httpx.Response) -> TokenGrant:
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthError(
            "Wix token exchange: the answer has no access_token",
            status=response.status_code,
            request_id=response.headers.get("x-wix-request-id"),
            operation="token",
        )
    expires = data.get("expires_in")
    lifetime = float(expires) if isinstance(expires, int | float) and expires > 0 else DEFAULT_TOKEN_LIFETIME
    return TokenGrant(Sensitive(token), lifetime)


# -- error envelopes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Envelope:
    message: str = ""
    code: str | None = None
    description: str = ""
    violations: tuple[FieldViolation, ...] = ()


def _envelope(response: httpx.Response) -> _Envelope:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return _Envelope()
    if not isinstance(data, dict):
        return _Envelope()
    message = _text(data.get("message"))
    details = data.get("details")
    if not isinstance(details, dict):
        return _Envelope(message=message)
    code: str | None = None
    description = ""
    app = details.get("applicationError")
    if isinstance(app, dict):
        raw = app.get("code")
        code = str(raw) if isinstance(raw, str | int) and raw != "" else None
        description = _text(app.get("description"))
    violations: list[FieldViolation] = []
    validation = details.get("validationError")
    if isinstance(validation, dict) and isinstance(validation.get("fieldViolations"), list):
        for item in validation["fieldViolations"]:
            if isinstance(item, dict):
                violations.append(
                    FieldViolation(
                        field=_text(item.get("field")),
                        description=_text(item.get("description")),
                        violated_rule=_text(item.get("violatedRule")),
                    )
                )
        if code is None and violations:
            code = "INVALID_ARGUMENT"
    return _Envelope(message, code, description, tuple(violations))


def is_quota(code: str | None, message: str, description: str) -> bool:
    """A 429 about a quota or cap (the 64-secret limit) rather than the request rate."""
    text = " ".join(t for t in (code or "", message, description) if t)
    return bool(_QUOTA_WORDS.search(text)) and not _RATE_WORDS.search(text)


def error_from_response(
    response: httpx.Response,
    *,
    operation: str,
    target: str,
    retry_after: float | None = None,
    sensitive: Iterable[Sensitive] = (),
    identity: str | None = None,
    alternatives: str = "",
    site_id: str | None = None,
    redactor: Redactor | None = None,
) -> RemoteError:
    """The RemoteError for a non-200 answer. ``target`` names what was asked for (a name or id).

    ``sensitive`` are the values the request carried: they are scrubbed from any server text, as is
    everything ``redactor`` holds (values read from the site). ``identity`` (the auth's description),
    ``alternatives`` and ``site_id`` make 401/403/428 say who was refused and what else could be tried.
    Every message carries Wix's ``x-wix-request-id``, to quote to Wix support.
    """
    status = response.status_code
    env = _envelope(response)
    redactor = Redactor(v.reveal() for v in sensitive) if redactor is None else _with(redactor, sensitive)
    message = redactor.scrub(env.message or env.description)
    violations = tuple(FieldViolation(v.field, redactor.scrub(v.description), v.violated_rule) for v in env.violations)
    request_id = response.headers.get("x-wix-request-id")
    lines = []
    if message:
        lines.append(f"Wix said: {message}")
    lines.extend(f"  {v.field}: {v.description} ({v.violated_rule})" for v in violations)
    if request_id:
        lines.append(f"request id: {request_id}")
    detail = "\n".join(lines) or None
    code = f" {env.code}" if env.code else ""
    if request_id:
        code += f", request id {_short(request_id)}"
    what = f"Wix API {operation} {target}".rstrip()
    who = f" for {identity}" if identity else ""
    others = f"; {alternatives}" if alternatives else ""
    common: dict[str, Any] = {
        "status": status,
        "code": env.code,
        "request_id": request_id,
        "operation": operation,
        "detail": detail,
    }
    if status == 401:
        return AuthError(f"{what}: not authenticated{who} (HTTP 401{code})", hint=_HINT_401 + others, **common)
    if status == 403:
        site = f" on site {site_id}" if site_id and site_id not in (identity or "") else ""
        return AuthError(
            f"{what}: permission denied{who}{site}: 'Manage Secrets' needed (HTTP 403{code})",
            hint=_HINT_403 + others,
            **common,
        )
    if status == 428:
        site = f" (site id {site_id})" if site_id else ""
        return PreconditionError(
            f"{what}: Wix precondition not met{site}: is the Wix Members Area app installed? (HTTP 428{code})",
            hint=_HINT_428 + (f"; check that {site_id} is the right site id" if site_id else ""),
            **common,
        )
    if status == 404:
        return NotFoundError(f"{what}: not found (HTTP 404{code})", **common)
    if status == 409:
        return AlreadyExistsError(f"{what}: a secret with this name already exists (HTTP 409{code})", **common)
    if status == 400:
        return InvalidRequestError(f"{what}: rejected as invalid (HTTP 400{code})", violations=violations, **common)
    if status == 429 and is_quota(env.code, env.message, env.description):
        return QuotaExceededError(
            f"{what}: a Wix quota is exhausted, not the request rate (HTTP 429{code})",
            hint="an older Wix help page says a site holds at most 64 secrets; delete unused secrets "
            "(retrying does not help)",
            **common,
        )
    if status == 429:
        wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        return RateLimitedError(
            f"{what}: rate limited (HTTP 429{code}){wait}",
            retry_after=retry_after,
            hint="lower --rate-limit or --concurrency, or try again later",
            **common,
        )
    if 500 <= status <= 599:
        return ServerError(f"{what}: Wix server error (HTTP {status}{code})", **common)
    return ProtocolError(f"{what}: unexpected HTTP status {status}{code}", **common)


def _with(redactor: Redactor, sensitive: Iterable[Sensitive]) -> Redactor:
    extra = [v.reveal() for v in sensitive]
    if not extra:
        return redactor
    for value in extra:
        redactor.add(value)
    return redactor


def _short(request_id: str) -> str:
    """The request id as printed: printable ASCII, at most 100 characters (it is server text)."""
    clean = "".join(c for c in request_id if 0x21 <= ord(c) <= 0x7E)
    return clean[:100]


def token_error(response: httpx.Response, *, client_id: str, client_secret: Sensitive) -> RemoteError:
    """The error for a failed token exchange.

    400/401/403 (RFC 6749 ``{"error", "error_description"}`` or a Wix envelope) become an AuthError
    that says what to check; other statuses map as for any request (5xx and 429 stay retryable).
    The client secret is never part of the message.
    """
    status = response.status_code
    if status not in (400, 401, 403):
        return error_from_response(response, operation="token", target="", sensitive=(client_secret,))
    oauth_code: str | None = None
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        oauth_code = data["error"]
    env = _envelope(response)
    code = oauth_code or env.code
    request_id = response.headers.get("x-wix-request-id")
    return AuthError(
        f"could not get a Wix access token for app {client_id} (HTTP {status}{f' {code}' if code else ''})",
        status=status,
        code=code,
        request_id=request_id,
        operation="token",
        detail=f"request id: {request_id}" if request_id else None,
        hint="check WIX_CLIENT_ID, WIX_CLIENT_SECRET and WIX_INSTANCE_ID: the secret must be the app's "
        "current secret and the instance id must belong to a site where the app is installed",
    )
