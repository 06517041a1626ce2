"""Name patterns of ``policy.ignore`` and ``policy.protect``: one function, shared by the manifest
loader, the planner, the guards and the executor (so the manifest does not import the planner)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

__all__ = ["matches_any"]


def matches_any(name: str, patterns: Iterable[str]) -> str | None:
    """The first glob in ``patterns`` that ``name`` matches (case-sensitive), or None."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None
