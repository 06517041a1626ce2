"""A small JavaScript/TypeScript tokenizer: text in, compact token arrays out. Pure; no JS runtime.

It knows exactly what the scanner needs not to be fooled: comments (``//``, ``/* */``, a hashbang),
strings (single, double, template literals with nested ``${}`` at any depth), regular-expression
literals (told from division by the previous token and, after ``)``, by the parenthesis it closes, as
JavaScript parsers do), identifiers (with ``\\u`` escapes), numbers and
punctuators. Comments are dropped; everything else becomes a token.

Tokens are stored in three parallel arrays (kind, start, end offsets), about 17 bytes a token, so a
file at the size cap never needs hundreds of megabytes; token text is sliced on demand. Every regular
expression used here has disjoint alternatives (no catastrophic backtracking), every token consumes
what was scanned for it, and the one scan that may fail (a regular-expression literal) looks at most
1,024 characters ahead, within a budget per file, so time is linear in the input.
"""

from __future__ import annotations

import bisect
import re
from array import array
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "IDENT",
    "NUMBER",
    "PUNCT",
    "REGEX",
    "STRING",
    "TEMPLATE",
    "TEMPLATE_HEAD",
    "TEMPLATE_MIDDLE",
    "TEMPLATE_TAIL",
    "Tokens",
    "decode_string",
    "tokenize",
]

# token kinds
IDENT: Final = 1
NUMBER: Final = 2
STRING: Final = 3  # '...' or "..." (possibly unterminated at the end of a line)
TEMPLATE: Final = 4  # `...` without substitution
TEMPLATE_HEAD: Final = 5  # `...${
TEMPLATE_MIDDLE: Final = 6  # }...${
TEMPLATE_TAIL: Final = 7  # }...`
REGEX: Final = 8
PUNCT: Final = 9

_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")
_WS = re.compile(r"[ \t\v\f\u00a0\ufeff\u1680\u2000-\u200a\u202f\u205f\u3000\n\r\u2028\u2029]+")
_ID_ESC = r"\\u(?:[0-9a-fA-F]{4}|\{[0-9a-fA-F]{1,6}\})"
_IDENT = re.compile(rf"(?:[A-Za-z_$\u0080-\U0010ffff]|{_ID_ESC})(?:[\w$\u0080-\U0010ffff]|{_ID_ESC})*")
_NUMBER = re.compile(r"(?:\d[\w.]*|\.\d\w*)")
_STRING = {
    "'": re.compile(r"'(?:[^'\\\n\r\u2028\u2029]|\\(?:\r\n|[\s\S]))*'?"),
    '"': re.compile(r'"(?:[^"\\\n\r\u2028\u2029]|\\(?:\r\n|[\s\S]))*"?'),
}
# a template chunk after its opening ` or closing }: text up to ` or ${ (or the end of the input)
_TEMPLATE_CHUNK = re.compile(r"(?:[^`\\$]|\\[\s\S]|\$(?!\{))*(`|\$\{)?")
_REGEX = re.compile(
    r"/(?:[^/\\\[\n\r\u2028\u2029]|\\[^\n\r\u2028\u2029]|\[(?:[^\]\\\n\r\u2028\u2029]|\\[^\n\r\u2028\u2029])*\])+/[\w$]*"
)
_MAX_REGEX: Final = 1024  # longest regular-expression literal tried (a failed try must stay cheap)
_REGEX_BUDGET: Final = 1_000_000  # characters failed tries may scan per file; past it `/` is division
_LINE_END = re.compile(r"[\n\r\u2028\u2029]")
_PUNCT3 = ("...", "===", "!==", "**=", "<<=", ">>=", "&&=", "||=", "??=")
_PUNCT2 = ("=>", "?.", "++", "--", "==", "!=", "<=", ">=", "&&", "||", "??", "+=", "-=", "*=", "/=", "**")

# after these keywords an expression starts, so `/` begins a regular expression
_EXPR_KEYWORDS: Final = frozenset(
    [
        "return",
        "typeof",
        "instanceof",
        "in",
        "of",
        "new",
        "delete",
        "void",
        "throw",
        "case",
        "do",
        "else",
        "yield",
        "await",
        "extends",
    ]
)
# a `(` after these keywords is a control parenthesis: after its `)` a statement (maybe a regex) starts
_CONTROL_KEYWORDS: Final = frozenset({"if", "while", "for", "with"})
# brace stack entries
_BRACE: Final = 0
_SUBST: Final = 1  # the ${ of a template literal
# paren stack entries
_PLAIN: Final = 0
_CONTROL: Final = 1


@dataclass
class Tokens:
    """The tokens of one file. ``kind[i]``, ``start[i]``, ``end[i]``; text is ``text[start:end]``."""

    text: str
    kind: bytearray = field(default_factory=bytearray)
    start: array[int] = field(default_factory=lambda: array("q"))
    end: array[int] = field(default_factory=lambda: array("q"))
    _lines: list[int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.kind)

    def raw(self, i: int) -> str:
        return self.text[self.start[i] : self.end[i]]

    def ident(self, i: int) -> str | None:
        """The identifier at ``i`` (escapes decoded), or None if ``i`` is not an identifier."""
        if i < 0 or i >= len(self.kind) or self.kind[i] != IDENT:
            return None
        raw = self.raw(i)
        return _decode_ident(raw) if "\\" in raw else raw

    def punct(self, i: int) -> str | None:
        if i < 0 or i >= len(self.kind) or self.kind[i] != PUNCT:
            return None
        return self.raw(i)

    def is_punct(self, i: int, *texts: str) -> bool:
        p = self.punct(i)
        return p is not None and p in texts

    def is_ident(self, i: int, *names: str) -> bool:
        name = self.ident(i)
        return name is not None and (not names or name in names)

    def string(self, i: int) -> str | None:
        """The value of a complete string or substitution-free template literal at ``i``, else None."""
        if i < 0 or i >= len(self.kind):
            return None
        kind, raw = self.kind[i], self.raw(i)
        if kind == STRING and len(raw) >= 2 and raw[-1] == raw[0]:
            return decode_string(raw[1:-1])
        if kind == TEMPLATE and len(raw) >= 2 and raw[-1] == "`":
            return decode_string(raw[1:-1], template=True)
        return None

    def position(self, i: int) -> tuple[int, int]:
        """1-based (line, column) of token ``i`` (past the last token: the end of the text)."""
        return self.offset_position(self.start[i] if i < len(self.start) else len(self.text))

    def offset_position(self, offset: int) -> tuple[int, int]:
        if self._lines is None:
            self._lines = [0] + [m.end() for m in _LINE_BREAK.finditer(self.text)]
        line = bisect.bisect_right(self._lines, offset)
        return line, offset - self._lines[line - 1] + 1


def tokenize(text: str) -> Tokens:
    """Tokenize ``text`` (JavaScript or TypeScript). Never raises; unknown characters become punctuators."""
    toks = Tokens(text)
    kinds, starts, ends = toks.kind, toks.start, toks.end
    n = len(text)
    pos = 0
    if text.startswith("#!"):
        m = _LINE_END.search(text)
        pos = m.start() if m else n
    braces = bytearray()  # _BRACE / _SUBST
    parens = bytearray()  # _PLAIN / _CONTROL
    regex_budget = _REGEX_BUDGET
    prev_kind = 0  # kind of the previous token (0: none yet)
    prev_text = ""  # its text when an identifier or punctuator
    after_dot = False  # the previous token is an identifier that follows `.` (a property name)
    after_control_close = False  # the previous token is a `)` that closed `if (...)` and the like

    def regex_allowed() -> bool:
        if prev_kind == 0:
            return True
        if prev_kind in (TEMPLATE_HEAD, TEMPLATE_MIDDLE):
            return True
        if prev_kind == IDENT:
            return prev_text in _EXPR_KEYWORDS and not after_dot
        if prev_kind == PUNCT:
            # after `}` a statement starts (a block's end) or nonsense follows (`{} / 2`): a regex
            if prev_text == ")":
                return after_control_close
            return prev_text not in ("]", "++", "--")
        return False

    def emit(kind: int, s: int, e: int) -> None:
        nonlocal prev_kind, prev_text, after_dot, after_control_close
        after_dot = kind == IDENT and prev_kind == PUNCT and prev_text in (".", "?.")
        kinds.append(kind)
        starts.append(s)
        ends.append(e)
        prev_kind = kind
        prev_text = text[s:e] if kind in (IDENT, PUNCT) else ""
        after_control_close = False

    def template_chunk(s: int, from_pos: int, head: int, middle: int) -> int:
        m = _TEMPLATE_CHUNK.match(text, from_pos)
        assert m is not None  # the pattern matches the empty string
        if m.group(1) == "${":
            braces.append(_SUBST)
            emit(middle, s, m.end())
        else:
            emit(head, s, m.end())  # complete (or unterminated at the end of the input)
        return m.end()

    while pos < n:
        c = text[pos]
        m = _WS.match(text, pos)
        if m:
            pos = m.end()
            continue
        if c == "/":
            nxt = text[pos + 1 : pos + 2]
            if nxt == "/":
                m = _LINE_END.search(text, pos)
                pos = m.start() if m else n
                continue
            if nxt == "*":
                close = text.find("*/", pos + 2)
                pos = n if close < 0 else close + 2
                continue
            if regex_budget > 0 and regex_allowed():
                m = _REGEX.match(text, pos, pos + _MAX_REGEX)
                if m:
                    emit(REGEX, pos, m.end())
                    pos = m.end()
                    continue
                regex_budget -= _MAX_REGEX
            end = pos + 2 if nxt == "=" else pos + 1
            emit(PUNCT, pos, end)
            pos = end
            continue
        if c in _STRING:
            m = _STRING[c].match(text, pos)
            assert m is not None
            emit(STRING, pos, m.end())
            pos = m.end()
            continue
        if c == "`":
            pos = template_chunk(pos, pos + 1, TEMPLATE, TEMPLATE_HEAD)
            continue
        if c == "}":
            if braces and braces[-1] == _SUBST:
                braces.pop()
                pos = template_chunk(pos, pos + 1, TEMPLATE_TAIL, TEMPLATE_MIDDLE)
                continue
            if braces:
                braces.pop()
            emit(PUNCT, pos, pos + 1)
            pos += 1
            continue
        if c == "{":
            braces.append(_BRACE)
            emit(PUNCT, pos, pos + 1)
            pos += 1
            continue
        if c == "(":
            parens.append(_CONTROL if prev_kind == IDENT and prev_text in _CONTROL_KEYWORDS else _PLAIN)
            emit(PUNCT, pos, pos + 1)
            pos += 1
            continue
        if c == ")":
            closed = parens.pop() if parens else _PLAIN
            emit(PUNCT, pos, pos + 1)
            after_control_close = closed == _CONTROL
            pos += 1
            continue
        if c.isdigit() or (c == "." and text[pos + 1 : pos + 2].isdigit()):
            m = _NUMBER.match(text, pos)
            if m:
                emit(NUMBER, pos, m.end())
                pos = m.end()
                continue
        m = _IDENT.match(text, pos)
        if m:
            emit(IDENT, pos, m.end())
            pos = m.end()
            continue
        width = 1
        for candidates, size in ((_PUNCT3, 3), (_PUNCT2, 2)):
            if text[pos : pos + size] in candidates:
                width = size
                break
        if width == 2 and text[pos : pos + 2] == "?." and text[pos + 2 : pos + 3].isdigit():
            width = 1  # `a?.5:b` is a conditional, not optional chaining
        emit(PUNCT, pos, pos + width)
        pos += width
    return toks


_ESCAPE = re.compile(r"\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(\r\n|[\s\S]))")
_SIMPLE_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_CONTINUATIONS: Final = frozenset({"\n", "\r", "\r\n", "\u2028", "\u2029"})


def _unescape(m: re.Match[str]) -> str:
    braced, four, two, other = m.groups()
    code = braced or four or two
    if code is not None:
        value = int(code, 16)
        return chr(value) if value <= 0x10FFFF else "\ufffd"
    if other in _CONTINUATIONS:
        return ""
    return _SIMPLE_ESCAPES.get(other, other)


def decode_string(body: str, *, template: bool = False) -> str:
    """The value of a string literal's body (between the quotes): escapes decoded as JavaScript does."""
    if template:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    return _ESCAPE.sub(_unescape, body) if "\\" in body else body


def _decode_ident(raw: str) -> str:
    return _ESCAPE.sub(_unescape, raw)
