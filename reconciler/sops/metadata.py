"""The ``sops:`` metadata block: parse it (any sops version's field order), check it, write it (3.11 order).

:class:`Metadata` holds the age recipients (one group, or several ``key_groups`` with a Shamir
threshold), ``lastmodified``, the encrypted MAC, the encryption rules and the version. Key types this
tool cannot use (pgp, kms, ...) are kept verbatim in ``extra`` so edits that keep the data key keep them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.errors import SopsFormatError
from reconciler.sops.goyaml import format_time, parse_time
from reconciler.sops.store import Branch, Comment, to_plain
from reconciler.sops.tree import RULE_NAMES, EncryptionRules

__all__ = ["SOPS_VERSION", "AgeEntry", "Metadata", "mac_aad"]

SOPS_VERSION = "3.11.0"
# the whole string, as sops parses it (semver): "3.11.0a" is refused ("Invalid character(s) found in patch number")
_SEMVER = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_KEY_TYPES = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")
_KNOWN = {"age", "key_groups", "shamir_threshold", "lastmodified", "mac", "version", "mac_only_encrypted", *RULE_NAMES}


@dataclass(frozen=True)
class AgeEntry:
    """One age recipient and the data key (or Shamir share) encrypted to it (armored age file)."""

    recipient: str
    enc: str

    def __repr__(self) -> str:
        return f"AgeEntry({self.recipient!r})"


@dataclass(frozen=True)
class Metadata:
    """A parsed ``sops:`` block."""

    groups: tuple[tuple[AgeEntry, ...], ...]
    lastmodified: str
    mac: str
    rules: EncryptionRules
    version: str = SOPS_VERSION
    shamir_threshold: int | None = None
    uses_key_groups: bool = False
    extra: tuple[tuple[str, Any], ...] = field(default=(), repr=False)
    #: per key group, its non-age entries (pgp, kms, ..., hc_vault) kept verbatim
    group_extra: tuple[tuple[tuple[str, Any], ...], ...] = field(default=(), repr=False)

    @property
    def other_keys(self) -> tuple[str, ...]:
        """Key types besides age that hold the data key (pgp, kms, gcp_kms, azure_kv, hc_vault, ...)."""
        found = [k for k, v in self.extra if k in _KEY_TYPES and v not in (None, [], "")]
        found += [k for g in self.group_extra for k, v in g if v not in (None, [], "")]
        return tuple(dict.fromkeys(found))

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every age recipient, in file order."""
        return tuple(e.recipient for g in self.groups for e in g)

    @classmethod
    def parse(cls, block: Any, *, where: str) -> Metadata:
        """Parse and check a ``sops`` mapping. Raises SopsFormatError."""
        if not isinstance(block, Branch):
            raise SopsFormatError(f"{where}: the `sops` metadata is not a mapping")
        meta = to_plain(block)
        version = meta.get("version")
        if not isinstance(version, str) or not version:
            raise SopsFormatError(f"{where}: the sops metadata has no version (sops: Version string empty)")
        if not (_SEMVER.fullmatch(version) or version.startswith("1.")):
            raise SopsFormatError(
                f"{where}: invalid sops version {version!r} in the metadata", hint="the file was modified or damaged"
            )
        lastmod = meta.get("lastmodified")
        if isinstance(lastmod, datetime):
            lastmod = format_time(lastmod)
        if not isinstance(lastmod, str) or parse_time(lastmod) is None:
            raise SopsFormatError(f"{where}: the sops metadata has no valid `lastmodified` time")
        mac = meta.get("mac")
        if not isinstance(mac, str) or not mac:
            raise SopsFormatError(
                f"{where}: the file has no MAC (sops: File has no MAC)", hint="the file was modified or damaged"
            )
        rules_kw = {}
        for name in RULE_NAMES:
            val = meta.get(name)
            if val not in (None, ""):
                rules_kw[name] = str(val)
        try:
            rules = EncryptionRules(**rules_kw, mac_only_encrypted=meta.get("mac_only_encrypted") is True)
        except Exception as exc:  # more than one rule
            raise SopsFormatError(f"{where}: the sops metadata sets more than one encryption rule") from exc
        top = cls._entries(meta.get("age"), where)
        group_extra: tuple[tuple[tuple[str, Any], ...], ...] = ()
        threshold = meta.get("shamir_threshold")
        uses_groups = False
        if top:
            groups: tuple[tuple[AgeEntry, ...], ...] = (top,)
        else:
            raw_groups = meta.get("key_groups") or []
            if not isinstance(raw_groups, list):
                raise SopsFormatError(f"{where}: `key_groups` in the sops metadata is not a list")
            groups = tuple(cls._entries(g.get("age") if isinstance(g, dict) else None, where) for g in raw_groups)
            uses_groups = True
            raw_branches = block.get("key_groups") or []
            group_extra = tuple(
                tuple((k, v) for k, v in g.items if isinstance(k, str) and k != "age") if isinstance(g, Branch) else ()
                for g in raw_branches
            )
        if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool)):
            raise SopsFormatError(f"{where}: `shamir_threshold` is not an integer")
        extra = tuple((k, v) for k, v in block.items if isinstance(k, str) and k not in _KNOWN)
        return cls(
            groups=groups,
            lastmodified=lastmod,
            mac=mac,
            rules=rules,
            version=version,
            shamir_threshold=threshold,
            uses_key_groups=uses_groups,
            extra=extra,
            group_extra=group_extra,
        )

    @staticmethod
    def _entries(raw: Any, where: str) -> tuple[AgeEntry, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise SopsFormatError(f"{where}: the `age` list in the sops metadata is not a list")
        out = []
        for item in raw:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("recipient"), str)
                or not isinstance(item.get("enc"), str)
            ):
                raise SopsFormatError(f"{where}: an `age` entry in the sops metadata lacks recipient/enc")
            out.append(AgeEntry(item["recipient"].strip(), item["enc"]))
        return tuple(out)

    def to_branch(self, *, keep_extra: bool = True) -> Branch:
        """The block as sops 3.11 writes it (struct field order)."""
        b = Branch()
        extra = dict(self.extra) if keep_extra else {}
        if self.uses_key_groups and len(self.groups) > 0:
            b.items.append(("shamir_threshold", self.shamir_threshold or len(self.groups)))
            kg = []
            for i, g in enumerate(self.groups):
                kept = dict(self.group_extra[i]) if i < len(self.group_extra) else {}
                items: list[tuple[str | Comment, Any]] = [
                    (k, kept.pop(k)) for k in ("pgp", "kms", "gcp_kms", "azure_kv") if k in kept
                ]
                items.append(("hc_vault", kept.pop("hc_vault", [])))
                items.extend(kept.items())
                items.append(("age", [_age(e) for e in g]))
                kg.append(Branch(items))
            b.items.append(("key_groups", kg))
        for k in ("kms", "gcp_kms", "azure_kv", "hc_vault"):
            if k in extra:
                b.items.append((k, extra.pop(k)))
        if not self.uses_key_groups and self.groups:
            b.items.append(("age", [_age(e) for e in self.groups[0]]))
        b.items.append(("lastmodified", self.lastmodified))
        b.items.append(("mac", self.mac))
        if "pgp" in extra:
            b.items.append(("pgp", extra.pop("pgp")))
        b.items.extend(self.rules.as_metadata())
        b.items.extend(extra.items())
        b.items.append(("version", self.version))
        return b


def _age(e: AgeEntry) -> Branch:
    enc = e.enc if e.enc.endswith("\n") else e.enc + "\n"
    return Branch([("recipient", e.recipient), ("enc", enc.replace("\r\n", "\n"))])


def mac_aad(lastmodified: str) -> str:
    """The MAC's AAD: ``lastmodified`` re-formatted as Go RFC3339 (no fraction, ``Z`` for UTC)."""
    t = parse_time(lastmodified)
    if t is None:
        raise SopsFormatError("the sops metadata has no valid `lastmodified` time")
    return format_time(datetime(t.year, t.month, t.day, t.hour, t.minute, t.second, tzinfo=t.tzinfo))
