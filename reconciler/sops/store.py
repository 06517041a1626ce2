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


