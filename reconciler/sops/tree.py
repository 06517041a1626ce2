"""The sops tree walk: which values are encrypted (the six rules), their AAD, and the MAC.

:class:`EncryptionRules` holds sops' encryption options. :func:`encrypt_docs` and
:func:`decrypt_docs` walk every document in order exactly as ``sops.go`` does (list indexes are not
part of the path, comments use their container's path, a comment stack per nesting level for the
comment regexes) and return the MAC: uppercase hex SHA-512 over the canonical bytes of the values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from reconciler.errors import SopsEncryptError, SopsFormatError, SopsIntegrityError
from reconciler.sops.cipher import Cipher, is_enc
from reconciler.sops.goyaml import INT64_MAX, parse_typed, to_bytes_text, type_name
from reconciler.sops.store import Branch, Comment

__all__ = ["DEFAULT_UNENCRYPTED_SUFFIX", "EncryptionRules", "decrypt_docs", "encrypt_docs"]

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")
RULE_NAMES = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)


def go_regex(pattern: str) -> re.Pattern[str] | None:
    """Compile a Go RE2 pattern for Python (``$`` means end of text); None if invalid (sops: no match)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(r"\Z" if nxt == "z" and not in_class else c + nxt)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(r"\Z" if c == "$" and not in_class else c)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return None


@dataclass(frozen=True)
class EncryptionRules:
    """sops' encryption options; at most one of the six key/comment rules may be set.

    With none set, ``unencrypted_suffix`` defaults to ``_unencrypted`` (as sops does).
    """

    unencrypted_suffix: str | None = None
    encrypted_suffix: str | None = None
    unencrypted_regex: str | None = None
    encrypted_regex: str | None = None
    unencrypted_comment_regex: str | None = None
    encrypted_comment_regex: str | None = None
    mac_only_encrypted: bool = False

    def __post_init__(self) -> None:
        given = [n for n in RULE_NAMES if getattr(self, n)]
        if len(given) > 1:
            raise SopsEncryptError(
                "only one of " + ", ".join(RULE_NAMES) + " may be used",
                detail="given: " + ", ".join(given),
            )

    def effective(self) -> EncryptionRules:
        """These rules with sops' default applied."""
        if any(getattr(self, n) for n in RULE_NAMES):
            return self
        return EncryptionRules(
            unencrypted_suffix=DEFAULT_UNENCRYPTED_SUFFIX, mac_only_encrypted=self.mac_only_encrypted
        )

    def merged(self, override: EncryptionRules | None) -> EncryptionRules:
        """``override``'s rule replaces this one's (CLI flags over .sops.yaml)."""
        if override is None:
            return self
        if any(getattr(override, n) for n in RULE_NAMES):
            base = {n: getattr(override, n) for n in RULE_NAMES}
        else:
            base = {n: getattr(self, n) for n in RULE_NAMES}
        mac_only = self.mac_only_encrypted or override.mac_only_encrypted
        return EncryptionRules(**base, mac_only_encrypted=mac_only)

    def as_metadata(self) -> list[tuple[str, Any]]:
        """The rule fields as sops writes them, in sops 3.11 order."""
        eff = self.effective()
        items: list[tuple[str, Any]] = [
            (f.name, getattr(eff, f.name)) for f in fields(eff) if f.name in RULE_NAMES and getattr(eff, f.name)
        ]
        if eff.mac_only_encrypted:
            items.append(("mac_only_encrypted", True))
        return items


class _Matcher:
    """Evaluates shouldBeEncrypted with the "any key on the path matched" flag carried down."""

    def __init__(self, rules: EncryptionRules) -> None:
        r = rules.effective()
        self.rules = r
        self.key_test: Callable[[str], bool] | None = None
        self.key_match_means: bool | None = None  # True: a match encrypts; False: a match leaves clear
        if r.unencrypted_suffix:
            suf = r.unencrypted_suffix
            self.key_test, self.key_match_means = (lambda k: k.endswith(suf)), False
        elif r.encrypted_suffix:
            esuf = r.encrypted_suffix
            self.key_test, self.key_match_means = (lambda k: k.endswith(esuf)), True
        elif r.unencrypted_regex or r.encrypted_regex:
            rx = go_regex(r.unencrypted_regex or r.encrypted_regex or "")
            self.key_test = (lambda k: rx.search(k) is not None) if rx else (lambda k: False)
            self.key_match_means = bool(r.encrypted_regex)
        self.ucomment = go_regex(r.unencrypted_comment_regex) if r.unencrypted_comment_regex else None
        self.ecomment = go_regex(r.encrypted_comment_regex) if r.encrypted_comment_regex else None
        self.has_ecomment = bool(r.encrypted_comment_regex)
        self.has_ucomment = bool(r.unencrypted_comment_regex)

    def step(self, matched: bool, key: str) -> bool:
        return matched or (self.key_test is not None and self.key_test(key))

    def should(self, matched: bool, stack: list[list[str]], is_comment: bool) -> bool:
        enc = True
        if self.key_match_means is False and matched:
            enc = False
        elif self.key_match_means is True:
            enc = matched
        if self.has_ucomment and self.ucomment is not None:
            rx = self.ucomment
            if any(rx.search(c) for level in stack for c in level):
                enc = False
        if self.has_ecomment:
            enc = False
            rx2 = self.ecomment
            if rx2 is not None:
                last = len(stack) - 1
                for i, level in enumerate(stack):
                    for j, c in enumerate(level):
                        if is_comment and i == last and j == len(level) - 1:
                            continue
                        if rx2.search(c):
                            return True
        return enc


def _refuse_bytes(value: str, what: str) -> None:
    """sops writes no ``type:bytes`` value and 3.11 cannot decrypt one (it panics): refuse it too."""
    if value.endswith(",type:bytes]"):
        raise SopsFormatError(
            f"{what} is encrypted with type `bytes`, which sops never writes and cannot decrypt",
            detail="sops 3.11 aborts on such a value; its plaintext need not be text at all",
            hint="the file was not written by sops: re-create the value with `sops` or `wix-secrets set`",
        )


class _Walk:
    def __init__(
        self, cipher: Cipher, rules: EncryptionRules, *, encrypting: bool, where: str, raw: bool = False
    ) -> None:
        self.raw = raw  # binary store: str values carry arbitrary bytes (surrogateescape)
        self.cipher = cipher
        self.m = _Matcher(rules)
        self.mac_only = self.m.rules.mac_only_encrypted
        self.h = hashlib.sha512()
        if self.mac_only:
            self.h.update(MAC_ONLY_ENCRYPTED_INIT)
        self.encrypting = encrypting
        self.where = where
        self.track_comments = self.m.has_ecomment or self.m.has_ucomment

    def branch(self, b: Branch, path: str, matched: bool, stack: list[list[str]]) -> None:
        stack = [*stack, []]
        items = b.items
        for i, (k, v) in enumerate(items):
            if isinstance(k, Comment):
                stack[-1].append(k.value)
                items[i] = (self.comment(k, path, matched, stack), None)
                continue
            kmatched = self.m.step(matched, k)
            items[i] = (k, self.value(v, path + k + ":", kmatched, stack))
            stack[-1] = []

    def seq(self, s: list[Any], path: str, matched: bool, stack: list[list[str]]) -> None:
        stack = [*stack, []]
        for i, v in enumerate(s):
            if isinstance(v, Comment):
                stack[-1].append(v.value)
                s[i] = self.comment(v, path, matched, stack)
                continue
            s[i] = self.value(v, path, matched, stack)
            stack[-1] = []

    def comment(self, c: Comment, path: str, matched: bool, stack: list[list[str]]) -> Comment:
        enc = self.m.should(matched, stack, True)
        aad = path or ":"
        if self.encrypting:
            if not enc or not c.value:
                return c
            out = self.cipher.encrypt(c.value.encode(), aad, "comment")
            if self.m.ucomment is not None and self.m.ucomment.search(out):
                raise SopsEncryptError("an encrypted comment would match unencrypted_comment_regex")
            return Comment(out)
        if enc and is_enc(c.value):
            _refuse_bytes(c.value, f"{self.where}: a comment under {aad!r}")
            try:
                plain, _ = self.cipher.decrypt(c.value, aad, where=self.where)
            except (SopsFormatError, SopsIntegrityError):
                return c  # sops only warns about a comment it cannot decrypt
            return Comment(plain.decode("utf-8", "replace"))
        return c

    def value(self, v: Any, path: str, matched: bool, stack: list[list[str]]) -> Any:
        if isinstance(v, Branch):
            self.branch(v, path, matched, stack)
            return v
        if isinstance(v, list):
            self.seq(v, path, matched, stack)
            return v
        if v is None:
            return None
        enc = self.m.should(matched, stack, False) if self.track_comments or self.m.key_test else True
        if self.encrypting:
            if isinstance(v, int) and not isinstance(v, bool) and v > INT64_MAX:
                raise SopsEncryptError(f"{path[:-1]}: integer too large for sops (uint64 is not supported)")
            data = to_bytes_text(v).encode("utf-8", "surrogateescape" if self.raw else "strict")
            if not self.mac_only or enc:
                self.h.update(data)
            if enc and data:
                return self.cipher.encrypt(data, path, type_name(v))
            return v
        if enc:
            if v == "":
                return v
            if not isinstance(v, str) or not is_enc(v):
                raise SopsIntegrityError(
                    f"{self.where}: the value at {path[:-1]!r} should be encrypted but is not: "
                    "the file was modified or damaged"
                )
            _refuse_bytes(v, f"{self.where}: the value at {path[:-1]!r}")
            plain, type_ = self.cipher.decrypt(v, path, where=f"{self.where}: {path[:-1]}")
            if type_ == "comment":
                return Comment(plain.decode("utf-8", "replace"))
            else:
                try:
                    v = parse_typed(plain.decode("utf-8", "surrogateescape" if self.raw else "strict"), type_)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise SopsIntegrityError(
                        f"{self.where}: the value at {path[:-1]!r} does not decrypt to a valid {type_}: "
                        "the file was modified or damaged"
                    ) from exc
        if not self.mac_only or enc:
            self.h.update(to_bytes_text(v).encode("utf-8", "surrogateescape" if self.raw else "strict"))
        return v

    def mac(self) -> str:
        return self.h.hexdigest().upper()


def encrypt_docs(docs: list[Any], cipher: Cipher, rules: EncryptionRules, *, raw: bool = False) -> str:
    """Encrypt the documents in place; return the MAC (over the plaintext values)."""
    w = _Walk(cipher, rules, encrypting=True, where="", raw=raw)
    for doc in docs:
        w.branch(doc, "", False, [])
    return w.mac()


def decrypt_docs(docs: list[Any], cipher: Cipher, rules: EncryptionRules, *, where: str, raw: bool = False) -> str:
    """Decrypt the documents in place; return the MAC computed over the decrypted values."""
    w = _Walk(cipher, rules, encrypting=False, where=where, raw=raw)
    for doc in docs:
        w.branch(doc, "", False, [])
    return w.mac()
