"""Descriptions Wix did not clear: remembered per site so that ``description: ""`` is not planned forever.

Whether Wix clears a description when PATCHed with ``""`` is undocumented. When the verifying list after
an apply shows it unchanged, the apply reports it once ("Wix did not clear the description of X") and
this module remembers, per site and secret id, a digest of the description Wix kept. A later plan that
would again send ``""`` for that secret, while the site still shows that same description, drops the
description from the change (a change with nothing else left becomes a no-op saying why). Anything
else (another description on the site, another desired description) plans as usual.

One JSON file, ``$XDG_STATE_HOME/wix-secrets/uncleared-descriptions.json`` (mode 0600, written
atomically), maps a hash of the site to ``{secret id: sha256 of the kept description}``: no value and no
description text. A damaged file is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from reconciler.fsutil import atomic_write, state_dir
from reconciler.plan import Action, Change, Plan

__all__ = ["FILE_NAME", "Uncleared", "state_file"]

FILE_NAME = "uncleared-descriptions.json"
_FORMAT = "wix-secrets-uncleared/1"


def state_file(environ: Mapping[str, str]) -> Path:
    return state_dir(environ) / FILE_NAME


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _site_key(site: str) -> str:
    return hashlib.sha256(site.encode("utf-8")).hexdigest()[:32]


class Uncleared:
    """The remembered descriptions of one site (``site``: its API URL and id, or its local file)."""

    def __init__(self, path: Path, site: str) -> None:
        self.path = path
        self.site = _site_key(site)
        self._all: dict[str, dict[str, str]] = {}
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError):
            doc = None
        if isinstance(doc, dict) and doc.get("format") == _FORMAT and isinstance(doc.get("sites"), dict):
            for key, entries in doc["sites"].items():
                if isinstance(entries, dict):
                    self._all[str(key)] = {str(k): str(v) for k, v in entries.items()}

    @property
    def known(self) -> dict[str, str]:
        return self._all.get(self.site, {})

    def adjust(self, plan: Plan) -> Plan:
        """``plan`` without the description clears Wix is known to ignore for this site."""
        known = self.known
        if not known:
            return plan
        changes = tuple(self._adjust(c, known) for c in plan.changes)
        return dataclasses.replace(plan, changes=changes) if changes != plan.changes else plan

    @staticmethod
    def _adjust(change: Change, known: Mapping[str, str]) -> Change:
        remote = change.remote
        if (
            change.action is not Action.UPDATE
            or "description" not in change.changed
            or change.description != ""
            or remote is None
            or known.get(remote.id) != _digest(remote.description)
        ):
            return change
        rest = tuple(f for f in change.changed if f != "description")
        if rest:
            return dataclasses.replace(change, changed=rest)
        return dataclasses.replace(
            change, action=Action.NOOP, changed=(), reason="Wix did not clear its description before; not sent again"
        )

    def remember(self, kept: Iterable[tuple[str, str]]) -> bool:
        """Remember ``(secret id, description Wix kept)`` pairs; True when something new was learnt."""
        entries = self._all.setdefault(self.site, {})
        before = dict(entries)
        for secret_id, description in kept:
            entries[secret_id] = _digest(description)
        return entries != before

    def save(self) -> None:
        doc = {"format": _FORMAT, "sites": self._all}
        atomic_write(self.path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode(), dir_mode=0o700)
