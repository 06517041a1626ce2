"""The published JSON Schemas (``schemas/*.schema.json``) and validation against them.

Schemas ship inside the package (``reconciler/schemas``; the top-level ``schemas/`` is the same
folder) and are loaded with importlib.resources. :func:`violations` returns every problem, not the
first, as (path, message) pairs. jsonschema's own messages quote the offending instance, which for a
manifest could be a secret value, so messages are rebuilt here from the validator keyword and the
schema alone: they name keys and limits, never values.

A valid document, the common case, is recognised by :mod:`reconciler.schemacheck` (a predicate
compiled once per schema) without importing jsonschema; only an invalid one goes through jsonschema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from reconciler.schemacheck import Check, Unsupported, compile_check

__all__ = ["load_schema", "violations"]


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``name`` (e.g. ``"manifest"`` or ``"plan"``) as a dict."""
    text = resources.files("reconciler").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _fast_check(name: str) -> Check | None:
    try:
        return compile_check(load_schema(name))
    except Unsupported:
        return None


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def violations(instance: Any, name: str, *, skip_names: bool = False) -> list[tuple[tuple[str | int, ...], str]]:
    """Every way ``instance`` violates schema ``name``: (path, message), sorted by path.

    ``skip_names`` leaves out violations of the ``name`` definition (secret names), for callers that
    check names themselves with more specific messages.
    """
    check = _fast_check(name)
    if check is not None and check(instance):
        return []
    found: list[tuple[tuple[str | int, ...], str]] = []
    for error in _validator(name).iter_errors(instance):
        if skip_names and _is_name_error(error):
            continue
        found.extend(_describe(error))
    # jsonschema reports one "required" error per missing key, each listing the whole rule: say each once
    unique = list(dict.fromkeys(found))
    unique.sort(key=lambda item: tuple(str(p) for p in item[0]))
    return unique


def _is_name_error(error: Any) -> bool:
    schema_path = list(error.absolute_schema_path)
    if "propertyNames" in schema_path:
        return True
    path = list(error.absolute_path)
    return len(path) >= 2 and path[-2] == "renamed_from" and error.validator != "type"


def _label(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path) if path else "the document"


_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
}


def _describe(error: Any) -> list[tuple[tuple[str | int, ...], str]]:
    path = tuple(error.absolute_path)
    keyword = error.validator
    schema = error.schema
    value = error.validator_value
    where = _label(path)
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extras = sorted(k for k in error.instance if k not in schema.get("properties", {}))
        return [((*path, k), f"unknown key {k!r} in {where}; allowed: {', '.join(allowed)}") for k in extras]
    if keyword == "required":
        missing = [k for k in value if isinstance(error.instance, dict) and k not in error.instance]
        return [(path, f"{where} is missing required key {k!r}") for k in missing]
    if keyword == "type":
        expected = value if isinstance(value, str) else value[0]
        return [(path, f"{where} must be {_TYPE_NAMES.get(expected, expected)}")]
    if keyword == "const":
        return [(path, f"{where} must be {json.dumps(value)}")]
    if keyword == "enum":
        return [(path, f"{where} must be one of: {', '.join(json.dumps(v) for v in value)}")]
    if keyword == "minLength":
        if value == 1:
            return [(path, f"{where} must not be empty")]
        return [(path, f"{where} is shorter than {value} characters")]
    if keyword == "maxLength":
        return [(path, f"{where} is longer than {value} characters")]
    if keyword in ("minProperties", "maxProperties"):
        if schema.get("maxProperties") == 1:
            return [(path, f"{where} must have exactly one key")]
        return [(path, f"{where} has the wrong number of keys")]
    if keyword == "uniqueItems":
        return [(path, f"{where} lists the same item twice")]
    if keyword == "propertyNames":
        return []  # reported by the name checks with the name itself (names are not secret)
    if keyword == "pattern":
        return [(path, f"{where} has characters that are not allowed")]
    return [(path, f"{where} is not valid ({keyword})")]
