"""What ``plan``/``apply``/``drift`` share as a front end: flags → service options, events → progress
on stderr, the confirmation prompt, signals during an apply, and writing one site's outcome.

The service (:mod:`reconciler.service`) does the work and returns a typed outcome; this module turns
argparse flags into its :class:`~reconciler.service.Options` and
:class:`~reconciler.service.Connection`, shows what it reports, and renders the outcome: human text on
stdout by default, ``--json`` (exactly one document, in every case) or ``--markdown`` instead,
``--json-file``/``--markdown-file`` in addition. The exit code is the outcome's.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypedDict

from reconciler.cli.console import Console
from reconciler.cli.progress import ProgressReporter
from reconciler.errors import ApprovalError, OutputError, Terminated, UsageError
from reconciler.render.outcome import site_json, site_markdown

if TYPE_CHECKING:
    from reconciler.plan import Change
    from reconciler.redact import Redactor
    from reconciler.service import Connection, Options, SiteOutcome, Stop
    from reconciler.service.events import Events, Phase
    from reconciler.sops.keys import Passphrase

__all__ = [
    "CliEvents",
    "check_output_flags",
    "confirm",
    "connection_from_args",
    "finish_site",
    "interrupted_line",
    "options_from_args",
    "service_hooks",
    "signals_stop",
    "site_json",
    "site_markdown",
    "write_file",
]

log = logging.getLogger("reconciler.cli")


def check_output_flags(args: argparse.Namespace, console: Console) -> None:
    """Usage errors of the output flags, before any work: ``--json`` with ``--markdown``, and a
    ``--json-file``/``--markdown-file`` whose folder does not exist."""
    from reconciler.fsutil import check_parent

    if getattr(args, "json", False) and getattr(args, "markdown", False):
        raise UsageError("--json and --markdown both given; choose one (use --json-file/--markdown-file for both)")
    for name, what in (("json_file", "JSON file"), ("markdown_file", "Markdown file")):
        value = getattr(args, name, None)
        if value:
            check_parent(console.resolve(value), what)


def options_from_args(args: argparse.Namespace, command: str, console: Console | None = None) -> Options:
    from reconciler.cli.options import env_backup_age
    from reconciler.service import BackupOptions, Options

    def path(name: str) -> Path | None:
        value = getattr(args, name, None)
        return Path(value) if value else None

    return Options(
        command=command,  # type: ignore[arg-type]
        prune=getattr(args, "prune", None),
        max_deletes=getattr(args, "max_deletes", None),
        allow_mass_delete=bool(getattr(args, "allow_mass_delete", False)),
        detailed_exitcode=bool(getattr(args, "detailed_exitcode", False)),
        backup=BackupOptions(
            enabled=not getattr(args, "no_backup", False),
            directory=path("backup_dir"),
            recipients=tuple(getattr(args, "backup_age", None) or (env_backup_age(console) if console else ())),
            # a plaintext manifest on a terminal: back up to the local backup identity (reconciler.backupkey)
            local_identity=bool(console and console.interactive),
        ),
        targets=tuple(getattr(args, "target", None) or ()),
        audit_log=path("audit_log"),
        value_cache=path("value_cache"),
        save_plan=path("out"),
        code=tuple(getattr(args, "code", None) or ()),
        allow_breaking_code=bool(getattr(args, "allow_breaking_code", False)),
    ).check()


def connection_from_args(
    args: argparse.Namespace, console: Console, environ: Any = None, *, site: bool = True
) -> Connection:
    """The connection from the flags and the environment (``site=False``: only the tuning flags)."""
    from reconciler.service import connection_settings

    return connection_settings(
        console.environ if environ is None else environ,
        cwd=console.cwd,
        local=getattr(args, "local", None) if site else None,
        api_url=getattr(args, "api_url", None) if site else None,
        site_id=getattr(args, "site_id", None) if site else None,
        concurrency=getattr(args, "concurrency", None),
        rate_limit=getattr(args, "rate_limit", None),
        retries=getattr(args, "retries", None),
        timeout=getattr(args, "timeout", None),
        auth=getattr(args, "auth", None),
    )


class CliEvents:
    """Service events → a progress line on a terminal (not with ``--json``: ``progress=False``),
    warnings and notices on stderr. Use it as a context manager: a line left by a run that failed
    half-way is cleared before anything else is printed."""

    def __init__(self, console: Console, *, progress: bool = True) -> None:
        self._console = console
        self._progress = progress
        self._bars: dict[tuple[str | None, str], ProgressReporter] = {}

    def _bar(self, site: str | None, label: str) -> ProgressReporter:
        key = (site, label)
        if key not in self._bars:
            self._bars[key] = ProgressReporter(
                self._console, f"{site}: {label}" if site else label, enabled=self._progress
            )
        return self._bars[key]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()

    def __enter__(self) -> CliEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def phase_started(self, site: str | None, phase: Phase) -> None:
        log.debug("%s%s", f"{site}: " if site else "", phase)

    def request_done(self, site: str | None, phase: Phase, done: int, total: int) -> None:
        self._bar(site, "reading values")(done, total)

    def change_applied(self, site: str | None, change: Change, status: str, done: int, total: int) -> None:
        self._bar(site, "applying")(done, total)

    def warning(self, site: str | None, message: str) -> None:
        self.close()  # the next redraw puts the line back under the message
        self._console.err(f"warning: {site + ': ' if site else ''}{message}")

    def notice(self, site: str | None, message: str) -> None:
        self.close()
        self._console.err(message)


def confirm(
    console: Console, question: str = "\nDo you want to perform these actions? Only 'yes' will be accepted: "
) -> None:
    if not console.interactive:
        raise ApprovalError(
            "refusing to apply without confirmation: there is no terminal to ask on",
            hint="review the plan above and pass --auto-approve (or apply a saved plan file)",
        )
    answer = console.ask(question)
    if answer != "yes":
        raise ApprovalError("apply cancelled; nothing was changed")


class ServiceHooks(TypedDict):
    """What the CLI hands every service flow besides its options and site (``**service_hooks(...)``)."""

    environ: Mapping[str, str]
    cwd: Path
    events: Events
    redactor: Redactor
    stop: Stop
    passphrase: Passphrase | None


def service_hooks(console: Console, events: Events, stop: Stop) -> ServiceHooks:
    """The console's environment, folder, redactor and passphrase prompt, with the run's events and stop."""
    return ServiceHooks(
        environ=console.environ,
        cwd=console.cwd,
        events=events,
        redactor=console.redactor,
        stop=stop,
        passphrase=console.passphrase_prompt(),
    )


@contextlib.contextmanager
def signals_stop(stop: Stop, console: Console) -> Iterator[Callable[[], None]]:
    """Yields ``arm()``: from then on (call it once the prompt is answered, just before the writes)
    the first SIGINT/SIGTERM asks the service to stop starting writes (the ones in flight finish and
    are audited) and a second one exits at once. Before ``arm()``, Ctrl-C interrupts at once and
    SIGTERM raises :class:`Terminated` (nothing was written yet). The previous handlers are restored
    on exit. Only in the main thread."""
    import threading

    names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
    previous: dict[signal.Signals, Any] = {}
    early: dict[signal.Signals, Any] = {}

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    def handler(signum: int, frame: FrameType | None) -> None:
        name = names.get(signal.Signals(signum), "SIGTERM")
        if stop.reason is not None:
            with contextlib.suppress(Exception):
                console.err(f"\n{name} again: exiting now.")
            os._exit(128 + signum)
        stop.request(name)
        with contextlib.suppress(Exception):
            console.err(
                f"\n{name}: stopping after the requests in flight (no new write starts); send it again to exit at once."
            )

    def arm() -> None:
        if threading.current_thread() is threading.main_thread() and not previous:
            for sig in names:
                previous[sig] = signal.signal(sig, handler)

    if threading.current_thread() is threading.main_thread():
        early[signal.SIGTERM] = signal.signal(signal.SIGTERM, terminate)
    try:
        yield arm
    finally:
        for saved in (previous, early):  # arm's, then what was there before the run
            for sig, old in saved.items():
                signal.signal(sig, old)


def write_file(console: Console, path: str | None, text: str, what: str) -> None:
    """``--json-file``/``--markdown-file``: atomic, never through a symlink, its folder must exist."""
    if path:
        from reconciler.fsutil import write_output

        write_output(console.resolve(path), console.redactor.scrub(text).encode("utf-8"), what=what, mode=0o644)


def interrupted_line(outcome: SiteOutcome) -> str:
    result = outcome.result
    applied = result.count("applied") if result else 0
    return f"{applied} applied, {outcome.not_started} not started; run apply again to finish"


def finish_site(outcome: SiteOutcome, args: argparse.Namespace, console: Console, *, plan_shown: bool = False) -> int:
    """Render one site's outcome where the flags say, report its error, return its exit code."""
    from reconciler.cli.options import applied_target_note
    from reconciler.render.code import with_code
    from reconciler.render.human import render_apply, render_plan
    from reconciler.render.json import dumps

    try:
        write_file(console, getattr(args, "json_file", None), dumps(site_json(outcome)) + "\n", "JSON file")
        write_file(console, getattr(args, "markdown_file", None), site_markdown(outcome), "Markdown file")
    except OutputError as exc:
        if outcome.error is None:
            outcome.error = exc
        else:
            console.err(f"Error: {exc.user_message()}")
    if args.json:
        console.out(dumps(site_json(outcome)))
    elif args.markdown:
        console.out(site_markdown(outcome))
    elif outcome.result is not None:
        console.out("")
        console.out(render_apply(outcome.result, color=console.color) + applied_target_note(outcome.info))
    elif outcome.plan is not None and not plan_shown:
        verbose = bool(getattr(args, "verbose", 0)) or outcome.command == "drift"
        text = render_plan(outcome.plan, outcome.info, color=console.color, verbose=verbose)
        console.out(with_code(text, outcome.code, color=console.color))
    if outcome.plan is not None and outcome.plan.conflicts and outcome.error is None:
        console.err("Error: the plan has conflicts (listed above); nothing was changed.")
    refusal = outcome.refusal
    if refusal is not None:
        console.err(f"Error: {refusal.user_message()}")
    if outcome.interrupted is not None:
        console.err(f"Interrupted by {outcome.interrupted}: {interrupted_line(outcome)}.")
    return outcome.exit_code
