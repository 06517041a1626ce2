"""The code-aware and age fields of a manifest's ``policy`` block, read and merged (pure).

Kept here, beside the scanner, so that :mod:`reconciler.manifest` only calls two functions: the JSON
Schema has already checked the shapes (``code``: list of strings, ``code_dynamic_names``: list of
globs, ``max_age``: ``90d``/``12w``/``36h``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.codescan.age import parse_duration
from reconciler.model import Policy

__all__ = ["merged_policy_fields", "policy_fields"]


def policy_fields(raw: Mapping[str, Any], file: str) -> dict[str, Any]:
    """Keyword arguments of :class:`~reconciler.model.Policy` for ``code``, ``code_dynamic_names`` and
    ``max_age``. Code paths remember ``file``: they are relative to it."""
    fields: dict[str, Any] = {}
    code = raw.get("code")
    if isinstance(code, list):
        fields["code"] = tuple((p, file) for p in code if isinstance(p, str))
    names = raw.get("code_dynamic_names")
    if isinstance(names, list):
        fields["code_dynamic_names"] = tuple(n for n in names if isinstance(n, str))
    max_age = raw.get("max_age")
    if isinstance(max_age, str):
        fields["max_age"] = parse_duration(max_age)
    return fields


def merged_policy_fields(policies: Sequence[Policy]) -> dict[str, Any]:
    """Several manifests: code paths and dynamic names are the union (None only if no file lists
    dynamic names); ``max_age`` is the last file's that sets one."""
    dynamic = [p.code_dynamic_names for p in policies if p.code_dynamic_names is not None]
    ages = [p.max_age for p in policies if p.max_age is not None]
    return {
        "code": tuple(dict.fromkeys(c for p in policies for c in p.code)),
        "code_dynamic_names": tuple(dict.fromkeys(n for d in dynamic for n in d)) if dynamic else None,
        "max_age": ages[-1] if ages else None,
    }
