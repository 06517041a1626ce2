"""The sops YAML store: bytes <-> documents of ordered trees, with comments, in sops' layout.

Loading composes nodes with PyYAML (the C parser when the text has no ``#``, else the Python scanner
hooked to record comments), types scalars with go-yaml v3 rules (:mod:`.goyaml`), expands aliases,
rejects duplicate and non-string keys, and places comments as go-yaml + sops do: a comment belongs to
the mapping or sequence whose children sit at its column (an inline comment goes before the entry on
its line). Emitting writes 4-space indentation, sequences indented under their key, comments on their
own lines (encrypted list comments as ``#ENC[…]`` lines), and quotes strings that would re-resolve.

Tree types: :class:`Branch` (ordered mapping: list of ``(key, value)``, key ``str`` or
:class:`Comment`), ``list`` (items may be :class:`Comment`), scalars (str, int, float, bool,
:class:`~.goyaml.GoTime`, None).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.errors import SopsEncryptError, SopsFormatError
from reconciler.sops.goyaml import format_float_g, format_time, resolve_plain, resolve_scalar

__all__ = ["Branch", "Comment", "dump", "load", "to_plain"]


@dataclass(frozen=True)
class Comment:
    """A comment line: ``value`` is the text after ``#`` (usually starting with a space)."""

    value: str


class Branch:
    """An ordered YAML mapping: ``items`` is a list of ``(key, value)``; comment items have value None."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[str | Comment, Any]] | None = None) -> None:
        self.items: list[tuple[str | Comment, Any]] = items if items is not None else []

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.items:
            if k == key and not isinstance(k, Comment):
                return v
        return default

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self.items if not isinstance(k, Comment))

    def set(self, key: str, value: Any) -> None:
        """Replace the value of ``key`` in place, or append the pair."""
        for i, (k, _) in enumerate(self.items):
            if k == key and not isinstance(k, Comment):
                self.items[i] = (k, value)
                return
        self.items.append((key, value))

    def pop(self, key: str) -> Any:
        for i, (k, v) in enumerate(self.items):
            if k == key and not isinstance(k, Comment):
                del self.items[i]
                return v
        raise KeyError(key)

    def __repr__(self) -> str:
        return f"Branch({self.items!r})"


def to_plain(value: Any) -> Any:
    """Comments dropped; Branch -> dict (ordered), lists -> list."""
    if isinstance(value, Branch):
        return {k: to_plain(v) for k, v in value.items if not isinstance(k, Comment)}
    if isinstance(value, list):
        return [to_plain(v) for v in value if not isinstance(v, Comment)]
    return value


# ---------------------------------------------------------------- loading

def _loader_classes() -> tuple[Any, Any]:
    import yaml

    resolver_base: Any = yaml.resolver.BaseResolver
    scanner_base: Any = yaml.scanner.Scanner

    class GoResolver(resolver_base):  # type: ignore[misc]
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is yaml.ScalarNode and implicit[0]:
                return "?"
            return super().resolve(kind, value, implicit)

    class CommentScanner(scanner_base):  # type: ignore[misc]
        def scan_to_next_token(self) -> None:
            if self.index == 0 and self.peek() == "\ufeff":
                self.forward()
            found = False
            while not found:
                while self.peek() == " ":
                    self.forward()
                if self.peek() == "#":
                    line, col, start = self.line, self.column, self.pointer
                    while self.peek() not in "\0\r\n\x85\u2028\u2029":
                        self.forward()
                    self.comments.append((line, col, self.buffer[start + 1:self.pointer]))
                if self.scan_line_break():
                    if not self.flow_level:
                        self.allow_simple_key = True
                else:
                    found = True

    reader: Any = yaml.reader.Reader
    parser: Any = yaml.parser.Parser
    composer: Any = yaml.composer.Composer

    class PyLoader(reader, CommentScanner, parser, composer, GoResolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            reader.__init__(self, stream)
            scanner_base.__init__(self)
            parser.__init__(self)
            composer.__init__(self)
            GoResolver.__init__(self)
            self.comments: list[tuple[int, int, str]] = []

    base: Any = getattr(yaml, "CParser", None)
    if base is None:
        return PyLoader, PyLoader

    class CLoader(base, GoResolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            base.__init__(self, stream)
            GoResolver.__init__(self)

    return CLoader, PyLoader


_LOADERS: tuple[Any, Any] | None = None


@dataclass
class _Entry:
    line: int
    col: int
    container: Any  # Branch or list
    index: int  # position among the container's real entries


class _Builder:
    def __init__(self, where: str, track: bool) -> None:
        self.where = where
        self.track = track
        self.entries: list[_Entry] = []
        self.containers: list[tuple[Any, int, int, int, int, int]] = []  # (obj, sl, sc, el, ec, child_col)

    def build(self, node: Any, depth: int = 0, start: tuple[int, int] | None = None) -> Any:
        import yaml

        if depth > 200:
            raise SopsFormatError(f"{self.where}: the YAML is nested too deeply")
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "?":  # implicit plain scalar (GoResolver)
                value = resolve_plain(node.value)
            else:
                value = resolve_scalar(node.value, style=node.style or None, tag=node.tag, implicit=False)
            if isinstance(value, int) and not isinstance(value, bool) and value > 2**63 - 1:
                line = node.start_mark.line + 1
                raise SopsEncryptError(f"{self.where}: line {line}: integer too large for sops (uint64)")
            return value
        if isinstance(node, yaml.SequenceNode):
            seq: list[Any] = []
            for child in node.value:
                if self.track:
                    self.entries.append(_Entry(child.start_mark.line, child.start_mark.column, seq, len(seq)))
                seq.append(self.build(child, depth + 1))
            if self.track:
                first = node.value[0].start_mark.column if node.value else -1
                col = node.start_mark.column if not node.flow_style else first
                self._container(seq, node, col, start)
            return seq
        branch = Branch()
        seen: set[str] = set()
        for knode, vnode in node.value:
            key = self.build(knode, depth + 1) if isinstance(knode, yaml.ScalarNode) else knode
            line = knode.start_mark.line + 1
            if not isinstance(key, str):
                raise SopsFormatError(f"{self.where}: line {line}: mapping keys must be strings "
                                      "(sops: Tree contains a non-string key)")
            if key in seen:
                raise SopsFormatError(f"{self.where}: line {line}: duplicate key {key!r}")
            seen.add(key)
            if self.track:
                self.entries.append(_Entry(knode.start_mark.line, knode.start_mark.column, branch,
                                           len(branch.items)))
            end = (knode.end_mark.line, knode.end_mark.column + 1)
            branch.items.append((key, self.build(vnode, depth + 1, end)))
        if self.track:
            col = node.value[0][0].start_mark.column if node.value else node.start_mark.column
            self._container(branch, node, col, start)
        return branch

    def _container(self, obj: Any, node: Any, child_col: int, start: tuple[int, int] | None) -> None:
        sm, em = node.start_mark, node.end_mark
        sl, sc = start if start is not None and node.flow_style is not True else (sm.line, sm.column)
        self.containers.append((obj, sl, sc, em.line, em.column, child_col))


def load(data: bytes | str, *, where: str = "<file>", comments: bool | None = None) -> list[Any]:
    """Parse every document. ``comments=None`` keeps them when the text has a ``#``."""
    import yaml

    global _LOADERS
    if _LOADERS is None:
        _LOADERS = _loader_classes()
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    track = ("#" in text) if comments is None else comments
    loader = (_LOADERS[1] if track else _LOADERS[0])(text)
    builder = _Builder(where, track)
    docs: list[Any] = []
    roots: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            roots.append(node)
            if node is None:
                continue
            if not isinstance(node, yaml.MappingNode):
                raise SopsFormatError(f"{where}: each YAML document must be a mapping")
            docs.append(builder.build(node))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise SopsFormatError(f"{where}: invalid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    except UnicodeDecodeError as exc:
        raise SopsFormatError(f"{where}: the file is not UTF-8") from exc
    finally:
        loader.dispose()
    if track and docs:
        _place_comments(docs, builder, loader.comments, text)
    return docs


def _place_comments(docs: list[Any], b: _Builder, found: list[tuple[int, int, str]], text: str) -> None:
    lines = text.splitlines()
    inserts: dict[int, list[tuple[int, int, str]]] = {}  # id(container) -> [(index, order, text)]
    objs: dict[int, Any] = {}
    tops = [c for c in b.containers if c[0] in docs]
    for order, (line, col, body) in enumerate(found):
        before = lines[line][:col] if line < len(lines) else ""
        inline = before.strip() != ""
        target: Any = None
        index = 0
        if inline:
            on_line = [e for e in b.entries if e.line == line]
            if on_line:
                e = min(on_line, key=lambda e: e.col)
                target, index = e.container, e.index
            else:
                later = [e for e in b.entries if e.line > line]
                if later:
                    target, index = later[0].container, later[0].index
        else:
            enclosing = [c for c in b.containers
                         if (c[1], c[2]) <= (line, col) < (c[3], c[4]) and c[5] <= col]
            if enclosing:
                exact = [c for c in enclosing if c[5] == col]
                chosen = (exact or enclosing)[-1]
                target = chosen[0]
                index = sum(1 for e in b.entries if e.container is target and e.line <= line)
            else:
                nxt = [c for c in tops if (c[1], c[2]) > (line, col)]
                chosen = nxt[0] if nxt else tops[-1]
                target = chosen[0]
                index = 0 if nxt else len(target.items)
        if target is None:
            target, index = docs[-1], len(docs[-1].items)
        objs[id(target)] = target
        inserts.setdefault(id(target), []).append((index, order, body))
    for key, items in inserts.items():
        target = objs[key]
        seq = target.items if isinstance(target, Branch) else target
        for index, _, body in sorted(items, key=lambda t: (t[0], t[1])):
            pos = _real_position(seq, index, isinstance(target, Branch))
            seq.insert(pos, (Comment(body), None) if isinstance(target, Branch) else Comment(body))  # type: ignore[arg-type]


def _real_position(seq: list[Any], index: int, is_map: bool) -> int:
    count = 0
    for pos, item in enumerate(seq):
        is_comment = isinstance(item[0] if is_map else item, Comment)
        if not is_comment:
            if count == index:
                return pos
            count += 1
    return len(seq)


# ---------------------------------------------------------------- emitting

_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_YAML11_WORDS = {
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~", "<<", "=",
}
_PLAIN_OK = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]*")
_LOOKS_NUMERIC = re.compile(r"[-+.0-9]")


def _printable(ch: str) -> bool:
    if ch in "\t\n":
        return True
    cat = unicodedata.category(ch)
    return not (cat in ("Cc", "Cs", "Cn", "Zl", "Zp") or ch in "\ufeff\x85")


def _plain_ok(s: str) -> bool:
    if not s or s[0] in _INDICATORS or s[0] == " " or s[-1] in " :" or s in _YAML11_WORDS:
        return False
    if ": " in s or " #" in s or "\t" in s or not _PLAIN_OK.fullmatch(s):
        return False
    if s.startswith(("---", "...")):
        return False
    if not s.isascii() and not all(_printable(c) for c in s):
        return False
    if _LOOKS_NUMERIC.match(s) or s[0] in "yYnNtTfFoO~" or s.startswith("<<"):
        return isinstance(resolve_plain(s), str) and _yaml11_str(s)
    return True


_Y11 = re.compile(
    r"[-+]?(?:0b[01_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
    r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*"
)


def _yaml11_str(s: str) -> bool:
    return not _Y11.fullmatch(s)


def _dquote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif (ch.isascii() and ch.isprintable()) or (not ch.isascii() and _printable(ch)):
            out.append(ch)
        else:
            o = ord(ch)
            out.append(f"\\x{o:02X}" if o < 0x100 else f"\\u{o:04X}" if o < 0x10000 else f"\\U{o:08X}")
    out.append('"')
    return "".join(out)


def _key(k: str) -> str:
    if k.startswith(ENC_KEYLESS) or _plain_ok(k):
        return k
    return _dquote(k)


ENC_KEYLESS = "\x00never"


def _block(s: str, indent: int) -> list[str] | None:
    """Lines of a literal block scalar for ``s`` (header first), or None when it cannot be one."""
    if "\r" in s or s.startswith((" ", "\n", "\t")) or not all(_printable(c) for c in s):
        return None
    body = s.rstrip("\n")
    trailing = len(s) - len(body)
    if any(line.endswith(" ") or (line.startswith("\t") and not line.strip()) for line in body.split("\n")):
        return None
    header = "|-" if trailing == 0 else "|" if trailing == 1 else "|+"
    pad = " " * indent
    lines = [header]
    for line in body.split("\n"):
        lines.append(pad + line if line else "")
    lines.extend("" for _ in range(trailing - 1))
    return lines


def _scalar(v: Any) -> str:
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
        return text + ".0" if _KEEP_FLOAT[0] and text.lstrip("-").isdigit() else text
    if isinstance(v, datetime):
        return format_time(v)
    if isinstance(v, str):
        if v.startswith("ENC[AES256_GCM,") and "\n" not in v and " " not in v:
            return v
        return v if _plain_ok(v) else _dquote(v)
    raise SopsEncryptError(f"cannot write a value of type {type(v).__name__}")


def _emit_value_after(prefix: str, v: Any, indent: int, out: list[str]) -> None:
    """Write ``prefix`` (``key:`` or ``-``) followed by value ``v``; children at ``indent``."""
    if isinstance(v, Branch):
        if not v.items:
            out.append(prefix + " {}")
        elif prefix.endswith("-") and not isinstance(v.items[0][0], Comment):
            start = len(out)
            _emit_map(v, indent, out)
            out[start] = prefix + " " + out[start][indent:]
        else:
            out.append(prefix)
            _emit_map(v, indent, out)
    elif isinstance(v, list):
        if not v:
            out.append(prefix + " []")
        elif prefix.endswith("-") and not isinstance(v[0], Comment):
            start = len(out)
            _emit_seq(v, indent, out)
            out[start] = prefix + " " + out[start][indent:]
        else:
            out.append(prefix)
            _emit_seq(v, indent, out)
    elif isinstance(v, str) and "\n" in v and (block := _block(v, indent)) is not None:
        out.append(prefix + " " + block[0])
        out.extend(block[1:])
    else:
        out.append(prefix + " " + _scalar(v))


def _emit_map(b: Branch, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for k, v in b.items:
        if isinstance(k, Comment):
            out.append(pad + "#" + k.value)
        else:
            _emit_value_after(pad + _key(k) + ":", v, indent + 4, out)


def _emit_seq(seq: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for v in seq:
        if isinstance(v, Comment):
            out.append(pad + "#" + v.value)
        else:
            _emit_value_after(pad + "-", v, indent + 2, out)


_KEEP_FLOAT = [True]


def dump(docs: list[Any], *, go_floats: bool = False) -> bytes:
    """Write documents in sops' layout (``---`` between documents).

    Floats keep a ``.0`` so they re-read as floats, unless ``go_floats`` (what ``sops -d`` prints:
    Go's ``%g``, so ``3.0`` is written ``3``).
    """
    _KEEP_FLOAT[0] = not go_floats
    parts = []
    for doc in docs:
        out: list[str] = []
        if isinstance(doc, Branch) and not doc.items:
            out.append("{}")
        else:
            _emit_map(doc, 0, out)
        parts.append("\n".join(out) + "\n")
    return "---\n".join(parts).encode("utf-8")
