"""The emulator as a development server on a shared machine: token minting needs the secret, foreign
Host names and cross-origin control requests are refused, bodies are bounded, idle connections end,
and the request log is bounded. Raw sockets where httpx would not send the hostile bytes."""

from __future__ import annotations

import socket

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer
from reconciler.emulator.server import MAX_BODY

from .conftest import PREFIX

KEY = "IST.dev-key-4242"
GRANT = {"grant_type": "client_credentials", "client_id": "app", "instance_id": "i"}


def raw(url: str, data: bytes, *, timeout: float = 10.0) -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in b"".join(chunks):
                break
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_token_endpoint_with_an_api_key_requires_the_secret() -> None:
    with EmulatorServer(Emulator(api_key=KEY)) as server, httpx.Client(base_url=server.url) as client:
        wrong = client.post("/oauth2/token", json={**GRANT, "client_secret": "anything"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        right = client.post("/oauth2/token", json={**GRANT, "client_secret": KEY})
        assert right.status_code == 200
        assert client.get(PREFIX, headers={"Authorization": right.json()["access_token"]}).status_code == 200


def test_a_foreign_host_header_is_refused() -> None:
    with EmulatorServer(Emulator()) as server:
        port = server.url.rsplit(":", 1)[1]
        for host, expected in (("evil.example:" + port, 421), ("127.0.0.1:" + port, 200), ("localhost", 200)):
            request = f"GET {PREFIX} HTTP/1.1\r\nHost: {host}\r\nAuthorization: k\r\nConnection: close\r\n\r\n"
            assert status_of(raw(server.url, request.encode())) == expected, host


def test_control_routes_need_the_key_and_refuse_cross_origin() -> None:
    emulator = Emulator(api_key=KEY)
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.url) as client:
        client.post(PREFIX, headers={"Authorization": KEY}, json={"secret": {"name": "keep", "value": "v"}})
        assert client.post("/_emulator/reset?state=1").status_code == 401
        evil = {"Authorization": KEY, "Origin": "https://evil.example"}
        assert client.post("/_emulator/reset?state=1", headers=evil).status_code == 403
        site = {"Authorization": KEY, "Sec-Fetch-Site": "cross-site"}
        assert client.post("/_emulator/reset?state=1", headers=site).status_code == 403
        assert client.get(PREFIX, headers={"Authorization": KEY}).json()["secrets"][0]["name"] == "keep"
        local = {"Authorization": KEY, "Origin": server.url}
        assert client.get("/_emulator/requests", headers=local).status_code == 200
    open_emulator = Emulator()  # no key: still no cross-origin reset from a web page
    with EmulatorServer(open_emulator) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/_emulator/reset", headers={"Origin": "http://attacker.test"}).status_code == 403
        assert client.post("/_emulator/reset").status_code == 200


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ("Content-Length: -5\r\n", b"", 400),
        ("Content-Length: +5\r\n", b"hello", 400),
        (f"Content-Length: {MAX_BODY + 1}\r\n", b"", 413),
        ("Transfer-Encoding: chunked\r\n", b"zz\r\n", 400),
        ("Transfer-Encoding: chunked\r\n", (b"%x\r\n" % (1 << 19)) + b"a" * (1 << 19) + b"\r\n" * 1, 413),
    ],
)
def test_request_bodies_are_bounded(headers: str, body: bytes, expected: int) -> None:
    if expected == 413 and "chunked" in headers:
        chunk = (b"%x\r\n" % (1 << 19)) + b"a" * (1 << 19) + b"\r\n"
        body = chunk * 3  # 1.5 MiB in chunks, never announced
    with EmulatorServer(Emulator()) as server:
        head = f"POST {PREFIX} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: k\r\n{headers}\r\n"
        assert status_of(raw(server.url, head.encode() + body)) == expected


def test_half_open_connections_are_closed_after_the_idle_timeout() -> None:
    with EmulatorServer(Emulator(), idle_timeout=0.3) as server:
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(b"POST " + PREFIX.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{")
            assert sock.recv(1024) == b""  # the server gave up on the half-sent request and closed


def test_the_request_log_is_bounded_and_counts_stay_exact() -> None:
    emulator = Emulator(max_log=10)
    for _ in range(100):
        emulator.handle("GET", PREFIX, {"Authorization": "k"}, b"")
    assert len(emulator.requests) <= 13
    assert emulator.counts()["list"] == 100
    report = emulator.handle("GET", "/_emulator/requests", {}, b"").json()
    assert report["total"] == 100 and report["logged"] == len(emulator.requests)
