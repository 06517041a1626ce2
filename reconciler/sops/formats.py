"""The five sops stores behind one interface, and the format chosen as sops chooses it.

``yaml`` (:mod:`.store`, :mod:`.fastyaml`, :mod:`.emit`), ``json`` and the ``binary`` envelope
(:mod:`.jsonstore`), ``dotenv`` and ``ini`` (:mod:`.flatstores`). :func:`format_for_path` is sops'
``FormatForPath`` (``.yaml``/``.yml``, ``.json``, ``.env``, ``.ini``, anything else binary);
``--input-type``/``--output-type`` override it (:func:`choose`, which refuses unknown names instead of
silently falling back to the extension).

Each store loads plaintext into documents (:class:`~.store.Branch` trees), loads an encrypted file
into documents plus the raw ``sops`` block (as a Branch, whatever the store's encoding), and emits
both, byte for byte as sops 3.11 does.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import SopsFormatError
from reconciler.sops.store import Branch

__all__ = ["FORMATS", "choose", "emit_encrypted", "emit_plain", "format_for_path", "load_encrypted", "load_plain"]

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")


def format_for_path(path: str) -> str:
    """sops' ``FormatForPath``: the store a file name implies."""
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    if path.endswith(".json"):
        return "json"
    if path.endswith(".env"):
        return "dotenv"
    if path.endswith(".ini"):
        return "ini"
    return "binary"


def choose(path: str, given: str | None) -> str:
    """``given`` (``--input-type``/``--output-type``) if set, else the format of ``path``."""
    if given:
        if given not in FORMATS:
            raise SopsFormatError(f"unknown file format {given!r}", hint="use one of: " + ", ".join(FORMATS))
        return given
    return format_for_path(path)


def _one_doc(docs: list[Any], fmt: str) -> Branch:
    if not docs:
        raise SopsFormatError(f"nothing to write as {fmt}: the file has no document")
    doc = docs[0]
    if not isinstance(doc, Branch):
        raise SopsFormatError(f"cannot write a {type(doc).__name__} as {fmt}")
    return doc


def _ints(value: Any) -> Any:
    """JSON numbers of the sops block as ints where whole (shamir_threshold is an int in Go)."""
    if isinstance(value, Branch):
        return Branch([(k, _ints(v)) for k, v in value.items])
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def load_plain(fmt: str, data: bytes, *, where: str) -> list[Any]:
    """Plaintext documents (comments kept where the store has them)."""
    if fmt == "yaml":
        from reconciler.sops.store import load

        return load(data, where=where, comments=None)
    if fmt == "json":
        from reconciler.sops.jsonstore import parse

        return [parse(data, where=where)]
    if fmt == "binary":
        return [Branch([("data", data.decode("utf-8", "surrogateescape"))])]
    if fmt == "dotenv":
        from reconciler.sops.flatstores import load_dotenv

        return load_dotenv(data, where=where)
    if fmt == "ini":
        from reconciler.sops.flatstores import load_ini

        return load_ini(data, where=where)
    raise SopsFormatError(f"unknown file format {fmt!r}")


def _not_sops(where: str, fmt: str) -> SopsFormatError:
    return SopsFormatError(
        f"{where}: not a sops file (no `sops` metadata in this {fmt} file)",
        hint="encrypt it first, or check the file and its format (--input-type)",
    )


def load_encrypted(fmt: str, data: bytes, *, where: str, comments: bool | None) -> tuple[list[Any], Any, bool]:
    """(documents, the raw ``sops`` block, whether the fast YAML reader was used)."""
    if fmt == "yaml":
        from reconciler.sops.fastyaml import parse as parse_fast
        from reconciler.sops.store import load

        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SopsFormatError(f"{where}: the file is not UTF-8") from exc
        fast = parse_fast(text)
        docs = fast if fast is not None else load(text, where=where, comments=comments)
        if not docs:
            raise SopsFormatError(f"{where}: the file is empty")
        if "sops" not in docs[0]:
            raise SopsFormatError(
                f"{where}: not a sops file (no `sops` metadata block)",
                hint="encrypt it first, or check that this is the right file",
            )
        block = docs[0].pop("sops")
        for d in docs[1:]:
            if "sops" in d:
                d.pop("sops")
        return docs, block, fast is not None
    if fmt in ("json", "binary"):
        from reconciler.sops.jsonstore import parse

        if not data.lstrip(b" \t\r\n").startswith(b"{"):
            raise SopsFormatError(
                f"{where}: this is not a sops {fmt} file: sops stores {fmt} files as a JSON object",
                hint="choose the format with --input-type (yaml, json, dotenv, ini, binary)",
            )
        root = parse(data, where=where)
        if "sops" not in root:
            raise _not_sops(where, fmt)
        block = root.pop("sops")
        if not isinstance(block, Branch):
            raise SopsFormatError(f"{where}: the `sops` metadata is not an object")
        return [root], _ints(block), False
    if fmt == "dotenv":
        from reconciler.sops.flatstores import load_dotenv_encrypted

        docs, block = load_dotenv_encrypted(data, where=where)
        return docs, block, False
    if fmt == "ini":
        from reconciler.sops.flatstores import load_ini_encrypted

        docs, block = load_ini_encrypted(data, where=where)
        return docs, block, False
    raise SopsFormatError(f"unknown file format {fmt!r}")


def emit_plain(fmt: str, docs: list[Any]) -> bytes:
    """The plaintext file, as ``sops -d`` prints it for this output store."""
    if fmt == "yaml":
        from reconciler.sops.emit import dump

        return dump(docs, go_floats=True)
    if fmt == "json":
        from reconciler.sops.jsonstore import dump as jdump

        return jdump(_one_doc(docs, fmt))
    if fmt == "binary":
        if len(docs) != 1 or not isinstance(docs[0], Branch):
            raise SopsFormatError("error emitting binary store: there must be exactly one document", hint=_NOT_BINARY)
        value = docs[0].get("data")
        if "data" not in docs[0]:
            raise SopsFormatError("error emitting binary store: no binary data found in tree", hint=_NOT_BINARY)
        if not isinstance(value, str):
            raise SopsFormatError(
                "error emitting binary store: 'data' key in tree does not have a string value", hint=_NOT_BINARY
            )
        return value.encode("utf-8", "surrogateescape")
    if fmt == "dotenv":
        from reconciler.sops.flatstores import dump_dotenv

        return dump_dotenv(docs[:1])
    if fmt == "ini":
        from reconciler.sops.flatstores import dump_ini

        return dump_ini(docs)
    raise SopsFormatError(f"unknown file format {fmt!r}")


_NOT_BINARY = (
    "this is likely not an encrypted binary file; if it is not, choose the format with "
    "--input-type/--output-type (yaml, json, dotenv, ini)"
)


def _json_block(block: Branch, *, binary: bool) -> Branch:
    items = []
    for k, v in block.items:
        if binary and k == "unencrypted_suffix" and v == "_unencrypted":
            continue  # sops clears the encryption rules of single-value (binary) files
        if k == "key_groups" and isinstance(v, list):
            v = [
                Branch([(gk, None if gk == "hc_vault" and gv == [] else gv) for gk, gv in g.items])
                if isinstance(g, Branch)
                else g
                for g in v
            ]
        items.append((k, v))
    return Branch(items)


def emit_encrypted(fmt: str, docs: list[Any], block: Branch) -> bytes:
    """The encrypted file: documents (already encrypted) and the ``sops`` block, in this store."""
    if fmt == "yaml":
        from reconciler.sops.emit import dump

        for d in docs:
            d.items.append(("sops", block))
        return dump(docs)
    if fmt in ("json", "binary"):
        from reconciler.sops.jsonstore import dump as jdump

        doc = _one_doc(docs, fmt)
        return jdump(Branch([*doc.items, ("sops", _json_block(block, binary=fmt == "binary"))]))
    if fmt == "dotenv":
        from reconciler.sops.flatstores import dump_dotenv_encrypted

        return dump_dotenv_encrypted(docs[:1], block)
    if fmt == "ini":
        from reconciler.sops.flatstores import dump_ini_encrypted

        return dump_ini_encrypted(docs, block)
    raise SopsFormatError(f"unknown file format {fmt!r}")
