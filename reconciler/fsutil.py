"""Private, atomic file writes: the one way this tool writes a file that matters.

:func:`atomic_write` writes to a temp file in the target's folder (mode 0600 from the start, so the
content is never readable by others even for a moment), fsyncs it, renames it over the target (a
symlink at the target is replaced, never followed) and fsyncs the folder, so a reader sees the old file
or the new one, never half of one; on any failure the temp file is removed. The target's folder must
exist (no silent ``mkdir`` of a mistyped path) unless ``dir_mode`` asks to create it.

:func:`write_output` and :func:`append_lines` are what the service uses for the files a user asks for
(saved plan, ``--json-file``, audit log...): they turn every OSError (full disk, missing folder, a
symlink in the way) into an :class:`~reconciler.errors.OutputError` naming the file, and leave nothing
half-written behind: an append that fails is truncated back to where it started.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.errors import OutputError

__all__ = ["append_lines", "atomic_write", "check_parent", "state_dir", "write_output"]


def state_dir(environ: Mapping[str, str]) -> Path:
    """wix-secrets' own state folder: ``$XDG_STATE_HOME/wix-secrets`` (default ``~/.local/state``)."""
    state = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local" / "state")
    return Path(state).expanduser() / "wix-secrets"


def atomic_write(
    path: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = True, dir_mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` atomically with ``mode``. ``overwrite=False`` refuses an existing file
    (raises FileExistsError) without a window in which another writer could slip in between check and
    rename; ``dir_mode`` creates missing parent folders with that mode (otherwise a missing folder
    raises FileNotFoundError)."""
    parent = path.parent
    if dir_mode is not None:
        parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails with FileExistsError if path exists
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EFBIG:
        return "the file would be too large"
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link (refusing to follow it)"
    return exc.strerror or type(exc).__name__


def check_parent(path: Path, what: str) -> None:
    """Refuse an output path whose folder does not exist (no silent mkdir)."""
    if not path.parent.is_dir():
        raise OutputError(
            f"cannot write the {what} {path}: the folder {path.parent} does not exist",
            hint="create the folder first, or choose another path",
        )
    if path.is_dir():
        raise OutputError(f"cannot write the {what} {path}: it is a folder")


def write_output(path: Path, data: bytes, *, what: str, mode: int = 0o600) -> None:
    """Write a file the user asked for, atomically; any failure is an OutputError and leaves no file."""
    check_parent(path, what)
    try:
        atomic_write(path, data, mode=mode)
    except OSError as exc:
        raise OutputError(f"cannot write the {what} {path}: {_reason(exc)}; it was not written") from None


def append_lines(path: Path, lines: Sequence[bytes], *, what: str) -> int:
    """Append ``lines`` (each ending in a newline, each one ``write``) to ``path``: created 0600, opened
    ``O_APPEND`` so concurrent writers never interleave inside a line, never through a symlink. On a
    failure the file is truncated back to its size before this call. Returns the number of lines."""
    check_parent(path, what)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise OutputError(f"cannot write the {what} {path}: {_reason(exc)}") from None
    start = os.fstat(fd).st_size
    try:
        for line in lines:
            view = memoryview(line)
            while view:  # a regular file takes it in one write; loop only for the pathological case
                count = os.write(fd, view)
                view = view[count:]
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        os.close(fd)
        raise OutputError(f"cannot write the {what} {path}: {_reason(exc)}; nothing was appended") from None
    os.close(fd)
    return len(lines)
