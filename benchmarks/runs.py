"""One measured run: a plan (and optionally its apply) through the operations API, timed in-process.

The clock starts when the site is first read and stops when the apply (or the plan) ends: Python
start-up, imports and manifest loading are outside it (start-up is measured on its own). The client is
the real :class:`~reconciler.wix.WixSecretsClient` over loopback HTTP to an emulator in another process.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.emulator_proc import API_KEY
from reconciler.executor import ApplyResult
from reconciler.model import DesiredSecret, DesiredState, Sensitive
from reconciler.operations import PlannedSite, apply_site, plan_site
from reconciler.wix import WixSecretsClient
from reconciler.wix.auth import ApiKeyAuth
from reconciler.wix.ratelimit import RequestStats

__all__ = ["Measured", "desired_state", "measure", "names", "site_values"]

DEFAULT_CONCURRENCY: int = WixSecretsClient.__init__.__kwdefaults__["concurrency"]  # type: ignore[index]


def names(n: int) -> list[str]:
    return [f"SECRET_{i:05d}" for i in range(n)]


def site_values(n: int, tag: str) -> list[tuple[str, str]]:
    """``(name, value)`` pairs; ``tag`` makes the values of one run differ from another's."""
    return [(name, f"{tag}-value-{i:05d}-{'x' * 24}") for i, name in enumerate(names(n))]


def desired_state(pairs: list[tuple[str, str]], *, cache_key: bytes | None = None) -> DesiredState:
    secrets = tuple(DesiredSecret(name=name, value=Sensitive(value)) for name, value in pairs)
    extra: dict[str, Any] = {}
    if cache_key is not None:
        extra["cache_key"] = cache_key
    return DesiredState(secrets=secrets, source="<benchmark>", **extra)


@dataclass
class Measured:
    seconds: float
    planned: PlannedSite
    result: ApplyResult | None
    stats: RequestStats


def client_for(url: str, *, concurrency: int, rate_limit: float | None, site: str = "bench") -> WixSecretsClient:
    return WixSecretsClient(api_url=url, auth=ApiKeyAuth(API_KEY, site), concurrency=concurrency, rate_limit=rate_limit)


async def measure_async(
    url: str,
    desired: DesiredState,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit: float | None = None,
    apply: bool = False,
    value_cache: Any = None,
    site: str = "bench",
) -> Measured:
    async with client_for(url, concurrency=concurrency, rate_limit=rate_limit, site=site) as client:
        started = time.perf_counter()
        if value_cache is not None:
            planned = await plan_site(client, desired, value_cache=value_cache)
        else:
            planned = await plan_site(client, desired)
        result = await apply_site(client, planned) if apply else None
        seconds = time.perf_counter() - started
        return Measured(seconds, planned, result, client.stats)


def measure(url: str, desired: DesiredState, **options: Any) -> Measured:
    return asyncio.run(measure_async(url, desired, **options))
