"""The progress line end to end (issue 13.9): the CLI against an emulator that answers every request
300 ms late (a lower bound on the run's length, so the line is certain to show: no test here depends on
the machine being fast). On a terminal, reads (plan) and writes (apply) show done/total and an ETA,
redrawn in place and cleared; off a terminal and with ``--json``, nothing. In a real pseudo-terminal
too. The line never holds a secret's name or value."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Faults

from support import TEST_KEY, EmulatorSites, wix_env

NAMES = [f"PROGRESS_SECRET_{i:02d}" for i in range(12)]
VALUES = [f"progress-canary-value-{i:02d}-x9" for i in range(12)]
FRAME = re.compile(r"\r([^\r\n\033]*)\033\[K")
LINE = re.compile(r"(reading values|applying) [█░]{20} (\d+)/12( · \d+\.\d/s)? · ETA (…|\d+[smh]\S*) · \d+[smh]\S*")


@pytest.fixture
def slow_site(emulator_site: EmulatorSites) -> str:
    return emulator_site(api_key=TEST_KEY, faults=Faults(latency_ms=300)).url


def env(url: str) -> dict[str, str]:
    return wix_env(url, WIX_RATE_LIMIT="0")


def manifest(path: Path, suffix: str = "") -> Path:
    body = "".join(f"  {n}:\n    value: {v}{suffix}\n" for n, v in zip(NAMES, VALUES, strict=True))
    path.write_text("version: 1\nsecrets:\n" + body, encoding="utf-8")
    return path


def progress_frames(stderr: str, label: str) -> list[str]:
    frames = [f for f in FRAME.findall(stderr) if f]
    for frame in frames:
        assert LINE.fullmatch(frame), frame  # counts, rate, times: nothing else
        for secret in (*NAMES, *VALUES):
            assert secret not in frame
    return [f for f in frames if f.startswith(label)]


def test_plan_and_apply_show_a_progress_line_with_an_eta_on_a_terminal_only(
    cli: Any, tmp_path: Path, slow_site: str
) -> None:
    m = manifest(tmp_path / "m.yaml")
    applied = cli("apply", "--auto-approve", "--no-backup", "--concurrency", "4", str(m), env=env(slow_site), tty=True)
    assert applied.code == 0, applied.err
    frames = progress_frames(applied.err, "applying")
    assert frames, repr(applied.err)
    assert all("/12" in f and "ETA" in f for f in frames)
    # cleared: the last progress output is the erase, and nothing printed after it sits on a torn line
    assert applied.err.rindex("\r\033[K") > applied.err.rindex(frames[-1])

    m2 = manifest(tmp_path / "m2.yaml", suffix="-changed")
    planned = cli("plan", "--concurrency", "4", str(m2), env=env(slow_site), tty=True)
    assert planned.code == 0 and "12 to update" in planned.out, planned.err
    reads = progress_frames(planned.err, "reading values")
    assert reads and all("/12" in f for f in reads)
    assert "\r\033[K" in planned.err

    # not a terminal, or --json: not one byte of progress
    for argv, tty in ((("plan", str(m2)), False), (("plan", "--json", str(m2)), True)):
        quiet = cli(*argv, "--concurrency", "4", env=env(slow_site), tty=tty)
        assert quiet.code == 0, quiet.err
        assert "\r" not in quiet.err and "\033" not in quiet.err and "reading values" not in quiet.err


def test_the_progress_line_in_a_real_pseudo_terminal(cli: Any, tmp_path: Path, slow_site: str) -> None:
    seeded = cli(
        "apply",
        "--auto-approve",
        "--no-backup",
        "--concurrency",
        "4",
        str(manifest(tmp_path / "s.yaml")),
        env=env(slow_site),
    )
    assert seeded.code == 0, seeded.err
    m = manifest(tmp_path / "m.yaml", suffix="-changed")
    primary, secondary = os.openpty()
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TERM": "xterm",
        **env(slow_site),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "plan", "--concurrency", "4", str(m)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        env=environ,
        cwd=tmp_path,
    )
    os.close(secondary)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([primary], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(primary)
        code = proc.wait(timeout=60)
    assert code == 0
    stderr = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    frames = progress_frames(stderr, "reading values")
    assert frames, repr(stderr)
    assert stderr.rindex("\r\033[K") > stderr.rindex(frames[-1])  # cleared at the end
    assert all(value not in stderr for value in VALUES)
