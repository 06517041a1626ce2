"""Private, atomic file writes: the one way this tool writes a file that matters.

:func:`atomic_write` writes to a temp file in the target's folder (mode 0600 from the start, so the
content is never readable by others even for a moment), fsyncs it, and renames it over the target, so
a reader sees the old file or the new one, never half of one; on any failure the temp file is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(
    path: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = True, dir_mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` atomically with ``mode``. ``overwrite=False`` refuses an existing file
    (raises FileExistsError) without a window in which another writer could slip in between check and
    rename; ``dir_mode`` creates missing parent folders with that mode."""
    parent = path.parent
    if dir_mode is not None:
        parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    else:
        parent.mkdir(parents=True, exist_ok=True)
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
