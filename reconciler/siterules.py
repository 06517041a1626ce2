"""Wix's site-level rules that are not the API's validation: the 64-secret cap and the dashboard's name rules.

Pure functions over names and plans, no I/O. Both rules come from Wix help pages, not from the API
reference (``docs/wix-api-assumptions.md``):

* an older help page says a site's Secrets Manager holds at most :data:`MAX_SECRETS` (64) secrets:
  :func:`cap_warning` warns when a plan would leave more on the site;
* the dashboard accepts names of at most 40 letters, digits, ``-`` and ``_`` while the API accepts 50
  characters of ``A-Za-z0-9_+=-@#$``: a name outside the dashboard's rules may not be editable there.
  :func:`dashboard_name_problem` says why; ``policy.names: dashboard`` makes it an error (the manifest),
  the default ``api`` a warning (:func:`name_warnings`). A ``#`` is sent percent-encoded by this tool,
  but the official SDK cannot read such a secret (it cuts the URL at ``#``), and the warning says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["DASHBOARD_NAME_MAX", "MAX_SECRETS", "NAME_MODES", "cap_warning", "dashboard_name_problem", "name_warnings"]

MAX_SECRETS: Final = 64
DASHBOARD_NAME_MAX: Final = 40
NAME_MODES: Final = ("api", "dashboard")
_DASHBOARD = re.compile(r"[A-Za-z0-9_-]+")


def dashboard_name_problem(name: str) -> str | None:
    """Why the Wix dashboard would not accept ``name`` (a valid API name), or None."""
    problems = []
    if len(name) > DASHBOARD_NAME_MAX:
        problems.append(f"is {len(name)} characters long (the dashboard allows {DASHBOARD_NAME_MAX})")
    odd = sorted({c for c in name if not _DASHBOARD.fullmatch(c)})
    if odd:
        problems.append(
            "contains " + ", ".join(repr(c) for c in odd) + " (the dashboard allows letters, digits, - and _)"
        )
    if not problems:
        return None
    text = f"{name} " + " and ".join(problems) + "; it may not be editable in the Wix dashboard"
    if "#" in name:
        text += "; the official Wix SDK cannot read a secret whose name contains '#'"
    return text


def name_warnings(names: Iterable[str]) -> list[str]:
    """One warning per name outside the dashboard's rules (policy.names: api, the default)."""
    return [p for p in (dashboard_name_problem(n) for n in names) if p is not None]


def cap_warning(after: int, before: int) -> str | None:
    """A warning when a plan would take the site above :data:`MAX_SECRETS` secrets.

    None when the plan does not add secrets (a site already above 64 shows the cap does not apply).
    """
    if after <= MAX_SECRETS or after <= before:
        return None
    return (
        f"after this plan the site would hold {after} secrets; an older Wix help page says a site holds at "
        f"most {MAX_SECRETS}, so creates beyond that may be refused with a quota error"
    )
