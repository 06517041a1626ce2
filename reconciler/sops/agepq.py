"""Post-quantum age (``age1pq1…`` / ``AGE-SECRET-KEY-PQ-1…``): the ``mlkem768x25519`` recipient type.

age 1.3 (and sops 3.12+, which this repository's sops 3.11 wheel already reads) wraps the file key with
HPKE: KEM MLKEM768-X25519, KDF HKDF-SHA256, AEAD ChaCha20-Poly1305, info
``age-encryption.org/mlkem768x25519``; the stanza is ``-> mlkem768x25519 <enc>`` with the sealed file
key as body. pyrage has no such recipient, so this module implements that stanza and the age v1 file
around it (header MAC, STREAM payload) on the ``cryptography`` package, which has the hybrid KEM.

An identity is a 32-byte seed: SHAKE256(seed, 96) gives the ML-KEM-768 seed (64 bytes) and the X25519
private key (32). Recipients and identities are bech32 (no length limit) with the prefixes
``age1pq`` and ``AGE-SECRET-KEY-PQ-``. Checked against a file written by sops 3.12.1 and against the
real sops binary in both directions (``tests/sops/test_key_types.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any

from reconciler.errors import SopsEncryptError, SopsIntegrityError

__all__ = ["PQIdentity", "encrypt_pq", "is_pq_stanza_file", "public_from_seed"]

_LABEL = b"age-encryption.org/mlkem768x25519"
_INTRO = b"age-encryption.org/v1\n"
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


# ---------------------------------------------------------------- bech32 (BIP 173, no length limit)


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= _GEN[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_decode(text: str) -> tuple[str, bytes]:
    """(lower-case prefix, data). Raises ValueError for a bad checksum or character."""
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed case")
    s = text.lower()
    pos = s.rfind("1")
    if pos < 1 or len(s) - pos < 7:
        raise ValueError("no separator or checksum")
    hrp = s[:pos]
    try:
        vals = [_CHARSET.index(c) for c in s[pos + 1 :]]
    except ValueError:
        raise ValueError("invalid character") from None
    if _polymod(_hrp_expand(hrp) + vals) != 1:
        raise ValueError("bad checksum")
    acc = bits = 0
    out = bytearray()
    for v in vals[:-6]:
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or acc & ((1 << bits) - 1):
        raise ValueError("invalid padding")
    return hrp, bytes(out)


def bech32_encode(hrp: str, data: bytes) -> str:
    acc = bits = 0
    vals: list[int] = []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            vals.append((acc >> bits) & 31)
    if bits:
        vals.append((acc << (5 - bits)) & 31)
    poly = _polymod([*_hrp_expand(hrp), *vals, 0, 0, 0, 0, 0, 0]) ^ 1
    vals += [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[v] for v in vals)


# ---------------------------------------------------------------- keys


def _keys(seed: bytes) -> tuple[Any, bytes]:
    """(cryptography hybrid private key, 1216-byte public key) of a 32-byte seed."""
    _require()
    from cryptography.hazmat.primitives import hpke, serialization
    from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

    expanded = hashlib.shake_256(seed).digest(96)
    mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    xk = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    public = mk.public_key().public_bytes(*raw) + xk.public_key().public_bytes(*raw)
    return hpke.MLKEM768X25519PrivateKey(mk, xk), public


def _require() -> None:
    """The hybrid KEM is in ``cryptography`` 46+ (HPKE with MLKEM768-X25519): say so if it is older."""
    try:
        from cryptography.hazmat.primitives import hpke

        hpke.MLKEM768X25519PrivateKey  # noqa: B018
    except (ImportError, AttributeError):
        import cryptography

        raise ValueError(
            f"post-quantum age needs a newer `cryptography` package (it has {cryptography.__version__}; "
            "HPKE with MLKEM768-X25519 is required)"
        ) from None


def public_from_seed(seed: bytes) -> str:
    return bech32_encode("age1pq", _keys(seed)[1])


class PQIdentity:
    """An ``AGE-SECRET-KEY-PQ-1…`` identity. Never shows the seed."""

    __slots__ = ("_private", "public")

    def __init__(self, text: str) -> None:
        try:
            hrp, seed = bech32_decode(text.strip())
        except ValueError as exc:
            raise ValueError(f"not a valid post-quantum age identity ({exc})") from None
        if hrp != "age-secret-key-pq-" or len(seed) != 32:
            raise ValueError("not a valid post-quantum age identity")
        self._private, public = _keys(seed)
        self.public = bech32_encode("age1pq", public)

    def __repr__(self) -> str:
        return f"PQIdentity({self.public[:16]}…)"

    def unwrap(self, armored: bytes) -> bytes | None:
        """The payload of an age file whose ``mlkem768x25519`` stanza is for this identity; None if no
        stanza is. Raises SopsIntegrityError when the file is damaged."""
        header, mac, payload, stanzas = _parse(armored)
        suite = _suite()
        for args, body in stanzas:
            if args[0] != b"mlkem768x25519":
                continue
            if len(args) != 2 or len(body) != 32:
                raise _damaged()
            try:
                enc = _b64(args[1])
                file_key = suite.decrypt(enc + body, self._private, info=_LABEL)
            except binascii.Error:
                raise _damaged() from None
            except Exception:  # another identity's stanza
                continue
            return _open_payload(file_key, header, mac, payload)
        return None


# ---------------------------------------------------------------- the age file


def _suite() -> Any:
    from cryptography.hazmat.primitives import hpke

    return hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def _damaged() -> SopsIntegrityError:
    return SopsIntegrityError(
        "the encrypted data key in the sops metadata is damaged: the file was modified or damaged",
        hint="restore the file from version control",
    )


def _b64(data: bytes) -> bytes:
    if b"=" in data:
        raise binascii.Error("padding")
    return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)


def _dearmor(data: bytes) -> bytes:
    text = data.replace(b"\r\n", b"\n").strip()
    if not text.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        return data
    lines = text.split(b"\n")
    if lines[-1] != b"-----END AGE ENCRYPTED FILE-----":
        raise _damaged()
    try:
        return base64.b64decode(b"".join(ln.strip() for ln in lines[1:-1]), validate=True)
    except binascii.Error:
        raise _damaged() from None


def is_pq_stanza_file(armored: bytes) -> bool:
    """Whether an age file (armored or not) has an ``mlkem768x25519`` stanza."""
    try:
        return b"\n-> mlkem768x25519 " in _dearmor(armored)[:4096]
    except SopsIntegrityError:
        return False


def _parse(armored: bytes) -> tuple[bytes, bytes, bytes, list[tuple[list[bytes], bytes]]]:
    raw = _dearmor(armored)
    if not raw.startswith(_INTRO):
        raise _damaged()
    end = raw.find(b"\n--- ")
    if end < 0:
        raise _damaged()
    line_end = raw.find(b"\n", end + 1)
    if line_end < 0:
        raise _damaged()
    try:
        mac = _b64(raw[end + 5 : line_end])
    except binascii.Error:
        raise _damaged() from None
    header = raw[: end + 4]  # up to and including "---"
    lines = raw[len(_INTRO) : end].split(b"\n")
    stanzas: list[tuple[list[bytes], bytes]] = []
    i = 0
    try:
        while i < len(lines):
            if not lines[i].startswith(b"-> "):
                raise _damaged()
            args = lines[i][3:].split(b" ")
            body = b""
            i += 1
            while True:
                if i >= len(lines):
                    raise _damaged()
                line = lines[i]
                i += 1
                body += line
                if len(line) < 64:
                    break
            stanzas.append((args, _b64(body)))
    except binascii.Error:
        raise _damaged() from None
    return header, mac, raw[line_end + 1 :], stanzas


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, hmac

    h = hmac.HMAC(_hkdf(file_key, b"", b"header"), hashes.SHA256())
    h.update(header)
    return h.finalize()


def _open_payload(file_key: bytes, header: bytes, mac: bytes, payload: bytes) -> bytes:
    import hmac as std_hmac

    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    if not std_hmac.compare_digest(_header_mac(file_key, header), mac) or len(payload) < 16 + 16:
        raise _damaged()
    nonce, body = payload[:16], payload[16:]
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    chunk = 64 * 1024 + 16
    out = bytearray()
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    for n, part in enumerate(chunks):
        last = n == len(chunks) - 1
        try:
            out += aead.decrypt(n.to_bytes(11, "big") + (b"\x01" if last else b"\x00"), part, None)
        except Exception:
            raise _damaged() from None
    return bytes(out)


def _wrap64(data: bytes) -> bytes:
    text = base64.b64encode(data).rstrip(b"=")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    if not lines or len(lines[-1]) == 64:
        lines.append(b"")
    return b"\n".join(lines)


def encrypt_pq(secret: bytes, recipient: str) -> str:
    """An armored age file of ``secret`` (at most 64 KiB) for one ``age1pq1…`` recipient."""
    try:
        _require()
    except ValueError as exc:
        raise SopsEncryptError(str(exc)) from None
    from cryptography.hazmat.primitives import hpke
    from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    try:
        hrp, pub = bech32_decode(recipient.strip())
        if hrp != "age1pq" or len(pub) != 1216:
            raise ValueError("wrong type or length")
        public = hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(pub[:1184]), x25519.X25519PublicKey.from_public_bytes(pub[1184:])
        )
    except ValueError as exc:
        raise SopsEncryptError(f"invalid post-quantum age recipient {recipient.strip()[:16]}… ({exc})") from None
    if len(secret) > 64 * 1024:
        raise SopsEncryptError("the data to encrypt is too large")
    file_key = os.urandom(16)
    sealed = _suite().encrypt(file_key, public, info=_LABEL)
    enc_len = hpke.KEM.MLKEM768_X25519.enc_length()
    enc, body = sealed[:enc_len], sealed[enc_len:]
    args = base64.b64encode(enc).rstrip(b"=")
    header = _INTRO + b"-> mlkem768x25519 " + args + b"\n" + _wrap64(body) + b"\n---"
    mac = base64.b64encode(_header_mac(file_key, header)).rstrip(b"=")
    nonce = os.urandom(16)
    payload = nonce + ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload")).encrypt(b"\x00" * 11 + b"\x01", secret, None)
    raw = header + b" " + mac + b"\n" + payload
    b64 = base64.b64encode(raw).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN AGE ENCRYPTED FILE-----\n" + "\n".join(lines) + "\n-----END AGE ENCRYPTED FILE-----\n"
