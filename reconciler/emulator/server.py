"""The emulator over real HTTP on loopback: a stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive.

Owns sockets only: each connection gets a thread, each request is read (Content-Length or chunked,
at most :data:`MAX_BODY` bytes either way; a negative or malformed length is a 400), handed to
:meth:`Emulator.handle`, delayed with ``time.sleep`` in that connection's thread (so latency
never serialises requests), and answered with Content-Length, or dropped by closing the socket with
no answer. As a development server on a shared machine it refuses a ``Host`` that is not an IP
literal or ``localhost`` (421: a DNS-rebinding page in a browser names its own domain), and closes a
connection idle or half-sent for ``idle_timeout`` seconds. :class:`EmulatorServer` is a context
manager that serves in a background thread and, on exit, stops accepting and shuts down every open
connection. Logs name method, route and status only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from reconciler.emulator.core import Emulator

__all__ = ["EmulatorServer"]

log = logging.getLogger("reconciler.emulator.server")
MAX_BODY = 1 << 20
#: Seconds a connection may sit idle or half-sent before the server closes it.
IDLE_TIMEOUT = 30.0


class _BadBody(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.emulator = emulator
        self.idle_timeout = idle_timeout
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (a cancelled run, a killed process) is normal for a server:
        logged at debug, with no traceback on stderr (socketserver prints one by default). Anything else
        is a bug: a warning naming its type, the frames at debug, never the message."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("client %s went away: %s", client_address[0] if client_address else "?", type(exc).__name__)
            return
        from reconciler.errors import withheld_traceback

        who = client_address[0] if client_address else "?"
        log.warning("the request from %s failed: %s (a bug in the emulator)", who, type(exc).__name__)
        if exc is not None:
            log.debug("%s", withheld_traceback(exc))  # where, never the message (it could quote a value)

    def close_all(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "wix-secrets-emulator"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        # the socket timeout: idle and half-open connections end (StreamRequestHandler reads `timeout`)
        self.request.settimeout(self.server.idle_timeout)
        super().setup()

    def _read_body(self) -> bytes:
        """The request body, at most MAX_BODY bytes; _BadBody(400/413) otherwise."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    raise _BadBody(400) from None
                if size < 0:
                    raise _BadBody(400)
                if size == 0:
                    for _ in range(100):  # trailers, bounded
                        if self.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                            break
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise _BadBody(413)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit():
            raise _BadBody(400)  # negative, signed or not a number
        length = int(raw)
        if length > MAX_BODY:
            raise _BadBody(413)
        return self.rfile.read(length) if length else b""

    def _host_allowed(self) -> bool:
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        name = name.strip().strip("[]").lower()
        if name == "localhost":
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def _serve(self) -> None:
        if self.path.startswith("/_emulator/"):
            self._serve_request()
            return
        with self.server.emulator.in_flight:
            self._serve_request()

    def _serve_request(self) -> None:
        if not self._host_allowed():
            self.send_error(421, "Misdirected Request: this emulator answers only to IP addresses and localhost")
            self.close_connection = True
            return
        try:
            body = self._read_body()
        except _BadBody as bad:
            self.send_error(bad.status)
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items()}
        reply = self.server.emulator.handle(self.command, self.path, headers, body)
        if reply.delay > 0:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = _serve

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None  # the emulator logs method, route and status itself

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


class EmulatorServer:
    """Serve ``emulator`` on ``host:port`` (0: any free port) in a background thread.

    ``with EmulatorServer(Emulator()) as server: httpx.get(server.url + "/_emulator/requests")``
    """

    def __init__(
        self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, *, idle_timeout: float = IDLE_TIMEOUT
    ) -> None:
        self.emulator = emulator
        self.idle_timeout = idle_timeout
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The origin, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the emulator server is not running")
        host, port = self._server.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{text}]" if ":" in text else text
        return f"http://{shown}:{port}"

    def start(self) -> EmulatorServer:
        if self._server is not None:
            return self
        server_cls: type[_Server] = _Server6 if ":" in self.host else _Server
        self._server = server_cls((self.host, self.port), self.emulator, self.idle_timeout)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="wix-secrets-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
