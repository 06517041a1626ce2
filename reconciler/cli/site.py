"""Which site a command talks to, and the client for it, from flags and the environment.

``--local PATH`` (or ``WIX_LOCAL_SITE``) selects the embedded emulator persisted in PATH: no network,
no account. Otherwise ``--api-url`` (``WIX_API_URL``, default https://www.wixapis.com) with API-key or
OAuth credentials from the environment.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from reconciler import __version__
from reconciler.cli.console import Console
from reconciler.errors import UsageError

__all__ = ["DEFAULT_API_URL", "SiteSettings", "open_client", "site_settings"]

DEFAULT_API_URL = "https://www.wixapis.com"
LOCAL_API_URL = "http://127.0.0.1"  # never dialled: the in-process transport answers


@dataclass(frozen=True)
class SiteSettings:
    local: str | None
    api_url: str
    site_id: str | None
    concurrency: int
    rate_limit: float | None
    retries: int
    timeout: float
    auth: str | None = None


def site_settings(args: argparse.Namespace, console: Console) -> SiteSettings:
    env = console.environ
    local = getattr(args, "local", None) or env.get("WIX_LOCAL_SITE") or None
    api_url = getattr(args, "api_url", None) or env.get("WIX_API_URL") or None
    if local and getattr(args, "api_url", None):
        raise UsageError("--local and --api-url both given; choose one site")
    if local:
        api_url = None
    concurrency = getattr(args, "concurrency", None) or 32
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    rate = getattr(args, "rate_limit", None)
    if rate is None and not local:
        rate = 150.0  # below Wix's 200/min per app instance, which other callers share (wix.ratelimit)
    if rate is not None and rate <= 0:
        rate = None  # --rate-limit 0: unlimited
    retries = getattr(args, "retries", None)
    timeout = getattr(args, "timeout", None) or 30.0
    return SiteSettings(
        local=str(console.resolve(local)) if local else None,
        api_url=(api_url or DEFAULT_API_URL).rstrip("/"),
        site_id=getattr(args, "site_id", None) or env.get("WIX_SITE_ID") or None,
        concurrency=concurrency,
        rate_limit=rate,
        retries=5 if retries is None else retries,
        timeout=timeout,
        auth=getattr(args, "auth", None),
    )


def open_client(settings: SiteSettings, console: Console) -> Any:
    """A :class:`~reconciler.wix.WixSecretsClient` for the site (use as an async context manager)."""
    from reconciler.wix import WixSecretsClient
    from reconciler.wix.auth import ApiKeyAuth, check_api_url
    from reconciler.wix.identity import auth_for_cli

    user_agent = f"wix-secrets/{__version__} (+https://github.com/wix-secrets/wix-secrets)"
    if settings.local:
        from reconciler.emulator import Emulator, EmulatorStateError, EmulatorTransport

        try:
            emulator = Emulator(state_file=_path(settings.local))
        except (EmulatorStateError, OSError) as exc:
            raise UsageError(
                f"cannot use the local site {settings.local}: {exc}",
                hint="point --local at a new file, or at a file written by wix-secrets",
            ) from None
        return WixSecretsClient(
            api_url=LOCAL_API_URL,
            auth=ApiKeyAuth("local", settings.site_id or "local"),
            transport=EmulatorTransport(emulator),
            concurrency=settings.concurrency,
            rate_limit=settings.rate_limit,
            retries=settings.retries,
            timeout=settings.timeout,
            user_agent=user_agent,
            redactor=console.redactor,
        )
    check_api_url(settings.api_url)
    auth = auth_for_cli(console.environ, site_id=settings.site_id, choice=settings.auth, redactor=console.redactor)
    return WixSecretsClient(
        api_url=settings.api_url,
        auth=auth,
        concurrency=settings.concurrency,
        rate_limit=settings.rate_limit,
        retries=settings.retries,
        timeout=settings.timeout,
        user_agent=user_agent,
        redactor=console.redactor,
    )


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text)
