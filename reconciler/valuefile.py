"""Bounded, non-blocking reads of ``value_from: {file: ...}`` targets.

A manifest comes from a pull request, so the path in ``value_from`` is hostile: ``/dev/zero`` or
``/dev/urandom`` would be read until memory runs out, a FIFO would block forever, a directory or a
socket is no value. :func:`read_value_file` opens the path without blocking (``O_NONBLOCK``: opening
a FIFO with no writer returns at once), refuses anything but a regular file (after following
symlinks, as Kubernetes mounts secrets through them) by looking at the *opened* file, so it cannot be
swapped between the check and the read, and reads at most :data:`MAX_BYTES`: enough for the longest
value Wix accepts (3,500 characters of up to 4 UTF-8 bytes, plus a trailing newline), so anything
larger is refused after reading at most one byte more than that.

Errors are :class:`OSError` with a ``strerror`` that names what is wrong (never file content), so
the manifest loader reports them with the file and line of the ``value_from``.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Final

__all__ = ["MAX_BYTES", "MAX_CHARS", "read_value_file"]

MAX_CHARS: Final = 3500
#: 3,500 characters of at most 4 UTF-8 bytes each, plus "\r\n"
MAX_BYTES: Final = MAX_CHARS * 4 + 2

_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_value_file(path: Path, *, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file at ``path``; at most ``limit`` of them, or :class:`OSError`."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"it is {_kind(info.st_mode)}; value_from reads only regular files")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"it is larger than a value Wix accepts ({MAX_CHARS} characters)")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while we read, or st_size lied (procfs, sysfs)
            raise OSError(errno.EFBIG, f"it is larger than a value Wix accepts ({MAX_CHARS} characters)")
        return b"".join(chunks)
    finally:
        os.close(fd)
