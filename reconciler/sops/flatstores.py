"""The sops dotenv and INI stores, and the flattened metadata both use.

dotenv (``stores/dotenv``): one ``KEY=value`` per line, split at the first ``=`` with nothing trimmed,
``\\n`` in a value meaning a newline, ``#`` lines are comments; the metadata follows as
``sops_<flat key>=<value>`` lines in sorted order.

INI (``stores/ini`` over ``gopkg.in/ini.v1`` 1.67 with sops' options): sections are mappings of
strings; keys before the first section belong to ``DEFAULT``; a comment line (``;``/``#``) before a
section is its comment, before a key (or inline after its value) the key's; the metadata is the
``[sops]`` section, last. Written as go-ini writes it: ``=`` aligned in each section, values quoted
when go-ini quotes them, a blank line between sections. Features this reader does not reproduce
exactly (multi-line ``\"\"\"`` values, continuation lines, auto-increment keys) are refused clearly.

Flattened metadata (``stores/flatten.go``): ``age__list_0__map_recipient`` and so on; newlines in
values written as ``\\n``; ``shamir_threshold`` and ``mac_only_encrypted`` as strings.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.errors import SopsFormatError
from reconciler.sops.goyaml import GoTime, format_float_g, format_time
from reconciler.sops.store import Branch, Comment

__all__ = [
    "dump_dotenv",
    "dump_dotenv_encrypted",
    "dump_ini",
    "dump_ini_encrypted",
    "flatten_metadata",
    "load_dotenv",
    "load_dotenv_encrypted",
    "load_ini",
    "load_ini_encrypted",
    "unflatten_metadata",
]

_MAP = "__map_"
_LIST = "__list_"


# ---------------------------------------------------------------- flattened metadata


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Branch):
        for k, v in value.items:
            if isinstance(k, str):
                _flatten(prefix + _MAP + k, v, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _flatten(prefix + _MAP + k, v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(f"{prefix}{_LIST}{i}", v, out)
    else:
        out[prefix] = value


def flatten_metadata(block: Branch) -> dict[str, str]:
    """``FlattenMetadata`` + ``EncodeNonStrings`` + ``EncodeNewLines``: flat key -> string value."""
    flat: dict[str, Any] = {}
    for k, v in block.items:
        if not isinstance(k, str):
            continue
        if isinstance(v, (Branch, list, dict)):
            inner: dict[str, Any] = {}
            _flatten("", v, inner)
            for fk, fv in inner.items():
                flat[k + fk] = fv
        else:
            flat[k] = v
    out: dict[str, str] = {}
    for k, v in flat.items():
        if v is None:
            continue
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, (int, float)):
            text = f"{v:.0f}" if isinstance(v, float) else str(v)
        else:
            text = str(v)
        out[k] = text.replace("\n", "\\n")
    return out


def _tokens(path: str) -> list[str | int]:
    toks: list[str | int] = []
    parts = re.split(f"({_MAP}|{_LIST})", path)
    toks.append(parts[0])
    for sep, body in zip(parts[1::2], parts[2::2], strict=True):
        if sep == _MAP:
            toks.append(body)
        else:
            try:
                toks.append(int(body))
            except ValueError:
                raise SopsFormatError(f"invalid list index in the sops metadata key {path!r}") from None
    return toks


def unflatten_metadata(flat: dict[str, str], *, where: str) -> Branch:
    """The ``sops`` block from flattened keys (``UnflattenMetadata`` + ``DecodeNewLines/NonStrings``)."""
    root: dict[str, Any] = {}
    for key, raw in flat.items():
        value: Any = raw.replace("\\n", "\n")
        toks = _tokens(key)
        node: Any = root
        for tok, nxt in zip(toks, [*toks[1:], None], strict=True):
            if nxt is None:
                if isinstance(node, list):
                    if not isinstance(tok, int) or tok > 1000:
                        raise SopsFormatError(f"{where}: invalid sops metadata key {key!r}")
                    node.extend([None] * (tok + 1 - len(node)))
                    node[tok] = value
                elif isinstance(tok, str):
                    node[tok] = value
                else:
                    raise SopsFormatError(f"{where}: invalid sops metadata key {key!r}")
                break
            child_type: type = dict if isinstance(nxt, str) else list
            if isinstance(node, list):
                if not isinstance(tok, int) or tok > 1000:
                    raise SopsFormatError(f"{where}: invalid sops metadata key {key!r}")
                node.extend([None] * (tok + 1 - len(node)))
                if node[tok] is None:
                    node[tok] = child_type()
                node = node[tok]
            else:
                if not isinstance(tok, str):
                    raise SopsFormatError(f"{where}: invalid sops metadata key {key!r}")
                node = node.setdefault(tok, child_type())
            if not isinstance(node, child_type):
                raise SopsFormatError(f"{where}: conflicting sops metadata keys near {key!r}")
    if "shamir_threshold" in root:
        text = root["shamir_threshold"]
        try:
            f = float(text)
        except (TypeError, ValueError):
            raise SopsFormatError(f"{where}: shamir_threshold is not an integer") from None
        if f != int(f):
            raise SopsFormatError(f"{where}: shamir_threshold is not an integer")
        root["shamir_threshold"] = int(f)
    if "mac_only_encrypted" in root:
        root["mac_only_encrypted"] = root["mac_only_encrypted"] == "true"
    block: Branch = _to_branch(root)
    return block


def _to_branch(value: Any) -> Any:
    if isinstance(value, dict):
        return Branch([(k, _to_branch(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [_to_branch(v) for v in value]
    return value


def _val_to_string(value: Any) -> str:
    """sops ``ValToString`` for a non-string leaf."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = format_float_g(value)
        if "." not in text and "E" not in text and "Inf" not in text and "NaN" not in text:
            text = f"{value:.1f}"
        return text
    if isinstance(value, GoTime):
        return format_time(value.replace(microsecond=0))
    if value is None:
        return "<nil>"
    return str(value)


# ---------------------------------------------------------------- dotenv


def load_dotenv(data: bytes, *, where: str) -> list[Any]:
    """``LoadPlainFile``: one document, a flat mapping of strings (with comments)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SopsFormatError(f"{where}: the file is not UTF-8") from exc
    branch = Branch()
    seen: set[str] = set()
    for n, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line[0] == "#":
            branch.items.append((Comment(line[1:]), None))
            continue
        pos = line.find("=")
        if pos < 0:
            raise SopsFormatError(
                f"{where}: line {n}: invalid dotenv line: no `=` (sops: invalid dotenv input line)",
                hint="is this a dotenv file? choose the format with --input-type",
            )
        key = line[:pos]
        if key in seen:
            raise SopsFormatError(f"{where}: line {n}: duplicate key {key!r}")
        seen.add(key)
        branch.items.append((key, line[pos + 1 :].replace("\\n", "\n")))
    return [branch]


def load_dotenv_encrypted(data: bytes, *, where: str) -> tuple[list[Any], Branch]:
    [branch] = load_dotenv(data, where=where)
    flat: dict[str, str] = {}
    body = Branch()
    for k, v in branch.items:
        if isinstance(k, str) and k.startswith("sops_"):
            flat[k[5:]] = v.replace("\n", "\\n") if isinstance(v, str) else v
        else:
            body.items.append((k, v))
    if not flat:
        raise SopsFormatError(
            f"{where}: not a sops file (no `sops_` metadata lines)",
            hint="encrypt it first, or check that this is the right file and format",
        )
    return [body], unflatten_metadata(flat, where=where)


def dump_dotenv(docs: list[Any]) -> bytes:
    """``EmitPlainFile``: ``KEY=value`` lines; a nested value is refused as sops refuses it."""
    if len(docs) != 1:
        raise SopsFormatError("a dotenv file holds exactly one document")
    out: list[str] = []
    for k, v in docs[0].items:
        if isinstance(k, Comment):
            out.append(f"#{k.value}\n")
            continue
        if isinstance(v, (Branch, list)):
            raise SopsFormatError(
                f"cannot use a nested value in a dotenv file (key {k!r})",
                hint="dotenv holds flat KEY=value pairs; choose another --output-type",
            )
        text = v.replace("\n", "\\n") if isinstance(v, str) else _val_to_string(v)
        out.append(f"{k}={text}\n")
    return "".join(out).encode("utf-8", "surrogateescape")


def dump_dotenv_encrypted(docs: list[Any], block: Branch) -> bytes:
    flat = flatten_metadata(block)
    lines = [f"sops_{k}={flat[k]}\n" for k in sorted(flat)]
    return dump_dotenv(docs) + "".join(lines).encode("utf-8")


# ---------------------------------------------------------------- INI

_DEFAULT = "DEFAULT"


def _strip_comment(c: str) -> str:
    if c.startswith(";"):
        return c.lstrip("; ")
    if c.startswith("#"):
        return c.lstrip("# ")
    return c


def _surrounded(s: str, q: str) -> bool:
    return len(s) >= 2 and s[0] == q and s[-1] == q and s.find(q, 1) == len(s) - 1


def load_ini(data: bytes, *, where: str) -> list[Any]:
    """go-ini ``LoadSources`` + sops ``treeBranchesFromIni``: one document, a mapping of sections."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SopsFormatError(f"{where}: the file is not UTF-8") from exc
    text = text.removeprefix("\ufeff")
    sections: list[tuple[str, str, list[tuple[str, str, str]]]] = [(_DEFAULT, "", [])]
    comment: list[str] = []
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.lstrip()
        if not line:
            continue
        if line[0] in "#;":
            comment.append(line.rstrip("\r") if line.endswith("\r") else line)
            continue
        if line[0] == "[":
            close = line.rfind("]")
            if close < 0:
                raise SopsFormatError(f"{where}: line {n}: unclosed section: {line.strip()[:60]!r}")
            name = line[1:close]
            if not name:
                raise SopsFormatError(f"{where}: line {n}: empty section name")
            rest = line[close + 1 :]
            m = re.search("[#;]", rest)
            if m:
                comment.append(rest[m.start() :])
            sections.append((name, "\n".join(comment).strip(), []))
            comment = []
            continue
        if line[0] in '"`':
            raise SopsFormatError(
                f"{where}: line {n}: quoted INI key names are not supported",
                hint="sops reads them through go-ini's quoting rules; rename the key",
            )
        m = re.search("[=:]", line)
        if m is None:
            raise SopsFormatError(
                f"{where}: line {n}: not a `key = value` line (go-ini: key-value delimiter not found)",
                hint="is this an INI file? choose the format with --input-type",
            )
        if m.start() == 0:
            raise SopsFormatError(f"{where}: line {n}: empty key name")
        key = line[: m.start()].strip()
        if key == "-":
            raise SopsFormatError(f"{where}: line {n}: auto-increment keys (`-`) are not supported")
        value = line[m.end() :].lstrip()
        if (value.startswith('"""') and len(value) > 3) or value.startswith("`"):
            q = '"""' if value.startswith('"""') else "`"
            end = value.rfind(q, len(q))
            if end < 0:
                raise SopsFormatError(
                    f"{where}: line {n}: multi-line INI values are not supported",
                    hint="keep each value on one line (\\n is not expanded in INI)",
                )
            value = value[len(q) : end]
        else:
            value = value.strip()
            if value.endswith("\\"):
                raise SopsFormatError(
                    f"{where}: line {n}: INI continuation lines (a value ending in `\\`) are not supported"
                )
            cm = re.search("[#;]", value)
            if cm:
                comment.append(value[cm.start() :])
                value = value[: cm.start()].strip()
            if _surrounded(value, "'") or _surrounded(value, '"'):
                value = value[1:-1]
        keys = sections[-1][2]
        for i, (k, _, _) in enumerate(keys):
            if k == key:  # go-ini: a repeated key overwrites the value and keeps its place and comment
                keys[i] = (k, value, keys[i][2])
                break
        else:
            keys.append((key, value, "".join(_join_comment(comment)).strip()))
        comment = []
    branch = Branch()
    for name, sec_comment, keys in sections:
        items: list[tuple[str | Comment, Any]] = []
        if sec_comment:
            items.append((Comment(_strip_comment(sec_comment)), None))
        for k, v, c in keys:
            items.append((k, v))
            if c:
                items.append((Comment(_strip_comment(c)), None))
        branch.items.append((name, Branch(items)))
    return [branch]


def _join_comment(lines: list[str]) -> list[str]:
    # go-ini writes each comment line with its line break, the inline comment without one
    return [ln + ("\n" if i < len(lines) - 1 else "") for i, ln in enumerate(lines)]


def load_ini_encrypted(data: bytes, *, where: str) -> tuple[list[Any], Branch]:
    [branch] = load_ini(data, where=where)
    meta: Branch | None = None
    body = Branch()
    for k, v in branch.items:
        if k == "sops" and isinstance(v, Branch):
            meta = v
        else:
            body.items.append((k, v))
    if meta is None:
        raise SopsFormatError(
            f"{where}: not a sops file (no [sops] metadata section)",
            hint="encrypt it first, or check that this is the right file and format",
        )
    flat = {k: v for k, v in meta.items if isinstance(k, str) and isinstance(v, str)}
    return [body], unflatten_metadata(flat, where=where)


def _ini_key_name(k: str) -> str:
    if '"' in k or "=" in k or ":" in k:
        return f"`{k}`"
    if "`" in k:
        return f'"""{k}"""'
    return k


_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)  # Go's unicode.IsSpace


def _ini_value(v: str) -> str:
    if "\n" in v or "`" in v:
        return f'"""{v}"""'
    if "#" in v or ";" in v:
        return f"`{v}`"
    if v.strip(_GO_SPACE) != v:
        return f'"{v}"'
    return v


def _ini_comment_lines(comment: str, *, trim: bool) -> list[str]:
    out = []
    for line in comment.split("\n"):
        if not line:
            raise SopsFormatError("an INI comment has an empty line, which go-ini cannot write")
        if line[0] not in "#;":
            out.append("; " + (line.strip() if trim else line))
        else:
            out.append(line[0] + " " + line[1:].strip())
    return out


def dump_ini(docs: list[Any], *, meta_flat: dict[str, str] | None = None) -> bytes:
    """sops ``encodeTree`` through go-ini's ``WriteTo`` (pretty format)."""
    sections: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    for doc in docs:
        for name, sec in doc.items:
            if isinstance(name, Comment):
                continue
            if not isinstance(sec, Branch):
                raise SopsFormatError(
                    f"cannot write {name!r} as an INI section: INI values must sit in "
                    "sections (sops: Section values should always be TreeBranches)",
                    hint="choose another --output-type",
                )
            items = list(sec.items)
            sec_comment = ""
            if items and isinstance(items[0][0], Comment):
                sec_comment = items[0][0].value
                items = items[1:]
            keys: list[tuple[str, str, str]] = []
            for k, v in items:
                if isinstance(k, Comment):
                    if keys:
                        keys[-1] = (keys[-1][0], keys[-1][1], k.value)
                    continue
                if isinstance(v, (Branch, list)):
                    raise SopsFormatError(
                        f"cannot write the nested value {name}.{k} in an INI file", hint="choose another --output-type"
                    )
                value = v if isinstance(v, str) else _val_to_string(v)
                for i, (kk, _, cc) in enumerate(keys):
                    if kk == k:
                        keys[i] = (kk, value, cc)
                        break
                else:
                    keys.append((k, value, ""))
            sections.append((name, sec_comment, keys))
    if meta_flat is not None:
        sections.append(("sops", "", [(k, v, "") for k, v in meta_flat.items()]))
    out: list[str] = []
    last = len(sections) - 1
    for i, (name, comment, keys) in enumerate(sections):
        if comment:
            out.extend(ln + "\n" for ln in _ini_comment_lines(comment, trim=False))
        if i > 0 or name.upper() != _DEFAULT:
            out.append(f"[{name}]\n")
        elif not keys:
            continue
        names = [_ini_key_name(k) for k, _, _ in keys]
        align = max((len(n.encode()) for n in names), default=0)
        for (_, value, kcomment), kname in zip(keys, names, strict=True):
            if kcomment:
                out.extend(ln + "\n" for ln in _ini_comment_lines(kcomment, trim=True))
            out.append(kname + " " * (align - len(kname.encode())) + " = " + _ini_value(value) + "\n")
        if i != last:
            out.append("\n")
    return "".join(out).encode("utf-8", "surrogateescape")


def dump_ini_encrypted(docs: list[Any], block: Branch) -> bytes:
    return dump_ini(docs, meta_flat=flatten_metadata(block))
