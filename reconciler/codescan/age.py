"""Secret age: ``max_age`` durations and the secrets whose value is older (rotation overdue). Pure.

Wix keeps ``updatedDate`` per secret: it changes when the value, the name or the description changes,
so it is the latest date the value *may* have changed, and a secret listed as overdue surely is.
``now`` is passed in (the front end reads the clock), so results are reproducible in tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from reconciler.model import RemoteSecret

__all__ = ["Overdue", "format_duration", "overdue_secrets", "parse_duration", "parse_wix_date"]

_DURATION = re.compile(r"([1-9][0-9]{0,5})([hdw])")
_UNITS: Final = {"h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_SECONDS: Final = 999_999 * 7 * 86400


def parse_duration(text: str) -> int | None:
    """Seconds in ``90d`` / ``12w`` / ``36h``; None if ``text`` is not such a duration (at most 999999w)."""
    m = _DURATION.fullmatch(text)
    if m is None:
        return None
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    return seconds if seconds <= _MAX_SECONDS else None


def format_duration(seconds: int) -> str:
    """``90d``, ``2w``, ``36h``: the shortest exact spelling."""
    for unit, size in (("w", _UNITS["w"]), ("d", _UNITS["d"])):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 3600}h"


def parse_wix_date(text: str) -> datetime | None:
    """An aware datetime from Wix's ISO-8601 ``updatedDate`` (``2024-01-02T03:04:05.678Z``); None if unreadable."""
    if not text or len(text) > 64:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


@dataclass(frozen=True)
class Overdue:
    """A secret whose value is older than its ``max_age``. ``age_days`` is whole days."""

    name: str
    updated: str
    age_days: int
    max_age: str

    @property
    def message(self) -> str:
        return f"{self.name}: value last changed {self.updated[:10]}, {self.age_days} days ago (max_age {self.max_age})"


def overdue_secrets(
    remote: Iterable[RemoteSecret],
    *,
    default_max_age: int | None,
    per_secret: Mapping[str, int],
    now: datetime,
    skip: Iterable[str] = (),
) -> tuple[Overdue, ...]:
    """Site secrets older than their max age (per secret, else the default), by name.

    ``skip`` names are left out (ignored secrets, or ones whose value the plan changes: being rotated).
    A secret with an unreadable date is not listed (nothing is claimed without evidence).
    """
    skipped = set(skip)
    found: list[Overdue] = []
    for secret in remote:
        limit = per_secret.get(secret.name, default_max_age)
        if limit is None or secret.name in skipped:
            continue
        updated = parse_wix_date(secret.updated_date)
        if updated is None:
            continue
        age = now - updated
        if age > timedelta(seconds=limit):
            found.append(Overdue(secret.name, secret.updated_date, age.days, format_duration(limit)))
    return tuple(sorted(found, key=lambda o: o.name))
