"""The sops YAML store: bytes <-> documents of ordered trees, with comments, in sops' layout.

Loading composes nodes with PyYAML (the C parser when the text has no ``#``, else the Python scanner
hooked to record comments), types scalars with go-yaml v3 rules (:mod:`.goyaml`), expands aliases,
rejects duplicate and non-string keys, and places comments as go-yaml + sops do: a comment belongs to
the mapping or sequence whose children sit at its column (an inline comment goes before the entry on
its line).

Writing is in :mod:`.emit`. Tree types: :class:`Branch` (ordered mapping: list of ``(key, value)``, key ``str`` or
:class:`Comment`), ``list`` (items may be :class:`Comment`), scalars (str, int, float, bool,
:class:`~.goyaml.GoTime`, None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reconciler.errors import SopsEncryptError, SopsFormatError
from reconciler.sops.goyaml import resolve_plain, resolve_scalar

__all__ = ["Branch", "Comment", "load", "to_plain"]


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
                    self.comments.append((line, col, self.buffer[start + 1 : self.pointer]))
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

    base: Any = None
    try:
        import yaml.cyaml

        base = getattr(yaml.cyaml, "CParser", None)
    except ImportError:  # PyYAML without libyaml
        pass
    if base is None:
        return PyLoader, PyLoader

    class CLoader(base, GoResolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            base.__init__(self, stream)
            GoResolver.__init__(self)

    return CLoader, PyLoader


_LOADERS: tuple[Any, Any] | None = None
_SCALAR: Any = None
_SEQUENCE: Any = None
_HASH = re.compile(r"(?:^|(?<=[ \t]))#")


class _Box:
    """A mapping or sequence being built, with where it is (for placing comments)."""

    __slots__ = ("child_col", "end", "flow", "lines", "obj", "parent", "start")

    def __init__(self, obj: Any, parent: _Box | None) -> None:
        self.obj = obj
        self.parent = parent
        self.lines: list[int] = []  # line of each real entry, in order
        self.start = (0, 0)
        self.end = (0, 0)
        self.child_col = 0
        self.flow = False


MAX_DEPTH = 200
ALIAS_ALLOWANCE = 100_000  # nodes an alias may add beyond one per character of input


class _Builder:
    def __init__(self, where: str, track: bool, hash_lines: set[int], budget: int = 10**9) -> None:
        self.where = where
        self.budget = budget  # nodes left to build: aliases must not expand without bound (alias bombs)
        self.track = track
        self.hash_lines = hash_lines
        self.entry_lines: list[int] = []
        self.entry_cols: list[int] = []
        self.entry_boxes: list[tuple[_Box, int]] = []
        self.boxes: list[_Box] = []
        self.spans: list[tuple[int, int, int, int]] = []  # scalars touching a line with '#'

    def _entry(self, box: _Box, mark: Any) -> None:
        box.lines.append(mark.line)
        self.entry_lines.append(mark.line)
        self.entry_cols.append(mark.column)
        self.entry_boxes.append((box, len(box.lines) - 1))

    def build(self, node: Any, depth: int = 0, start: tuple[int, int] | None = None, parent: _Box | None = None) -> Any:
        if depth > MAX_DEPTH:
            raise SopsFormatError(
                f"{self.where}: line {node.start_mark.line + 1}: the YAML is nested more than {MAX_DEPTH} levels deep",
                hint="sops files are not that deep; the file is damaged or hostile",
            )
        self.budget -= 1
        if self.budget < 0:
            raise SopsFormatError(
                f"{self.where}: the YAML's aliases expand to far more values than the file holds (an alias bomb?)",
                hint="refused before decrypting anything; replace the aliases with the values they stand for",
            )
        if isinstance(node, _SCALAR):
            if self.track:
                sm, em = node.start_mark, node.end_mark
                if sm.line in self.hash_lines or em.line != sm.line:
                    self.spans.append((sm.line, sm.column, em.line, em.column))
            if node.tag == "?":  # implicit plain scalar (GoResolver)
                value = resolve_plain(node.value)
            else:
                value = resolve_scalar(node.value, style=node.style or None, tag=node.tag, implicit=False)
            if isinstance(value, int) and not isinstance(value, bool) and value > 2**63 - 1:
                line = node.start_mark.line + 1
                raise SopsEncryptError(f"{self.where}: line {line}: integer too large for sops (uint64)")
            return value
        if isinstance(node, _SEQUENCE):
            seq: list[Any] = []
            box = _Box(seq, parent) if self.track else None
            for child in node.value:
                if box is not None:
                    self._entry(box, child.start_mark)
                seq.append(self.build(child, depth + 1, None, box))
            if box is not None:
                first = node.value[0].start_mark.column if node.value else -1
                self._close(box, node, node.start_mark.column if not node.flow_style else first, start)
            return seq
        branch = Branch()
        mbox = _Box(branch, parent) if self.track else None
        seen: set[str] = set()
        for knode, vnode in node.value:
            key = self.build(knode, depth + 1) if isinstance(knode, _SCALAR) else knode
            line = knode.start_mark.line + 1
            if not isinstance(key, str):
                raise SopsFormatError(
                    f"{self.where}: line {line}: mapping keys must be strings (sops: Tree contains a non-string key)"
                )
            if key in seen:
                raise SopsFormatError(f"{self.where}: line {line}: duplicate key {key!r}")
            seen.add(key)
            if mbox is not None:
                self._entry(mbox, knode.start_mark)
            end = (knode.end_mark.line, knode.end_mark.column + 1)
            branch.items.append((key, self.build(vnode, depth + 1, end, mbox)))
        if mbox is not None:
            col = node.value[0][0].start_mark.column if node.value else node.start_mark.column
            self._close(mbox, node, col, start)
        return branch

    def _close(self, box: _Box, node: Any, child_col: int, start: tuple[int, int] | None) -> None:
        sm, em = node.start_mark, node.end_mark
        box.start = start if start is not None and node.flow_style is not True else (sm.line, sm.column)
        box.end = (em.line, em.column)
        box.child_col = child_col
        box.flow = node.flow_style is True
        self.boxes.append(box)


def _scan_comments(
    lines: list[str], hash_lines: set[int], spans: list[tuple[int, int, int, int]]
) -> list[tuple[int, int, str]]:
    """Comments by line scan: a ``#`` at line start or after a blank, outside every scalar."""
    found = []
    for ln in sorted(hash_lines):
        text = lines[ln]
        for m in _HASH.finditer(text):
            col = m.start()
            if any((sl, sc) <= (ln, col) < (el, ec) for sl, sc, el, ec in spans):
                continue
            found.append((ln, col, text[col + 1 :].rstrip("\r")))
            break
    return found


def load(data: bytes | str, *, where: str = "<file>", comments: bool | None = None) -> list[Any]:
    """Parse every document. ``comments=None`` keeps them when the text has a ``#``."""
    import yaml

    global _LOADERS, _SCALAR, _SEQUENCE
    if _LOADERS is None:
        _LOADERS = _loader_classes()
        _SCALAR, _SEQUENCE = yaml.ScalarNode, yaml.SequenceNode
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise SopsFormatError(f"{where}: the file is not UTF-8") from exc
    track = ("#" in text) if comments is None else comments
    lines = text.split("\n") if track else []
    hash_lines = {i for i, line in enumerate(lines) if "#" in line}
    use_python = _LOADERS[0] is _LOADERS[1]
    loader = _LOADERS[0](text)
    builder = _Builder(where, track, hash_lines, len(text) + ALIAS_ALLOWANCE)
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if not isinstance(node, yaml.MappingNode):
                raise SopsFormatError(
                    f"{where}: not a YAML mapping (each YAML document must be a mapping)",
                    hint="if the file is not YAML, choose its format with --input-type (json, dotenv, ini, binary)",
                )
            docs.append(builder.build(node))
    except RecursionError:  # the pure-Python composer recurses once per nesting level
        raise SopsFormatError(f"{where}: the YAML is nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise SopsFormatError(f"{where}: invalid YAML{at}: {getattr(exc, 'problem', None) or 'syntax error'}") from None
    finally:
        loader.dispose()
    if track and docs and hash_lines:
        found = loader.comments if use_python else _scan_comments(lines, hash_lines, builder.spans)
        _place_comments(docs, builder, found, lines)
    return docs


def _place_comments(docs: list[Any], b: _Builder, found: list[tuple[int, int, str]], lines: list[str]) -> None:
    import bisect

    tops = [box for box in b.boxes if box.parent is None]
    by_obj = {id(box.obj): box for box in b.boxes}
    has_flow = any(box.flow for box in b.boxes)
    inserts: dict[int, tuple[_Box, list[tuple[int, int, str]]]] = {}
    for order, (line, col, body) in enumerate(found):
        inline = line < len(lines) and lines[line][:col].strip() != ""
        target: _Box | None = None
        index = 0
        lo = bisect.bisect_left(b.entry_lines, line)
        hi = bisect.bisect_right(b.entry_lines, line)
        if inline:
            if lo < hi:
                best = min(range(lo, hi), key=lambda i: b.entry_cols[i])
                target, index = b.entry_boxes[best]
                # go-yaml gives a line comment after a flow collection to that collection
                value = _entry_value(target, index) if has_flow else None
                vbox = by_obj.get(id(value)) if isinstance(value, (Branch, list)) else None
                if vbox is not None and vbox.flow and vbox.start[0] <= line:
                    target, index = vbox, 0
            elif hi < len(b.entry_lines):
                target, index = b.entry_boxes[hi]
        else:
            chain: list[_Box] = []
            for k in (lo - 1, lo):
                near = b.entry_boxes[k][0] if 0 <= k < len(b.entry_boxes) else None
                while near is not None:
                    if near.start <= (line, col) < near.end and near.child_col <= col and near not in chain:
                        chain.append(near)
                    near = near.parent
            if chain:
                exact = [x for x in chain if x.child_col == col]
                target = max(exact, key=lambda x: x.start) if exact else max(chain, key=lambda x: x.child_col)
                index = bisect.bisect_right(target.lines, line)
            else:
                nxt = [x for x in tops if x.start > (line, col)]
                target = nxt[0] if nxt else (tops[-1] if tops else None)
                index = 0 if nxt or target is None else len(target.lines)
        if target is None:
            continue
        inserts.setdefault(id(target), (target, []))[1].append((index, order, body))
    for target, items in inserts.values():
        is_map = isinstance(target.obj, Branch)
        seq = target.obj.items if is_map else target.obj
        for index, _, body in sorted(items, key=lambda t: (t[0], t[1])):
            pos = _real_position(seq, index, is_map)
            seq.insert(pos, (Comment(body), None) if is_map else Comment(body))


def _real_position(seq: list[Any], index: int, is_map: bool) -> int:
    count = 0
    for pos, item in enumerate(seq):
        if not isinstance(item[0] if is_map else item, Comment):
            if count == index:
                return pos
            count += 1
    return len(seq)


def _entry_value(box: _Box, index: int) -> Any:
    if isinstance(box.obj, Branch):
        real = [v for k, v in box.obj.items if not isinstance(k, Comment)]
        return real[index] if index < len(real) else None
    real_items = [v for v in box.obj if not isinstance(v, Comment)]
    return real_items[index] if index < len(real_items) else None
