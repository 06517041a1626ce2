"""``wix-secrets emulator`` as a real process: prints its URL, serves, stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .conftest import PREFIX

LINE = "wix-secrets emulator listening on http://127.0.0.1:"


@contextmanager
def emulator_process(*extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("WIX_EMULATOR_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first:
            proc.wait(10)
            assert proc.stderr is not None
            pytest.fail(f"emulator exited {proc.returncode}: {proc.stderr.read()}")
        assert first.startswith(LINE), first
        yield proc, first.strip().rsplit(" ", 1)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_url_serves_and_stops_on_signal(sig: signal.Signals) -> None:
    with emulator_process() as (proc, url):
        assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
        with httpx.Client(base_url=url, headers={"Authorization": "k"}) as client:
            created = client.post(PREFIX, json={"secret": {"name": "cli", "value": "v"}})
            assert created.status_code == 200
            assert client.get(f"{PREFIX}/name/cli").json() == {"value": "v"}
            assert client.get("/_emulator/requests").json()["counts"]["create"] == 1
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert out == ""  # the URL line was the only stdout
        assert "emulator stopped after 2 requests" in err


def test_cli_api_key_faults_and_state_file(tmp_path: Path) -> None:
    state = tmp_path / "site.json"
    args = ("--api-key", "IST.k", "--state", str(state), "--rate-limit", "2", "--latency", "5", "--seed", "1")
    with emulator_process(*args) as (proc, url):
        with httpx.Client(base_url=url) as client:
            assert client.get(PREFIX, headers={"Authorization": "IST.wrong"}).status_code == 401
            created = client.post(
                PREFIX, headers={"Authorization": "IST.k"}, json={"secret": {"name": "kept", "value": "v"}}
            )
            assert created.status_code == 200
            limited = client.get(PREFIX, headers={"Authorization": "IST.k"})
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert "IST.k" not in err
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [s["name"] for s in json.loads(state.read_text())["secrets"]] == ["kept"]


def test_cli_refuses_bad_settings(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for extra in (["--error-rate", "2"], ["--state", str(bad)]):
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", "emulator", "--port", "0", *extra],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 1
        assert proc.stdout == ""
        assert "Error:" in proc.stderr
