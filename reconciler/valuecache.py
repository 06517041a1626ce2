"""The opt-in value cache (``--value-cache DIR``): let a plan skip GetSecretValue for unchanged secrets.

A plan has to read the value of every declared secret because ListSecretInfo does not return values.
The cache remembers, per secret id, the ``updatedDate`` the list showed and a keyed MAC of the value that
was read: HMAC-SHA256 (full length) under ``derive_key(data_key, "value-cache")`` of the id and the
value. It never holds a value, nor an unkeyed hash of one; without the manifest's SOPS data key an entry
cannot be tested against a guess. A later plan trusts an entry only when

* the secret is listed with the same id and the same non-empty ``updatedDate``, and
* the desired value has the stored MAC,

i.e. the site still holds exactly the value the manifest wants; the read is then skipped and the plan
treats the value as equal. Anything else (a new ``updatedDate`` from an out-of-band write, a new id
from a delete and re-create, another desired value, another data key) reads the value as usual.

Only values the plan found *equal to the desired value* are remembered: the key derives from the
manifest's data key, which a pull-request author can choose (by encrypting a new manifest), so a MAC of
any other site value would be something they could test guesses against offline (issue 10.4). An
entry is useful only when the site holds the desired value anyway.

After an apply, the entries of every secret the apply touched are dropped (their new ``updatedDate``
is not known for certain), so the next plan reads them once more.

One JSON file per site (the name is a hash of the API URL or local path and the site id), written
atomically, mode 0600, in a directory created with mode 0700. A damaged or foreign file is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reconciler.fsutil import atomic_write
from reconciler.model import RemoteSecret, RemoteState, Sensitive
from reconciler.plan import Action, Plan

__all__ = ["FORMAT", "Entry", "ValueCache", "cache_file", "in_sync_ids"]

log = logging.getLogger("reconciler.valuecache")

FORMAT: Final = "wix-secrets-value-cache/1"
_CHECK: Final = b"wix-secrets value-cache key check"


@dataclass(frozen=True)
class Entry:
    """What is known about one secret id: its ``updatedDate`` and the keyed MAC of its value then."""

    updated: str
    mac: str


def in_sync_ids(plan: Plan) -> set[str]:
    """Ids of the declared secrets whose site value equals the desired value (no ``value`` change)."""
    return {
        c.remote.id
        for c in plan.changes
        if c.remote is not None and c.action in (Action.NOOP, Action.UPDATE, Action.RENAME) and "value" not in c.changed
    }


def cache_file(directory: Path, site: str) -> Path:
    """The cache file of ``site`` (e.g. ``"https://www.wixapis.com site-id"``) in ``directory``."""
    name = hashlib.sha256(site.encode("utf-8")).hexdigest()[:32]
    return directory / f"{name}.json"


class ValueCache:
    """The cache of one site. ``key`` is ``derive_key(data_key, "value-cache")`` (32 bytes)."""

    def __init__(self, path: Path, key: bytes, entries: dict[str, Entry] | None = None) -> None:
        if len(key) < 16:
            raise ValueError("the value-cache key is too short")
        self.path = path
        self._key = key
        self.entries: dict[str, Entry] = dict(entries or {})
        self.hits = 0

    def __repr__(self) -> str:
        return f"ValueCache(path={str(self.path)!r}, entries={len(self.entries)})"

    @classmethod
    def open(cls, directory: Path, *, site: str, key: bytes) -> ValueCache:
        """The cache of ``site``, loaded from ``directory`` (empty when absent, damaged or for another key)."""
        cache = cls(cache_file(directory, site), key)
        try:
            raw = cache.path.read_bytes()
        except FileNotFoundError:
            return cache
        except OSError as exc:
            log.warning("value cache %s cannot be read (%s); reading every value", cache.path, exc.strerror or exc)
            return cache
        try:
            doc = json.loads(raw.decode("utf-8"))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError("not a value cache")
            if not hmac.compare_digest(str(doc.get("check", "")), cache._check()):
                log.info("value cache %s was made with another key; starting afresh", cache.path)
                return cache
            entries = doc.get("entries")
            if not isinstance(entries, dict):
                raise ValueError("no entries")
            for secret_id, item in entries.items():
                if isinstance(item, dict) and isinstance(item.get("updated"), str) and isinstance(item.get("mac"), str):
                    cache.entries[str(secret_id)] = Entry(item["updated"], item["mac"])
        except (UnicodeDecodeError, ValueError):
            log.warning("value cache %s is damaged; ignoring it", cache.path)
            cache.entries.clear()
        return cache

    # -- keyed values ------------------------------------------------------------------------------

    def _check(self) -> str:
        return hmac.new(self._key, _CHECK, hashlib.sha256).hexdigest()

    def mac(self, secret_id: str, value: Sensitive) -> str:
        """HMAC-SHA256 of the id and the value (full length, hex)."""
        message = secret_id.encode("utf-8") + b"\0" + value.reveal().encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # -- use ---------------------------------------------------------------------------------------

    def known(self, secret: RemoteSecret, desired: Sensitive) -> bool:
        """True when ``secret`` (as just listed) certainly holds ``desired``: its read can be skipped."""
        entry = self.entries.get(secret.id)
        if entry is None or not secret.updated_date or entry.updated != secret.updated_date:
            return False
        if not hmac.compare_digest(entry.mac, self.mac(secret.id, desired)):
            return False
        self.hits += 1
        return True

    def remember(self, remote: RemoteState, *, in_sync: Iterable[str]) -> None:
        """After a plan: record the values read (or known) of the secrets ``in_sync`` (their site value
        equals the desired one: :func:`in_sync_ids`) with the ``updatedDate`` they were listed with.

        Entries of secrets no longer listed, or listed with another ``updatedDate``, are dropped. A site
        value that differs from the desired one is never MACed (see the module docstring).
        """
        equal = set(in_sync)
        listed = {s.id: s for s in remote.secrets}
        fresh: dict[str, Entry] = {}
        for secret_id, entry in self.entries.items():
            secret = listed.get(secret_id)
            if secret is not None and secret.updated_date == entry.updated:
                fresh[secret_id] = entry
        for secret_id, value in remote.values.items():
            secret = listed.get(secret_id)
            if secret is not None and secret.updated_date and secret_id in equal:
                fresh[secret_id] = Entry(secret.updated_date, self.mac(secret_id, value))
        self.entries = fresh

    def forget(self, ids: Iterable[str]) -> None:
        """After an apply: drop the secrets it touched (applied, failed or skipped alike)."""
        for secret_id in ids:
            self.entries.pop(secret_id, None)

    def save(self) -> None:
        """Write the cache atomically (mode 0600; the directory is created with mode 0700)."""
        doc = {
            "format": FORMAT,
            "check": self._check(),
            "entries": {i: {"updated": e.updated, "mac": e.mac} for i, e in sorted(self.entries.items())},
        }
        atomic_write(self.path, json.dumps(doc, indent=1).encode("utf-8") + b"\n", dir_mode=0o700)
