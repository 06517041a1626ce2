"""Strict YAML for manifests: composed nodes with positions, and every problem reported at once.

PyYAML's ``safe_load`` silently keeps the last of two duplicate keys, reads ``yes`` as ``True`` and
expands alias bombs. This module composes the node graph instead and:

* reports duplicate keys (with both lines), non-string keys, aliases (refused: a manifest has no use
  for them, and they are how "billion laughs" documents blow up), explicit tags other than ``!!str``
  (``!!binary`` would be decoded lossily, ``!vault x`` silently dropped, ``!!bool "x"`` read as text),
  and documents nested too deeply (checked while composing, so 10,000 levels of ``[`` are one error,
  not a RecursionError);
* reports characters YAML does not allow (a NUL byte, other control characters) with their line,
  instead of PyYAML's ReaderError;
* types plain scalars exactly as go-yaml v3 does (what sops uses), via
  :func:`reconciler.sops.goyaml.resolve_scalar`, and remembers each scalar's style so the manifest
  layer can ask for quotes where a YAML 1.1 reader would disagree (``yes``, ``on``...);
* never puts file content in a message: a parse error gives its line, column and the parser's
  problem, not the snippet (which could be a secret value).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Diagnostic
from reconciler.sops.goyaml import resolve_scalar

__all__ = ["MAX_BYTES", "MAX_DEPTH", "YEntry", "YNode", "compose_documents", "to_python"]

MAX_DEPTH: Final = 32
MAX_BYTES: Final = 16 * 1024 * 1024
_PLAIN: Final = "?"


_STR_TAG: Final = "tag:yaml.org,2002:str"
_STANDARD_PREFIX: Final = "tag:yaml.org,2002:"


class _TooDeep(Exception):
    def __init__(self, line: int, column: int) -> None:
        self.line, self.column = line, column
        super().__init__("too deep")


class _Loader(yaml.SafeLoader):
    """A SafeLoader that leaves plain scalars untyped (tag "?") for go-yaml typing, refuses aliases and
    explicit tags (recording where they are), and stops composing past :data:`MAX_DEPTH`."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - class-level by PyYAML's design

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_marks: list[tuple[int, int]] = []
        self.tag_marks: list[tuple[int, int, str]] = []
        self.depth = 0

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode and implicit[0]:
            return _PLAIN
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            self.alias_marks.append((event.start_mark.line + 1, event.start_mark.column + 1))
            self.get_event()  # type: ignore[no-untyped-call]
            # an alias is replaced by an empty scalar so composition goes on and finds other problems
            return ScalarNode("tag:yaml.org,2002:null", "", event.start_mark, event.end_mark)
        event = self.peek_event()  # type: ignore[no-untyped-call]
        tag = getattr(event, "tag", None)
        if tag is not None and tag != _STR_TAG:
            self.tag_marks.append((event.start_mark.line + 1, event.start_mark.column + 1, _show_tag(tag)))
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH + 1:
                raise _TooDeep(event.start_mark.line + 1, event.start_mark.column + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _show_tag(tag: str) -> str:
    """A standard tag in its short form (``!!binary``); a custom tag is not echoed (file content)."""
    if tag.startswith(_STANDARD_PREFIX) and tag[len(_STANDARD_PREFIX) :].isalnum():
        return f"tag !!{tag[len(_STANDARD_PREFIX) :][:20]}"
    if tag == "!":
        return "the non-specific tag !"
    return "a custom tag"


@dataclass
class YEntry:
    """A mapping entry: the key (always a string once valid) and its value node."""

    key: str
    line: int
    column: int
    node: YNode


@dataclass
class YNode:
    """A composed node. ``value`` is a dict of entries, a list of nodes, or a typed scalar."""

    kind: Literal["map", "seq", "scalar"]
    line: int
    column: int
    value: Any
    style: str | None = None
    raw: str = ""
    entries: dict[str, YEntry] = field(default_factory=dict)

    def get(self, key: str) -> YNode | None:
        entry = self.entries.get(key) if self.kind == "map" else None
        return entry.node if entry else None

    def walk(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Line and column of the node at ``path`` (or of the deepest ancestor that exists)."""
        node: YNode = self
        line, column = node.line, node.column
        for part in path:
            if node.kind == "map" and isinstance(part, str) and part in node.entries:
                entry = node.entries[part]
                node, line, column = entry.node, entry.line, entry.column
            elif node.kind == "seq" and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                line, column = node.line, node.column
            else:
                break
        return line, column


def compose_documents(data: bytes, *, file: str) -> tuple[list[YNode], list[Diagnostic]]:
    """Compose every document of ``data``. Returns the documents and every problem found."""
    diags: list[Diagnostic] = []
    if len(data) > MAX_BYTES:
        return [], [Diagnostic(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB", file=file)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [], [Diagnostic("file is not valid UTF-8", file=file, line=line, hint="save it as UTF-8")]
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        return [], [_unprintable(text, exc.position, file)]
    documents: list[YNode] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                documents.append(_convert(node, file, diags))
    except _TooDeep as exc:
        diags.append(Diagnostic(f"nested deeper than {MAX_DEPTH} levels", file=file, line=exc.line, column=exc.column))
    except yaml.reader.ReaderError as exc:
        diags.append(_unprintable(text, exc.position, file))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        diags.append(
            Diagnostic(
                f"YAML syntax error: {problem}",
                file=file,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            )
        )
    except yaml.YAMLError:
        diags.append(Diagnostic("YAML syntax error", file=file))
    finally:
        loader.dispose()
    for line, column, shown in loader.tag_marks:
        diags.append(
            Diagnostic(
                f"explicit YAML tags are not allowed in a manifest ({shown})",
                file=file,
                line=line,
                column=column,
                hint="remove the tag and quote the text (only !!str is accepted); values are always strings",
            )
        )
    for line, column in loader.alias_marks:
        diags.append(
            Diagnostic(
                "YAML aliases (*name) are not allowed in a manifest",
                file=file,
                line=line,
                column=column,
                hint="write the value out in full instead of referring to an anchor",
            )
        )
    return documents, diags


def _unprintable(text: str, position: int, file: str) -> Diagnostic:
    """PyYAML's ReaderError, as a diagnostic with a line and no character from the file."""
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    return Diagnostic(
        "the file contains a character YAML does not allow (a NUL byte or another control character)",
        file=file,
        line=line,
        column=column,
        hint='write it as an escape inside a double-quoted string ("\\u0001"), or remove it',
    )


def _convert(node: Node, file: str, diags: list[Diagnostic]) -> YNode:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1  # depth is bounded by _Loader
    if isinstance(node, ScalarNode):
        value = resolve_scalar(node.value, style=node.style or None, tag=node.tag, implicit=node.tag == _PLAIN)
        return YNode("scalar", line, column, value, style=node.style or None, raw=node.value)
    if isinstance(node, SequenceNode):
        items = [_convert(item, file, diags) for item in node.value]
        return YNode("seq", line, column, items)
    assert isinstance(node, MappingNode)
    result = YNode("map", line, column, None)
    for key_node, value_node in node.value:
        key_line, key_column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
        if not isinstance(key_node, ScalarNode):
            diags.append(
                Diagnostic("a mapping key must be a plain string", file=file, line=key_line, column=key_column)
            )
            continue
        key = resolve_scalar(
            key_node.value, style=key_node.style or None, tag=key_node.tag, implicit=key_node.tag == _PLAIN
        )
        if not isinstance(key, str):
            diags.append(
                Diagnostic(
                    f"key {key_node.value!r} is read as a {type(key).__name__}, not a string",
                    file=file,
                    line=key_line,
                    column=key_column,
                    hint=f'quote it: "{key_node.value}":',
                )
            )
            continue
        child = _convert(value_node, file, diags)
        if key in result.entries:
            first = result.entries[key]
            diags.append(
                Diagnostic(
                    f"duplicate key {key!r} (first defined on line {first.line})",
                    file=file,
                    line=key_line,
                    column=key_column,
                    hint="YAML parsers disagree on which one wins; keep exactly one",
                )
            )
            continue
        result.entries[key] = YEntry(key, key_line, key_column, child)
    return result


def to_python(node: YNode) -> Any:
    """Plain Python data (dict/list/scalars) for schema validation."""
    if node.kind == "map":
        return {key: to_python(entry.node) for key, entry in node.entries.items()}
    if node.kind == "seq":
        return [to_python(item) for item in node.value]
    return node.value


def iter_entries(node: YNode | None) -> Iterator[YEntry]:
    if node is not None and node.kind == "map":
        yield from node.entries.values()
