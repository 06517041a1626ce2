"""The ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`` value: AES-256-GCM with sops' 32-byte IV.

:class:`Cipher` wraps one data key. It encrypts typed plaintext (see :mod:`.goyaml` for the text
forms), decrypts and authenticates values against their AAD, and keeps the IV "stash" sops keeps:
a value decrypted and re-encrypted unchanged under the same AAD gets its old IV back, so the
ciphertext is byte-identical and Git diffs show only what changed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reconciler.errors import SopsFormatError, SopsIntegrityError

__all__ = ["ENC_PREFIX", "Cipher", "is_enc", "parse_enc"]

ENC_PREFIX = "ENC[AES256_GCM,"
_ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.*?),iv:(.+?),tag:(.+?),type:(.+?)\]$", re.S)
_TYPES = {"str", "int", "float", "bool", "time", "comment", "bytes"}


def is_enc(value: object) -> bool:
    """Whether ``value`` has the shape of an encrypted sops value."""
    return isinstance(value, str) and value.startswith(ENC_PREFIX)


def parse_enc(value: str, *, where: str) -> tuple[bytes, bytes, bytes, str]:
    """Split an ENC[] value into (data, iv, tag, type). Raises SopsFormatError."""
    m = _ENC_RE.match(value)
    if not m:
        raise SopsFormatError(
            f"{where}: the value does not have sops' ENC[AES256_GCM,…] format",
            hint="the file was modified or damaged",
        )
    try:
        data, iv, tag = (base64.b64decode(g, validate=True) for g in m.group(1, 2, 3))
    except (binascii.Error, ValueError) as exc:
        raise SopsFormatError(
            f"{where}: the encrypted value is not valid base64", hint="the file was modified or damaged"
        ) from exc
    type_ = m.group(4)
    if type_ not in _TYPES:
        raise SopsFormatError(f"{where}: unknown value type {type_!r} in an encrypted value")
    if len(tag) != 16 or not iv:
        raise SopsFormatError(
            f"{where}: malformed IV or tag in an encrypted value", hint="the file was modified or damaged"
        )
    return data, iv, tag, type_


class Cipher:
    """AES-256-GCM under one sops data key, with the IV stash. Never shows the key."""

    __slots__ = ("_aes", "_stash")

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise SopsFormatError("the data key is not 32 bytes long", hint="the file was modified or damaged")
        self._aes = AESGCM(data_key)
        self._stash: dict[tuple[str, str, bytes], bytes] = {}

    def __repr__(self) -> str:
        return "Cipher(<data key hidden>)"

    def decrypt(self, value: str, aad: str, *, where: str) -> tuple[bytes, str]:
        """Authenticate and decrypt one ENC[] value; returns (plaintext, type). Remembers the IV."""
        data, iv, tag, type_ = parse_enc(value, where=where)
        try:
            plain = self._aes.decrypt(iv, data + tag, aad.encode())
        except InvalidTag as exc:
            raise SopsIntegrityError(
                f"{where}: an encrypted value failed authentication: the file was modified or damaged",
                detail="the value was changed, or moved to another key (its key path is authenticated)",
                hint="restore the file from version control, or re-create the value",
            ) from exc
        except ValueError as exc:
            raise SopsFormatError(
                f"{where}: invalid IV in an encrypted value", hint="the file was modified or damaged"
            ) from exc
        self._stash[(aad, type_, plain)] = iv
        return plain, type_

    def encrypt(self, plain: bytes, aad: str, type_: str) -> str:
        """Encrypt typed plaintext; an unchanged value under the same AAD reuses its stashed IV."""
        iv = self._stash.get((aad, type_, plain))
        if iv is None:
            iv = os.urandom(32)
        out = self._aes.encrypt(iv, plain, aad.encode())
        b64 = base64.b64encode
        return (
            f"ENC[AES256_GCM,data:{b64(out[:-16]).decode()},iv:{b64(iv).decode()},"
            f"tag:{b64(out[-16:]).decode()},type:{type_}]"
        )
