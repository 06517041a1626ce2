"""The GitHub Action's entry point: ``python -m reconciler.action``.

A thin front end over the service layer (:mod:`reconciler.service`), run by the last step of
``action.yml``. It never goes through the CLI. In order:

1. read the ``INPUT_*`` variables (``INPUT_SITE-ID`` or ``INPUT_SITE_ID``: the runner keeps hyphens,
   our composite step passes underscores), and register the API key and the age identity (and any
   age identity pasted by mistake where ``backup-age`` wants public keys) with ``::add-mask::``; a bad
   value is a ``bad input`` error before anything is sent (backup recipients are parsed here);
2. resolve the manifest paths and globs, ``code`` and ``audit-log`` relative to ``working-directory``;
3. decrypt the manifest (once) and register every value, in every form from
   :func:`reconciler.redact.forms_of`, with ``::add-mask::`` *before anything else is printed*;
4. map the inputs to the same :class:`~reconciler.service.Options` the CLI flags map to and run
   ``plan``, ``apply`` or ``drift`` in-process through the service with the decrypted manifest; its
   log lines (progress, the plan, the result) are fenced by ``::stop-commands::`` so nothing in a
   manifest can be read as a workflow command;
   (apply: the encrypted backups go to ``RUNNER_TEMP/wix-secrets-backups`` and the audit log to
   ``audit-log``, else ``RUNNER_TEMP/wix-secrets-audit.jsonl``; there is no local backup identity, a
   runner's home does not outlive the job);
5. from the typed outcome: write the outputs to ``GITHUB_OUTPUT`` (heredoc syntax, safe for any text),
   append the Markdown summary to ``GITHUB_STEP_SUMMARY`` and write it to a file for a pull-request
   comment, and turn manifest diagnostics into ``::error file=...,line=...::`` annotations;
6. exit with the outcome's exit code, except that 2 (changes present) becomes 0 unless
   ``detailed-exitcode`` is true.

The ``::add-mask::`` lines are the only place the tool ever writes a secret value, and only here.
Everything else written to the log, the outputs and the summary also passes the run's
:class:`~reconciler.redact.Redactor`.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import secrets
import shlex
import sys
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from reconciler.errors import Diagnostic, ExitCode, ManifestError, WixSecretsError, withheld_traceback
from reconciler.redact import MIN_LENGTH, Redactor, forms_of
from reconciler.render.mdescape import md_code, md_text

if TYPE_CHECKING:
    from reconciler.model import DesiredState
    from reconciler.plan import Change
    from reconciler.service import Options, SiteOutcome
    from reconciler.service.events import Phase

__all__ = [
    "COMMANDS",
    "ActionInputError",
    "ActionInputs",
    "age_identities_in",
    "annotation",
    "escape_data",
    "escape_property",
    "get_input",
    "in_action_terms",
    "main",
    "mask_commands",
    "options_for",
    "output_block",
    "parse_bool",
    "parse_recipients",
    "read_inputs",
    "resolve_manifests",
    "run_action",
    "split_list",
]

COMMANDS: Final = ("plan", "apply", "drift")
STEP_SUMMARY_LIMIT: Final = 1_000_000  # GitHub refuses a step summary over 1 MiB
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0", ""})
_AGE_IDENTITY: Final = re.compile(r"AGE-SECRET-KEY-(?:PQ-)?1[0-9A-Za-z]+", re.IGNORECASE)
AUDIT_LOG_NAME: Final = "wix-secrets-audit.jsonl"  # the default audit log, in RUNNER_TEMP
BACKUP_DIR_NAME: Final = "wix-secrets-backups"  # where apply's encrypted backups go, in RUNNER_TEMP
_EXIT_MEANING: Final = {
    0: "success",
    1: "error",
    2: "changes present",
    3: "partial apply: some operations failed, the rest were applied",
    4: "the saved plan is stale: plan again",
    5: "a safety guard refused the plan",
}


class ActionInputError(Exception):
    """An input of the action is missing or malformed. The message names the input, never a value."""


# --- workflow commands ------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value of a workflow command (message escapes plus ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, **properties: str | int | None) -> str:
    """``::error file=...,line=...::message`` with every part escaped; None properties are left out."""
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    return f"::{level}{' ' + props if props else ''}::{escape_data(message)}"


def mask_commands(values: Iterable[str]) -> list[str]:
    """``::add-mask::`` lines for each value and every form of it that could reach the log.

    The runner masks line by line, so a multi-line value (a PEM key) is registered one line at a
    time; a single ``::add-mask::`` with the whole value would leave its later lines in clear.
    """
    pieces: set[str] = set()
    for value in values:
        if not value:
            continue
        for form in {value} | forms_of(value):
            lines = form.splitlines()
            if len(lines) <= 1:
                if form.strip():
                    pieces.add(form)
                continue
            pieces.update(line for line in lines if len(line.strip()) >= MIN_LENGTH)
    return [f"::add-mask::{escape_data(piece)}" for piece in sorted(pieces, key=lambda p: (-len(p), p))]


def output_block(name: str, value: str) -> str:
    """One ``GITHUB_OUTPUT`` entry in heredoc form, safe for any text (multi-line included)."""
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in value:  # pragma: no cover - a uuid in the value is practically impossible
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


# --- inputs -------------------------------------------------------------------------------------------


def get_input(environ: Mapping[str, str], name: str, default: str = "") -> str:
    """The input ``name`` (kebab-case) from ``INPUT_<NAME>``, trying the hyphen and underscore forms."""
    upper = name.upper()
    for key in (f"INPUT_{upper}", f"INPUT_{upper.replace('-', '_')}", f"INPUT_{upper.replace('_', '-')}"):
        value = environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return default


def parse_bool(text: str, *, name: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ActionInputError(f"input {name!r} must be true or false")


def split_list(text: str, *, name: str) -> list[str]:
    """A multi-value input: one item per line, or several on a line separated by spaces (quote an item
    that holds a space, as a shell would: ``'dir with space/x.yaml'``)."""
    items: list[str] = []
    for line in text.splitlines():
        try:
            items.extend(shlex.split(line, comments=False, posix=True))
        except ValueError as exc:
            raise ActionInputError(f"input {name!r}: cannot split {line!r}: {exc}") from None
    return items


def age_identities_in(text: str) -> list[str]:
    """The age identities (secret keys) pasted into ``text``, which should hold only public keys: the
    action masks them before anything is printed and refuses the input."""
    return _AGE_IDENTITY.findall(text)


def parse_recipients(items: Sequence[str], *, source: str) -> tuple[str, ...]:
    """Backup recipients (``age1…``, ``ssh-ed25519 …``, ``ssh-rsa …``; commas also separate, as with
    ``--backup-age``), each checked as the encryption will read it. An error names ``source`` and the
    item's position, never its text: a secret key pasted by mistake must not reach the log."""
    from reconciler.errors import SopsError
    from reconciler.sops.keys import parse_recipient

    recipients = [r.strip() for item in items for r in item.split(",") if r.strip()]
    for position, recipient in enumerate(recipients, start=1):
        if _AGE_IDENTITY.fullmatch(recipient):
            raise ActionInputError(
                f"{source}: item {position} is an age identity (a secret key), not a recipient; "
                "give its public key (age1…) and keep the identity secret"
            )
        try:
            parse_recipient(recipient)
        except SopsError:
            raise ActionInputError(
                f"{source}: item {position} is not an age recipient (expected age1…, or an ssh-ed25519/ssh-rsa "
                "public key quoted as one item: 'ssh-ed25519 AAAA…')"
            ) from None
    return tuple(dict.fromkeys(recipients))


@dataclass(frozen=True)
class ActionInputs:
    """The action's inputs, parsed. ``api_key`` and ``age_key`` are secrets: never printed."""

    command: str
    manifests: tuple[str, ...]
    site_id: str
    api_key: str
    age_key: str
    api_url: str
    prune: bool
    max_deletes: int | None
    plan_file: str
    detailed_exitcode: bool
    working_directory: str
    auth: str = ""  # the identity (api-key, wix-app, token-command, access-token); "": WIX_AUTH or the only one
    code: tuple[str, ...] = ()  # the site's code (--code): paths or globs relative to working_directory
    allow_breaking_code: bool = False  # --allow-breaking-code
    allow_mass_delete: bool = False  # --allow-mass-delete
    backup_age: tuple[str, ...] = ()  # --backup-age (else WIX_SECRETS_BACKUP_AGE); checked recipients
    no_backup: bool = False  # --no-backup: deliberate, and reported as a warning when values are destroyed
    audit_log: str = ""  # --audit-log, relative to working_directory; "": a file in RUNNER_TEMP
    backup_dir: str = ""  # --backup-dir, relative to working_directory; "": a folder in RUNNER_TEMP

    def __repr__(self) -> str:  # the dataclass repr would show the key and the identity
        return f"ActionInputs(command={self.command!r}, manifests={self.manifests!r})"


def read_inputs(environ: Mapping[str, str]) -> ActionInputs:
    """Parse every input; raise :class:`ActionInputError` naming the first bad one."""
    command = get_input(environ, "command", "plan").lower()
    if command not in COMMANDS:
        raise ActionInputError(f"input 'command' must be one of {', '.join(COMMANDS)} (got {command!r})")
    manifests = split_list(get_input(environ, "manifest"), name="manifest")
    if not manifests:
        raise ActionInputError("input 'manifest' is required: one or more manifest paths or globs")
    backup_text = get_input(environ, "backup-age")
    no_backup = parse_bool(get_input(environ, "no-backup", "false"), name="no-backup")
    if backup_text and no_backup:
        raise ActionInputError("inputs 'backup-age' and 'no-backup' both given; choose one")
    if get_input(environ, "backup-dir") and no_backup:
        raise ActionInputError("inputs 'backup-dir' and 'no-backup' both given; choose one")
    if backup_text:
        backup_age = parse_recipients(split_list(backup_text, name="backup-age"), source="input 'backup-age'")
    elif no_backup:
        backup_age = ()  # WIX_SECRETS_BACKUP_AGE, set for the whole job, is not asked for here
    else:
        from reconciler.backupkey import ENV_BACKUP_AGE, recipients_from_env

        backup_age = parse_recipients(recipients_from_env(environ), source=ENV_BACKUP_AGE)
    max_deletes_text = get_input(environ, "max-deletes")
    max_deletes: int | None = None
    if max_deletes_text:
        if not max_deletes_text.isdigit():
            raise ActionInputError("input 'max-deletes' must be a whole number")
        max_deletes = int(max_deletes_text)
    return ActionInputs(
        command=command,
        manifests=tuple(manifests),
        site_id=get_input(environ, "site-id"),
        api_key=get_input(environ, "api-key"),
        age_key=get_input(environ, "age-key"),
        api_url=get_input(environ, "api-url"),
        prune=parse_bool(get_input(environ, "prune", "false"), name="prune"),
        max_deletes=max_deletes,
        plan_file=get_input(environ, "plan-file"),
        detailed_exitcode=parse_bool(get_input(environ, "detailed-exitcode", "false"), name="detailed-exitcode"),
        working_directory=get_input(environ, "working-directory", "."),
        auth=get_input(environ, "auth"),
        code=tuple(split_list(get_input(environ, "code"), name="code")),
        allow_breaking_code=parse_bool(get_input(environ, "allow-breaking-code", "false"), name="allow-breaking-code"),
        allow_mass_delete=parse_bool(get_input(environ, "allow-mass-delete", "false"), name="allow-mass-delete"),
        backup_age=backup_age,
        no_backup=no_backup,
        audit_log=get_input(environ, "audit-log"),
        backup_dir=get_input(environ, "backup-dir"),
    )


def resolve_manifests(patterns: Sequence[str], workdir: Path) -> list[str]:
    """Expand globs relative to ``workdir`` (``**`` included), sorted and without duplicates.

    A plain path is kept as given even when it does not exist (the CLI then says so with the usual
    message); a glob that matches nothing is an error, since it is most likely a typo.
    """
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, root_dir=workdir, recursive=True))
            matches = [m for m in matches if (workdir / m).is_file()]
            if not matches:
                raise ActionInputError(f"input 'manifest': {pattern!r} matched no file in {workdir}")
            paths.extend(matches)
        else:
            paths.append(pattern)
    seen: set[str] = set()
    unique: list[str] = []
    for path in paths:
        key = os.path.normpath(str(workdir / path))
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _identity_lines(age_key: str) -> list[str]:
    return [line.strip() for line in age_key.splitlines() if line.strip() and not line.lstrip().startswith("#")]


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class _Streams:
    raw_out: TextIO
    redactor: Redactor

    def command(self, line: str) -> None:
        """A workflow command (or a mask) on stdout, as is."""
        self.raw_out.write(line + "\n")
        self.raw_out.flush()

    def log(self, line: str) -> None:
        self.raw_out.write(self.redactor.scrub(line) + "\n")
        self.raw_out.flush()


class _LogEvents:
    """Service events → plain log lines (a quarter at a time for long jobs), warnings as annotations."""

    def __init__(self, streams: _Streams, command: str) -> None:
        self._streams = streams
        self._command = command
        self._quarters: dict[str, int] = {}

    def _progress(self, label: str, done: int, total: int) -> None:
        if total < 40:
            return
        quarter = 4 * done // total
        if quarter > self._quarters.get(label, 0):
            self._quarters[label] = quarter
            self._streams.log(f"{label}: {done}/{total}")

    def phase_started(self, site: str | None, phase: Phase) -> None:
        return None

    def request_done(self, site: str | None, phase: Phase, done: int, total: int) -> None:
        self._progress("reading values", done, total)

    def change_applied(self, site: str | None, change: Change, status: str, done: int, total: int) -> None:
        self._progress("applying", done, total)

    def warning(self, site: str | None, message: str) -> None:
        self._streams.log(f"warning: {message}")

    def notice(self, site: str | None, message: str) -> None:
        self._streams.log(message)


def _log_handler(streams: _Streams) -> logging.Handler:
    """The tool's warnings, redacted, into the (fenced) log."""
    from reconciler.redact import RedactingFilter

    class _ToLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            streams.log(self.format(record))

    handler = _ToLog(logging.WARNING)
    handler.addFilter(RedactingFilter(streams.redactor))
    return handler


def _relative_for_annotation(file: str, workdir: Path, environ: Mapping[str, str]) -> str:
    """The path the way GitHub matches it against the pull request: relative to the workspace."""
    path = Path(file)
    if not path.is_absolute():
        path = workdir / path
    base = Path(environ.get("GITHUB_WORKSPACE") or workdir)
    real, real_base = os.path.realpath(path), os.path.realpath(base)
    try:
        rel = os.path.relpath(real, real_base)
    except ValueError:  # another drive on Windows
        return Path(real).as_posix()
    if rel == ".." or rel.startswith(".." + os.sep):
        return Path(real).as_posix()
    return rel.replace(os.sep, "/")


def _diagnostic_annotation(diag: Diagnostic, workdir: Path, environ: Mapping[str, str], command: str) -> str:
    message = diag.message
    if diag.path:
        message += f" (at {diag.path})"
    if diag.hint:
        message += f"\nhint: {diag.hint}"
    file = _relative_for_annotation(diag.file, workdir, environ) if diag.file else None
    return annotation(
        "warning" if diag.severity == "warning" else "error",
        message,
        file=file,
        line=diag.line,
        col=diag.column if diag.line is not None else None,
        title=f"wix-secrets {command}: invalid manifest",
    )


def _marker(command: str, site_id: str) -> str:
    site = re.sub(r"[^A-Za-z0-9._]+", "_", site_id) or "default"
    return f"<!-- wix-secrets:{command}:{site} -->"


def _md_cell(text: str) -> str:
    """Text the Action did not write, inert in Markdown (issue 10.7): see ``render/mdescape``."""
    return md_text(text)


def _fallback_markdown(command: str, code: int, diagnostics: Sequence[Diagnostic], error: str | None) -> str:
    """The summary when the run stopped before a plan existed."""
    lines = [f"### wix-secrets {command}: failed (exit code {code}: {_EXIT_MEANING.get(code, 'error')})", ""]
    if error:
        first, *rest = error.splitlines()
        lines.append(f"**{_md_cell(first)}**")
        if rest:  # the details, escaped like any text (they quote the manifest): a quote, line by line
            details = [md_text(line.strip()) for line in rest if line.strip()]
            lines += ["", *(f"> {line}\\" for line in details[:-1]), f"> {details[-1]}"] if details else []
        lines.append("")
    if diagnostics:
        lines += ["| file | line | problem |", "|---|---|---|"]
        for d in diagnostics:
            problem = md_text(d.message) + (f" (at {md_code(d.path)})" if d.path else "")
            if d.hint:
                problem += f"; hint: {md_text(d.hint)}"
            lines.append(f"| {md_code(d.file or '-')} | {md_text(d.line or '')} | {problem} |")
        lines.append("")
    lines.append("Nothing was sent to Wix." if code in (1, 4, 5) else "")
    return "\n".join(lines).rstrip() + "\n"


def _status_note(command: str, code: int, message: str) -> str:
    if code in (0, 2):
        return ""
    text = f"**wix-secrets {command} exited with code {code}** ({_EXIT_MEANING.get(code, 'error')})"
    if message:
        text += f": {_md_cell(message)}"
    return "\n" + text + "\n"


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def options_for(
    inputs: ActionInputs, *, plan_file: Path | None, backup_dir: Path, audit_log: Path | None = None
) -> Options:
    """The action's inputs as the service options (what the CLI flags map to)."""
    from reconciler.service import BackupOptions, Options

    apply_saved = inputs.command == "apply" and plan_file is not None
    return Options(
        command=inputs.command,  # type: ignore[arg-type]
        prune=None if apply_saved or not inputs.prune else True,
        max_deletes=None if apply_saved else inputs.max_deletes,
        allow_mass_delete=inputs.allow_mass_delete,
        detailed_exitcode=inputs.command != "apply",
        # no local backup identity: a runner's home is gone after the job (the CLI makes one on a terminal only)
        backup=BackupOptions(enabled=not inputs.no_backup, directory=backup_dir, recipients=inputs.backup_age),
        audit_log=audit_log if inputs.command == "apply" else None,
        save_plan=plan_file if inputs.command == "plan" else None,
        code=inputs.code,
        allow_breaking_code=inputs.allow_breaking_code,
    ).check()


def _audit_log_path(inputs: ActionInputs, workdir: Path, environ: Mapping[str, str]) -> Path | None:
    """apply: the audit log (the ``audit-log`` input relative to ``working-directory``, else a file in
    RUNNER_TEMP; the service refuses a missing folder or a symlink before any request). plan/drift: None."""
    if inputs.command != "apply":
        return None
    if not inputs.audit_log:
        return Path(environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / AUDIT_LOG_NAME
    path = Path(inputs.audit_log).expanduser()
    return path if path.is_absolute() else workdir / path


def _destroyed_without_backup(inputs: ActionInputs, outcome: SiteOutcome) -> str:
    """With ``no-backup``, the warning that values were deleted or overwritten with no backup ('' if none)."""
    from reconciler.plan import Action

    if not inputs.no_backup or outcome.result is None:
        return ""
    count = sum(
        1
        for item in outcome.result.items
        if item.status == "applied"
        and item.change.remote is not None
        and (item.change.action is Action.DELETE or "value" in item.change.changed)
    )
    if not count:
        return ""
    return (
        f"no-backup is true: {count} value(s) were deleted or overwritten and no backup was kept; "
        "Wix cannot restore them"
    )


#: CLI flags the service's messages name, and the action input that does the same (booleans: "name: true").
_FLAG_IN_MESSAGE: Final = re.compile(r"(?<![\w-])--([a-z][a-z-]*)(?: (\d+|[A-Z][A-Z_]*))?")
_BOOLEAN_INPUTS: Final = frozenset({"prune", "allow-mass-delete", "allow-breaking-code", "no-backup"})
_VALUE_INPUTS: Final = {
    "max-deletes": "max-deletes",
    "backup-age": "backup-age",
    "code": "code",
    "auth": "auth",
    "api-url": "api-url",
    "site-id": "site-id",
    "audit-log": "audit-log",
    "backup-dir": "backup-dir",
    "out": "plan-file",
}


def in_action_terms(text: str) -> str:
    """A service message as an action user reads it: ``--allow-mass-delete`` becomes
    ``allow-mass-delete: true``, ``--max-deletes 7`` becomes ``max-deletes: 7``, ``--code`` the ``code``
    input; flags the action has no input for are left as they are."""

    def swap(match: re.Match[str]) -> str:
        flag, argument = match.group(1), match.group(2)
        if flag in _BOOLEAN_INPUTS:
            return f"{flag}: true" + (f" {argument}" if argument else "")
        if flag in _VALUE_INPUTS:
            name = _VALUE_INPUTS[flag]
            return f"{name}: {argument}" if argument else f"the {name} input"
        return match.group(0)

    return _FLAG_IN_MESSAGE.sub(swap, text)


def _speak_inputs(outcome: SiteOutcome) -> None:
    """The outcome's error and guard refusal reworded in input terms (:func:`in_action_terms`), in
    place: the errors belong to this run's outcome."""
    for exc in {id(e): e for e in (outcome.error, outcome.guard_error) if e is not None}.values():
        exc.summary = _outside_parentheses(exc.summary)
        exc.detail = _outside_parentheses(exc.detail) if exc.detail else exc.detail
        exc.hint = in_action_terms(exc.hint) if exc.hint else exc.hint
        exc.args = (exc.summary,)


def _outside_parentheses(text: str) -> str:
    """:func:`in_action_terms` outside ``(...)``: that is where a message lists secret names, and a
    manifest may name a secret ``--no-backup``; a name is never reworded."""
    parts = re.split(r"(\([^()]*\))", text)
    return "".join(part if index % 2 else in_action_terms(part) for index, part in enumerate(parts))


def _run_service(
    inputs: ActionInputs,
    options: Options,
    desired: DesiredState,
    manifests: Sequence[str],
    env: Mapping[str, str],
    workdir: Path,
    redactor: Redactor,
    streams: _Streams,
    plan_file: Path | None,
) -> SiteOutcome:
    """Run the command through the service, in-process; returns the typed outcome."""
    from reconciler.render import RunInfo
    from reconciler.render.code import with_code
    from reconciler.render.human import render_apply, render_plan
    from reconciler.service import SiteOutcome, apply_plan_file, connection_settings, run_site

    events = _LogEvents(streams, inputs.command)

    def show_plan(planned: SiteOutcome) -> None:
        if planned.plan is not None:
            streams.log(with_code(render_plan(planned.plan, planned.info), planned.code))

    try:
        connection = connection_settings(env, cwd=workdir, api_url=inputs.api_url or None, auth=inputs.auth or None)
    except WixSecretsError as exc:
        return SiteOutcome(inputs.command, RunInfo(inputs.command, tuple(manifests)), error=exc)
    common = {"environ": env, "cwd": workdir, "events": events, "redactor": redactor, "before_apply": show_plan}
    if inputs.command == "apply" and plan_file is not None:
        outcome = apply_plan_file(
            plan_file,
            options,
            connection,
            preloaded=(list(manifests), desired),
            **common,  # type: ignore[arg-type]
        )
    else:
        outcome = run_site(manifests, options, connection, preloaded=desired, **common)  # type: ignore[arg-type]
    _speak_inputs(outcome)
    if outcome.result is not None:
        streams.log(render_apply(outcome.result))
    elif outcome.plan is not None and not (inputs.command == "apply" and outcome.has_changes):
        streams.log(with_code(render_plan(outcome.plan, outcome.info, verbose=inputs.command == "drift"), outcome.code))
    if outcome.plan is not None and outcome.plan.conflicts and outcome.error is None:
        streams.log("Error: the plan has conflicts (listed above); nothing was changed.")
    if outcome.refusal is not None:
        streams.log(f"Error: {outcome.refusal.user_message()}")
    return outcome


def run_action(
    environ: Mapping[str, str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    cwd: Path | None = None,
) -> int:
    """Run the action once; return the process exit code. Never raises for user errors."""
    from reconciler.render import RunInfo
    from reconciler.service import SiteOutcome

    base = cwd or Path.cwd()
    redactor = Redactor()
    streams = _Streams(stdout, redactor)

    # 1. inputs; the credentials are masked before anything can be printed
    # (an age identity pasted where a public key belongs, in backup-age, is a secret too: read_inputs refuses it)
    from reconciler.backupkey import ENV_BACKUP_AGE

    misplaced = age_identities_in(get_input(environ, "backup-age") + "\n" + environ.get(ENV_BACKUP_AGE, ""))
    secret_inputs = [get_input(environ, "api-key"), *_identity_lines(get_input(environ, "age-key")), *misplaced]
    for line in mask_commands(secret_inputs):
        streams.command(line)
    for secret_input in secret_inputs:
        redactor.add(secret_input)
    outputs: dict[str, str] = {}
    try:
        inputs = read_inputs(environ)
        workdir = Path(inputs.working_directory).expanduser()
        if not workdir.is_absolute():
            workdir = base / workdir
        if not workdir.is_dir():
            raise ActionInputError(f"input 'working-directory': {inputs.working_directory!r} is not a directory")
        manifests = resolve_manifests(inputs.manifests, workdir)
        audit_log = _audit_log_path(inputs, workdir, environ)
    except ActionInputError as exc:
        streams.command(annotation("error", str(exc), title="wix-secrets: bad input"))
        _finish_outputs(environ, {"exit-code": str(int(ExitCode.ERROR))}, streams)
        _write_step_summary(environ, f"### wix-secrets: bad input\n\n{_md_cell(str(exc))}\n", streams)
        return int(ExitCode.ERROR)

    # the environment the service sees: credentials from the inputs, the raw inputs removed
    env = {k: v for k, v in environ.items() if not k.upper().startswith(("INPUT_API", "INPUT_AGE"))}
    if inputs.api_key:
        env["WIX_API_KEY"] = inputs.api_key
    if inputs.site_id:
        env["WIX_SITE_ID"] = inputs.site_id
    if inputs.age_key:
        env["SOPS_AGE_KEY"] = inputs.age_key

    # 2. decrypt (once) and mask every value before anything else is printed
    desired: DesiredState | None = None
    stopped: SiteOutcome | None = None
    try:
        from reconciler import operations

        desired = operations.load_desired(manifests, environ=env, cwd=workdir)
        values = [s.value.reveal() for s in desired.present() if s.value is not None]
        for line in mask_commands(values):
            streams.command(line)
        for value in values:
            redactor.add(value)
        del values
    except WixSecretsError as exc:
        stopped = SiteOutcome(inputs.command, RunInfo(inputs.command, tuple(manifests)), error=exc)
        if isinstance(exc, ManifestError):
            stopped.diagnostics = exc.diagnostics
    except Exception as exc:  # a bug: stop before anything could print a value unmasked
        streams.command(
            annotation(
                "error",
                f"wix-secrets could not read the manifest ({type(exc).__name__}); nothing was run",
                title="wix-secrets: internal error",
            )
        )
        streams.log(withheld_traceback(exc))
        _finish_outputs(environ, {"exit-code": str(int(ExitCode.ERROR))}, streams)
        return int(ExitCode.ERROR)

    # 3. run the command in-process through the service, its log fenced against workflow commands
    runner_temp = Path(environ.get("RUNNER_TEMP") or tempfile.gettempdir())
    runner_temp.mkdir(parents=True, exist_ok=True)
    outdir = Path(tempfile.mkdtemp(prefix=f"wix-secrets-{inputs.command}-", dir=runner_temp))
    summary_file = outdir / "summary.md"
    plan_file: Path | None = None
    if inputs.plan_file:
        plan_file = Path(inputs.plan_file).expanduser()
        if not plan_file.is_absolute():
            plan_file = workdir / plan_file
    # apply keeps an encrypted backup of every value it overwrites or deletes, and an audit log; in a
    # job, somewhere a later step can upload them from (docs/ci.md), not in the runner's ephemeral home
    backup_dir = runner_temp / BACKUP_DIR_NAME
    if inputs.backup_dir:  # relative to working-directory; the service refuses a folder whose parent is missing
        chosen = Path(inputs.backup_dir).expanduser()
        backup_dir = chosen if chosen.is_absolute() else workdir / chosen
    options = options_for(inputs, plan_file=plan_file, backup_dir=backup_dir, audit_log=audit_log)
    token = secrets.token_hex(16)
    streams.command(f"::stop-commands::{token}")
    handler = _log_handler(streams)
    logging.getLogger("reconciler").addHandler(handler)
    try:
        if stopped is not None or desired is None:
            outcome = stopped or SiteOutcome(inputs.command, RunInfo(inputs.command, tuple(manifests)))
            _speak_inputs(outcome)
            if outcome.refusal is not None:
                streams.log(f"Error: {outcome.refusal.user_message()}")
        else:
            outcome = _run_service(inputs, options, desired, manifests, env, workdir, redactor, streams, plan_file)
        code = outcome.exit_code
    except BaseException as exc:  # the service never raises for user errors; this is a bug
        streams.log(withheld_traceback(exc))
        outcome = SiteOutcome(inputs.command, RunInfo(inputs.command, tuple(manifests)))
        code = int(ExitCode.ERROR)
    finally:
        logging.getLogger("reconciler").removeHandler(handler)
        stdout.flush()
        stderr.flush()
        streams.command(f"::{token}::")

    # 4. outputs, summary and annotations, from the typed outcome
    if outcome.plan is not None:
        summary = outcome.plan.summary()
        outputs["has-changes"] = "true" if outcome.plan.has_changes else "false"
        for name, key in (("creates", "create"), ("updates", "update"), ("renames", "rename"), ("deletes", "delete")):
            outputs[name] = str(summary[key])
    if plan_file is not None and plan_file.is_file():
        outputs["plan-file"] = str(plan_file)
    if inputs.command == "apply":
        outputs["backup-dir"] = str(backup_dir)
        if outcome.backup_path is not None:
            outputs["backup-file"] = str(outcome.backup_path)
        if audit_log is not None and audit_log.is_file():
            outputs["audit-log"] = str(audit_log)
    outputs["exit-code"] = str(code)
    unbacked = _destroyed_without_backup(inputs, outcome)

    refusal = outcome.refusal
    message = refusal.summary if refusal is not None else ""
    if not message and outcome.plan is not None and outcome.plan.conflicts:
        message = "the plan has conflicts; nothing was changed: " + "; ".join(outcome.plan.conflicts)
    if outcome.plan is not None:
        from reconciler.render.outcome import site_markdown

        markdown = site_markdown(outcome).rstrip("\n") + "\n"
        note = _status_note(inputs.command, code, message)
        if note and not (message and md_text(message) in markdown):
            markdown += note
    else:
        markdown = _fallback_markdown(
            inputs.command, code, outcome.diagnostics, refusal.user_message() if refusal else None
        )
    if unbacked:
        markdown += f"\n**Warning: {unbacked}**\n"
    markdown = redactor.scrub(f"{_marker(inputs.command, inputs.site_id)}\n{markdown}")
    summary_file.write_text(markdown, encoding="utf-8")
    outputs["summary-file"] = str(summary_file)
    _write_step_summary(environ, markdown, streams)
    _finish_outputs(environ, outputs, streams)

    for diag in outcome.diagnostics:
        streams.command(redactor.scrub(_diagnostic_annotation(diag, workdir, environ, inputs.command)))
    if not outcome.diagnostics and code not in (0, 2):
        text = message or f"exit code {code}: {_EXIT_MEANING.get(code, 'error')}"
        streams.command(redactor.scrub(annotation("error", text, title=f"wix-secrets {inputs.command} failed")))
    warnings = [*(outcome.plan.warnings if outcome.plan is not None else ()), *outcome.warnings, unbacked]
    for warning in dict.fromkeys(warnings):
        if warning:
            streams.command(redactor.scrub(annotation("warning", warning, title=f"wix-secrets {inputs.command}")))
    if outcome.plan is not None:
        from reconciler.render.code import code_annotations, code_json  # the code lines a change breaks

        for mark in code_annotations(code_json(outcome.code) if outcome.code is not None else {}):
            file = _relative_for_annotation(mark.file, workdir, environ)
            title = "secret used by code"
            line = annotation(mark.level, mark.message, file=file, line=mark.line, col=mark.column, title=title)
            streams.command(redactor.scrub(line))

    if code == ExitCode.CHANGES and not inputs.detailed_exitcode:
        return int(ExitCode.OK)
    return code


def _write_step_summary(environ: Mapping[str, str], markdown: str, streams: _Streams) -> None:
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    if len(text.encode("utf-8")) > STEP_SUMMARY_LIMIT:
        cut = text.encode("utf-8")[: STEP_SUMMARY_LIMIT - 200].decode("utf-8", errors="ignore")
        text = cut.rsplit("\n", 1)[0] + "\n\n*(summary truncated: see the summary-file output)*\n"
    try:
        _append(path, "\n" + text)
    except OSError as exc:
        streams.command(annotation("warning", f"cannot write the job summary: {exc.strerror}"))


def _finish_outputs(environ: Mapping[str, str], outputs: Mapping[str, str], streams: _Streams) -> None:
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    try:
        _append(
            path,
            "".join(output_block(name, streams.redactor.scrub(value)) for name, value in outputs.items()),
        )
    except OSError as exc:
        streams.command(annotation("warning", f"cannot write the step outputs: {exc.strerror}"))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reconciler.action``: the action takes no arguments, only ``INPUT_*`` variables."""
    if argv:
        sys.stderr.write("usage: python -m reconciler.action  (configured through INPUT_* variables)\n")
        return int(ExitCode.ERROR)
    return run_action(os.environ, stdout=sys.stdout, stderr=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
