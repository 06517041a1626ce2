"""The emulated site's secrets: an ordered in-memory store, optionally persisted in a JSON file.

Owns the secret records, creation order, the strictly increasing millisecond clock behind
``createdDate``/``updatedDate``, and persistence: the state file is written atomically (temp file in
the same directory, ``fsync``, ``os.replace``, mode 0600) under an exclusive ``fcntl`` lock on a
sidecar ``<file>.lock``; readers take a shared lock and reload the file whenever another process has
replaced it, so two processes sharing one ``--local`` file see each other's changes and never corrupt
it. The state file holds values: it *is* the emulated site.

A write is all or nothing: when saving fails (a full disk), the in-memory change is rolled back and
:class:`EmulatorSaveError` raised, so no later read shows a change that is not on disk. Temp files
left by a process killed mid-save (``.<file>.*.tmp``, holding values) are removed on the next start.

This module knows nothing of HTTP; :mod:`reconciler.emulator.core` drives it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "EmulatorSaveError",
    "EmulatorStateError",
    "SecretStore",
    "StoredSecret",
    "format_ms",
    "parse_iso_ms",
    "remove_stale_temp_files",
]

STATE_FORMAT = "wix-secrets-emulator/1"


class EmulatorStateError(ValueError):
    """The state file exists but cannot be read as emulator state (the message never holds a value)."""


class EmulatorSaveError(OSError):
    """Saving the state file failed (full disk, I/O error); the change was rolled back in memory."""


@dataclass
class StoredSecret:
    id: str
    name: str
    value: str
    description: str | None
    created_ms: int
    updated_ms: int

    def info(self) -> dict[str, Any]:
        """The wire form in a list reply: never the value."""
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.description is not None:
            out["description"] = self.description
        out["createdDate"] = format_ms(self.created_ms)
        out["updatedDate"] = format_ms(self.updated_ms)
        return out


def format_ms(ms: int) -> str:
    """``2024-01-02T03:04:05.678Z``: ISO-8601, UTC, milliseconds, like JavaScript's ``toISOString``."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class SecretStore:
    """Secrets in creation order, keyed by id, with a name index. Use inside :meth:`transaction`."""

    def __init__(self, path: Path | None = None, *, wall_ms: Callable[[], int] = _wall_ms) -> None:
        self.path = path
        self._wall_ms = wall_ms
        self._lock = threading.RLock()
        self._by_id: dict[str, StoredSecret] = {}
        self._by_name: dict[str, StoredSecret] = {}
        self._last_ms = 0
        self._stamp: tuple[int, int, int] | None = None
        self._dirty = False
        if path is not None:
            if not path.parent.is_dir():
                raise EmulatorStateError(f"emulator state directory {path.parent} does not exist")
            with self.transaction(write=True):
                remove_stale_temp_files(path)

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[SecretStore]:
        """Hold the thread lock (and the file lock, shared or exclusive); save on exit if changed."""
        with self._lock:
            if self.path is None:
                yield self
                self._dirty = False
                return
            fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
                self._reload_if_changed()
                snapshot = self._snapshot() if write else None
                try:
                    yield self
                    if self._dirty:
                        try:
                            self._save()
                        except OSError as exc:
                            if snapshot is not None:
                                self._restore(snapshot)
                            why = f"cannot save the emulator state: {exc.strerror}"
                            raise EmulatorSaveError(exc.errno, why) from exc
                except BaseException:
                    if snapshot is not None and self._dirty:
                        self._restore(snapshot)
                    raise
                finally:
                    self._dirty = False
            finally:
                os.close(fd)  # closing releases the flock

    def _snapshot(self) -> tuple[list[StoredSecret], int]:
        return [dataclasses.replace(s) for s in self._by_id.values()], self._last_ms

    def _restore(self, snapshot: tuple[list[StoredSecret], int]) -> None:
        records, last_ms = snapshot
        self._by_id = {s.id: s for s in records}
        self._by_name = {s.name: s for s in records}
        self._last_ms = last_ms

    def _lock_path(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".lock")

    def _reload_if_changed(self) -> None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._stamp is not None:  # the file was removed: the site is empty again
                self._replace({}, 0)
                self._stamp = None
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        self._load(self.path.read_bytes())
        self._stamp = stamp

    def _load(self, raw: bytes) -> None:
        where = f"emulator state file {self.path}"
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EmulatorStateError(f"{where} is not JSON (line {getattr(exc, 'lineno', '?')})") from None
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise EmulatorStateError(f"{where} is not a {STATE_FORMAT} document")
        secrets: dict[str, StoredSecret] = {}
        items = doc.get("secrets")
        if not isinstance(items, list):
            raise EmulatorStateError(f"{where}: 'secrets' must be a list")
        for index, item in enumerate(items):
            try:
                record = StoredSecret(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    value=str(item["value"]),
                    description=None if item.get("description") is None else str(item["description"]),
                    created_ms=parse_iso_ms(str(item["createdDate"])),
                    updated_ms=parse_iso_ms(str(item["updatedDate"])),
                )
            except (KeyError, TypeError, ValueError):
                raise EmulatorStateError(f"{where}: secret #{index} is malformed") from None
            secrets[record.id] = record
        last = doc.get("lastMs", 0)
        self._replace(secrets, last if isinstance(last, int) else 0)

    def _replace(self, secrets: dict[str, StoredSecret], last_ms: int) -> None:
        self._by_id = secrets
        self._by_name = {s.name: s for s in secrets.values()}
        self._last_ms = max([last_ms, *(s.updated_ms for s in secrets.values())])

    def _save(self) -> None:
        assert self.path is not None
        doc = {
            "format": STATE_FORMAT,
            "lastMs": self._last_ms,
            "secrets": [
                {
                    "id": s.id,
                    "name": s.name,
                    "value": s.value,
                    "description": s.description,
                    "createdDate": format_ms(s.created_ms),
                    "updatedDate": format_ms(s.updated_ms),
                }
                for s in self._by_id.values()
            ],
        }
        data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        st = os.stat(self.path)
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)

    # -- operations (call inside a transaction) -----------------------------------------------

    def _next_ms(self) -> int:
        """Now in ms, but always strictly after the previous stamp (two writes in one ms differ)."""
        self._last_ms = max(self._wall_ms(), self._last_ms + 1)
        return self._last_ms

    def all(self) -> list[StoredSecret]:
        return list(self._by_id.values())

    def by_id(self, secret_id: str) -> StoredSecret | None:
        return self._by_id.get(secret_id.lower())

    def by_name(self, name: str) -> StoredSecret | None:
        return self._by_name.get(name)

    def create(self, name: str, value: str, description: str | None) -> StoredSecret:
        now = self._next_ms()
        record = StoredSecret(str(uuid.uuid4()), name, value, description, now, now)
        self._by_id[record.id] = record
        self._by_name[name] = record
        self._dirty = True
        return record

    def update(self, record: StoredSecret, *, name: str | None, value: str | None, description: str | None) -> None:
        if name is not None and name != record.name:
            del self._by_name[record.name]
            record.name = name
            self._by_name[name] = record
        if value is not None:
            record.value = value
        if description is not None:
            record.description = description
        record.updated_ms = self._next_ms()
        self._dirty = True

    def delete(self, record: StoredSecret) -> None:
        del self._by_id[record.id]
        del self._by_name[record.name]
        self._dirty = True

    def clear(self) -> None:
        self._by_id.clear()
        self._by_name.clear()
        self._dirty = True


def remove_stale_temp_files(path: Path) -> list[str]:
    """Remove ``.<name>.*.tmp`` next to ``path`` (left by a killed save). Call under the exclusive lock.

    Only regular files are removed (never followed through a symlink); returns the names removed.
    """
    removed: list[str] = []
    prefix = f".{path.name}."
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp") and entry.is_file(follow_symlinks=False):
            with suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed
