"""Writing documents as go-yaml v3 writes them for sops (so ``decrypt`` prints what ``sops -d`` prints).

4-space indentation, sequences indented under their key, mappings in list items continued at dash + 2,
comments on their own lines (encrypted list comments as ``#ENC[…]`` lines, which every sops version
reads as comments), and go-yaml's scalar style choice: plain unless the text would re-resolve to a
non-string (or is a YAML 1.1 bool / base-60 number), single-quoted when plain is not allowed, double-quoted
(Go escapes) for special characters, literal blocks for multi-line strings.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from reconciler.errors import SopsEncryptError
from reconciler.sops.goyaml import format_float_g, format_time, resolve_plain
from reconciler.sops.store import Branch, Comment

__all__ = ["dump", "go_scalar_string"]

_OLD_BOOLS = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"}
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_BREAKS = "\r\n\x85\u2028\u2029"
_ESCAPES = {
    "\0": "0",
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}
# ASCII text that go-yaml's analysis always allows as a plain block scalar (no indicators, no ": ",
# no " #", no leading/trailing space); only its resolution (int, bool, ...) can still force quotes.
_WORD = r"[A-Za-z0-9_./=+@()\-]+"
_SAFE = re.compile(rf"(?:[A-Za-z0-9_./=+(][A-Za-z0-9_./=+@()\-]*|-{_WORD})(?: +{_WORD})*")
_RESOLVABLE_START = set("0123456789+-.~yYnNtTfFoO")


def _printable(ch: str) -> bool:
    o = ord(ch)
    return ch == "\n" or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)


def _analyze(s: str) -> tuple[bool, bool, bool]:
    """go-yaml ``yaml_emitter_analyze_scalar``: (block_plain_allowed, single_quoted_allowed, block_allowed)."""
    if not s:
        return True, True, False
    block_ind = s.startswith(("---", "..."))
    leading_space = leading_break = trailing_space = trailing_break = False
    break_space = space_break = special = line_breaks = False
    prev_space = prev_break = False
    preceded_ws = True
    n = len(s)
    for i, ch in enumerate(s):
        followed_ws = i + 1 >= n or s[i + 1] in " \t\r\n\x85\u2028\u2029"
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`" or (ch in "?:-" and followed_ws):
                block_ind = True
        elif (ch == ":" and followed_ws) or (ch == "#" and preceded_ws):
            block_ind = True
        if not _printable(ch):
            special = True
        if ch == " ":
            leading_space = leading_space or i == 0
            trailing_space = trailing_space or i == n - 1
            break_space = break_space or prev_break
            prev_space, prev_break = True, False
        elif ch in _BREAKS:
            line_breaks = True
            leading_break = leading_break or i == 0
            trailing_break = trailing_break or i == n - 1
            space_break = space_break or prev_space
            prev_space, prev_break = False, True
        else:
            prev_space = prev_break = False
        preceded_ws = ch in " \t\r\n\x85\u2028\u2029"
    plain = single = block = True
    if leading_space or leading_break or trailing_space or trailing_break:
        plain = False
    if trailing_space:
        block = False
    if break_space:
        plain = single = False
    if space_break or special:
        plain = single = False
        block = False
    if line_breaks or block_ind:
        plain = False
    return plain, single, block


def go_scalar_string(s: str, *, key: bool = False) -> str:
    """The style go-yaml v3 picks for a string: ``plain``, ``single``, ``double`` or ``literal``."""
    if s.startswith("ENC[AES256_GCM,") and "\n" not in s and " " not in s:
        return "plain"
    if _SAFE.fullmatch(s) and not s.startswith(("---", "...")):
        if s[0] not in _RESOLVABLE_START:
            return "plain"
        return "plain" if isinstance(resolve_plain(s), str) and s not in _OLD_BOOLS else "double"
    if any(c in s for c in "\r\x85\u2028\u2029"):
        return "double"  # YAML 1.1 readers treat these as line breaks: only escapes are safe
    can_plain = isinstance(resolve_plain(s), str) and s not in _OLD_BOOLS and not _BASE60.fullmatch(s)
    style = "literal" if "\n" in s else "plain" if can_plain else "double"
    plain_ok, single_ok, block_ok = _analyze(s)
    if style == "plain" and not plain_ok:
        style = "single"
    if style == "single" and not single_ok:
        style = "double"
    if style == "literal" and (not block_ok or key):
        style = "double"
    return style


def _double(s: str) -> str:
    out = ['"']
    for ch in s:
        if _printable(ch) and ch not in _BREAKS and ch not in '"\\' and ch != "\ufeff":
            out.append(ch)
        elif ch in _ESCAPES:
            out.append("\\" + _ESCAPES[ch])
        else:
            o = ord(ch)
            out.append(f"\\x{o:02X}" if o <= 0xFF else f"\\u{o:04X}" if o <= 0xFFFF else f"\\U{o:08X}")
    out.append('"')
    return "".join(out)


def _quote(s: str, style: str) -> str:
    if style == "plain":
        return s
    if style == "single":
        return "'" + s.replace("'", "''") + "'"
    return _double(s)


def _literal(s: str, indent: int, parent: int) -> list[str]:
    header = "|"
    if s[0] in " \n" or s[0] in _BREAKS:
        header += str(indent - parent)  # content indentation relative to the parent node (4 at top level)
    if not s.endswith("\n"):
        header += "-"
    elif s == "\n" or s.endswith("\n\n"):
        header += "+"
    pad = " " * indent
    body = s[:-1] if s.endswith("\n") else s
    return [header] + [pad + line if line else "" for line in body.split("\n")]


class _Writer:
    def __init__(self, go_floats: bool) -> None:
        self.go_floats = go_floats
        self.out: list[str] = []
        self.keys: dict[str, str] = {}

    def scalar(self, v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            if math.isnan(v):
                return ".nan"
            if math.isinf(v):
                return ".inf" if v > 0 else "-.inf"
            text = format_float_g(v)
            return text + ".0" if not self.go_floats and text.lstrip("-").isdigit() else text
        if isinstance(v, datetime):
            return format_time(v)
        if isinstance(v, str):
            return _quote(v, go_scalar_string(v))
        raise SopsEncryptError(f"cannot write a value of type {type(v).__name__}")

    def value_after(self, prefix: str, v: Any, indent: int, block_indent: int) -> None:
        """``prefix`` (``key:`` or ``-``) then ``v``; children at ``indent``; literal content at ``block_indent``."""
        out = self.out
        if isinstance(v, Branch) and v.items and all(isinstance(k, Comment) for k, _ in v.items):
            pad = prefix[: len(prefix) - len(prefix.lstrip(" "))]
            out.extend(pad + "#" + k.value for k, _ in v.items if isinstance(k, Comment))
            v = Branch()  # only comments: YAML would read the key as null, so keep it a mapping
        elif isinstance(v, list) and v and all(isinstance(x, Comment) for x in v):
            pad = prefix[: len(prefix) - len(prefix.lstrip(" "))]
            out.extend(pad + "#" + x.value for x in v if isinstance(x, Comment))
            v = []
        if isinstance(v, Branch):
            if not v.items:
                out.append(prefix + " {}")
            elif prefix.endswith("-") and not isinstance(v.items[0][0], Comment):
                start = len(out)
                self.mapping(v, indent)
                out[start] = prefix + " " + out[start][indent:]
            else:
                out.append(prefix)
                self.mapping(v, indent)
        elif isinstance(v, list):
            if not v:
                out.append(prefix + " []")
            elif prefix.endswith("-") and not isinstance(v[0], Comment):
                start = len(out)
                self.sequence(v, indent)
                out[start] = prefix + " " + out[start][indent:]
            else:
                out.append(prefix)
                self.sequence(v, indent)
        elif isinstance(v, str) and "\n" in v and go_scalar_string(v) == "literal":
            block = _literal(v, block_indent, len(prefix) - len(prefix.lstrip(" ")))
            out.append(prefix + " " + block[0])
            out.extend(block[1:])
        else:
            out.append(prefix + " " + self.scalar(v))

    def mapping(self, b: Branch, indent: int) -> None:
        pad = " " * indent
        for k, v in b.items:
            if isinstance(k, Comment):
                self.out.append(pad + "#" + k.value)
            else:
                key = self.keys.get(k)
                if key is None:
                    key = self.keys[k] = _quote(k, go_scalar_string(k, key=True))
                child = 4 * ((indent + 4) // 4)  # go-yaml: the next multiple of the indent (4)
                self.value_after(pad + key + ":", v, child, child)

    def sequence(self, seq: list[Any], indent: int) -> None:
        pad = " " * indent
        for v in seq:
            if isinstance(v, Comment):
                self.out.append(pad + "#" + v.value)
            else:
                self.value_after(pad + "-", v, indent + 2, indent + 2)


def dump(docs: list[Any], *, go_floats: bool = False) -> bytes:
    """Write documents in sops' layout (``---`` between documents).

    Floats keep a ``.0`` so they re-read as floats, unless ``go_floats`` (what ``sops -d`` prints:
    Go's ``%g``, so ``3.0`` is written ``3``).
    """
    parts = []
    for doc in docs:
        w = _Writer(go_floats)
        if isinstance(doc, Branch) and not doc.items:
            w.out.append("{}")
        else:
            w.mapping(doc, 0)
        parts.append("\n".join(w.out) + "\n")
    return "---\n".join(parts).encode("utf-8")
