"""The client against each plausible Wix the emulator plays: consistency token, 428, quota 429, 403.

Real emulator through httpx's transport seam; the one wrapper (:class:`StripConsistency`) is a
transport that removes the echoed header, to show what would happen without it.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorTransport, Quirks
from reconciler.errors import AuthError, PreconditionError, QuotaExceededError, RemoteError
from reconciler.executor import apply_plan, read_remote
from reconciler.manifest import load_manifest
from reconciler.model import Sensitive
from reconciler.plan import make_plan
from reconciler.wix import WixSecretsClient
from reconciler.wix.auth import ApiKeyAuth

from support import wix_env

MANIFEST = b"version: 1\nsecrets:\n  A:\n    value: alpha-1\n  B:\n    value: beta-22\n    description: bee\n"


class StripConsistency(httpx.AsyncBaseTransport):
    """Forwards every request without its ``X-Wix-Consistent`` header (a client that does not echo it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "x-wix-consistent" in request.headers:
            del request.headers["x-wix-consistent"]
        return await self.inner.handle_async_request(request)


def client_for(emulator: Emulator, *, strip: bool = False, retries: int = 2) -> WixSecretsClient:
    transport: httpx.AsyncBaseTransport = EmulatorTransport(emulator)
    if strip:
        transport = StripConsistency(transport)
    return WixSecretsClient(
        api_url="https://www.wixapis.com",
        auth=ApiKeyAuth("IST.key", "site-9"),
        transport=transport,
        rate_limit=None,
        retries=retries,
        backoff_base=0.001,
    )


@pytest.mark.parametrize("echo", [True, False])
def test_verification_after_apply_needs_the_consistency_token(echo: bool) -> None:
    emulator = Emulator(quirks=Quirks(read_lag=5))
    desired = load_manifest(MANIFEST, file="m.yaml")

    async def scenario() -> None:
        async with client_for(emulator, strip=not echo) as client:
            plan = make_plan(desired, await read_remote(client, desired))
            result = await apply_plan(client, plan)
            if echo:
                assert result.status == "success" and result.converged, result.verification
            else:  # what a client that does not echo the token would report: a false failure
                assert result.converged is False
                assert any("not on the site after its create" in p for p in result.verification)

    asyncio.run(scenario())


def test_the_latest_consistency_token_is_sent_on_every_later_request() -> None:
    emulator = Emulator()
    seen: list[str | None] = []

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.headers.get("x-wix-consistent"))
            return await EmulatorTransport(emulator).handle_async_request(request)

    async def scenario() -> None:
        async with WixSecretsClient(
            api_url="https://www.wixapis.com", auth=ApiKeyAuth("k", "s"), transport=Spy(), rate_limit=None
        ) as client:
            await client.list_secrets()
            await client.create("X", Sensitive("xxxx-1"), None)
            await client.list_secrets()

    asyncio.run(scenario())
    assert seen == [None, "emu-0", "emu-1"]


def test_missing_members_area_is_its_own_error_with_a_hint() -> None:
    emulator = Emulator(quirks=Quirks(no_members_area=True))

    async def scenario() -> None:
        async with client_for(emulator) as client:
            assert await client.list_secrets() == []
            with pytest.raises(PreconditionError) as info:
                await client.create("A", Sensitive("alpha-1"), None)
            err = info.value
            assert err.status == 428 and "Members Area" in err.summary and "site-9" in err.summary
            assert err.request_id and err.request_id in err.summary

    asyncio.run(scenario())
    assert emulator.counts()["create"] == 1  # not retried


def test_quota_429_is_not_retried_and_does_not_halve_the_budget() -> None:
    emulator = Emulator(quirks=Quirks(max_secrets=1))

    async def scenario() -> None:
        async with WixSecretsClient(
            api_url="https://www.wixapis.com",
            auth=ApiKeyAuth("k", "s"),
            transport=EmulatorTransport(emulator),
            rate_limit=120.0,
            burst=100,
        ) as client:
            await client.create("A", Sensitive("alpha-1"), None)
            with pytest.raises(QuotaExceededError) as info:
                await client.create("B", Sensitive("beta-22"), None)
            assert "quota" in info.value.summary and "64 secrets" in (info.value.hint or "")
            assert client.limiter.effective_rate == 120.0
            assert client.stats.throttled == 1 and client.stats.retries == 0

    asyncio.run(scenario())
    assert emulator.counts()["create"] == 2


def test_a_rate_429_is_still_a_rate_limit() -> None:
    from reconciler.emulator import Faults

    emulator = Emulator(faults=Faults(rate_limit=1))

    async def scenario() -> None:
        async with client_for(emulator, retries=0) as client:
            await client.list_secrets()
            with pytest.raises(RemoteError) as info:
                await client.list_secrets()
            assert not isinstance(info.value, QuotaExceededError) and info.value.status == 429

    asyncio.run(scenario())


def test_site_id_required_answers_428_with_the_site_hint() -> None:
    emulator = Emulator(quirks=Quirks(require_site_id=True))

    async def scenario() -> None:
        async with client_for(emulator) as client:
            assert await client.list_secrets() == []  # our client always sends wix-site-id

    asyncio.run(scenario())


def test_every_wix_error_carries_the_request_id() -> None:
    emulator = Emulator(api_key="other", quirks=Quirks(refuse_api_keys=True))

    async def scenario() -> None:
        async with client_for(emulator) as client:
            with pytest.raises(AuthError) as info:
                await client.list_secrets()
            assert info.value.status == 401 and info.value.request_id
            assert f"request id {info.value.request_id}" in info.value.summary
            assert "API key for site site-9" in info.value.summary

    asyncio.run(scenario())


@pytest.mark.parametrize("keeps", [False, True])
def test_a_description_wix_does_not_clear_is_one_warning_not_a_failure(cli, tmp_path, keeps: bool) -> None:  # type: ignore[no-untyped-def]
    from reconciler.emulator import EmulatorServer

    emulator = Emulator(quirks=Quirks(keep_description_on_empty=keeps))
    with EmulatorServer(emulator) as server:
        env = wix_env(server.url, api_key="IST.key", site_id="s")
        first = tmp_path / "a.yaml"
        first.write_text("version: 1\nsecrets:\n  D:\n    value: d-value-1\n    description: old text\n")
        assert cli("apply", "--auto-approve", str(first), env=env).code == 0
        cleared = tmp_path / "b.yaml"
        cleared.write_text('version: 1\nsecrets:\n  D:\n    value: d-value-1\n    description: ""\n')
        result = cli("apply", "--auto-approve", "--no-backup", str(cleared), env=env)
        assert result.code == 0, result.out + result.err
        warned = "Wix did not clear the description of D" in result.out
        assert warned is keeps
        assert "Verification" not in result.out
        again = cli("plan", "--detailed-exitcode", str(cleared), env=env)  # not planned again, either way
        assert again.code == 0, again.out + again.err
        writes = emulator.counts()["update"]
        assert cli("apply", "--auto-approve", "--no-backup", str(cleared), env=env).code == 0
        assert emulator.counts()["update"] == writes
        # someone sets another description on the site: clearing it is planned again
        first_desc = tmp_path / "c.yaml"
        first_desc.write_text("version: 1\nsecrets:\n  D:\n    value: d-value-1\n    description: newer\n")
        assert cli("apply", "--auto-approve", "--no-backup", str(first_desc), env=env).code == 0
        assert cli("plan", "--detailed-exitcode", str(cleared), env=env).code == 2
