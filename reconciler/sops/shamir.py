"""Shamir secret sharing over GF(2^8) as HashiCorp Vault (and sops key_groups) does it.

A share is ``y_bytes || x`` (one more byte than the secret); sops gives group ``i`` the share with
``x = i + 1``. Combining is Lagrange interpolation at 0, byte by byte, with the AES polynomial 0x11B.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

__all__ = ["combine", "split"]


def _mul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return r


def _inv(a: int) -> int:
    r, e = 1, 254
    while e:
        if e & 1:
            r = _mul(r, a)
        a = _mul(a, a)
        e >>= 1
    return r


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it."""
    if not 2 <= threshold <= parts <= 255:
        raise ValueError("need 2 <= threshold <= parts <= 255")
    ys = [bytearray() for _ in range(parts)]
    for byte in secret:
        coeffs = [byte, *os.urandom(threshold - 1)]
        for i in range(parts):
            x, acc = i + 1, 0
            for c in reversed(coeffs):
                acc = _mul(acc, x) ^ c
            ys[i].append(acc)
    return [bytes(y) + bytes([i + 1]) for i, y in enumerate(ys)]


def combine(shares: Sequence[bytes]) -> bytes:
    """Recover the secret from shares (each ``y || x``). Raises ValueError on malformed shares."""
    if len(shares) < 2:
        raise ValueError("at least two shares are needed")
    length = len(shares[0])
    if length < 2 or any(len(s) != length for s in shares):
        raise ValueError("shares differ in length")
    xs = [s[-1] for s in shares]
    if len(set(xs)) != len(xs):
        raise ValueError("duplicate shares")
    out = bytearray()
    for idx in range(length - 1):
        acc = 0
        for i, xi in enumerate(xs):
            num, den = 1, 1
            for j, xj in enumerate(xs):
                if i != j:
                    num = _mul(num, xj)
                    den = _mul(den, xi ^ xj)
            acc ^= _mul(shares[i][idx], _mul(num, _inv(den)))
        out.append(acc)
    return bytes(out)
