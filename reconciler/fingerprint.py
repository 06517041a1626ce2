"""Keyed fingerprints of *desired* values, so a reviewer can tell two changes apart without a leak.

A fingerprint is the first :data:`LENGTH` hex digits of HMAC-SHA256 under a key derived (HKDF-SHA256)
from the manifest's SOPS data key. Without that key a fingerprint cannot be brute-forced, however
short or guessable the value; with it, the same value always gives the same fingerprint, across runs
and machines. Plaintext manifests have no data key, and so no fingerprints: never a plain hash.

Only values *declared in a manifest* are fingerprinted, each under the key of the file that declares
it; a value read from the site never is. Whoever writes a manifest chooses its data key (anyone can
encrypt a new file to the public recipients), so a fingerprint of a site value under that key would
let a pull-request author brute-force the site's current value offline, for any secret (via
``renamed_from``). A plan says only *that* a site value differs, never anything computed from it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from reconciler.model import Sensitive

__all__ = ["LENGTH", "derive_key", "fingerprint"]

LENGTH: Final = 12
_SALT: Final = b"wix-secrets/v1"


def _hkdf(secret: bytes, info: bytes, length: int = 32) -> bytes:
    prk = hmac.new(_SALT, secret, hashlib.sha256).digest()
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def derive_key(data_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` ("fingerprint", "manifest-digest", "value-cache"...)."""
    return _hkdf(data_key, purpose.encode("ascii"))


def fingerprint(key: bytes, value: Sensitive) -> str:
    """The keyed fingerprint of ``value``: 12 lowercase hex digits."""
    digest = hmac.new(key, value.reveal().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:LENGTH]
