"""Strict JSON for manifests: the same composed nodes :mod:`reconciler.yamlstrict` produces, with positions.

A manifest may be JSON (``*.json``, plaintext or SOPS-encrypted as ``sops`` writes JSON: tab-indented,
which a YAML reader refuses). :func:`compose_json_documents` returns ``([YNode], [Diagnostic])`` like
:func:`~reconciler.yamlstrict.compose_documents`, so every manifest check and its file-and-line
diagnostics apply unchanged. The reader is a non-recursive scanner (bounded depth, no recursion
error on ``[[[[...``), refuses duplicate keys with both lines, and never puts file content in a message
(a syntax error gives line, column and what was expected, not the text). Strings have style ``'"'``
(so no YAML 1.1 ambiguity applies); numbers are ``int`` when written without fraction or exponent.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from reconciler.errors import Diagnostic
from reconciler.yamlstrict import MAX_BYTES, MAX_DEPTH, YEntry, YNode

__all__ = ["compose_json_documents"]

_WS: Final = re.compile(r"[ \t\n\r]*")
_STRING: Final = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_LITERALS: Final = (("true", True), ("false", False), ("null", None))


class _Fail(Exception):
    def __init__(self, pos: int, problem: str) -> None:
        super().__init__(problem)
        self.pos = pos
        self.problem = problem


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(self, pos: int) -> tuple[int, int]:
        import bisect

        i = bisect.bisect_right(self.starts, pos) - 1
        return i + 1, pos - self.starts[i] + 1

    def skip(self, pos: int) -> int:
        m = _WS.match(self.text, pos)
        return m.end() if m else pos

    def scalar(self, pos: int) -> tuple[Any, int]:
        text = self.text
        if pos >= len(text):
            raise _Fail(pos, "unexpected end of the file")
        ch = text[pos]
        if ch == '"':
            m = _STRING.match(text, pos)
            if not m:
                raise _Fail(pos, "invalid string (an unescaped control character or a bad escape)")
            return json.loads(m.group()), m.end()
        m = _NUMBER.match(text, pos)
        if m and m.end() > pos:
            raw = m.group()
            value: Any = float(raw) if (m.group(1) or m.group(2)) else int(raw)
            return value, m.end()
        for lit, val in _LITERALS:
            if text.startswith(lit, pos):
                return val, pos + len(lit)
        raise _Fail(pos, "expected a value (a string, number, object, array, true, false or null)")


def compose_json_documents(data: bytes, *, file: str) -> tuple[list[YNode], list[Diagnostic]]:
    """The one JSON document of ``data`` as a YNode tree, and every problem found (see module doc)."""
    if len(data) > MAX_BYTES:
        return [], [Diagnostic(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB", file=file)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [], [Diagnostic("file is not valid UTF-8", file=file, line=line, hint="save it as UTF-8")]
    r = _Reader(text)
    diags: list[Diagnostic] = []
    try:
        root = _compose(r, diags, file)
    except _Fail as exc:
        line, column = r.where(exc.pos)
        return [], [*diags, Diagnostic(f"JSON syntax error: {exc.problem}", file=file, line=line, column=column)]
    return ([root] if root is not None else []), diags


def _compose(r: _Reader, diags: list[Diagnostic], file: str) -> YNode | None:
    text = r.text
    pos = r.skip(0)
    if pos >= len(text):
        return None
    if text[pos] not in "{[":
        value, end = r.scalar(pos)
        line, column = r.where(pos)
        if r.skip(end) != len(text):
            raise _Fail(r.skip(end), "unexpected text after the document")
        return YNode("scalar", line, column, value, style='"' if isinstance(value, str) else None, raw=text[pos:end])
    line, column = r.where(pos)
    root = YNode("map", line, column, None) if text[pos] == "{" else YNode("seq", line, column, [])
    # each frame: (node, pending key entry for maps)
    stack: list[YNode] = [root]
    pos += 1
    need_value = False  # after a comma
    while True:
        pos = r.skip(pos)
        if pos >= len(text):
            raise _Fail(pos, "unexpected end of the file (an object or array is not closed)")
        node = stack[-1]
        closing = "}" if node.kind == "map" else "]"
        empty = not node.entries if node.kind == "map" else not node.value
        ch = text[pos]
        if ch == closing and not need_value:
            stack.pop()
            pos += 1
            if not stack:
                end = r.skip(pos)
                if end != len(text):
                    raise _Fail(end, "unexpected text after the document")
                return root
            pos, need_value = _after(r, pos, stack[-1])
            continue
        if not empty and not need_value:
            raise _Fail(pos, f"expected ',' or '{closing}'")
        need_value = False
        key: str | None = None
        key_line = key_column = 0
        if node.kind == "map":
            if ch != '"':
                raise _Fail(pos, "expected a string key in double quotes")
            key_line, key_column = r.where(pos)
            key, pos = r.scalar(pos)
            pos = r.skip(pos)
            if pos >= len(text) or text[pos] != ":":
                raise _Fail(pos, "expected ':' after a key")
            pos = r.skip(pos + 1)
            if pos >= len(text):
                raise _Fail(pos, "unexpected end of the file")
        line, column = r.where(pos)
        ch = text[pos]
        child: YNode
        opened = ch in "{["
        if opened:
            if len(stack) > MAX_DEPTH:
                raise _Fail(pos, f"nested deeper than {MAX_DEPTH} levels")
            child = YNode("map", line, column, None) if ch == "{" else YNode("seq", line, column, [])
            pos += 1
        else:
            value, end = r.scalar(pos)
            child = YNode(
                "scalar", line, column, value, style='"' if isinstance(value, str) else None, raw=text[pos:end]
            )
            pos = end
        if key is not None:
            if key in node.entries:
                first = node.entries[key]
                diags.append(
                    Diagnostic(
                        f"duplicate key {key!r} (first defined on line {first.line})",
                        file=file,
                        line=key_line,
                        column=key_column,
                        hint="JSON readers disagree on which one wins; keep exactly one",
                    )
                )
            else:
                node.entries[key] = YEntry(key, key_line, key_column, child)
        else:
            node.value.append(child)
        if opened:
            stack.append(child)
            continue
        pos, need_value = _after(r, pos, node)


def _after(r: _Reader, pos: int, node: YNode) -> tuple[int, bool]:
    """Past whitespace and an optional comma after a value: (position, a value must follow)."""
    pos = r.skip(pos)
    if pos < len(r.text) and r.text[pos] == ",":
        return pos + 1, True
    return pos, False
