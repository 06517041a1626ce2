"""A fast, strict reader for the block-YAML subset that sops (go-yaml v3) and :mod:`.emit` write.

Decrypting does not need PyYAML for files sops wrote: block mappings and sequences, plain/quoted
one-line scalars, literal blocks, ``{}``/``[]``, own-line comments, ``---`` between documents.
:func:`parse` returns the same tree as :func:`.store.load` (comments placed the same way), or None as
soon as a line is outside that subset (anchors, flow collections, folded or multi-line scalars,
inline comments, tabs, CRLF, duplicate or non-string keys...), and the caller then uses PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.sops.goyaml import INT64_MAX, resolve_plain
from reconciler.sops.store import Branch, Comment

__all__ = ["parse"]

_BAD_START = set(",[]{}#&*!|>'\"%@`")
_DQ = re.compile(r'"((?:[^"\\]|\\.)*)"')
_SQ = re.compile(r"'((?:[^']|'')*)'")
_ESC = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_SIMPLE_ESC = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}


_MAX_COLUMN = 200  # each level indents by at least one column: bounds the recursion


class _Unsupported(Exception):
    pass


def _unescape(m: re.Match[str]) -> str:
    e = m.group(1)
    if e in _SIMPLE_ESC:
        return _SIMPLE_ESC[e]
    if e[0] in "xuU" and len(e) > 1:
        return chr(int(e[1:], 16))
    raise _Unsupported


def _plain(text: str) -> Any:
    if (
        not text
        or text[0] in _BAD_START
        or text[-1] in " :"
        or ": " in text
        or " #" in text
        or "\t" in text
        or (text[0] in "-?:" and (len(text) == 1 or text[1] == " "))
        or text.startswith(("---", "..."))
        or text == "<<"
    ):
        raise _Unsupported
    value = resolve_plain(text)
    if isinstance(value, int) and not isinstance(value, bool) and value > INT64_MAX:
        raise _Unsupported
    return value


def _quoted(text: str) -> tuple[str, str]:
    """A quoted scalar at the start of ``text``: (value, rest of the line)."""
    if text[0] == '"':
        m = _DQ.match(text)
        if not m:
            raise _Unsupported
        return _ESC.sub(_unescape, m.group(1)), text[m.end() :]
    m = _SQ.match(text)
    if not m:
        raise _Unsupported
    return m.group(1).replace("''", "'"), text[m.end() :]


class _Parser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0

    def next_line(self) -> tuple[int, str] | None:
        """(indent, content) of the current line, or None at the end of the document."""
        if self.i >= len(self.lines):
            return None
        line = self.lines[self.i]
        if line == "---":
            return None
        content = line.lstrip(" ")
        if not content or "\t" in line[: len(line) - len(content) + 1] or line.endswith(" "):
            raise _Unsupported
        return len(line) - len(content), content

    def mapping(self, col: int, first: str | None = None, pending: list[Comment] | None = None) -> Branch:
        if col > _MAX_COLUMN:  # deeper than sops files go: let the full loader refuse it clearly
            raise _Unsupported
        b = Branch([(c, None) for c in pending or []])
        seen: set[str] = set()
        while True:
            if first is not None:
                content, first = first, None
            else:
                nl = self.next_line()
                if nl is None or nl[0] < col:
                    return b
                indent, content = nl
                if content[0] == "#":
                    if indent != col:
                        raise _Unsupported
                    b.items.append((Comment(content[1:]), None))
                    self.i += 1
                    continue
                if indent != col:
                    raise _Unsupported
                self.i += 1
            key, rest = self.key(content)
            if key in seen:
                raise _Unsupported
            seen.add(key)
            b.items.append((key, self.value(rest, col)))

    def key(self, content: str) -> tuple[str, str]:
        if content[0] in "\"'":
            key, rest = _quoted(content)
            if not (rest == ":" or rest.startswith(": ")):
                raise _Unsupported
            return key, rest[2:]
        pos = content.find(": ")
        if pos < 0:
            if not content.endswith(":"):
                raise _Unsupported
            pos = len(content) - 1
        raw = content[:pos]
        if raw[0] in "-?:":
            raise _Unsupported
        key = _plain(raw)
        if not isinstance(key, str):
            raise _Unsupported
        return key, content[pos + 2 :]

    def value(self, rest: str, col: int, seq: list[Any] | None = None) -> Any:
        """The value after ``key: `` (or ``- `` of ``seq``) written at column ``col``."""
        if not rest:
            return self.child(col, seq)
        c = rest[0]
        if c in "\"'":
            value, tail = _quoted(rest)
            if tail:
                raise _Unsupported
            return value
        if c == "|":
            return self.literal(rest, col)
        if rest == "{}":
            return Branch()
        if rest == "[]":
            return []
        return _plain(rest)

    def child(self, col: int, seq: list[Any] | None = None) -> Any:
        """The block under ``key:`` (or a bare ``-`` of ``seq``); comments before it go inside it,
        except after a bare dash, where they belong to the sequence (as PyYAML marks place them)."""
        pending: list[Comment] = []
        while True:
            nl = self.next_line()
            if nl is None or nl[0] <= col:
                if pending:
                    raise _Unsupported
                return None
            indent, content = nl
            if content[0] == "#":
                pending.append(Comment(content[1:]))
                self.i += 1
                continue
            break
        self.i += 1
        if seq is not None:
            seq.extend(pending)
            pending = []
        if content == "-" or content.startswith("- "):
            return self.sequence(indent, content, pending)
        return self.mapping(indent, content, pending)

    def sequence(self, col: int, first: str | None, pending: list[Comment] | None = None) -> list[Any]:
        if col > _MAX_COLUMN:
            raise _Unsupported
        seq: list[Any] = list(pending or [])
        while True:
            if first is not None:
                content, first = first, None
            else:
                nl = self.next_line()
                if nl is None or nl[0] < col:
                    return seq
                indent, content = nl
                if content[0] == "#":
                    if indent != col:
                        raise _Unsupported
                    seq.append(Comment(content[1:]))
                    self.i += 1
                    continue
                if indent != col or not (content == "-" or content.startswith("- ")):
                    return seq if indent < col else _fail()
                self.i += 1
            rest = content[2:]
            if rest.startswith("- ") or rest == "-":
                seq.append(self.sequence(col + 2, rest))
            elif rest and (rest[0] in "\"'" or (": " in rest or rest.endswith(":"))) and self._is_key(rest):
                seq.append(self.mapping(col + 2, rest))
            else:
                seq.append(self.value(rest, col, seq))

    @staticmethod
    def _is_key(rest: str) -> bool:
        if rest[0] in "\"'":
            _, tail = _quoted(rest)
            return tail == ":" or tail.startswith(": ")
        return rest[0] not in "|{[" and not rest.startswith(("ENC[",))

    def literal(self, header: str, col: int) -> str:
        if header not in ("|", "|-", "|+"):
            raise _Unsupported
        body: list[str] = []
        indent = -1
        while self.i < len(self.lines):
            line = self.lines[self.i]
            stripped = line.lstrip(" ")
            lead = len(line) - len(stripped)
            if not stripped:
                if indent >= 0 and lead > indent:
                    body.append(line[indent:])
                else:
                    body.append("")
                self.i += 1
                continue
            if indent < 0:
                if lead <= col:
                    break
                indent = lead
            elif lead < indent:
                break
            if "\r" in line or "\t" in line[:indent]:
                raise _Unsupported
            body.append(line[indent:])
            self.i += 1
        if indent < 0:
            raise _Unsupported
        trailing = 0
        while body and body[-1] == "":
            body.pop()
            trailing += 1
        text = "\n".join(body)
        if header == "|-":
            return text
        if header == "|":
            return text + "\n"
        return text + "\n" + "\n" * trailing


def _fail() -> list[Any]:
    raise _Unsupported


def parse(text: str) -> list[Any] | None:
    """The documents of ``text`` if it is in the supported subset, else None."""
    if "\r" in text or "\t" in text or text.startswith("\ufeff") or not text.endswith("\n"):
        return None
    lines = text.split("\n")
    lines.pop()  # the text ends with a newline
    p = _Parser(lines)
    docs: list[Any] = []
    try:
        while p.i < len(lines):
            if lines[p.i] == "---":
                p.i += 1
                continue
            nl = p.next_line()
            if nl is None or nl[0] != 0:
                return None
            pending: list[Comment] = []
            while nl is not None and nl[1][0] == "#" and nl[0] == 0:
                pending.append(Comment(nl[1][1:]))
                p.i += 1
                nl = p.next_line()
            if nl is None:
                return None
            p.i += 1
            doc = p.mapping(0, nl[1], pending)
            if p.i < len(lines) and lines[p.i] != "---":
                return None
            docs.append(doc)
    except (_Unsupported, ValueError, IndexError, OverflowError, RecursionError):
        return None
    return docs or None
