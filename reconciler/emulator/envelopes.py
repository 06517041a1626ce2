"""Wix's request validation rules and error envelopes, as the emulator answers them.

Owns the name/value/description/id rules (section 4 and 10 of the API reference) and the three
error bodies Wix uses: ``applicationError`` (401, 404, 409, 429...), ``validationError`` (400, with
``fieldViolations``) and the empty system envelope of a 5xx. Messages name fields, never values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DESCRIPTION_MAX",
    "NAME_MAX",
    "VALUE_MAX",
    "Violation",
    "application_error",
    "check_id",
    "check_secret",
    "system_error",
    "validation_error",
]

NAME_MAX = 50
VALUE_MAX = 3500
DESCRIPTION_MAX = 200
NAME_RE = re.compile(r"[A-Za-z0-9_+=\-@#$]+")
GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Violation:
    field: str
    description: str
    rule: str  # REQUIRED_FIELD, FORMAT, MIN_LENGTH, MAX_LENGTH
    data: Mapping[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "description": self.description}
        out["violatedRule"] = self.rule
        if self.data is not None:
            out["data"] = dict(self.data)
        return out


def application_error(code: str, message: str, description: str | None = None) -> dict[str, Any]:
    return {
        "message": message,
        "details": {"applicationError": {"code": code, "description": description or message, "data": {}}},
    }


def validation_error(violations: list[Violation]) -> dict[str, Any]:
    first = violations[0]
    return {
        "message": f'INVALID_ARGUMENT: "{first.field}" {first.description}',
        "details": {"validationError": {"fieldViolations": [v.wire() for v in violations]}},
    }


def system_error(message: str = "") -> dict[str, Any]:
    """5xx bodies are empty by design (the emulator's own failures may say what happened)."""
    return {"message": message, "details": {}}


def check_id(value: str) -> list[Violation]:
    if not value:
        return [Violation("id", "is required", "REQUIRED_FIELD")]
    if not GUID_RE.fullmatch(value):
        return [Violation("id", "must be a GUID", "FORMAT", {"expected": "GUID"})]
    return []


def _check_string(
    secret: Mapping[str, Any], key: str, *, required: bool, min_len: int, max_len: int
) -> tuple[str | None, list[Violation]]:
    field = f"secret.{key}"
    raw = secret.get(key)
    if raw is None:
        return None, ([Violation(field, "is required", "REQUIRED_FIELD")] if required else [])
    if not isinstance(raw, str):
        return None, [Violation(field, "must be a string", "FORMAT", {"expected": "STRING"})]
    if len(raw) < min_len:
        too_short = f"must be at least {min_len} characters"
        return None, [Violation(field, too_short, "MIN_LENGTH", {"threshold": min_len})]
    if len(raw) > max_len:
        too_long = f"must be at most {max_len} characters"
        return None, [Violation(field, too_long, "MAX_LENGTH", {"threshold": max_len})]
    return raw, []


def check_secret(secret: Mapping[str, Any], *, partial: bool) -> tuple[dict[str, str], list[Violation]]:
    """Validate a ``secret`` object: every field on create, only the present ones on PATCH.

    Returns the accepted string fields (``name``, ``value``, ``description``; absent or null ones left
    out) and every violation found. Lengths count characters (code points).
    """
    fields: dict[str, str] = {}
    violations: list[Violation] = []
    name, found = _check_string(secret, "name", required=not partial, min_len=1, max_len=NAME_MAX)
    violations += found
    if name is not None:
        if not NAME_RE.fullmatch(name):
            violations.append(
                Violation(
                    "secret.name",
                    "must match regex ^[A-Za-z0-9_+=\\-@#$]+$",
                    "FORMAT",
                    {"expected": "^[A-Za-z0-9_+=\\-@#$]+$"},
                )
            )
        elif name.casefold().startswith("wix"):
            violations.append(Violation("secret.name", 'must not start with "wix"', "FORMAT"))
        else:
            fields["name"] = name
    value, found = _check_string(secret, "value", required=not partial, min_len=1, max_len=VALUE_MAX)
    violations += found
    if value is not None:
        fields["value"] = value
    description, found = _check_string(secret, "description", required=False, min_len=0, max_len=DESCRIPTION_MAX)
    violations += found
    if description is not None:
        fields["description"] = description
    return fields, violations
