"""The confirmation prompt reads the real terminal so that a signal is never lost while it waits
(cli.console.read_line_interruptibly): a line typed on a pseudo-terminal is read, end of input is "",
and SIGINT at any moment of the wait interrupts it. The end-to-end check (Ctrl-C at the prompt of a
real ``apply``, exit 130 at the first press) is tests/e2e/test_signals.py."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

from reconciler.cli.console import read_line_interruptibly

ROOT = Path(__file__).resolve().parents[2]


def read_until(fd: int, marker: bytes) -> bytes:
    """What the child wrote on the terminal ``fd`` up to and including ``marker`` (at least: one read may
    return more); its end before ``marker`` fails the test."""
    seen = b""
    while marker not in seen:
        chunk = os.read(fd, 4096)
        assert chunk, seen
        seen += chunk
    return seen


def test_a_line_typed_on_the_terminal_is_read() -> None:
    primary, secondary = pty.openpty()
    try:
        with os.fdopen(os.dup(secondary), "r", encoding="utf-8") as stream:
            os.write(primary, "yes ✓\n".encode())
            assert read_line_interruptibly(stream) == "yes ✓\n"
    finally:
        os.close(primary)
        os.close(secondary)


def test_end_of_input_is_an_empty_answer(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(write)
    with os.fdopen(read, "r", encoding="utf-8") as stream:
        assert read_line_interruptibly(stream) == ""


def test_the_wakeup_fd_is_given_back() -> None:
    keep_r, keep_w = os.pipe()
    os.set_blocking(keep_w, False)
    previous = signal.set_wakeup_fd(keep_w)
    read, write = os.pipe()
    try:
        os.write(write, b"no\n")
        with os.fdopen(read, "r", encoding="utf-8") as stream:
            assert read_line_interruptibly(stream) == "no\n"
        assert signal.set_wakeup_fd(keep_w) == keep_w  # ours was restored
    finally:
        signal.set_wakeup_fd(previous)
        os.close(write)
        os.close(keep_r)
        os.close(keep_w)


CHILD = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python does, unless started with SIGINT ignored
from reconciler.cli.console import read_line_interruptibly, read_secret_interruptibly
try:
    sys.stderr.write("ready>")
    sys.stderr.flush()
    read_line_interruptibly(sys.stdin)
except KeyboardInterrupt:
    os._exit(130)
os._exit(0)
"""


def test_sigint_while_waiting_on_the_terminal_interrupts_the_read() -> None:
    for _ in range(3):  # the signal lands at a different moment of the wait each time
        primary, secondary = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD], stdin=secondary, stdout=secondary, stderr=secondary, cwd=ROOT
        )
        os.close(secondary)
        try:
            read_until(primary, b"ready>")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(primary)


SECRET_CHILD = """
import sys, termios
from reconciler.cli.console import read_secret_interruptibly
before = termios.tcgetattr(0)
answer = read_secret_interruptibly(sys.stdin, sys.stderr, "Passphrase: ")
sys.stdout.write(repr(answer) + (" restored" if termios.tcgetattr(0) == before else " NOT restored"))
"""


def test_a_secret_is_read_without_echo_and_the_terminal_is_restored() -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", SECRET_CHILD], stdin=secondary, stderr=secondary, stdout=subprocess.PIPE, cwd=ROOT
    )
    os.close(secondary)
    try:
        seen = read_until(primary, b"Passphrase: ")
        os.write(primary, b"canary-passphrase-7f3a\n")
        out, _ = proc.communicate(timeout=60)
        assert out == b"'canary-passphrase-7f3a' restored"
        while True:  # what the terminal showed after the question: the newline, never the answer
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        assert b"canary-passphrase" not in seen and seen.endswith(b"\n")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
