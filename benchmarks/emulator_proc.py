"""The emulator in its own process, so that its work and its GIL never distort the client's timing.

:class:`EmulatorProcess` runs ``python -m reconciler emulator --port 0 ...`` and reads the URL from the
first line it prints; it talks to the control routes (``GET /_emulator/requests`` for the exact request
counts, ``POST /_emulator/reset``) and seeds secrets either over HTTP (many at once) or, for sites that
are only read, through a state file written before the process starts (no request is spent on it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

__all__ = ["API_KEY", "SECRETS_PATH", "EmulatorProcess", "write_state"]

API_KEY = "bench-key"
SECRETS_PATH = "/_api/cloud-secrets-vault-server/api/v1/secrets"
STATE_FORMAT = "wix-secrets-emulator/1"


def write_state(path: Path, secrets: Iterable[tuple[str, str]]) -> None:
    """An emulator state file holding ``(name, value)`` pairs (mode 0600)."""
    now = datetime.now(tz=UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    items = [
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "value": value,
            "description": None,
            "createdDate": stamp,
            "updatedDate": stamp,
        }
        for name, value in secrets
    ]
    path.write_text(json.dumps({"format": STATE_FORMAT, "lastMs": 0, "secrets": items}), encoding="utf-8")
    os.chmod(path, 0o600)


class EmulatorProcess:
    """``with EmulatorProcess(latency_ms=50) as emu: emu.url``."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        rate_limit: int | None = None,
        state: Path | None = None,
    ) -> None:
        self.latency_ms = latency_ms
        self.rate_limit = rate_limit
        self.state = state
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._http: httpx.Client | None = None

    def start(self) -> EmulatorProcess:
        argv = [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--api-key", API_KEY]
        if self.latency_ms:
            argv += ["--latency", str(self.latency_ms)]
        if self.rate_limit:
            argv += ["--rate-limit", str(self.rate_limit)]
        if self.state is not None:
            argv += ["--state", str(self.state)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WIX_", "SOPS_"))}
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.rsplit("listening on ", 1)[1].strip()
        self._http = httpx.Client(
            base_url=self.url, timeout=120.0, trust_env=False, headers={"Authorization": API_KEY}
        )  # the control routes need the key when the emulator has one
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- control routes ----------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("the emulator is not running")
        return self._http

    def reset(self, *, state: bool = False) -> None:
        """Clear the request log and the rate window (and the secrets with ``state``)."""
        self._client().post("/_emulator/reset", params={"state": "1" if state else "0"}).raise_for_status()

    def requests(self) -> dict[str, Any]:
        response = self._client().get("/_emulator/requests")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def counts(self) -> dict[str, int]:
        """Requests per route since the last reset (429s and retries included)."""
        counts: dict[str, int] = self.requests()["counts"]
        return {k: v for k, v in counts.items() if v}

    def seed(self, secrets: list[tuple[str, str]], *, concurrency: int = 64) -> None:
        """Create the secrets over HTTP (many at once), then clear the request log."""
        import asyncio

        async def run() -> None:
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            headers = {"Authorization": API_KEY, "wix-site-id": "bench"}
            gate = asyncio.Semaphore(concurrency)
            async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=120.0, trust_env=False) as http:

                async def create(name: str, value: str) -> None:
                    async with gate:
                        body = {"secret": {"name": name, "value": value}}
                        (await http.post(SECRETS_PATH, json=body, headers=headers)).raise_for_status()

                await asyncio.gather(*(create(n, v) for n, v in secrets))

        asyncio.run(run())
        self.reset()
