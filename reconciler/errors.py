"""The whole error tree of wix-secrets, and the exit-code table.

Every error the tool raises on purpose is a :class:`WixSecretsError`. Each carries a one-line
``summary``, an optional longer ``detail`` and ``hint`` (what to do), and the ``exit_code`` the CLI
returns for it. Foreign exceptions (httpx, yaml, pyrage, OSError) are translated into this tree at the
module boundary where they occur, re-raised ``from`` the original.

No message in this tree may contain a secret value. Constructors take names, ids, paths and counts,
never values; :mod:`reconciler.redact` scrubs everything written as a second line of defence.

::

    WixSecretsError                       exit 1
    ├── UsageError                        bad flags, missing credentials, unreadable files
    ├── ManifestError                     invalid manifest; carries every Diagnostic at once
    ├── SopsError                         SOPS file cannot be read or written
    │   ├── SopsFormatError               not a SOPS file / malformed metadata / bad version
    │   ├── SopsKeyNotFound               no age identity fits (lists places tried + recipients)
    │   ├── SopsIntegrityError            MAC mismatch or value authentication failure
    │   └── SopsEncryptError              input that cannot be encrypted
    ├── RemoteError                       the Wix API (or the transport to it) failed
    │   ├── AuthError                     401 / 403 / token exchange failure
    │   ├── NotFoundError                 404
    │   ├── AlreadyExistsError            409
    │   ├── InvalidRequestError           400 (with field violations)
    │   ├── RateLimitedError              429 (with retry_after)
    │   ├── ServerError                   5xx
    │   ├── ProtocolError                 unexpected status or body
    │   └── NetworkError                  connection refused/dropped, timeout
    ├── ApprovalError                     apply needs confirmation and none was given
    ├── OutputError                       an output file (audit log, backup, plan, JSON...) was not written
    ├── PartialApplyError                 exit 3: some operations failed
    ├── StalePlanError                    exit 4: a saved plan no longer matches
    └── GuardError                        exit 5: a safety guard refused the plan
        └── CodeGuardError                the site's code reads what the plan deletes (codeguard)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

__all__ = [
    "AlreadyExistsError",
    "ApprovalError",
    "AuthError",
    "Diagnostic",
    "ExitCode",
    "FieldViolation",
    "GuardError",
    "InvalidRequestError",
    "ManifestError",
    "NetworkError",
    "NotFoundError",
    "OutputError",
    "PartialApplyError",
    "PreconditionError",
    "ProtocolError",
    "QuotaExceededError",
    "RateLimitedError",
    "RemoteError",
    "ServerError",
    "SopsEncryptError",
    "SopsError",
    "SopsFormatError",
    "SopsIntegrityError",
    "SopsKeyNotFound",
    "StalePlanError",
    "Terminated",
    "UsageError",
    "WixSecretsError",
    "exit_code_for",
    "withheld_traceback",
]


class ExitCode(IntEnum):
    """The documented exit codes. The README's table is generated from the same meanings."""

    OK = 0
    ERROR = 1
    CHANGES = 2  # plan/drift with --detailed-exitcode: changes (or drift) present
    PARTIAL = 3  # apply: some operations failed, others succeeded
    STALE = 4  # apply PLANFILE: the saved plan no longer matches the manifest or the site
    GUARD = 5  # a safety guard refused the plan


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in an input file, with where it is and what to do about it.

    ``path`` is the location inside the document (``secrets.API_KEY.value``); ``line`` and
    ``column`` are 1-based and point into the file as the user sees it (the encrypted file for a
    SOPS manifest). Messages never contain a value.
    """

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    def location(self) -> str:
        where = self.file or "<manifest>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def format(self) -> str:
        text = f"{self.location()}: {self.severity}: {self.message}"
        if self.path:
            text += f" (at {self.path})"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class Terminated(KeyboardInterrupt):
    """SIGTERM before any write started (reading, planning, at the prompt): the run unwinds at once, as
    on Ctrl-C, so temporary files are removed; the CLI exits 143. A KeyboardInterrupt, because asyncio
    lets exactly that (and SystemExit) through its transports and callbacks: any other exception raised
    by a signal handler inside the event loop can be logged as a "fatal write error" and swallowed
    (seen in CI: the plan then finished and exited 0). Not a WixSecretsError."""


class WixSecretsError(Exception):
    """Base of every deliberate error. ``str(err)`` is the summary plus detail."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, summary: str, *, detail: str | None = None, hint: str | None = None) -> None:
        self.summary = summary
        self.detail = detail
        self.hint = hint
        super().__init__(summary)

    def __str__(self) -> str:
        parts = [self.summary]
        if self.detail:
            parts.append(self.detail)
        return "\n".join(parts)

    def user_message(self) -> str:
        """The full text shown to the user: summary, detail and hint."""
        text = str(self)
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(WixSecretsError):
    """Bad command-line usage, missing credentials or an unreadable input file."""


class ManifestError(WixSecretsError):
    """A manifest failed validation. Carries every problem found, not just the first."""

    def __init__(self, diagnostics: Sequence[Diagnostic], *, file: str | None = None) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        count = len(errors)
        name = file or (errors[0].file if errors and errors[0].file else "manifest")
        super().__init__(
            f"{name}: {count} problem{'s' if count != 1 else ''} found; nothing was sent to Wix",
            detail="\n".join(d.format() for d in self.diagnostics),
        )


class SopsError(WixSecretsError):
    """A SOPS file could not be decrypted, verified or written."""


class SopsFormatError(SopsError):
    """The file is not a valid SOPS file (metadata missing or malformed, bad version...)."""


class SopsKeyNotFound(SopsError):
    """No available age identity can decrypt the data key."""


class SopsIntegrityError(SopsError):
    """The MAC does not match, or a value failed authentication: the file was modified or damaged."""


class SopsEncryptError(SopsError):
    """The input cannot be encrypted (empty file, non-string keys, already encrypted...)."""


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str
    violated_rule: str


class RemoteError(WixSecretsError):
    """The Wix API answered with an error, or could not be reached.

    ``status`` is the HTTP status (None for network errors), ``code`` the Wix application error code
    when the envelope had one, ``request_id`` the ``x-wix-request-id`` header. ``retryable`` says
    whether the executor may try again.
    """

    retryable: bool = False

    def __init__(
        self,
        summary: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        operation: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
        violations: Iterable[FieldViolation] = (),
    ) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        self.operation = operation
        self.violations: tuple[FieldViolation, ...] = tuple(violations)
        super().__init__(summary, detail=detail, hint=hint)


class AuthError(RemoteError):
    """401/403, or the OAuth token exchange failed."""


class NotFoundError(RemoteError):
    """404: no secret with that name or id."""


class AlreadyExistsError(RemoteError):
    """409: a secret with that name already exists."""


class InvalidRequestError(RemoteError):
    """400: Wix rejected the request (validation error)."""


class PreconditionError(RemoteError):
    """428: Wix wants a precondition met (a Members Area app on the site, a site context)."""


class QuotaExceededError(RemoteError):
    """429 whose envelope names a quota or cap (not a request rate): waiting does not help."""


class RateLimitedError(RemoteError):
    """429: the site's request budget is exhausted."""

    retryable = True

    def __init__(self, summary: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(summary, **kwargs)  # type: ignore[arg-type]


class ServerError(RemoteError):
    """5xx from Wix."""

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status in (500, 502, 503, 504)


class ProtocolError(RemoteError):
    """An answer that does not follow the Wix API (unexpected status, not JSON...)."""


class NetworkError(RemoteError):
    """The request did not get an answer: connection refused or dropped, timeout."""

    retryable = True


class ApprovalError(WixSecretsError):
    """apply needs a 'yes' and did not get one (no TTY and no --auto-approve, or the user declined)."""


class OutputError(WixSecretsError):
    """A file the run had to write (audit log, backup, saved plan, --json-file...) was not written:
    full disk, missing folder, a symlink in the way. Nothing half-written is left behind."""


class PartialApplyError(WixSecretsError):
    """Some operations of an apply failed; the others were applied."""

    exit_code = ExitCode.PARTIAL


class StalePlanError(WixSecretsError):
    """A saved plan no longer matches the manifest or the site."""

    exit_code = ExitCode.STALE

    def __init__(
        self, summary: str, *, changed: Sequence[str] = (), detail: str | None = None, hint: str | None = None
    ) -> None:
        self.changed = tuple(changed)
        super().__init__(summary, detail=detail, hint=hint or "run `wix-secrets plan` again and review the new plan")


class GuardError(WixSecretsError):
    """A safety guard refused the plan (too many deletions, empty manifest...)."""

    exit_code = ExitCode.GUARD

    def __init__(self, summary: str, *, guard: str, detail: str | None = None, hint: str | None = None) -> None:
        self.guard = guard
        super().__init__(summary, detail=detail, hint=hint)


class CodeGuardError(GuardError):
    """The code guard (:mod:`reconciler.codeguard`) refused the plan: it deletes or renames away a
    secret the site's code reads, or may read."""

    def __init__(self, summary: str, *, detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(summary, guard="code-references", detail=detail, hint=hint)


def withheld_traceback(exc: BaseException) -> str:
    """The traceback of an unexpected exception (a bug) without its message, which could quote the
    data being processed (a value, a credential): the frames say where, never what."""
    import traceback

    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{type(exc).__name__} (message withheld)"


def exit_code_for(error: BaseException) -> ExitCode:
    """The one place that maps an error to an exit code."""
    if isinstance(error, WixSecretsError):
        return error.exit_code
    return ExitCode.ERROR
