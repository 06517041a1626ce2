"""The terminal as the CLI sees it: streams, environment, TTY and colour decisions, the prompt.

Only the CLI and the Action construct a :class:`Console` from the real process (``Console.from_process``);
tests build one from ``io.StringIO`` objects. Everything written through ``out``/``err`` passes the
run's :class:`~reconciler.redact.Redactor`.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from reconciler.redact import RedactingStream, Redactor

__all__ = ["Console", "read_line_interruptibly", "read_secret_interruptibly", "wants_color"]


def wants_color(environ: Mapping[str, str], is_tty: bool, flag: bool | None = None) -> bool:
    """Colour only on a TTY; never with ``NO_COLOR`` or ``TERM=dumb``; ``FORCE_COLOR`` forces it.

    As https://no-color.org says, ``NO_COLOR`` counts only when set to a non-empty value (``NO_COLOR=``
    changes nothing); likewise ``FORCE_COLOR``. ``NO_COLOR`` wins over ``FORCE_COLOR``.
    """
    if flag is not None:
        return flag
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    if environ.get("TERM") == "dumb":
        return False
    return is_tty


def read_line_interruptibly(stream: TextIO) -> str:
    """One line from a terminal ``stream``, read so that a signal can never be lost while waiting.

    ``stream.readline()`` has a race: a SIGINT that arrives after Python last checked for signals and
    before the ``read()`` system call starts is recorded but not acted on, and the read then waits for
    a line that never comes (found by tests/e2e/test_signals.py on a loaded machine: Ctrl-C at the
    prompt ignored, one time in ten). Here the C signal handler also writes to a wakeup pipe
    (``signal.set_wakeup_fd``) that ``select`` watches with the terminal, so a signal that comes at
    any moment wakes the wait and its Python handler runs (Ctrl-C: ``KeyboardInterrupt``). Elsewhere
    (not the main thread, no ``select`` on the stream): a plain ``readline()``.
    """
    import select
    import signal

    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream.readline()
    if os.name != "posix":
        return stream.readline()
    wake_r, wake_w = os.pipe()
    try:
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        try:
            previous = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        except ValueError:  # not the main thread
            return stream.readline()
        try:
            data = b""
            while b"\n" not in data:
                ready, _, _ = select.select([fd, wake_r], [], [])
                if wake_r in ready:
                    while True:
                        try:
                            if not os.read(wake_r, 512):
                                break
                        except BlockingIOError:
                            break
                    continue  # the signal's Python handler runs here (between bytecodes)
                chunk = os.read(fd, 4096)
                if not chunk:  # end of input
                    break
                data += chunk
        finally:
            signal.set_wakeup_fd(previous)
    finally:
        os.close(wake_r)
        os.close(wake_w)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return data.decode(encoding, errors="replace")


def read_secret_interruptibly(stream: TextIO, prompt: TextIO, question: str) -> str:
    """``getpass`` on the terminal ``stream``: no echo while the line is typed, the terminal restored
    afterwards (Ctrl-C too), and, unlike ``getpass``, read with :func:`read_line_interruptibly` so a
    Ctrl-C is never lost. The trailing newline is not part of the answer."""
    try:
        import termios

        fd = stream.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, AttributeError, OSError, ValueError):
        return getpass.getpass(question, stream=prompt)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO
    try:
        termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)  # before the question: nothing typed after it echoes
        prompt.write(question)
        prompt.flush()
        line = read_line_interruptibly(stream)
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        prompt.write("\n")
        prompt.flush()
    return line.removesuffix("\n").removesuffix("\r")


@dataclass
class Console:
    """Streams and facts about the process the CLI runs in."""

    stdout: TextIO
    stderr: TextIO
    stdin: TextIO
    environ: Mapping[str, str]
    cwd: Path
    stdout_tty: bool = False
    stderr_tty: bool = False
    stdin_tty: bool = False
    color: bool = False
    redactor: Redactor = field(default_factory=Redactor)
    printed: bool = field(default=False, init=False)  # something was written to stdout through out()

    @classmethod
    def from_process(cls) -> Console:
        redactor = Redactor()
        environ = dict(os.environ)
        out_tty = sys.stdout.isatty()
        return cls(
            stdout=RedactingStream(sys.stdout, redactor),  # type: ignore[arg-type]
            stderr=RedactingStream(sys.stderr, redactor),  # type: ignore[arg-type]
            stdin=sys.stdin,
            environ=environ,
            cwd=Path.cwd(),
            stdout_tty=out_tty,
            stderr_tty=sys.stderr.isatty(),
            stdin_tty=sys.stdin.isatty() if sys.stdin else False,
            color=wants_color(environ, out_tty),
            redactor=redactor,
        )

    @property
    def in_ci(self) -> bool:
        return bool(self.environ.get("CI")) or bool(self.environ.get("GITHUB_ACTIONS"))

    @property
    def interactive(self) -> bool:
        """A person can answer a prompt: stdin and stderr are terminals and we are not in CI."""
        return self.stdin_tty and self.stderr_tty and not self.in_ci

    def out(self, text: str = "", *, end: str = "\n") -> None:
        self.printed = True
        self.stdout.write(text + end)
        self.stdout.flush()

    def err(self, text: str = "", *, end: str = "\n") -> None:
        self.stderr.write(text + end)
        self.stderr.flush()

    def ask(self, question: str) -> str:
        """Ask on stderr, read a line from stdin (on the real terminal: so that Ctrl-C always interrupts)."""
        self.stderr.write(question)
        self.stderr.flush()
        if self.stdin_tty and self.stdin is sys.stdin:
            line = read_line_interruptibly(sys.stdin)
        else:
            line = self.stdin.readline()
        return line.strip()

    def passphrase_prompt(self) -> Callable[[str], str | None] | None:
        """The passphrase callback for passphrase-protected identities: a hidden prompt when a person is
        at a terminal (not in CI), else None (such keys are skipped and the error says why). Each
        identity is asked for once per run, however many manifests or sites need it."""
        if not self.interactive:
            return None
        answers: dict[str, str | None] = {}

        def ask(label: str) -> str | None:
            if label not in answers:
                answers[label] = self.ask_secret(f"Passphrase for {label}: ") or None
            return answers[label]

        return ask

    def ask_secret(self, question: str) -> str:
        """Read a value without echo. Only from a TTY; the value never reaches argv or history."""
        if self.stdin_tty and self.stdin is sys.stdin:
            return read_secret_interruptibly(sys.stdin, sys.stderr, question)
        if self.stdin_tty:  # a terminal that is not the process's own (tests)
            self.stderr.write(question)
            self.stderr.flush()
        return self.stdin.read().removesuffix("\n")

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.cwd / p
