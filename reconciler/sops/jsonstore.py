"""The sops JSON store (and the JSON envelope of the binary store): read and write JSON as ``sops`` does.

Reading (:func:`parse`) is a non-recursive scanner: objects become :class:`~.store.Branch` (key order
kept, duplicate keys refused), arrays lists, numbers ``float`` (Go's decoder yields float64 for every
number, so ``1`` is encrypted as ``type:float`` like sops does), and the nesting depth is bounded.
:func:`parse_lines` also returns the line of every value, for diagnostics.

Writing (:func:`dump`) reproduces Go's ``encoding/json`` + ``json.Indent(..., "\\t")``: tab indent,
``": "`` after keys, HTML characters and U+2028/U+2029 escaped, ``\\b``/``\\f`` short escapes, floats
in Go's shortest form (``1e+21``, ``1e-7``, ``12345678901234567000``), and a final newline.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from reconciler.errors import SopsFormatError
from reconciler.sops.goyaml import GoTime, format_time
from reconciler.sops.store import Branch, Comment

__all__ = ["MAX_DEPTH", "dump", "dump_value", "go_json_float", "parse", "parse_lines"]

MAX_DEPTH = 200
_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class _Where:
    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where

    def line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def fail(self, pos: int, problem: str) -> SopsFormatError:
        return SopsFormatError(f"{self.where}: line {self.line(pos)}: invalid JSON: {problem}")


def parse_lines(data: bytes | str, *, where: str = "<file>") -> tuple[Branch, dict[int, int]]:
    """The top-level object of ``data`` and ``{id(container or key tuple): line}`` for diagnostics.

    Lines are recorded for every object and array (by ``id``) and every object entry (by the id of its
    ``(key, value)`` item tuple). Raises SopsFormatError with the line of the first problem.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise SopsFormatError(f"{where}: the file is not UTF-8") from exc
    w = _Where(text, where)
    lines: dict[int, int] = {}
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if text.startswith("\ufeff"):
        raise w.fail(0, "a byte order mark is not allowed")
    if pos >= len(text) or text[pos] != "{":
        raise w.fail(pos, "the document must be an object ({...})" if pos < len(text) else "the file is empty")
    # stack of open containers: (container, seen keys or None for arrays, pending key)
    root = Branch()
    lines[id(root)] = w.line(pos)
    stack: list[tuple[Any, set[str] | None]] = [(root, set())]
    pos += 1
    expect_value_after_comma = False
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            raise w.fail(pos, "unexpected end of the file")
        container, seen = stack[-1]
        ch = text[pos]
        closing = "}" if seen is not None else "]"
        empty = (not container.items) if seen is not None else (not container)
        if ch == closing and not expect_value_after_comma:
            pos += 1
            stack.pop()
            if not stack:
                end = _WS.match(text, pos).end()  # type: ignore[union-attr]
                if end != len(text):
                    raise w.fail(end, "unexpected text after the top-level object")
                return root, lines
            pos = _after_value(w, text, pos, stack)
            expect_value_after_comma = pos < 0
            pos = abs(pos)
            continue
        if not empty and not expect_value_after_comma:
            raise w.fail(pos, f"expected ',' or {closing!r}")
        expect_value_after_comma = False
        key: str | None = None
        item_line = w.line(pos)
        if seen is not None:
            m = _STRING.match(text, pos)
            if not m:
                raise w.fail(pos, "expected a string key")
            key = json.loads(m.group())
            if key in seen:
                raise w.fail(pos, f"duplicate key {key!r}")
            seen.add(key)
            pos = _WS.match(text, m.end()).end()  # type: ignore[union-attr]
            if pos >= len(text) or text[pos] != ":":
                raise w.fail(pos, "expected ':' after a key")
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            if pos >= len(text):
                raise w.fail(pos, "unexpected end of the file")
        ch = text[pos]
        value: Any
        opened = False
        if ch == "{" or ch == "[":
            if len(stack) >= MAX_DEPTH:
                raise w.fail(pos, f"nested more than {MAX_DEPTH} levels deep")
            value = Branch() if ch == "{" else []
            lines[id(value)] = w.line(pos)
            pos += 1
            opened = True
        elif ch == '"':
            m = _STRING.match(text, pos)
            if not m:
                raise w.fail(pos, "invalid string (unescaped control character or bad escape)")
            value = json.loads(m.group())
            pos = m.end()
        else:
            m = _NUMBER.match(text, pos)
            if m:
                value = float(m.group())
                if math.isinf(value):
                    raise w.fail(pos, f"number out of range: {m.group()[:40]}")
                pos = m.end()
            else:
                for lit, lv in _LITERALS.items():
                    if text.startswith(lit, pos):
                        value = lv
                        pos += len(lit)
                        break
                else:
                    raise w.fail(pos, f"unexpected character {ch!r}")
        if key is not None:
            item = (key, value)
            container.items.append(item)
            lines[id(item)] = item_line
        else:
            container.append(value)
        if opened:
            stack.append((value, set() if isinstance(value, Branch) else None))
            continue
        pos = _after_value(w, text, pos, stack)
        expect_value_after_comma = pos < 0
        pos = abs(pos)


def _after_value(w: _Where, text: str, pos: int, stack: list[tuple[Any, set[str] | None]]) -> int:
    """Skip whitespace and a comma after a value: returns -pos after a comma (a value must follow)."""
    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    if pos < len(text) and text[pos] == ",":
        return -(pos + 1)
    return pos


def parse(data: bytes | str, *, where: str = "<file>") -> Branch:
    """The top-level JSON object as a Branch tree (see the module docstring)."""
    return parse_lines(data, where=where)[0]


# ---------------------------------------------------------------- writing

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_NEEDS = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]')


def _esc(m: re.Match[str]) -> str:
    c = m.group()
    if c in _ESCAPES:
        return _ESCAPES[c]
    if "\ud800" <= c <= "\udfff":
        return "\ufffd"  # Go writes invalid UTF-8 as U+FFFD
    return f"\\u{ord(c):04x}"


def go_json_string(s: str) -> str:
    """``json.Marshal(string)`` with Go's default HTML escaping."""
    return '"' + _NEEDS.sub(_esc, s) + '"'


def go_json_float(f: float) -> str:
    """``json.Marshal(float64)``: 'f' form for 1e-6 <= |f| < 1e21, else shortest 'e' form (``1e-7``)."""
    if math.isnan(f) or math.isinf(f):
        raise SopsFormatError("a JSON number cannot be NaN or infinite (json: unsupported value)")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mant, _, exp = f"{f!r}".partition("e")
        if not exp:  # repr chose fixed notation: redo in scientific form with the same digits
            d = Decimal(repr(f)).normalize()
            mant, _, exp = f"{d:e}".partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        if sign == "+" and len(digits) < 2:
            digits = digits.rjust(2, "0")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        return f"{mant}e{sign}{digits}"
    d = Decimal(repr(f))
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s == "-0" or (s == "0" and math.copysign(1, f) < 0):
        return "-0"
    return s


def dump_value(value: Any, indent: str = "\t", level: int = 0) -> str:
    """One value as Go's ``encodeValue`` + ``json.Indent`` write it (comments skipped)."""
    pad = indent * (level + 1)
    if isinstance(value, Branch):
        items = [(k, v) for k, v in value.items if not isinstance(k, Comment)]
        if not items:
            return "{}"
        body = (",\n").join(
            f"{pad}{go_json_string(k)}: {dump_value(v, indent, level + 1)}" for k, v in items if isinstance(k, str)
        )
        return "{\n" + body + "\n" + indent * level + "}"
    if isinstance(value, list):
        vals = [v for v in value if not isinstance(v, Comment)]
        if not vals:
            return "[]"
        return "[\n" + ",\n".join(pad + dump_value(v, indent, level + 1) for v in vals) + "\n" + indent * level + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_json_float(value)
    if isinstance(value, GoTime):
        return go_json_string(format_time(value))
    if isinstance(value, str):
        return go_json_string(value)
    if isinstance(value, bytes):
        return go_json_string(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return dump_value(Branch(list(value.items())), indent, level)
    raise SopsFormatError(f"cannot write a {type(value).__name__} as JSON")


def dump(tree: Branch) -> bytes:
    """A whole JSON document (``EmitPlainFile``/``EmitEncryptedFile``): the object and a newline."""
    return (dump_value(tree) + "\n").encode("utf-8", "surrogateescape")
