"""Fixtures for the emulator tests: an emulator, a loopback server, and one client facade for both seams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer, EmulatorTransport

PREFIX = "/_api/cloud-secrets-vault-server/api/v1/secrets"
AUTH = {"Authorization": "IST.test-key", "wix-site-id": "site-123"}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """Synchronous requests against an emulator, over real loopback HTTP or the in-process transport."""

    def __init__(self, emulator: Emulator, mode: str, server: EmulatorServer | None = None) -> None:
        self.emulator = emulator
        self.mode = mode
        self.server = server
        self._http = httpx.Client(base_url=server.url) if server else None

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = dict(AUTH) if auth else {}
        headers.update(kwargs.pop("headers", {}))
        if self._http is not None:
            return self._http.request(method, path, headers=headers, **kwargs)

        async def go() -> httpx.Response:
            transport = EmulatorTransport(self.emulator)
            async with httpx.AsyncClient(transport=transport, base_url="https://www.wixapis.com") as client:
                response = await client.request(method, path, headers=headers, **kwargs)
                await response.aread()
                return response

        return asyncio.run(go())

    # shortcuts for the five endpoints
    def list(self) -> httpx.Response:
        return self.request("GET", PREFIX)

    def get_value(self, name: str) -> httpx.Response:
        return self.request("GET", f"{PREFIX}/name/{name}")

    def create(self, name: str, value: str = "v", description: str | None = None) -> httpx.Response:
        secret: dict[str, Any] = {"name": name, "value": value}
        if description is not None:
            secret["description"] = description
        return self.request("POST", PREFIX, json={"secret": secret})

    def create_id(self, name: str, value: str = "v", description: str | None = None) -> str:
        response = self.create(name, value, description)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def update(self, secret_id: str, **secret: Any) -> httpx.Response:
        return self.request("PATCH", f"{PREFIX}/{secret_id}", json={"id": secret_id, "secret": secret})

    def delete(self, secret_id: str) -> httpx.Response:
        return self.request("DELETE", f"{PREFIX}/{secret_id}")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator) as running:
        yield running


def make_api(emulator: Emulator, mode: str) -> Iterator[Api]:
    if mode == "http":
        with EmulatorServer(emulator) as running:
            api = Api(emulator, mode, running)
            yield api
            api.close()
    else:
        yield Api(emulator, mode)


@pytest.fixture(params=["http", "transport"])
def api(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Api]:
    yield from make_api(emulator, request.param)
