"""A hostile server at the API URL, over real loopback HTTP: endless or trickling bodies, lone
surrogates, error bodies echoing site values, and credentials that cannot be headers.

Each test runs the CLI in-process against a small stdlib server whose handler misbehaves on purpose.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support import send_json

LIST = "/_api/cloud-secrets-vault-server/api/v1/secrets"
SITE_VALUE = "SITE-VALUE-3b9f2c71-never-print"
ENV = {"WIX_API_KEY": "IST.key-1234", "WIX_SITE_ID": "site-1"}

Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Handler


class _Dispatch(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.behaviour(self)

    do_POST = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], str]]:
    servers: list[_Server] = []

    def start(behaviour: Handler) -> str:
        server = _Server(("127.0.0.1", 0), _Dispatch)
        server.behaviour = behaviour
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def manifest(tmp_path: Path, names: tuple[str, ...] = ("A",)) -> str:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nsecrets:\n" + "".join(f"  {n}:\n    value: wanted-{n}-value\n" for n in names))
    return str(path)


def test_an_endless_body_is_cut_at_the_cap_in_bounded_memory(cli, tmp_path: Path, hostile) -> None:  # type: ignore[no-untyped-def]
    sent = {"bytes": 0}

    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(3 << 30))  # claims 3 GiB
        handler.end_headers()
        chunk = b" " * (1 << 16)
        while sent["bytes"] < (3 << 30):
            handler.wfile.write(chunk)
            sent["bytes"] += len(chunk)

    url = hostile(endless)
    tracemalloc.start()
    result = cli("plan", "--retries", "0", str(manifest(tmp_path)), env={**ENV, "WIX_API_URL": url})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.code == 1
    assert "larger than 16 MiB; not read further" in result.err and "Traceback" not in result.err
    assert sent["bytes"] < (3 << 30)
    assert peak < 200 << 20


def test_a_trickling_body_hits_the_timeout_as_a_deadline(cli, tmp_path: Path, hostile) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        while not stop.is_set():  # one byte every 0.2 s: every single read succeeds in time
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)

    url = hostile(trickle)
    try:
        result = cli(
            "plan", "--retries", "0", "--timeout", "1", str(manifest(tmp_path)), env={**ENV, "WIX_API_URL": url}
        )
    finally:
        stop.set()
    assert result.code == 1
    assert "no complete answer within 1s" in result.err and "Traceback" not in result.err


def test_a_lone_surrogate_is_an_error_not_a_traceback(cli, tmp_path: Path, hostile) -> None:  # type: ignore[no-untyped-def]
    body = b'{"secrets":[{"id":"0b9e1a4e-0000-4000-8000-000000000001","name":"A\\ud800"}]}'
    url = hostile(lambda h: send_json(h, 200, body))
    result = cli("plan", str(manifest(tmp_path)), env={**ENV, "WIX_API_URL": url})
    assert result.code == 1
    assert "lone UTF-16 surrogate" in result.err and "Traceback" not in result.err
    error_url = hostile(lambda h: send_json(h, 400, b'{"message":"bad \\udc80 thing","details":{}}'))
    result = cli("plan", "--json", str(manifest(tmp_path)), env={**ENV, "WIX_API_URL": error_url})
    assert result.code == 1 and "Traceback" not in result.err + result.out


def test_an_error_body_echoing_a_site_value_is_scrubbed(cli, tmp_path: Path, hostile) -> None:  # type: ignore[no-untyped-def]
    first_read = threading.Event()
    ids = {"A": "0b9e1a4e-0000-4000-8000-00000000000a", "B": "0b9e1a4e-0000-4000-8000-00000000000b"}

    def echoing(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == LIST:
            send_json(handler, 200, json.dumps({"secrets": [{"id": i, "name": n} for n, i in ids.items()]}).encode())
        elif handler.path.endswith("/name/A"):
            send_json(handler, 200, json.dumps({"value": SITE_VALUE}).encode())
            first_read.set()
        else:
            first_read.wait(5)
            message = f"failed to serialise value '{SITE_VALUE}'"
            send_json(
                handler, 400, json.dumps({"message": message, "details": {}}).encode(), {"x-wix-request-id": "r-1"}
            )

    url = hostile(echoing)
    for fmt in ((), ("--json",), ("-v",), ("--debug",)):
        result = cli(
            "plan", "--concurrency", "1", *fmt, str(manifest(tmp_path, ("A", "B"))), env={**ENV, "WIX_API_URL": url}
        )
        assert result.code == 1, result.out + result.err
        assert SITE_VALUE not in result.out + result.err
        assert "[redacted]" in result.out + result.err


@pytest.mark.parametrize("bad", ["IST.kéy-ünïcode", "IST.key\x07bell", "IST.key\r\nX-Injected: 1"])
def test_an_unusable_api_key_is_refused_by_name_never_echoed(cli, tmp_path: Path, hostile, bad: str) -> None:  # type: ignore[no-untyped-def]
    hits: list[str] = []

    def answer(h: Any) -> None:
        hits.append(h.path)
        send_json(h, 200, b'{"secrets":[]}')

    url = hostile(answer)
    for fmt in ((), ("--json",)):
        result = cli("plan", *fmt, str(manifest(tmp_path)), env={**ENV, "WIX_API_KEY": bad, "WIX_API_URL": url})
        assert result.code == 1
        text = result.out + result.err
        assert "WIX_API_KEY contains a character not allowed in an HTTP header" in text
        assert "Traceback" not in text
        for part in (bad, bad.strip(), "kéy", "X-Injected"):
            assert part not in text
    assert hits == []  # nothing was sent


def test_unreachable_api_url_says_which_url_and_that_it_was_retried(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}"
    result = cli("plan", "--retries", "2", str(manifest(tmp_path)), env={**ENV, "WIX_API_URL": url})
    assert result.code == 1
    assert url in result.err and "unreachable" in result.err and "3 attempts" in result.err
