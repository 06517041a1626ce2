"""Whole-file operations, bytes in and bytes out: decrypt, encrypt, edit, set/unset, rotate, updatekeys.

Everything the CLI (and other features: backups, import) needs, with no I/O beyond the key commands
:class:`~.keys.KeyRing` may run. The MAC is always verified on the way in; files written carry sops
3.11 metadata and decrypt with the real ``sops``.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import SopsEncryptError, SopsFormatError, SopsIntegrityError
from reconciler.sops import formats
from reconciler.sops.cipher import Cipher
from reconciler.sops.keys import KeyRing, encrypt_to_recipients
from reconciler.sops.metadata import SOPS_VERSION, AgeEntry, Metadata, mac_aad
from reconciler.sops.store import Branch, Comment, to_plain
from reconciler.sops.tree import EncryptionRules, decrypt_docs, encrypt_docs

__all__ = [
    "Decrypted",
    "KeyChange",
    "SopsFile",
    "decrypt",
    "decrypt_text",
    "edit",
    "encrypt",
    "is_encrypted",
    "open_file",
    "parse_path",
    "rotate",
    "set_path",
    "set_secret",
    "unset_path",
    "unset_secret",
    "updatekeys",
]

_SOPS_LINE = re.compile(rb"^sops:[ \t]*(?:#.*)?\r?$", re.M)
_MAC_LINE = re.compile(rb"^[ \t]+mac:[ \t]*\S", re.M)
_FLOW = re.compile(rb"^sops:[ \t]*\{.*\bmac:", re.M | re.S)
_JSON_SOPS = re.compile(rb'"sops"[ \t\r\n]*:[ \t\r\n]*\{')
_JSON_MAC = re.compile(rb'"mac"[ \t\r\n]*:')


def is_encrypted(data: bytes) -> bool:
    """Cheap check: a top-level ``sops:`` mapping with a ``mac`` (no parsing, no keys); for JSON
    (and binary) files, a ``"sops": {`` object with a ``"mac"``."""
    m = _SOPS_LINE.search(data)
    if m:
        return _MAC_LINE.search(data, m.end()) is not None
    if data.lstrip()[:1] == b"{":
        j = _JSON_SOPS.search(data)
        if j is not None:
            return _JSON_MAC.search(data, j.end()) is not None
    return _FLOW.search(data) is not None


@dataclass(frozen=True)
class Decrypted:
    """A verified, decrypted file: plain documents (comments dropped) and what it was encrypted with.

    ``recipients`` are the ``recipient:`` labels of the metadata as written: they are NOT covered by
    the MAC, anyone can edit them. ``unwrapped`` are the ones proven: a label whose stanza was
    unwrapped by one of our identities whose public key equals that label. Only those may be trusted
    to decide where new secrets are encrypted (backups).
    """

    documents: list[Any]
    data_key: bytes = field(repr=False)
    recipients: tuple[str, ...]
    metadata: Metadata
    unwrapped: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Decrypted({len(self.documents)} documents, recipients={self.recipients!r})"


@dataclass(frozen=True)
class KeyChange:
    """Recipients added and removed by :func:`updatekeys`."""

    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


class SopsFile:
    """An opened, verified file: the decrypted tree (with comments), metadata, and the data key."""

    def __init__(
        self,
        docs: list[Any],
        metadata: Metadata,
        data_key: bytes,
        cipher: Cipher,
        unwrapped: tuple[str, ...] = (),
        fmt: str = "yaml",
    ) -> None:
        self.docs = docs
        self.fmt = fmt
        self.metadata = metadata
        self._key = data_key
        self.cipher = cipher
        #: recipients whose stanza an identity with that very public key unwrapped (see Decrypted)
        self.unwrapped = unwrapped

    def __repr__(self) -> str:
        return f"SopsFile({len(self.docs)} documents)"

    @property
    def data_key(self) -> bytes:
        return self._key

    def seal(self, docs: list[Any] | None = None, *, fmt: str | None = None) -> bytes:
        """Encrypt ``docs`` (default: this tree) with the same key, recipients and rules; IVs reused.
        Written in ``fmt`` (default: the store the file was read from)."""
        return _seal(docs if docs is not None else self.docs, self.cipher, self.metadata, fmt or self.fmt)


def _try_entry(keys: KeyRing, entry: AgeEntry, damaged: list[SopsIntegrityError]) -> tuple[bytes, bool] | None:
    """(payload, proven): proven when the identity that unwrapped it has the entry's label as public key."""
    from reconciler.sops.keys import same_recipient

    try:
        got = keys.unwrap(entry.enc, entry.recipient)
    except SopsIntegrityError as exc:  # keep trying the other recipients
        damaged.append(exc)
        return None
    if got is None:
        return None
    payload, public = got
    return payload, same_recipient(entry.recipient, public)


def _unwrap_group(
    keys: KeyRing, group: Sequence[AgeEntry], damaged: list[SopsIntegrityError], proven: list[str]
) -> bytes | None:
    """The first payload a stanza of ``group`` yields; every entry whose label is proven (same payload)
    is added to ``proven``. A label is never trusted without its identity having unwrapped it."""
    found: bytes | None = None
    for entry in group:
        got = _try_entry(keys, entry, damaged)
        if got is None:
            continue
        payload, ok = got
        if found is None:
            found = payload
        if ok and payload == found:
            proven.append(entry.recipient)
            break
    return found


def _data_key(meta: Metadata, keys: KeyRing, where: str) -> tuple[bytes, tuple[str, ...]]:
    """The data key, and the recipients proven by unwrapping (see :attr:`Decrypted.unwrapped`)."""
    from reconciler.sops import shamir

    damaged: list[SopsIntegrityError] = []
    proven: list[str] = []

    if not meta.groups or not any(meta.groups):
        raise SopsFormatError(
            f"{where}: the file has no age recipients",
            hint="only age is supported; this file may use pgp or a cloud KMS",
        )
    if not meta.uses_key_groups or len(meta.groups) == 1:
        key = _unwrap_group(keys, meta.groups[0], damaged, proven)
        if key is not None:
            if len(key) != 32:
                raise SopsIntegrityError(
                    f"{where}: the data key has the wrong length: the file was modified or damaged"
                )
            return key, tuple(proven)
        if damaged:
            raise SopsIntegrityError(f"{where}: {damaged[0].summary}", hint=damaged[0].hint)
        raise keys.not_found(meta.recipients, where=where)
    shares: list[bytes] = []
    for group in meta.groups:
        part = _unwrap_group(keys, group, damaged, proven)
        if part is not None:
            shares.append(part)
    threshold = meta.shamir_threshold or len(meta.groups)
    if len(shares) < threshold:
        if damaged:
            raise SopsIntegrityError(f"{where}: {damaged[0].summary}", hint=damaged[0].hint)
        err = keys.not_found(meta.recipients, where=where)
        err.detail = f"{err.detail}\nkey groups: {len(shares)} of the {threshold} needed could be decrypted"
        raise err
    try:
        key = shamir.combine(shares[:threshold] if threshold >= 2 else shares)
    except ValueError as exc:
        raise SopsIntegrityError(
            f"{where}: the key group shares do not combine: the file was modified or damaged"
        ) from exc
    if len(key) != 32:
        raise SopsIntegrityError(f"{where}: the data key has the wrong length: the file was modified or damaged")
    return key, tuple(proven)


def open_file(
    data: bytes, *, keys: KeyRing, where: str = "<file>", comments: bool | None = False, fmt: str = "yaml"
) -> SopsFile:
    """Parse, find the data key, decrypt every value and verify the MAC. Raises SopsError subclasses.

    ``fmt`` is the store (:mod:`.formats`). YAML files in the subset sops writes are read by
    :mod:`.fastyaml` (no PyYAML); anything else by PyYAML.
    """
    docs, block, fast = formats.load_encrypted(fmt, data, where=where, comments=comments)
    meta = Metadata.parse(block, where=where)
    rules = meta.rules
    if (
        fmt == "yaml"
        and not fast
        and comments is False
        and (rules.encrypted_comment_regex or rules.unencrypted_comment_regex)
    ):
        return open_file(data, keys=keys, where=where, comments=True, fmt=fmt)
    key, proven = _data_key(meta, keys, where)
    cipher = Cipher(key)
    computed = decrypt_docs(docs, cipher, rules, where=where, raw=fmt == "binary")
    if meta.mac.endswith(",type:bytes]"):
        raise SopsFormatError(
            f"{where}: the MAC is encrypted with type `bytes`, which sops never writes",
            hint="the file was modified or damaged",
        )
    try:
        stored, _ = cipher.decrypt(meta.mac, mac_aad(meta.lastmodified), where=f"{where}: sops.mac")
    except SopsIntegrityError as exc:
        raise SopsIntegrityError(
            f"{where}: cannot decrypt the MAC: the file was modified or damaged",
            hint="restore the file from version control",
        ) from exc
    if not hmac.compare_digest(stored, computed.encode()):
        raise SopsIntegrityError(
            f"{where}: MAC mismatch: the file was modified or damaged",
            detail="the values do not match the message authentication code stored in the file",
            hint="restore the file from version control; never edit encrypted values by hand",
        )
    return SopsFile(docs, meta, key, cipher, proven, fmt)


def decrypt(data: bytes, *, keys: KeyRing, where: str = "<file>", fmt: str = "yaml") -> Decrypted:
    """Decrypt and verify a sops file. Documents are plain Python values, comments dropped."""
    f = open_file(data, keys=keys, where=where, comments=False, fmt=fmt)
    return Decrypted([to_plain(d) for d in f.docs], f.data_key, f.metadata.recipients, f.metadata, f.unwrapped)


def decrypt_text(
    data: bytes,
    *,
    keys: KeyRing,
    where: str = "<file>",
    fmt: str = "yaml",
    output_fmt: str | None = None,
    extract: str | None = None,
) -> bytes:
    """The plaintext, as ``sops -d`` prints it (``--output-type``, ``--extract`` as sops has them)."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    out = output_fmt or fmt
    if extract is not None:
        return _extract(f.docs, extract, out, where)
    return formats.emit_plain(out, f.docs)


def parse_path(path: str) -> list[str | int]:
    """sops' ``--extract``/``set`` path syntax: ``["a"]["b"][0]`` (keys quoted, indexes bare)."""
    out: list[str | int] = []
    pos = 0
    text = path.strip()
    pattern = re.compile(r'\[(?:"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|(-?[0-9]+))\]')
    while pos < len(text):
        m = pattern.match(text, pos)
        if not m:
            raise SopsFormatError(f"invalid path {path[:80]!r}", hint='use sops\' syntax: \'["key"]["nested"][0]\'')
        if m.group(3) is not None:
            out.append(int(m.group(3)))
        else:
            raw = m.group(1) if m.group(1) is not None else m.group(2)
            out.append(re.sub(r"\\(.)", r"\1", raw or ""))
        pos = m.end()
    if not out:
        raise SopsFormatError("the path is empty", hint='use sops\' syntax: \'["key"]["nested"]\'')
    return out


def _extract(docs: list[Any], path: str, fmt: str, where: str) -> bytes:
    node: Any = docs[0] if docs else None
    for step in parse_path(path):
        if isinstance(step, str):
            if not isinstance(node, Branch) or step not in node:
                raise SopsFormatError(f"{where}: the path {path} does not exist in the file (no key {step!r})")
            node = node.get(step)
        else:
            if not isinstance(node, list):
                raise SopsFormatError(f"{where}: the path {path} does not exist in the file (not a list)")
            items = [v for v in node if not isinstance(v, Comment)]
            if not 0 <= step < len(items):
                raise SopsFormatError(
                    f"{where}: the path {path} does not exist in the file (index {step} out of range)"
                )
            node = items[step]
    if isinstance(node, Branch):
        return formats.emit_plain(fmt, [node])
    if isinstance(node, str):
        return node.encode("utf-8", "surrogateescape")
    return _emit_value(fmt, node, where)


def _emit_value(fmt: str, value: Any, where: str) -> bytes:
    """A non-string, non-mapping value extracted: the output store's ``EmitValue``."""
    if fmt == "yaml":
        from reconciler.sops.emit import dump

        text = dump([Branch([("v", value)])], go_floats=True).decode("utf-8")
        body = text[len("v:") :]
        if body.startswith(" "):  # a scalar or flow value on the same line
            return (body[1:]).encode("utf-8")
        lines = body.lstrip("\n").split("\n")
        cut = len(lines[0]) - len(lines[0].lstrip(" "))
        return "\n".join(ln[cut:] if ln[:cut].strip() == "" else ln for ln in lines).encode("utf-8")
    if fmt == "json":
        from reconciler.sops.jsonstore import dump_value

        return dump_value(value).encode("utf-8")
    if fmt == "ini":
        from reconciler.sops.jsonstore import dump_value

        return dump_value(value, indent="").replace("\n", "").encode("utf-8")
    if fmt == "dotenv":
        raise SopsFormatError(f"{where}: the dotenv store only supports extracting strings")
    raise SopsFormatError(f"{where}: binary files are not structured; extracting a value is not possible")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seal(docs: list[Any], cipher: Cipher, meta: Metadata, fmt: str = "yaml") -> bytes:
    if fmt in ("json", "binary", "dotenv") and len(docs) > 1:
        raise SopsEncryptError(f"a {fmt} file holds one document; this one has {len(docs)}")
    mac = encrypt_docs(docs, cipher, meta.rules, raw=fmt == "binary")
    lastmod = _now()
    mac_enc = cipher.encrypt(mac.encode(), lastmod, "str")
    meta = replace(meta, lastmodified=lastmod, mac=mac_enc, version=SOPS_VERSION)
    return formats.emit_encrypted(fmt, docs, meta.to_branch())


def _check_plain(docs: list[Any], where: str) -> None:
    if not docs:
        raise SopsEncryptError(f"{where}: the file cannot be completely empty")
    if "sops" in docs[0]:
        raise SopsEncryptError(f"{where}: the file is already encrypted (it has a `sops` key)")


def _groups_for(
    key: bytes, recipients: Sequence[str], key_groups: Sequence[Sequence[str]], threshold: int | None
) -> tuple[tuple[tuple[AgeEntry, ...], ...], bool, int | None]:
    from reconciler.sops import shamir

    if key_groups and len(key_groups) > 1:
        t = threshold or len(key_groups)
        if not 1 <= t <= len(key_groups):
            raise SopsEncryptError("shamir_threshold must be between 1 and the number of key groups")
        shares = shamir.split(key, len(key_groups), t) if t >= 2 else [key] * len(key_groups)
        groups = tuple(
            tuple(AgeEntry(r, e) for r, e in encrypt_to_recipients(share, g))
            for share, g in zip(shares, key_groups, strict=True)
        )
        if t < 2:
            raise SopsEncryptError("a shamir_threshold of 1 is not supported; use one key group instead")
        return groups, True, t
    recips = list(recipients) or [r for g in key_groups for r in g]
    if not recips:
        raise SopsEncryptError("no age recipients given", hint="pass --age RECIPIENT or add a .sops.yaml rule")
    return (tuple(AgeEntry(r, e) for r, e in encrypt_to_recipients(key, recips)),), False, None


def encrypt(
    plain: bytes,
    *,
    recipients: Sequence[str],
    rules: EncryptionRules | None = None,
    key_groups: Sequence[Sequence[str]] = (),
    shamir_threshold: int | None = None,
    where: str = "<file>",
    fmt: str = "yaml",
    output_fmt: str | None = None,
) -> bytes:
    """Encrypt a plaintext file (store ``fmt``; written as ``output_fmt``, default the same) to age
    recipients (or Shamir key groups) with a new data key."""
    docs = formats.load_plain(fmt, plain, where=where)
    _check_plain(docs, where)
    if fmt == "binary" or output_fmt == "binary":
        rules = EncryptionRules(mac_only_encrypted=bool(rules and rules.mac_only_encrypted))
    key = os.urandom(32)
    groups, uses_groups, threshold = _groups_for(key, recipients, key_groups, shamir_threshold)
    meta = Metadata(
        groups=groups,
        lastmodified="",
        mac="",
        rules=(rules or EncryptionRules()).effective(),
        shamir_threshold=threshold,
        uses_key_groups=uses_groups,
    )
    return _seal(docs, Cipher(key), meta, output_fmt or fmt)


def edit(data: bytes, new_plain: bytes, *, keys: KeyRing, where: str = "<file>", fmt: str = "yaml") -> bytes:
    """Re-encrypt edited plaintext with the file's key, recipients and rules; unchanged values keep
    their ciphertext (IV stash)."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    docs = formats.load_plain(fmt, new_plain, where=where)
    _check_plain(docs, where)
    return f.seal(docs)


def _secrets_map(f: SopsFile, where: str) -> Branch:
    doc = f.docs[0]
    secrets = doc.get("secrets")
    if secrets is None:
        secrets = Branch()
        doc.set("secrets", secrets)
    if not isinstance(secrets, Branch):
        raise SopsFormatError(f"{where}: `secrets` is not a mapping")
    return secrets


def set_secret(
    data: bytes,
    name: str,
    value: str,
    *,
    keys: KeyRing,
    description: str | None = None,
    where: str = "<file>",
    fmt: str = "yaml",
) -> bytes:
    """Set ``secrets[name].value`` (and optionally ``description``) of an encrypted manifest."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    secrets = _secrets_map(f, where)
    entry = secrets.get(name)
    if not isinstance(entry, Branch):
        entry = Branch()
        secrets.set(name, entry)
    entry.set("value", value)
    if description is not None:
        entry.set("description", description)
    return f.seal()


def unset_secret(data: bytes, name: str, *, keys: KeyRing, where: str = "<file>", fmt: str = "yaml") -> bytes:
    """Remove ``secrets[name]`` from an encrypted manifest. Raises SopsFormatError if absent."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    secrets = _secrets_map(f, where)
    if name not in secrets:
        raise SopsFormatError(f"{where}: no secret named {name!r}")
    secrets.pop(name)
    return f.seal()


def _walk_to_parent(f: SopsFile, steps: list[str | int], where: str, *, create: bool) -> Any:
    node: Any = f.docs[0]
    for step in steps[:-1]:
        if isinstance(step, str):
            if not isinstance(node, Branch):
                raise SopsFormatError(f"{where}: the path goes through a value that is not a mapping")
            child = node.get(step)
            if child is None and create:
                child = Branch()
                node.set(step, child)
            if child is None:
                raise SopsFormatError(f"{where}: the path does not exist (no key {step!r})")
            node = child
        else:
            items = [i for i, v in enumerate(node) if not isinstance(v, Comment)] if isinstance(node, list) else []
            if not 0 <= step < len(items):
                raise SopsFormatError(f"{where}: the path does not exist (index {step})")
            node = node[items[step]]
    return node


def set_path(data: bytes, path: str, value: Any, *, keys: KeyRing, where: str = "<file>", fmt: str = "yaml") -> bytes:
    """``sops set FILE PATH``: set the value at ``["a"]["b"]`` (mappings created as needed)."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    steps = parse_path(path)
    if fmt in ("dotenv", "binary") and len(steps) != 1:
        raise SopsFormatError(f"{where}: a {fmt} file is flat: the path must be one key")
    parent = _walk_to_parent(f, steps, where, create=True)
    last = steps[-1]
    if isinstance(last, str) and isinstance(parent, Branch):
        parent.set(last, value)
    elif isinstance(last, int) and isinstance(parent, list):
        items = [i for i, v in enumerate(parent) if not isinstance(v, Comment)]
        if last == len(items):
            parent.append(value)
        elif 0 <= last < len(items):
            parent[items[last]] = value
        else:
            raise SopsFormatError(f"{where}: index {last} is out of range")
    else:
        raise SopsFormatError(f"{where}: the path does not fit the file's structure")
    return f.seal()


def unset_path(data: bytes, path: str, *, keys: KeyRing, where: str = "<file>", fmt: str = "yaml") -> bytes:
    """``sops unset FILE PATH``: remove the key or list item at the path. Absent: SopsFormatError."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    steps = parse_path(path)
    parent = _walk_to_parent(f, steps, where, create=False)
    last = steps[-1]
    if isinstance(last, str) and isinstance(parent, Branch) and last in parent:
        parent.pop(last)
    elif isinstance(last, int) and isinstance(parent, list):
        items = [i for i, v in enumerate(parent) if not isinstance(v, Comment)]
        if not 0 <= last < len(items):
            raise SopsFormatError(f"{where}: index {last} is out of range")
        del parent[items[last]]
    else:
        raise SopsFormatError(f"{where}: the path {path} does not exist in the file")
    return f.seal()


def _refuse_other_keys(meta: Metadata, where: str, what: str) -> None:
    other = meta.other_keys
    if other:
        raise SopsEncryptError(
            f"{where}: {what} would change the data key, and this file also holds it for "
            + ", ".join(other)
            + " keys, which wix-secrets cannot re-wrap",
            detail="dropping them silently would lock out their holders; keeping them would leave them with a "
            "key that no longer opens the file",
            hint="run this with the real sops (it has those key services), or remove those keys first",
        )


def rotate(
    data: bytes,
    *,
    keys: KeyRing,
    where: str = "<file>",
    fmt: str = "yaml",
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> bytes:
    """Re-encrypt everything under a new data key, to the same recipients, plus ``add`` and minus
    ``remove`` (``sops rotate --add-age/--rm-age``; added to the first key group). Refuses when the
    file also has pgp/kms/vault keys (they cannot be re-wrapped here)."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    meta = f.metadata
    _refuse_other_keys(meta, where, "rotate")
    key = os.urandom(32)
    gone = {r.strip() for r in remove}
    current = set(meta.recipients)
    missing = sorted(gone - current)
    if missing:
        raise SopsEncryptError(f"{where}: cannot remove {missing[0]}: the file is not encrypted to it")
    groups = [[e.recipient for e in g if e.recipient not in gone] for g in meta.groups] or [[]]
    for r in add:
        r = r.strip()
        if r and r not in current:
            groups[0].append(r)
    if any(not g for g in groups):
        raise SopsEncryptError(
            f"{where}: removing these recipients would leave a key group with none",
            hint="add another recipient with --add-age in the same run",
        )
    if meta.uses_key_groups and len(groups) > 1:
        new, uses, t = _groups_for(key, (), groups, meta.shamir_threshold)
    else:
        new, uses, t = _groups_for(key, groups[0], (), None)
    meta = replace(meta, groups=new, uses_key_groups=uses, shamir_threshold=t)
    return _seal(f.docs, Cipher(key), meta, fmt)


def updatekeys(
    data: bytes,
    *,
    keys: KeyRing,
    recipients: Sequence[str],
    key_groups: Sequence[Sequence[str]] = (),
    shamir_threshold: int | None = None,
    where: str = "<file>",
    fmt: str = "yaml",
) -> tuple[bytes, KeyChange]:
    """Re-encrypt the data key to the given recipients (values unchanged). Returns (file, change)."""
    f = open_file(data, keys=keys, where=where, comments=None, fmt=fmt)
    if f.metadata.group_extra and any(f.metadata.group_extra) and len(f.metadata.groups) > 1:
        _refuse_other_keys(f.metadata, where, "updatekeys of Shamir key groups")
    old = set(f.metadata.recipients)
    wanted = [r.strip() for r in recipients] or [r.strip() for g in key_groups for r in g]
    change = KeyChange(
        tuple(r for r in wanted if r not in old), tuple(r for r in f.metadata.recipients if r not in set(wanted))
    )
    groups, uses, t = _groups_for(f.data_key, recipients, key_groups, shamir_threshold)
    f.metadata = replace(f.metadata, groups=groups, uses_key_groups=uses, shamir_threshold=t)
    return f.seal(), change
