"""Credentials for the Wix API: API key or OAuth client credentials, and where they may be sent.

This module owns the authentication headers of every request, the OAuth token cache (renewed
before it expires and once more after a 401), reading credentials from an environment mapping
(:func:`auth_from_environ`; only the CLI passes ``os.environ``), and :func:`check_api_url`, which
refuses to send credentials over plain HTTP to anything but loopback.

Keys, tokens and client secrets are held as :class:`~reconciler.model.Sensitive`: no ``repr``,
message or log line here shows them.
"""

from __future__ import annotations

import abc
import asyncio
import ipaddress
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import UsageError
from reconciler.model import Sensitive
from reconciler.wix.wire import TokenGrant

__all__ = [
    "ApiKeyAuth",
    "Auth",
    "AuthHeaders",
    "OAuthClientCredentials",
    "TokenSession",
    "auth_from_environ",
    "check_api_url",
    "is_loopback_host",
]

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


class Auth(abc.ABC):
    """A way to authenticate requests to one site."""

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


def auth_from_environ(environ: Mapping[str, str], *, site_id: str | None) -> Auth:
    """Credentials from an environment mapping.

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


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
