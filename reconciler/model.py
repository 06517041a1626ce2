"""Frozen value types shared by every layer: secrets as declared, secrets as Wix has them, policy.

Nothing here does I/O. :class:`Sensitive` wraps every secret value so that it cannot be printed,
logged or serialised by accident: ``str()``, ``repr()`` and ``format()`` all give
``(sensitive value)``; only :meth:`Sensitive.reveal` returns the text, and only the HTTP client,
the SOPS writer and the comparison in :mod:`reconciler.plan` call it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Literal

__all__ = [
    "MASK",
    "UNSET",
    "DesiredSecret",
    "DesiredState",
    "Policy",
    "RemoteSecret",
    "RemoteState",
    "Sensitive",
    "Unset",
]

MASK: Final = "(sensitive value)"


class Unset(Enum):
    """Sentinel for "not given" where ``None`` or ``""`` would mean something (httpx UseClientDefault)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


class Sensitive:
    """A secret value. Never shown: ``str``/``repr``/``format`` give ``(sensitive value)``.

    Equality compares the wrapped text in constant time, so a plan can compare values without
    unwrapping them. It is deliberately not hashable by value (no ``__hash__``) so values cannot
    become dict keys or set members that end up in output.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Sensitive wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The plaintext. Call only to send it to Wix, encrypt it, or fingerprint it."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sensitive):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __reduce__(self) -> str | tuple[object, ...]:  # pickling would write the value somewhere
        raise TypeError("Sensitive values cannot be pickled")


@dataclass(frozen=True)
class RemoteSecret:
    """A secret as ListSecretInfo returns it (no value). Dates are the ISO strings Wix sent."""

    id: str
    name: str
    description: str = ""
    created_date: str = ""
    updated_date: str = ""


@dataclass(frozen=True)
class RemoteState:
    """What the site holds: every listed secret, plus the values that were read.

    ``values`` holds a value for each secret that was read (GetSecretValue) keyed by id; ignored
    and unmanaged secrets are listed but not read.
    """

    secrets: tuple[RemoteSecret, ...]
    values: Mapping[str, Sensitive] = field(default_factory=dict)

    def by_name(self) -> dict[str, RemoteSecret]:
        return {s.name: s for s in self.secrets}

    def by_id(self) -> dict[str, RemoteSecret]:
        return {s.id: s for s in self.secrets}


@dataclass(frozen=True)
class DesiredSecret:
    """One entry of the manifest's ``secrets`` map.

    ``description`` is :data:`UNSET` when the manifest does not mention it: the remote description is
    then left alone. ``value`` is None only for ``state: absent``. ``line`` is where the entry starts
    in the manifest file, for messages. ``fingerprint`` is the keyed fingerprint of the *desired* value
    under the key of the file it was declared in (None for plaintext manifests); see
    :mod:`reconciler.fingerprint` for why a site value is never fingerprinted.
    """

    name: str
    value: Sensitive | None
    description: str | Unset = UNSET
    renamed_from: tuple[str, ...] = ()
    state: Literal["present", "absent"] = "present"
    line: int | None = None
    fingerprint: str | None = None
    #: seconds after which the value is overdue for rotation (``max_age: 90d``); None: the policy's
    max_age: int | None = None


@dataclass(frozen=True)
class Policy:
    """The manifest's ``policy`` block. Globs are fnmatch-style, case-sensitive."""

    prune: bool = False
    protect: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    names: str = "api"  # "dashboard": names outside the Wix dashboard's rules are errors (siterules)
    #: code-aware plans (reconciler.codescan): (path or glob, the manifest file naming it) pairs
    code: tuple[tuple[str, str], ...] = ()
    #: globs of the names dynamic code references may take; None: unknown (deletes stay refused)
    code_dynamic_names: tuple[str, ...] | None = None
    #: seconds after which a value is overdue for rotation (``max_age: 90d``); None: no limit
    max_age: int | None = None


@dataclass(frozen=True)
class DesiredState:
    """A validated manifest: what the site should hold.

    ``digest`` is a keyed digest of the manifest's content (see :mod:`reconciler.fingerprint`) used to
    bind a saved plan to the manifest it was made from; ``fingerprint_key`` is the key the desired
    values were fingerprinted with (derived from the SOPS data key; None for plaintext manifests, which
    then show no fingerprints). ``recipients`` are the age recipients of an encrypted manifest (for backups).
    """

    secrets: tuple[DesiredSecret, ...]
    policy: Policy = field(default_factory=Policy)
    source: str = "<manifest>"
    digest: str = ""
    fingerprint_key: bytes | None = field(default=None, repr=False)
    recipients: tuple[str, ...] = ()
    #: key of the opt-in value cache (reconciler.valuecache), derived like fingerprint_key; None if plaintext
    cache_key: bytes | None = field(default=None, repr=False)

    def present(self) -> tuple[DesiredSecret, ...]:
        return tuple(s for s in self.secrets if s.state == "present")

    def absent(self) -> tuple[DesiredSecret, ...]:
        return tuple(s for s in self.secrets if s.state == "absent")
