"""The Wix Secrets API client: ``WixSecretsClient`` and its parts, re-exported.

Submodules: :mod:`~reconciler.wix.wire` (JSON on the wire), :mod:`~reconciler.wix.auth`
(credentials, token cache, URL safety), :mod:`~reconciler.wix.ratelimit` (rate budget, backoff,
stats) and :mod:`~reconciler.wix.client` (the async client and its retry rules).
"""

from __future__ import annotations

from reconciler.wix.auth import (
    ApiKeyAuth,
    Auth,
    OAuthClientCredentials,
    auth_from_environ,
    check_api_url,
    is_loopback_host,
)
from reconciler.wix.client import DEFAULT_USER_AGENT, ReadOnlyClient, WixSecretsClient
from reconciler.wix.ratelimit import RateLimiter, RequestStats, backoff_delay, parse_retry_after

__all__ = [
    "DEFAULT_USER_AGENT",
    "ApiKeyAuth",
    "Auth",
    "OAuthClientCredentials",
    "RateLimiter",
    "ReadOnlyClient",
    "RequestStats",
    "WixSecretsClient",
    "auth_from_environ",
    "backoff_delay",
    "check_api_url",
    "is_loopback_host",
    "parse_retry_after",
]
