"""A fast yes/no check of a document against one of our JSON Schemas, for the common case: valid.

:func:`compile_check` turns a schema into nested closures, once per schema, for the keywords our
schemas use (type, properties, additionalProperties, required, const, enum, min/maxLength, pattern,
min/maxProperties, propertyNames, items, min/maxItems, uniqueItems, minimum/maximum, not, oneOf, local $ref).
A schema with any other assertion keyword is refused (:class:`Unsupported`); annotations
(description, title, ...) are ignored. Every keyword is checked exactly (so ``not`` and ``oneOf`` stay
exact): True exactly when the document is valid by JSON Schema 2020-12 as jsonschema applies it.
When it answers False, :mod:`reconciler.schema` runs jsonschema for every problem with its
message. So a valid manifest is checked without importing jsonschema at all (about 130 ms of CPU
at start-up, and most of the per-secret cost), and nothing about errors changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "Unsupported", "compile_check"]

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {
        "$id",
        "$schema",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "$defs",
        "readOnly",
        "writeOnly",
    }
)


class Unsupported(Exception):
    """The schema uses a keyword (or form) this checker does not implement."""


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float)
    raise Unsupported(f"type {name!r}")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers; 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _unique(items: list[Any]) -> bool:
    if all(isinstance(x, str) for x in items):
        return len(set(items)) == len(items)
    return not any(_equal(a, b) for i, a in enumerate(items) for b in items[i + 1 :])


def compile_check(schema: Mapping[str, Any]) -> Check:
    """A predicate for ``schema`` (its local ``$ref``s resolved against it). Raises :class:`Unsupported`."""
    refs: dict[str, Check] = {}

    def resolve(ref: str) -> Check:
        if not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref!r}")
        if ref not in refs:
            target: Any = schema
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise Unsupported(f"$ref {ref!r}")
                target = target[part]
            holder: list[Check] = []
            refs[ref] = lambda value: holder[0](value)  # allows recursive references
            holder.append(build(target))
        return refs[ref]

    def build(node: Any) -> Check:
        if node is True:
            return lambda value: True
        if node is False:
            return lambda value: False
        if not isinstance(node, dict):
            raise Unsupported("a schema that is not an object")
        checks: list[Check] = []
        for key, arg in node.items():
            if key in _ANNOTATIONS:
                continue
            checks.append(keyword(key, arg, node))
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def keyword(key: str, arg: Any, node: Mapping[str, Any]) -> Check:
        if key == "$ref":
            return resolve(arg)
        if key == "type":
            names = [arg] if isinstance(arg, str) else list(arg)
            for name in names:
                if name not in ("string", "object", "array", "boolean", "null", "integer", "number"):
                    raise Unsupported(f"type {name!r}")
            return lambda value: any(_is_type(value, name) for name in names)
        if key == "properties":
            props = {name: build(sub) for name, sub in arg.items()}
            return lambda value: (
                not isinstance(value, dict) or all(check(value[name]) for name, check in props.items() if name in value)
            )
        if key == "additionalProperties":
            known = frozenset(node.get("properties", {}))
            if "patternProperties" in node:
                raise Unsupported("patternProperties")
            extra = build(arg)
            return lambda value: (
                not isinstance(value, dict) or all(extra(item) for name, item in value.items() if name not in known)
            )
        if key == "required":
            needed = tuple(arg)
            return lambda value: not isinstance(value, dict) or all(name in value for name in needed)
        if key == "const":
            return lambda value: _equal(value, arg)
        if key == "enum":
            options = list(arg)
            return lambda value: any(_equal(value, option) for option in options)
        if key == "minLength":
            return lambda value: not isinstance(value, str) or len(value) >= arg
        if key == "maxLength":
            return lambda value: not isinstance(value, str) or len(value) <= arg
        if key == "pattern":
            search = re.compile(arg).search
            return lambda value: not isinstance(value, str) or search(value) is not None
        if key == "minProperties":
            return lambda value: not isinstance(value, dict) or len(value) >= arg
        if key == "maxProperties":
            return lambda value: not isinstance(value, dict) or len(value) <= arg
        if key == "propertyNames":
            name_check = build(arg)
            return lambda value: not isinstance(value, dict) or all(name_check(name) for name in value)
        if key == "items":
            item = build(arg)
            return lambda value: not isinstance(value, list) or all(item(x) for x in value)
        if key == "minItems":
            return lambda value: not isinstance(value, list) or len(value) >= arg
        if key == "maxItems":
            return lambda value: not isinstance(value, list) or len(value) <= arg
        if key == "uniqueItems":
            if not arg:
                return lambda value: True
            return lambda value: not isinstance(value, list) or _unique(value)
        if key == "minimum":
            return lambda value: isinstance(value, bool) or not isinstance(value, int | float) or value >= arg
        if key == "maximum":
            return lambda value: isinstance(value, bool) or not isinstance(value, int | float) or value <= arg
        if key == "not":
            inner = build(arg)
            return lambda value: not inner(value)
        if key == "oneOf":
            options = [build(sub) for sub in arg]
            return lambda value: sum(1 for option in options if option(value)) == 1
        raise Unsupported(f"keyword {key!r}")

    return build(schema)
