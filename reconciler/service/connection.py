"""Which site a run talks to and how: connection settings from an environ mapping plus overrides.

``local`` (``--local``, ``WIX_LOCAL_SITE``) selects the embedded emulator persisted in a file: no
network, no account. Otherwise ``api_url`` (``--api-url``, ``WIX_API_URL``, default
https://www.wixapis.com) with credentials from the environment mapping. One set of defaults for every
front end. The credentials are turned into an auth object in ONE function, :func:`make_auth`.
Nothing here reads ``os.environ``: the caller passes the mapping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from reconciler import __version__
from reconciler.errors import UsageError

if TYPE_CHECKING:
    import httpx

    from reconciler.redact import Redactor
    from reconciler.wix import Auth, WixSecretsClient

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "Connection",
    "connection_settings",
    "make_auth",
    "open_client",
]

DEFAULT_API_URL: Final = "https://www.wixapis.com"
DEFAULT_CONCURRENCY: Final = 32
DEFAULT_RATE_LIMIT: Final = 150.0  # below Wix's 200/min per app instance, which other callers share (wix.ratelimit)
DEFAULT_RETRIES: Final = 5
DEFAULT_TIMEOUT: Final = 30.0
LOCAL_API_URL: Final = "http://127.0.0.1"  # never dialled: the in-process transport answers
USER_AGENT: Final = f"wix-secrets/{__version__} (+https://github.com/wix-secrets/wix-secrets)"


@dataclass(frozen=True)
class Connection:
    """A resolved target and the client's tuning. ``local`` is an absolute path or None."""

    local: str | None
    api_url: str
    site_id: str | None
    concurrency: int = DEFAULT_CONCURRENCY
    rate_limit: float | None = DEFAULT_RATE_LIMIT
    retries: int = DEFAULT_RETRIES
    timeout: float = DEFAULT_TIMEOUT
    auth: str | None = None  # the identity chosen (--auth, the Action's auth input); None: WIX_AUTH or the only one

    @property
    def target(self) -> str:
        """The target as shown to the user and compared with a saved plan's."""
        return f"local site {self.local}" if self.local else f"{self.api_url} (site {self.site_id or '?'})"


def connection_settings(
    environ: Mapping[str, str],
    *,
    cwd: Path,
    local: str | None = None,
    api_url: str | None = None,
    site_id: str | None = None,
    concurrency: int | None = None,
    rate_limit: float | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    auth: str | None = None,
) -> Connection:
    """The connection from explicit overrides (flags, inputs, arguments), then ``environ``, then defaults."""
    chosen_local = local or environ.get("WIX_LOCAL_SITE") or None
    if chosen_local and api_url:
        raise UsageError("--local and --api-url both given; choose one site")
    url = None if chosen_local else (api_url or environ.get("WIX_API_URL") or None)
    conc = concurrency or DEFAULT_CONCURRENCY
    if conc < 1:
        raise UsageError("--concurrency must be at least 1")
    rate = rate_limit
    if rate is None:
        rate = _rate_from_environ(environ)
    if rate is None and not chosen_local:
        rate = DEFAULT_RATE_LIMIT
    if rate is not None and rate <= 0:
        rate = None  # --rate-limit 0: unlimited
    local_path: str | None = None
    if chosen_local:
        path = Path(chosen_local).expanduser()
        local_path = str(path if path.is_absolute() else cwd / path)
    return Connection(
        local=local_path,
        api_url=(url or DEFAULT_API_URL).rstrip("/"),
        site_id=site_id or environ.get("WIX_SITE_ID") or None,
        concurrency=conc,
        rate_limit=rate,
        retries=DEFAULT_RETRIES if retries is None else retries,
        timeout=timeout or DEFAULT_TIMEOUT,
        auth=auth or None,
    )


def _rate_from_environ(environ: Mapping[str, str]) -> float | None:
    """``WIX_RATE_LIMIT`` (requests per minute, 0 for unlimited), or None when it is unset or empty."""
    raw = (environ.get("WIX_RATE_LIMIT") or "").strip()
    if not raw:
        return None
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not math.isfinite(rate) or rate < 0:
        raise UsageError(f"WIX_RATE_LIMIT must be a number of requests per minute (0: unlimited), not {raw[:20]!r}")
    return rate


def make_auth(connection: Connection, environ: Mapping[str, str], *, redactor: Redactor | None = None) -> Auth:
    """The auth object for a remote site, from the environment mapping (the one place that builds it).

    The identity is chosen by :func:`reconciler.wix.identity.resolve_identity`: ``connection.auth``
    (``--auth``, the Action's ``auth`` input, ``auth=`` of the Python API), then ``WIX_AUTH`` in
    ``environ``, then the only identity configured. Every credential is registered with ``redactor``
    the moment it is read; the choice is logged at INFO (``-v``: "auth: ..."), never printed."""
    from reconciler.wix.identity import auth_for_cli

    return auth_for_cli(environ, site_id=connection.site_id, choice=connection.auth, redactor=redactor)


def open_client(
    connection: Connection,
    environ: Mapping[str, str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    redactor: Redactor | None = None,
) -> WixSecretsClient:
    """A client for the site (use as an async context manager). ``transport`` replaces the network;
    ``redactor`` scrubs what the client logs or raises (credentials, values) and learns the credentials."""
    from reconciler.wix import WixSecretsClient
    from reconciler.wix.auth import ApiKeyAuth, check_api_url

    if connection.local:
        from reconciler.emulator import Emulator, EmulatorStateError, EmulatorTransport

        try:
            emulator = Emulator(state_file=Path(connection.local))
        except (EmulatorStateError, OSError) as exc:
            raise UsageError(
                f"cannot use the local site {connection.local}: {exc}",
                hint="point --local at a new file, or at a file written by wix-secrets",
            ) from None
        api_url: str = LOCAL_API_URL
        auth: Any = ApiKeyAuth("local", connection.site_id or "local")
        transport = EmulatorTransport(emulator)
    else:
        check_api_url(connection.api_url)
        api_url = connection.api_url
        auth = make_auth(connection, environ, redactor=redactor)
    return WixSecretsClient(
        api_url=api_url,
        auth=auth,
        transport=transport,
        concurrency=connection.concurrency,
        rate_limit=connection.rate_limit,
        retries=connection.retries,
        timeout=connection.timeout,
        user_agent=USER_AGENT,
        redactor=redactor,
    )
