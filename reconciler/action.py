"""The GitHub Action's entry point: ``python -m reconciler.action``.

A thin shell around the CLI, run by the last step of ``action.yml``. In order:

1. read the ``INPUT_*`` variables (``INPUT_SITE-ID`` or ``INPUT_SITE_ID``: the runner keeps hyphens,
   our composite step passes underscores), and register the API key and the age identity with
   ``::add-mask::``;
2. resolve the manifest paths and globs relative to ``working-directory``;
3. decrypt the manifest and register every value, in every form from
   :func:`reconciler.redact.forms_of`, with ``::add-mask::`` *before anything else is printed*;
4. run ``plan``, ``apply`` or ``drift`` in-process through :func:`reconciler.cli.run`, with
   ``--json-file``/``--markdown-file`` in ``RUNNER_TEMP``, its human output fenced by
   ``::stop-commands::`` so nothing in a manifest can be read as a workflow command;
5. write the outputs to ``GITHUB_OUTPUT`` (heredoc syntax, safe for any text), append the Markdown
   summary to ``GITHUB_STEP_SUMMARY`` and write it to a file for a pull-request comment;
6. turn manifest diagnostics into ``::error file=...,line=...::`` annotations;
7. exit with the command's exit code, except that 2 (changes present) becomes 0 unless
   ``detailed-exitcode`` is true.

The ``::add-mask::`` lines are the only place the tool ever writes a secret value, and only here.
Everything else written to the log, the outputs and the summary also passes the run's
:class:`~reconciler.redact.Redactor`.
"""

from __future__ import annotations

import glob
import io
import json
import os
import re
import secrets
import shlex
import sys
import tempfile
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TextIO

from reconciler.cli.console import Console
from reconciler.errors import Diagnostic, ExitCode, ManifestError, WixSecretsError
from reconciler.redact import MIN_LENGTH, RedactingStream, Redactor, forms_of

__all__ = [
    "COMMANDS",
    "ActionInputError",
    "ActionInputs",
    "annotation",
    "escape_data",
    "escape_property",
    "get_input",
    "main",
    "mask_commands",
    "output_block",
    "parse_bool",
    "read_inputs",
    "resolve_manifests",
    "run_action",
]

COMMANDS: Final = ("plan", "apply", "drift")
STEP_SUMMARY_LIMIT: Final = 1_000_000  # GitHub refuses a step summary over 1 MiB
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0", ""})
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

    def __repr__(self) -> str:  # the dataclass repr would show the key and the identity
        return f"ActionInputs(command={self.command!r}, manifests={self.manifests!r})"


def read_inputs(environ: Mapping[str, str]) -> ActionInputs:
    """Parse every input; raise :class:`ActionInputError` naming the first bad one."""
    command = get_input(environ, "command", "plan").lower()
    if command not in COMMANDS:
        raise ActionInputError(f"input 'command' must be one of {', '.join(COMMANDS)} (got {command!r})")
    manifests: list[str] = []
    for line in get_input(environ, "manifest").splitlines():
        try:
            manifests.extend(shlex.split(line, comments=False, posix=True))
        except ValueError as exc:
            raise ActionInputError(f"input 'manifest': cannot split {line!r}: {exc}") from None
    if not manifests:
        raise ActionInputError("input 'manifest' is required: one or more manifest paths or globs")
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


class _Tee:
    """The CLI's stderr: passed through (redacted) and kept, to quote its error in an annotation."""

    def __init__(self, inner: RedactingStream) -> None:
        self._inner = inner
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return self._inner.write(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return self._inner.encoding

    def error_message(self) -> str | None:
        """The CLI's ``Error: ...`` message (summary and detail), without the prefix."""
        text = "".join(self._parts)
        start = text.rfind("Error: ")
        if start < 0:
            return None
        return text[start + len("Error: ") :].strip() or None


def _frames_only(exc: BaseException) -> str:
    """A traceback without the exception's message, which could quote the data being read."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{type(exc).__name__} (message withheld)"


def _relative_for_annotation(file: str, workdir: Path, environ: Mapping[str, str]) -> str:
    """The path the way GitHub matches it against the pull request: relative to the workspace."""
    path = Path(file)
    if not path.is_absolute():
        path = workdir / path
    base = Path(environ.get("GITHUB_WORKSPACE") or os.getcwd())
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


def _diagnostics_from_document(doc: Mapping[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for item in doc.get("diagnostics") or ():
        if not isinstance(item, Mapping) or not item.get("message"):
            continue
        severity: Literal["error", "warning"] = "warning" if item.get("severity") == "warning" else "error"

        def _int(value: object) -> int | None:
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def _str(value: object) -> str | None:
            return value if isinstance(value, str) and value else None

        out.append(
            Diagnostic(
                message=str(item["message"]),
                file=_str(item.get("file")),
                line=_int(item.get("line")),
                column=_int(item.get("column")),
                path=_str(item.get("path")),
                hint=_str(item.get("hint")),
                severity=severity,
            )
        )
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _marker(command: str, site_id: str) -> str:
    site = re.sub(r"[^A-Za-z0-9._]+", "_", site_id) or "default"
    return f"<!-- wix-secrets:{command}:{site} -->"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _fallback_markdown(
    command: str,
    code: int,
    doc: Mapping[str, Any] | None,
    diagnostics: Sequence[Diagnostic],
    error: str | None,
) -> str:
    """The summary when the CLI wrote no Markdown (it stopped before planning)."""
    lines = [f"### wix-secrets {command}: failed (exit code {code}: {_EXIT_MEANING.get(code, 'error')})", ""]
    message = error
    if message is None and doc is not None and isinstance(doc.get("error"), Mapping):
        message = str(doc["error"].get("message") or "") or None
    if message:
        first, *rest = message.splitlines()
        lines.append(f"**{_md_cell(first)}**")
        if rest:
            lines += ["", "```", *rest, "```"]
        lines.append("")
    if diagnostics:
        lines += ["| file | line | problem |", "|---|---|---|"]
        for d in diagnostics:
            problem = d.message + (f" (at `{d.path}`)" if d.path else "")
            if d.hint:
                problem += f"; hint: {d.hint}"
            lines.append(f"| `{_md_cell(d.file or '-')}` | {d.line or ''} | {_md_cell(problem)} |")
        lines.append("")
    if error is not None or diagnostics:  # it stopped at the manifest, before any request
        lines.append("Nothing was sent to Wix.")
    return "\n".join(lines).rstrip() + "\n"


def _error_text(doc: Mapping[str, Any] | None) -> str:
    """The first line of the JSON document's error message, or ""."""
    if doc is not None and isinstance(doc.get("error"), Mapping):
        return next(iter(str(doc["error"].get("message") or "").splitlines()), "")
    return ""


def _status_note(command: str, code: int, doc: Mapping[str, Any] | None) -> str:
    if code in (0, 2):
        return ""
    message = _error_text(doc)
    text = f"**wix-secrets {command} exited with code {code}** ({_EXIT_MEANING.get(code, 'error')})"
    if message:
        text += f": {_md_cell(message)}"
    return "\n" + text + "\n"


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _build_argv(
    inputs: ActionInputs,
    manifests: Sequence[str],
    plan_file: Path | None,
    json_file: Path,
    md_file: Path,
    backup_dir: Path,
) -> list[str]:
    outputs = ["--json-file", str(json_file), "--markdown-file", str(md_file)]
    site = ["--api-url", inputs.api_url] if inputs.api_url else []
    guards: list[str] = []
    if inputs.prune:
        guards.append("--prune")
    if inputs.max_deletes is not None:
        guards += ["--max-deletes", str(inputs.max_deletes)]
    if inputs.command == "plan":
        saved = ["--out", str(plan_file)] if plan_file is not None else []
        return ["plan", *manifests, "--detailed-exitcode", *outputs, *saved, *guards, *site]
    if inputs.command == "apply":
        common = ["--auto-approve", *outputs, "--backup-dir", str(backup_dir), *site]
        if plan_file is not None:
            return ["apply", str(plan_file), *common]
        return ["apply", *manifests, *common, *guards]
    return ["drift", *manifests, "--detailed-exitcode", *outputs, *site]


def run_action(
    environ: Mapping[str, str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    cwd: Path | None = None,
) -> int:
    """Run the action once; return the process exit code. Never raises for user errors."""
    base = cwd or Path.cwd()
    redactor = Redactor()
    streams = _Streams(stdout, redactor)

    # 1. inputs; the credentials are masked before anything can be printed
    for line in mask_commands([get_input(environ, "api-key"), *_identity_lines(get_input(environ, "age-key"))]):
        streams.command(line)
    for secret_input in (get_input(environ, "api-key"), *_identity_lines(get_input(environ, "age-key"))):
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
    except ActionInputError as exc:
        streams.command(annotation("error", str(exc), title="wix-secrets: bad input"))
        _finish_outputs(environ, {"exit-code": str(int(ExitCode.ERROR))}, streams)
        _write_step_summary(environ, f"### wix-secrets: bad input\n\n{_md_cell(str(exc))}\n", streams)
        return int(ExitCode.ERROR)

    # the environment the CLI sees: credentials from the inputs, the raw inputs removed
    cli_env = {k: v for k, v in environ.items() if not k.upper().startswith(("INPUT_API", "INPUT_AGE"))}
    if inputs.api_key:
        cli_env["WIX_API_KEY"] = inputs.api_key
    if inputs.site_id:
        cli_env["WIX_SITE_ID"] = inputs.site_id
    if inputs.age_key:
        cli_env["SOPS_AGE_KEY"] = inputs.age_key

    # 2. decrypt and mask every value before anything else is printed
    mask_diagnostics: list[Diagnostic] = []
    mask_error: str | None = None
    try:
        from reconciler.operations import load_desired

        desired = load_desired(manifests, environ=cli_env, cwd=workdir)
        values = [s.value.reveal() for s in desired.present() if s.value is not None]
        for line in mask_commands(values):
            streams.command(line)
        for value in values:
            redactor.add(value)
        del values, desired
    except ManifestError as exc:
        mask_diagnostics = list(exc.diagnostics)
        mask_error = exc.summary
    except WixSecretsError as exc:
        mask_error = exc.summary
    except Exception as exc:  # a bug: stop before anything could print a value unmasked
        streams.command(
            annotation(
                "error",
                f"wix-secrets could not read the manifest ({type(exc).__name__}); nothing was run",
                title="wix-secrets: internal error",
            )
        )
        streams.log(_frames_only(exc))
        _finish_outputs(environ, {"exit-code": str(int(ExitCode.ERROR))}, streams)
        return int(ExitCode.ERROR)

    # 3. run the command in-process, its output fenced against workflow-command injection
    runner_temp = environ.get("RUNNER_TEMP") or tempfile.gettempdir()
    Path(runner_temp).mkdir(parents=True, exist_ok=True)
    outdir = Path(tempfile.mkdtemp(prefix=f"wix-secrets-{inputs.command}-", dir=runner_temp))
    json_file = outdir / "result.json"
    md_file = outdir / "cli-summary.md"
    summary_file = outdir / "summary.md"
    plan_file: Path | None = None
    if inputs.plan_file:
        plan_file = Path(inputs.plan_file).expanduser()
        if not plan_file.is_absolute():
            plan_file = workdir / plan_file
    # apply keeps an encrypted backup of every value it overwrites or deletes; in a job, somewhere
    # a later step can upload it from (docs/ci.md), not in the runner's ephemeral home
    backup_dir = Path(runner_temp) / "wix-secrets-backups"
    argv = _build_argv(inputs, manifests, plan_file, json_file, md_file, backup_dir)

    err_capture = _Tee(RedactingStream(stderr, redactor))
    console = Console(
        stdout=RedactingStream(stdout, redactor),  # type: ignore[arg-type]
        stderr=err_capture,  # type: ignore[arg-type]
        stdin=io.StringIO(""),
        environ=cli_env,
        cwd=workdir,
        redactor=redactor,
    )
    token = secrets.token_hex(16)
    streams.command(f"::stop-commands::{token}")
    try:
        from reconciler.cli import run

        code = int(run(argv, console))
    except BaseException as exc:  # run() never raises for user errors; this is a bug
        streams.log(_frames_only(exc))
        code = int(ExitCode.ERROR)
    finally:
        stdout.flush()
        stderr.flush()
        streams.command(f"::{token}::")

    # 4. outputs, summary and annotations
    doc = _read_json(json_file)
    summary = doc.get("summary") if doc is not None else None
    if isinstance(summary, Mapping):
        outputs["has-changes"] = "true" if doc and doc.get("has_changes") else "false"
        for name, key in (
            ("creates", "create"),
            ("updates", "update"),
            ("renames", "rename"),
            ("deletes", "delete"),
        ):
            outputs[name] = str(int(summary.get(key) or 0))
    if plan_file is not None and plan_file.is_file():
        outputs["plan-file"] = str(plan_file)
    outputs["exit-code"] = str(code)

    diagnostics = mask_diagnostics or (_diagnostics_from_document(doc) if doc is not None else [])
    if md_file.is_file():
        markdown = md_file.read_text(encoding="utf-8").rstrip("\n") + "\n"
        note = _status_note(inputs.command, code, doc)
        shown = _error_text(doc)
        if note and not (shown and shown in markdown):
            markdown += note
    else:
        markdown = _fallback_markdown(inputs.command, code, doc, diagnostics, mask_error)
    markdown = redactor.scrub(f"{_marker(inputs.command, inputs.site_id)}\n{markdown}")
    summary_file.write_text(markdown, encoding="utf-8")
    outputs["summary-file"] = str(summary_file)
    _write_step_summary(environ, markdown, streams)
    _finish_outputs(environ, outputs, streams)

    for diag in diagnostics:
        streams.command(redactor.scrub(_diagnostic_annotation(diag, workdir, environ, inputs.command)))
    if not diagnostics and code not in (0, 2):
        message = mask_error or err_capture.error_message()
        if doc is not None and isinstance(doc.get("error"), Mapping) and doc["error"].get("message"):
            message = str(doc["error"]["message"])
        text = message or f"exit code {code}: {_EXIT_MEANING.get(code, 'error')}"
        streams.command(redactor.scrub(annotation("error", text, title=f"wix-secrets {inputs.command} failed")))
    if doc is not None:
        for warning in doc.get("warnings") or ():
            if isinstance(warning, str) and warning:
                streams.command(redactor.scrub(annotation("warning", warning, title=f"wix-secrets {inputs.command}")))
        from reconciler.render.code import code_annotations  # code-aware plans: the code lines a change breaks

        for mark in code_annotations(doc):
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
