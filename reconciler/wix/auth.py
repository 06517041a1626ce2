"""Credentials for the Wix API: API key, OAuth client credentials or a bearer token, and where they may be sent.

This module owns the authentication headers of every request, the OAuth token cache (renewed
before it expires and once more after a 401), tokens printed by a command (the Wix CLI's
``wix token --site``, or ``WIX_TOKEN_COMMAND``; run without a shell, kept in memory only, run again
after a 401 or before they expire), :func:`check_header_value` (a credential that cannot be sent in
an HTTP header is refused by name, never echoed), and :func:`check_api_url`, which refuses to send
credentials over plain HTTP to anything but loopback. Which identity to use is decided by
:mod:`reconciler.wix.identity`; :func:`auth_from_environ` is its shorthand.

Keys, tokens and client secrets are held as :class:`~reconciler.model.Sensitive`: no ``repr``,
message or log line here shows them.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import AuthError, UsageError
from reconciler.hosts import is_loopback_host
from reconciler.model import Sensitive
from reconciler.wix.wire import TokenGrant

__all__ = [
    "COMMAND_TOKEN_TTL",
    "ApiKeyAuth",
    "Auth",
    "AuthHeaders",
    "CommandTokenAuth",
    "OAuthClientCredentials",
    "StaticTokenAuth",
    "TokenSession",
    "auth_from_environ",
    "check_api_url",
    "check_header_value",
    "is_loopback_host",
]

log = logging.getLogger("reconciler.wix")

#: A token printed by a command is used for at most this many seconds before the command runs again
#: (sooner when the token is a JWT whose ``exp`` says so): ``wix token`` refreshes as needed.
COMMAND_TOKEN_TTL = 600.0
#: Bounds on a token command: its output (a token is far smaller) and how long it may take.
COMMAND_MAX_OUTPUT = 64 * 1024
COMMAND_TIMEOUT = 60.0
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")

API_KEY_VARS = ("WIX_API_KEY", "WIX_SITE_ID")
OAUTH_VARS = ("WIX_CLIENT_ID", "WIX_CLIENT_SECRET", "WIX_INSTANCE_ID")


class TokenSession(Protocol):
    """What an :class:`Auth` needs from the client: a clock and the token exchange itself."""

    def now(self) -> float: ...

    async def exchange_token(self, credentials: OAuthClientCredentials) -> TokenGrant: ...


@dataclass(frozen=True)
class AuthHeaders:
    """Headers for one request; ``generation`` identifies the token they carry (for 401 handling)."""

    headers: dict[str, str]
    generation: int = 0

    def __repr__(self) -> str:
        return f"AuthHeaders(names={sorted(self.headers)!r}, generation={self.generation})"


def check_header_value(name: str, value: str) -> str:
    """``value`` if it can be sent in an HTTP header, else a UsageError naming ``name`` (never the value)."""
    if not _HEADER_SAFE.fullmatch(value):
        raise UsageError(
            f"{name} contains a character not allowed in an HTTP header",
            hint=f"set {name} again from the original; only printable ASCII characters are possible",
        )
    return value


class Auth(abc.ABC):
    """A way to authenticate requests to one site.

    ``alternatives`` names the other identities that were configured or possible (for a 401/403 hint).
    """

    alternatives: str = ""

    @abc.abstractmethod
    async def headers(self, session: TokenSession) -> AuthHeaders:
        """The headers to add to a request (may exchange a token through ``session``)."""

    def unauthorized(self, generation: int) -> bool:
        """A request carrying ``generation`` got a 401. True when trying again may help."""
        return False

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """A safe one-line description for messages (never the secret part)."""


class ApiKeyAuth(Auth):
    """``Authorization: <API key>`` (no "Bearer") plus ``wix-site-id``."""

    def __init__(self, api_key: Sensitive | str, site_id: str) -> None:
        self._key = api_key if isinstance(api_key, Sensitive) else Sensitive(api_key)
        if not self._key.reveal() or not site_id:
            raise UsageError("an API key and a site id are both required")
        self.site_id = site_id

    async def headers(self, session: TokenSession) -> AuthHeaders:
        return AuthHeaders({"Authorization": self._key.reveal(), "wix-site-id": self.site_id})

    @property
    def description(self) -> str:
        return f"API key for site {self.site_id}"

    def __repr__(self) -> str:
        return f"ApiKeyAuth(site_id={self.site_id!r}, api_key={self._key!r})"


class OAuthClientCredentials(Auth):
    """A Wix app's client-credentials grant; the access token is sent as ``Authorization: <token>``.

    The token is cached and renewed ``early`` seconds before it expires (10% of its lifetime, at
    least 5 minutes, at most half of it), and dropped after a 401 so the next request renews it.
    Concurrent requests share one exchange.
    """

    def __init__(self, client_id: str, client_secret: Sensitive | str, instance_id: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret if isinstance(client_secret, Sensitive) else Sensitive(client_secret)
        self.instance_id = instance_id
        if not client_id or not self.client_secret.reveal() or not instance_id:
            raise UsageError("a client id, client secret and instance id are all required")
        self._token: Sensitive | None = None
        self._renew_at = 0.0
        self._generation = 0
        self._lock = asyncio.Lock()

    @staticmethod
    def renewal_margin(lifetime: float) -> float:
        return min(max(300.0, lifetime * 0.1), lifetime * 0.5)

    async def headers(self, session: TokenSession) -> AuthHeaders:
        if self._token is None or session.now() >= self._renew_at:
            async with self._lock:
                if self._token is None or session.now() >= self._renew_at:
                    started = session.now()
                    grant = await session.exchange_token(self)
                    self._token = grant.access_token
                    self._renew_at = started + grant.expires_in - self.renewal_margin(grant.expires_in)
                    self._generation += 1
        return AuthHeaders({"Authorization": self._token.reveal()}, self._generation)

    def unauthorized(self, generation: int) -> bool:
        if generation == self._generation:
            self._token = None
        return True

    @property
    def description(self) -> str:
        return f"Wix app {self.client_id} (instance {self.instance_id})"

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials(client_id={self.client_id!r}, instance_id={self.instance_id!r}, "
            f"client_secret={self.client_secret!r})"
        )


class StaticTokenAuth(Auth):
    """A bearer token given as is (``WIX_ACCESS_TOKEN``): ``Authorization: <token>`` (+ ``wix-site-id``)."""

    def __init__(self, token: Sensitive | str, site_id: str | None, *, source: str = "WIX_ACCESS_TOKEN") -> None:
        self._token = token if isinstance(token, Sensitive) else Sensitive(token)
        if not self._token.reveal():
            raise UsageError(f"{source} is empty")
        self.site_id = site_id
        self.source = source

    async def headers(self, session: TokenSession) -> AuthHeaders:
        headers = {"Authorization": self._token.reveal()}
        if self.site_id:
            headers["wix-site-id"] = self.site_id
        return AuthHeaders(headers)

    @property
    def description(self) -> str:
        site = f" for site {self.site_id}" if self.site_id else ""
        return f"access token from {self.source}{site}"

    def __repr__(self) -> str:
        return f"StaticTokenAuth(site_id={self.site_id!r}, token={self._token!r})"


class CommandTokenAuth(Auth):
    """A token printed by a command (``wix token --site S``, or ``WIX_TOKEN_COMMAND``).

    Each candidate argv is tried in order until one exists (``wix``, then ``npx --no-install @wix/cli``);
    it runs without a shell, with stdin closed, the given environment, a 60 s limit and at most 64 KiB of
    output; its stdout, stripped, is the token. The token lives in memory only; it is fetched again
    after a 401, and before it expires (a JWT's ``exp``, else :data:`COMMAND_TOKEN_TTL`). ``register``
    receives every token as soon as it is read (the CLI passes its redactor's ``add``).
    """

    def __init__(
        self,
        candidates: Sequence[Sequence[str]],
        *,
        site_id: str | None,
        environ: Mapping[str, str],
        kind: str,
        register: Callable[[str], None] | None = None,
        wall: Callable[[], float] = time.time,
        ttl: float = COMMAND_TOKEN_TTL,
    ) -> None:
        if not candidates or not all(candidates):
            raise UsageError("the token command is empty")
        self.candidates = tuple(tuple(c) for c in candidates)
        self.site_id = site_id
        self.kind = kind
        self._environ = dict(environ)
        self._register = register
        self._wall = wall
        self._ttl = ttl
        self._token: Sensitive | None = None
        self._renew_at = 0.0
        self._generation = 0
        self._lock = asyncio.Lock()
        self.runs = 0

    async def headers(self, session: TokenSession) -> AuthHeaders:
        if self._token is None or session.now() >= self._renew_at:
            async with self._lock:
                if self._token is None or session.now() >= self._renew_at:
                    started = session.now()
                    token = await self._fetch()
                    lifetime = _jwt_lifetime(token, self._wall())
                    lifetime = self._ttl if lifetime is None else min(lifetime, self._ttl)
                    self._token = Sensitive(token)
                    self._renew_at = started + max(0.0, lifetime - min(60.0, lifetime * 0.1))
                    self._generation += 1
        headers = {"Authorization": self._token.reveal()}
        if self.site_id:
            headers["wix-site-id"] = self.site_id
        return AuthHeaders(headers, self._generation)

    def unauthorized(self, generation: int) -> bool:
        if generation == self._generation:
            self._token = None
        return True

    def _command_text(self, argv: Sequence[str]) -> str:
        return " ".join(argv)

    async def _fetch(self) -> str:
        tried: list[str] = []
        for argv in self.candidates:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=self._environ,
                )
            except (FileNotFoundError, PermissionError, NotADirectoryError):
                tried.append(argv[0])
                continue
            except OSError as exc:
                raise self._failure(argv, f"could not be started ({exc.strerror or type(exc).__name__})") from None
            self.runs += 1
            try:
                out, err = await asyncio.wait_for(_bounded(proc), COMMAND_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
                raise self._failure(argv, f"did not finish within {COMMAND_TIMEOUT:.0f}s") from None
            text = out.decode("utf-8", "replace").strip()
            if len(out) > COMMAND_MAX_OUTPUT:
                raise self._failure(argv, f"printed more than {COMMAND_MAX_OUTPUT} bytes")
            if proc.returncode != 0:
                raise self._failure(argv, f"failed (exit {proc.returncode})", stderr=err, token=text)
            if text and self._register is not None:
                self._register(text)
            if not text:
                raise self._failure(argv, "printed no token", stderr=err)
            if not _HEADER_SAFE.fullmatch(text) or len(text.split()) != 1:
                raise self._failure(argv, "printed something that is not a token (one printable ASCII word)")
            log.debug("auth: %s printed a token", argv[0])
            return text
        raise AuthError(
            f"cannot get a Wix token: {', '.join(dict.fromkeys(tried))} not found on PATH",
            operation="token",
            hint=self._install_hint(),
        )

    def _install_hint(self) -> str:
        if self.kind == "wix-cli":
            return "install the Wix CLI (npm install -g @wix/cli), run `wix login`, then try again"
        return "check WIX_TOKEN_COMMAND: it must name a program on PATH (it runs without a shell)"

    def _failure(self, argv: Sequence[str], what: str, *, stderr: bytes = b"", token: str = "") -> AuthError:
        shown = self._command_text(argv)
        detail = None
        first = stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        if first:
            line = first[0][:200]
            if token and len(token) >= 4:
                line = line.replace(token, "[redacted]")
            detail = "it said: " + re.sub(r"\S{32,}", "[redacted]", line)
        hint = "run `wix login` (and check the site id), then try again" if self.kind == "wix-cli" else None
        return AuthError(f"cannot get a Wix token: `{shown}` {what}", operation="token", detail=detail, hint=hint)

    @property
    def description(self) -> str:
        site = f" for site {self.site_id}" if self.site_id else ""
        if self.kind == "wix-cli":
            return f"wix-cli token{site}"
        return f"token from WIX_TOKEN_COMMAND ({self.candidates[0][0]}){site}"

    def __repr__(self) -> str:
        return f"CommandTokenAuth(kind={self.kind!r}, site_id={self.site_id!r}, token=<redacted>)"


async def _bounded(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Read at most COMMAND_MAX_OUTPUT + 1 bytes of stdout (and of stderr), then wait for the exit."""
    assert proc.stdout is not None and proc.stderr is not None

    async def take(stream: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while size <= COMMAND_MAX_OUTPUT:
            chunk = await stream.read(COMMAND_MAX_OUTPUT + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    out, err = await asyncio.gather(take(proc.stdout), take(proc.stderr))
    if len(out) > COMMAND_MAX_OUTPUT or len(err) > COMMAND_MAX_OUTPUT:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()
    return out, err


def _jwt_lifetime(token: str, now: float) -> float | None:
    """Seconds until a JWT's ``exp``; None when the token is not a JWT with a numeric ``exp``."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    return max(0.0, float(exp) - now)


def auth_from_environ(environ: Mapping[str, str], *, site_id: str | None) -> Auth:
    """Credentials from an environment mapping: :func:`reconciler.wix.identity.resolve_identity`'s auth."""
    from reconciler.wix.identity import resolve_identity

    return resolve_identity(environ, site_id=site_id).auth


def legacy_auth_from_environ(environ: Mapping[str, str], *, site_id: str | None) -> Auth:
    """API key or Wix app from an environment mapping (what :mod:`.identity` uses for those two).

    An API key (``WIX_API_KEY`` with ``WIX_SITE_ID`` or the ``site_id`` argument) wins when complete;
    otherwise a Wix app (``WIX_CLIENT_ID``, ``WIX_CLIENT_SECRET``, ``WIX_INSTANCE_ID``). When neither
    is complete, a UsageError says exactly which variables are missing.
    """

    def get(name: str) -> str:
        return environ.get(name, "").strip()

    site = (site_id or "").strip() or get("WIX_SITE_ID")
    if get("WIX_API_KEY") and site:
        return ApiKeyAuth(Sensitive(get("WIX_API_KEY")), site)
    if all(get(n) for n in OAUTH_VARS):
        return OAuthClientCredentials(get("WIX_CLIENT_ID"), Sensitive(get("WIX_CLIENT_SECRET")), get("WIX_INSTANCE_ID"))
    missing_key = [n for n in ("WIX_API_KEY",) if not get(n)]
    if not site:
        missing_key.append("WIX_SITE_ID (or --site-id)")
    missing_oauth = [n for n in OAUTH_VARS if not get(n)]
    started_oauth = len(missing_oauth) < len(OAUTH_VARS)
    started_key = bool(get("WIX_API_KEY")) or bool(site)
    if started_oauth and not started_key:
        summary = f"incomplete Wix app credentials: set {_join(missing_oauth)}"
    elif started_key and not started_oauth:
        summary = f"incomplete Wix API key credentials: set {_join(missing_key)}"
    else:
        summary = (
            f"no complete Wix credentials: set {_join(missing_key)} (API key), or {_join(missing_oauth)} (Wix app)"
        )
    raise UsageError(
        summary,
        hint="an API key is created in the Wix API Keys Manager with the 'Manage Secrets' permission; "
        "the site id is in the dashboard URL",
    )


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def check_api_url(url: str) -> str:
    """Validate the API origin and return it without a trailing slash.

    Credentials are only ever sent over https, except to loopback (an emulator on this machine).
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid Wix API URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"invalid Wix API URL {url!r}: expected an origin such as https://www.wixapis.com")
    if parts.username is not None or parts.password is not None:
        raise UsageError("the Wix API URL must not contain credentials")
    if parts.query or parts.fragment:
        raise UsageError(f"the Wix API URL must not have a query or fragment: {url!r}")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise UsageError(
            f"refusing to send credentials over plain HTTP to {host}",
            hint="use https://, or http:// only for a loopback address (localhost, 127.0.0.1, ::1)",
        )
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
