"""Runs that end cleanly: SIGTERM (a cancelled CI job) and SIGINT (Ctrl-C) during an apply.

A real ``wix-secrets apply`` subprocess writes to the emulator over loopback HTTP with latency; the test
waits until the server has received some writes (by counting them, never by sleeping a fixed time),
sends the signal, and compares what the server received with the audit log and the summary. The first
signal stops new writes and lets the in-flight ones finish; a second one exits at once. Ctrl-C at the
confirmation prompt exits at the first press.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from reconciler.emulator import Emulator, EmulatorServer, Faults

from support import EmulatorSites, Site, wix_env

COUNT = 60
ROOT = Path(__file__).resolve().parents[2]
# Python leaves Ctrl-C ignored in a child started with SIGINT ignored (a background job of a
# non-interactive shell, as some CI runners start the suite); the child gets Python's usual handler
# back first, so these tests do not depend on how the suite was started.
CODE = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from reconciler.cli import main; raise SystemExit(main())"
)


@pytest.fixture
def slow_site(emulator_site: EmulatorSites) -> Site[Emulator]:
    return emulator_site(faults=Faults(latency_ms=60))


def env(url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WIX_", "SOPS_", "CI", "GITHUB_"))}
    return {**base, **wix_env(url, api_key="k", site_id="s"), "NO_COLOR": "1"}


def manifest(path: Path, count: int = COUNT) -> Path:
    path.write_text("version: 1\nsecrets:\n" + "".join(f"  S{i:03}:\n    value: value-{i:03}\n" for i in range(count)))
    return path


def created(emulator: Emulator) -> int:
    return sum(1 for r in list(emulator.requests) if r.route == "create" and r.status == 200)


def wait_for(condition: object, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit  # a bound against hanging, not a pass/fail criterion
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def start_apply(tmp_path: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", CODE, "apply", "--auto-approve", "--no-backup", "--concurrency", "2"]
    argv += ["--rate-limit", "0", "--audit-log", "audit.jsonl", *extra, str(manifest(tmp_path / "m.yaml"))]
    return subprocess.Popen(argv, cwd=tmp_path, env=env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_apply_stops_new_writes_audits_the_done_ones_and_a_rerun_converges(
    tmp_path: Path, slow_site: Site[Emulator], sig: signal.Signals, code: int
) -> None:
    emulator, url = slow_site
    proc = start_apply(tmp_path, url)
    wait_for(lambda: created(emulator) >= 4, "the first writes")
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    received = created(emulator)
    assert 4 <= received < COUNT
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    applied = [r["secret"]["name"] for r in records if r["status"] == "applied"]
    assert len(applied) == received  # exactly the writes the server received
    assert len(records) == COUNT  # and a record for each change not started
    assert sum(1 for r in records if r["status"] == "skipped") == COUNT - received
    assert f"{received} applied, {COUNT - received} not started; run apply again to finish" in err
    assert "Traceback" not in err
    # the re-run converges
    again = subprocess.run(
        [sys.executable, "-c", CODE, "apply", "--auto-approve", "--no-backup", "--rate-limit", "0", "m.yaml"],
        cwd=tmp_path,
        env=env(url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert f"{COUNT - received} applied" in again.stdout
    assert created(emulator) == COUNT


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    emulator = Emulator(faults=Faults(latency_ms=3000))  # in-flight writes outlast the two signals
    with EmulatorServer(emulator) as server:
        proc = start_apply(tmp_path, server.url)
        wait_for(lambda: sum(1 for r in list(emulator.requests) if r.route == "list") >= 1, "the plan's list")
        wait_for(lambda: created(emulator) >= 2, "the first writes")
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        first = ""
        while "stopping after the requests in flight" not in first:
            line = proc.stderr.readline()
            assert line, first
            first += line
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 143
        assert "SIGTERM again: exiting now." in err and "not started; run apply again" not in err
        assert "Traceback" not in err


def test_ctrl_c_at_the_prompt_exits_at_the_first_press(tmp_path: Path, slow_site: Site[Emulator]) -> None:
    emulator, url = slow_site
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, "apply", "--no-backup", str(manifest(tmp_path / "m.yaml", 3))],
        cwd=tmp_path,
        env=env(url),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen = b""
    try:
        while b"Only 'yes' will be accepted" not in seen:
            chunk = os.read(primary, 4096)
            assert chunk, seen
            seen += chunk
        proc.send_signal(signal.SIGINT)  # one press
        deadline = time.monotonic() + 60  # a bound against hanging, not a pass/fail criterion
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:  # keep draining the terminal so the process can never block on a write
                try:
                    seen += os.read(primary, 4096)
                except OSError:
                    break
        assert proc.wait(timeout=60) == 130, seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    assert created(emulator) == 0


def test_sigterm_while_planning_stops_at_once_and_says_nothing_changed(tmp_path: Path) -> None:
    """SIGTERM before any write (here: while the plan reads values) ends the run at once with exit 143
    and says so; nothing was written, and no temporary file is left behind. The site is seeded in
    process; the plan reads its 12 values one at a time, each answered 1 s late, so the signal lands
    with at least 10 reads still to come (a lower bound on the run, not a race with the machine)."""
    emulator = Emulator(faults=Faults(latency_ms=1000))
    with emulator.store.transaction(write=True) as store:
        for i in range(12):
            store.create(f"S{i:03}", f"value-{i:03}", None)
    changed = manifest(tmp_path / "changed.yaml", 12)
    changed.write_text(changed.read_text().replace("value-", "changed-"))
    with EmulatorServer(emulator) as server:
        argv = [sys.executable, "-c", CODE, "plan", "--rate-limit", "0", "--concurrency", "1", "--out", "plan.json"]
        argv += ["--json", "changed.yaml"]
        proc = subprocess.Popen(
            argv, cwd=tmp_path, env=env(server.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for(lambda: sum(1 for r in list(emulator.requests) if r.route == "get_value") >= 1, "the value reads")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        assert "SIGTERM: stopped before any write; nothing was changed." in err and "Traceback" not in err
        document = json.loads(out)  # --json: exactly one document, valid against the published schema
        jsonschema.validate(document, json.loads((ROOT / "reconciler" / "schemas" / "plan.schema.json").read_text()))
        assert document["exit_code"] == 143 and document["interrupted"] == "SIGTERM"
        assert document["error"]["type"] == "Interrupted"
        assert sum(1 for r in emulator.requests if r.route == "get_value") < 12  # stopped half way
        assert [r.route for r in emulator.requests if r.route in ("create", "update", "delete")] == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["changed.yaml"]  # no plan, no temp file
