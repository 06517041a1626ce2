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
from reconciler.sops.cipher import Cipher
from reconciler.sops.emit import dump
from reconciler.sops.fastyaml import parse as parse_fast
from reconciler.sops.keys import KeyRing, encrypt_to_recipients
from reconciler.sops.metadata import SOPS_VERSION, AgeEntry, Metadata, mac_aad
from reconciler.sops.store import Branch, load, to_plain
from reconciler.sops.tree import EncryptionRules, decrypt_docs, encrypt_docs

__all__ = [
    "Decrypted", "KeyChange", "SopsFile", "decrypt", "decrypt_text", "edit", "encrypt", "is_encrypted",
    "open_file", "rotate", "set_secret", "unset_secret", "updatekeys",
]

_SOPS_LINE = re.compile(rb"^sops:[ \t]*(?:#.*)?\r?$", re.M)
_MAC_LINE = re.compile(rb"^[ \t]+mac:[ \t]*\S", re.M)
_FLOW = re.compile(rb"^sops:[ \t]*\{.*\bmac:", re.M | re.S)


def is_encrypted(data: bytes) -> bool:
    """Cheap check: a top-level ``sops:`` mapping with a ``mac`` (no parsing, no keys)."""
    m = _SOPS_LINE.search(data)
    if m:
        return _MAC_LINE.search(data, m.end()) is not None
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

    def __init__(self, docs: list[Any], metadata: Metadata, data_key: bytes, cipher: Cipher,
                 unwrapped: tuple[str, ...] = ()) -> None:
        self.docs = docs
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

    def seal(self, docs: list[Any] | None = None) -> bytes:
        """Encrypt ``docs`` (default: this tree) with the same key, recipients and rules; IVs reused."""
        return _seal(docs if docs is not None else self.docs, self.cipher, self.metadata)


def _split_docs(docs: list[Any], where: str) -> tuple[list[Any], Any]:
    if not docs:
        raise SopsFormatError(f"{where}: the file is empty")
    first = docs[0]
    if "sops" not in first:
        raise SopsFormatError(f"{where}: not a sops file (no `sops` metadata block)",
                              hint="encrypt it first, or check that this is the right file")
    block = first.pop("sops")
    for d in docs[1:]:
        if "sops" in d:
            d.pop("sops")
    return docs, block


def _try_entry(keys: KeyRing, entry: AgeEntry, damaged: list[SopsIntegrityError]
               ) -> tuple[bytes, bool] | None:
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


def _unwrap_group(keys: KeyRing, group: Sequence[AgeEntry], damaged: list[SopsIntegrityError],
                  proven: list[str]) -> bytes | None:
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
        raise SopsFormatError(f"{where}: the file has no age recipients",
                              hint="only age is supported; this file may use pgp or a cloud KMS")
    if not meta.uses_key_groups or len(meta.groups) == 1:
        key = _unwrap_group(keys, meta.groups[0], damaged, proven)
        if key is not None:
            if len(key) != 32:
                raise SopsIntegrityError(f"{where}: the data key has the wrong length: "
                                         "the file was modified or damaged")
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
        raise SopsIntegrityError(f"{where}: the key group shares do not combine: "
                                 "the file was modified or damaged") from exc
    if len(key) != 32:
        raise SopsIntegrityError(f"{where}: the data key has the wrong length: "
                                 "the file was modified or damaged")
    return key, tuple(proven)


def open_file(
    data: bytes, *, keys: KeyRing, where: str = "<file>", comments: bool | None = False
) -> SopsFile:
    """Parse, find the data key, decrypt every value and verify the MAC. Raises SopsError subclasses.

    Files in the subset sops writes are read by :mod:`.fastyaml` (no PyYAML); anything else by PyYAML.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SopsFormatError(f"{where}: the file is not UTF-8") from exc
    fast = parse_fast(text)
    docs = fast if fast is not None else load(text, where=where, comments=comments)
    docs, block = _split_docs(docs, where)
    meta = Metadata.parse(block, where=where)
    rules = meta.rules
    if fast is None and comments is False and (rules.encrypted_comment_regex or rules.unencrypted_comment_regex):
        return open_file(data, keys=keys, where=where, comments=True)
    key, proven = _data_key(meta, keys, where)
    cipher = Cipher(key)
    computed = decrypt_docs(docs, cipher, rules, where=where)
    if meta.mac.endswith(",type:bytes]"):
        raise SopsFormatError(f"{where}: the MAC is encrypted with type `bytes`, which sops never writes",
                              hint="the file was modified or damaged")
    try:
        stored, _ = cipher.decrypt(meta.mac, mac_aad(meta.lastmodified), where=f"{where}: sops.mac")
    except SopsIntegrityError as exc:
        raise SopsIntegrityError(f"{where}: cannot decrypt the MAC: the file was modified or damaged",
                                 hint="restore the file from version control") from exc
    if not hmac.compare_digest(stored, computed.encode()):
        raise SopsIntegrityError(
            f"{where}: MAC mismatch: the file was modified or damaged",
            detail="the values do not match the message authentication code stored in the file",
            hint="restore the file from version control; never edit encrypted values by hand",
        )
    return SopsFile(docs, meta, key, cipher, proven)


def decrypt(data: bytes, *, keys: KeyRing, where: str = "<file>") -> Decrypted:
    """Decrypt and verify a sops file. Documents are plain Python values, comments dropped."""
    f = open_file(data, keys=keys, where=where, comments=False)
    return Decrypted([to_plain(d) for d in f.docs], f.data_key, f.metadata.recipients, f.metadata,
                     f.unwrapped)


def decrypt_text(data: bytes, *, keys: KeyRing, where: str = "<file>") -> bytes:
    """The plaintext YAML (comments kept), as ``sops -d`` prints it."""
    f = open_file(data, keys=keys, where=where, comments=None)
    return dump(f.docs, go_floats=True)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seal(docs: list[Any], cipher: Cipher, meta: Metadata) -> bytes:
    mac = encrypt_docs(docs, cipher, meta.rules)
    lastmod = _now()
    mac_enc = cipher.encrypt(mac.encode(), lastmod, "str")
    meta = replace(meta, lastmodified=lastmod, mac=mac_enc, version=SOPS_VERSION)
    block = meta.to_branch()
    for d in docs:
        d.items.append(("sops", block))
    return dump(docs)


def _check_plain(docs: list[Any], where: str) -> None:
    if not docs:
        raise SopsEncryptError(f"{where}: the file cannot be completely empty")
    if "sops" in docs[0]:
        raise SopsEncryptError(f"{where}: the file is already encrypted (it has a `sops` key)")


def _groups_for(key: bytes, recipients: Sequence[str], key_groups: Sequence[Sequence[str]],
                threshold: int | None) -> tuple[tuple[tuple[AgeEntry, ...], ...], bool, int | None]:
    from reconciler.sops import shamir

    if key_groups and len(key_groups) > 1:
        t = threshold or len(key_groups)
        if not 1 <= t <= len(key_groups):
            raise SopsEncryptError("shamir_threshold must be between 1 and the number of key groups")
        shares = shamir.split(key, len(key_groups), t) if t >= 2 else [key] * len(key_groups)
        groups = tuple(
            tuple(AgeEntry(r, e) for r, e in encrypt_to_recipients(share, g)) for share, g in zip(
                shares, key_groups, strict=True)
        )
        if t < 2:
            raise SopsEncryptError("a shamir_threshold of 1 is not supported; use one key group instead")
        return groups, True, t
    recips = list(recipients) or [r for g in key_groups for r in g]
    if not recips:
        raise SopsEncryptError("no age recipients given",
                               hint="pass --age RECIPIENT or add a .sops.yaml rule")
    return (tuple(AgeEntry(r, e) for r, e in encrypt_to_recipients(key, recips)),), False, None


def encrypt(plain: bytes, *, recipients: Sequence[str], rules: EncryptionRules | None = None,
            key_groups: Sequence[Sequence[str]] = (), shamir_threshold: int | None = None,
            where: str = "<file>") -> bytes:
    """Encrypt plaintext YAML to age recipients (or Shamir key groups) with a new data key."""
    docs = load(plain, where=where, comments=None)
    _check_plain(docs, where)
    key = os.urandom(32)
    groups, uses_groups, threshold = _groups_for(key, recipients, key_groups, shamir_threshold)
    meta = Metadata(groups=groups, lastmodified="", mac="", rules=(rules or EncryptionRules()).effective(),
                    shamir_threshold=threshold, uses_key_groups=uses_groups)
    return _seal(docs, Cipher(key), meta)


def edit(data: bytes, new_plain: bytes, *, keys: KeyRing, where: str = "<file>") -> bytes:
    """Re-encrypt edited plaintext with the file's key, recipients and rules; unchanged values keep
    their ciphertext (IV stash)."""
    f = open_file(data, keys=keys, where=where, comments=None)
    docs = load(new_plain, where=where, comments=None)
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


def set_secret(data: bytes, name: str, value: str, *, keys: KeyRing, description: str | None = None,
               where: str = "<file>") -> bytes:
    """Set ``secrets[name].value`` (and optionally ``description``) of an encrypted manifest."""
    f = open_file(data, keys=keys, where=where, comments=None)
    secrets = _secrets_map(f, where)
    entry = secrets.get(name)
    if not isinstance(entry, Branch):
        entry = Branch()
        secrets.set(name, entry)
    entry.set("value", value)
    if description is not None:
        entry.set("description", description)
    return f.seal()


def unset_secret(data: bytes, name: str, *, keys: KeyRing, where: str = "<file>") -> bytes:
    """Remove ``secrets[name]`` from an encrypted manifest. Raises SopsFormatError if absent."""
    f = open_file(data, keys=keys, where=where, comments=None)
    secrets = _secrets_map(f, where)
    if name not in secrets:
        raise SopsFormatError(f"{where}: no secret named {name!r}")
    secrets.pop(name)
    return f.seal()


def rotate(data: bytes, *, keys: KeyRing, where: str = "<file>") -> bytes:
    """Re-encrypt everything under a new data key, to the same recipients."""
    f = open_file(data, keys=keys, where=where, comments=None)
    meta = f.metadata
    key = os.urandom(32)
    groups = [[e.recipient for e in g] for g in meta.groups]
    if meta.uses_key_groups and len(groups) > 1:
        new, uses, t = _groups_for(key, (), groups, meta.shamir_threshold)
    else:
        new, uses, t = _groups_for(key, groups[0] if groups else (), (), None)
    meta = replace(meta, groups=new, uses_key_groups=uses, shamir_threshold=t,
                   extra=tuple(kv for kv in meta.extra if kv[0] not in ("pgp", "kms", "gcp_kms", "azure_kv",
                                                                          "hc_vault", "hckms")))
    return _seal(f.docs, Cipher(key), meta)


def updatekeys(data: bytes, *, keys: KeyRing, recipients: Sequence[str],
               key_groups: Sequence[Sequence[str]] = (), shamir_threshold: int | None = None,
               where: str = "<file>") -> tuple[bytes, KeyChange]:
    """Re-encrypt the data key to the given recipients (values unchanged). Returns (file, change)."""
    f = open_file(data, keys=keys, where=where, comments=None)
    old = set(f.metadata.recipients)
    wanted = [r.strip() for r in recipients] or [r.strip() for g in key_groups for r in g]
    change = KeyChange(tuple(r for r in wanted if r not in old), tuple(r for r in f.metadata.recipients
                                                                   if r not in set(wanted)))
    groups, uses, t = _groups_for(f.data_key, recipients, key_groups, shamir_threshold)
    f.metadata = replace(f.metadata, groups=groups, uses_key_groups=uses, shamir_threshold=t)
    return f.seal(), change
