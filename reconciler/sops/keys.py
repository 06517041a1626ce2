"""Age identities, found exactly where sops looks, and the data key decrypted/encrypted with them.

:meth:`KeyRing.discover` combines every source sops reads (``SOPS_AGE_SSH_PRIVATE_KEY_FILE``,
``~/.ssh/id_ed25519``, ``~/.ssh/id_rsa``, ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``,
``SOPS_AGE_KEY_CMD``, and ``<config dir>/sops/age/keys.txt``) and remembers what it tried, so a
failure can list every place and the file's recipients. Identity material never appears in a repr
or a message.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import SopsEncryptError, SopsFormatError, SopsIntegrityError, SopsKeyNotFound

__all__ = [
    "KeyRing",
    "Passphrase",
    "default_keys_file",
    "encrypt_to_recipients",
    "is_age_encrypted",
    "parse_recipient",
    "same_recipient",
]


def default_keys_file(environ: Mapping[str, str], home: Path, platform: str = sys.platform) -> Path | None:
    """``<UserConfigDir>/sops/age/keys.txt`` as sops computes it."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if platform == "darwin":
        base = Path(xdg) if xdg else home / "Library" / "Application Support"
    elif platform.startswith("win"):
        appdata = environ.get("AppData") or environ.get("APPDATA")
        if not appdata:
            return None
        base = Path(appdata)
    else:
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"
    return base / "sops" / "age" / "keys.txt"


_AGE_MAGIC = (b"age-encryption.org/v1", b"-----BEGIN AGE ENCRYPTED FILE-----")
PQ_IDENTITY = "AGE-SECRET-KEY-PQ-1"
PQ_RECIPIENT = "age1pq1"
#: asked for the passphrase of an encrypted identity (``label`` names the source); None: cannot ask
Passphrase = Callable[[str], "str | None"]


def is_age_encrypted(data: bytes) -> bool:
    """Whether ``data`` is an age file (e.g. an identity file protected with ``age -p``)."""
    return data.lstrip().startswith(_AGE_MAGIC)


def _parse_identity_lines(text: str) -> tuple[list[Any], str | None, int]:
    """(identities, problem, post-quantum identities among them)."""
    import pyrage

    from reconciler.sops.agepq import PQIdentity

    ids: list[Any] = []
    pq = 0
    if is_age_encrypted(text.encode("utf-8", "replace")):
        return [], "passphrase-protected identity file (decrypted only with a passphrase)", 0
    for raw in text.split("\n"):
        line = raw.removesuffix("\r").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(PQ_IDENTITY):
            try:
                ids.append(PQIdentity(line))
            except ValueError as exc:
                return [], str(exc), pq
            pq += 1
        elif line.startswith("AGE-SECRET-KEY-1"):
            try:
                ids.append(pyrage.x25519.Identity.from_str(line))
            except Exception:
                return [], "a line is not a valid age identity", pq
        elif line.startswith("AGE-PLUGIN-"):
            return [], "age plugin identities are not supported", pq
        else:
            return [], "unknown identity type (expected AGE-SECRET-KEY-1...)", pq
    return ids, None, pq


def _unlock_ssh(data: bytes, label: str, passphrase: Passphrase | None) -> tuple[bytes | None, str]:
    """An encrypted OpenSSH key decrypted in memory (re-serialised unencrypted): (key, note)."""
    from cryptography.hazmat.primitives import serialization

    if passphrase is None:
        return None, "an encrypted ssh key; no terminal to ask for its passphrase"
    secret = passphrase(label)
    if not secret:
        return None, "an encrypted ssh key; no passphrase given"
    try:
        key = serialization.load_ssh_private_key(data, password=secret.encode())
        plain = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    except ValueError:
        return None, "an encrypted ssh key; wrong passphrase"
    except Exception as exc:  # e.g. bcrypt missing, unsupported cipher
        return None, f"an encrypted ssh key that cannot be decrypted here ({type(exc).__name__})"
    return plain, "decrypted with its passphrase"


def _ssh_encrypted(data: bytes) -> bool:
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_ssh_private_key(data, password=None)
    except TypeError:  # "Password was not given but private key is encrypted"
        return True
    except Exception:
        return False
    return False


def _ssh_public(data: bytes) -> str | None:
    """``ssh-ed25519 AAAA…`` / ``ssh-rsa AAAA…`` of an unencrypted OpenSSH private key; None if unknown."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_ssh_private_key(data, password=None)
        pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    except Exception:
        return None
    return pub.decode("ascii")


def _public_of(identity: Any) -> str | None:
    if isinstance(getattr(identity, "public", None), str):  # agepq.PQIdentity
        return str(identity.public)
    to_public = getattr(identity, "to_public", None)
    if to_public is None:
        return None
    try:
        return str(to_public())
    except Exception:
        return None


def same_recipient(label: str, public: str | None) -> bool:
    """Whether a metadata ``recipient:`` label names ``public`` (ssh labels may carry a comment)."""
    if not public:
        return False
    if label.strip() == public:
        return True
    parts, pub = label.split(), public.split()
    return len(pub) >= 2 and len(parts) >= 2 and parts[:2] == pub[:2]


class KeyRing:
    """The age identities available to decrypt, and the list of places that were searched.

    ``publics[i]`` is the public recipient of identity ``i`` (None when it cannot be derived): a
    ``recipient:`` label in a file's metadata is outside the MAC, so it counts as proven only when an
    identity whose public key equals it unwrapped the stanza (see :meth:`unwrap`).
    """

    def __init__(
        self, identities: Sequence[Any] = (), tried: Sequence[str] = (), publics: Sequence[str | None] | None = None
    ) -> None:
        self._identities = list(identities)
        self.tried: tuple[str, ...] = tuple(tried)
        pubs = list(publics) if publics is not None else [_public_of(i) for i in self._identities]
        if len(pubs) != len(self._identities):
            raise ValueError("publics must match identities")
        self._publics: list[str | None] = pubs
        self.post_quantum = 0  # AGE-SECRET-KEY-PQ-1 identities among them
        self.locked: list[str] = []  # sources skipped: passphrase-protected and nobody to ask

    def __repr__(self) -> str:
        return f"KeyRing({len(self._identities)} identities)"

    def __len__(self) -> int:
        return len(self._identities)

    @classmethod
    def from_identities(cls, identities: Sequence[str], *, source: str = "given identities") -> KeyRing:
        """Identities as text: ``AGE-SECRET-KEY-1…`` lines or OpenSSH private keys."""
        import pyrage

        out: list[Any] = []
        pubs: list[str | None] = []
        pq_total = 0
        for text in identities:
            if "PRIVATE KEY" in text:
                try:
                    out.append(pyrage.ssh.Identity.from_buffer(text.encode()))
                except Exception as exc:
                    raise SopsFormatError(f"{source}: not a usable OpenSSH private key") from exc
                pubs.append(_ssh_public(text.encode()))
                continue
            ids, problem, pq = _parse_identity_lines(text)
            if problem:
                raise SopsFormatError(f"{source}: {problem}")
            out.extend(ids)
            pubs.extend(_public_of(i) for i in ids)
            pq_total += pq
        ring = cls(out, [f"{source} ({len(out)} identities)"], pubs)
        ring.post_quantum = pq_total
        return ring

    @classmethod
    def discover(
        cls,
        environ: Mapping[str, str],
        *,
        home: Path,
        platform: str = sys.platform,
        passphrase: Passphrase | None = None,
    ) -> KeyRing:
        """Every identity sops would load, from all sources combined.

        Passphrase-protected sources (``age -p`` identity files, encrypted OpenSSH keys) are opened
        with ``passphrase(label)``, which only a front end with a terminal provides; without it they
        are skipped and named in the error (this module never reads a terminal).
        """
        import pyrage

        ids: list[Any] = []
        pubs: list[str | None] = []
        tried: list[str] = []
        locked: list[str] = []
        pq_seen = 0

        def count(n: int) -> str:
            return f"{n} identit{'y' if n == 1 else 'ies'}"

        def ssh_file(label: str, path: Path) -> None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                tried.append(f"{label} {path}: cannot read ({exc.strerror})")
                return
            note = "1 ssh identity"
            if _ssh_encrypted(data):
                plain, note = _unlock_ssh(data, f"{label} {path}", passphrase)
                if plain is None:
                    tried.append(f"{label} {path}: {note}")
                    locked.append(f"{label} {path}")
                    return
                data = plain
            try:
                ids.append(pyrage.ssh.Identity.from_buffer(data))
                pubs.append(_ssh_public(data))
                tried.append(f"{label} {path}: {note}")
            except Exception:
                tried.append(f"{label} {path}: not usable (unsupported ssh key)")

        ssh_env = environ.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        if ssh_env:
            ssh_file("SOPS_AGE_SSH_PRIVATE_KEY_FILE", Path(ssh_env).expanduser())
        else:
            tried.append("SOPS_AGE_SSH_PRIVATE_KEY_FILE: not set")
        for name in ("id_ed25519", "id_rsa"):
            p = home / ".ssh" / name
            if p.is_file():
                ssh_file("ssh key", p)
            else:
                tried.append(f"{p}: not found")

        def text_source(label: str, raw: bytes | str) -> None:
            nonlocal pq_seen
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
            if is_age_encrypted(data):
                if passphrase is None:
                    tried.append(f"{label}: passphrase-protected; no terminal to ask for the passphrase")
                    locked.append(label)
                    return
                secret = passphrase(label)
                if not secret:
                    tried.append(f"{label}: passphrase-protected; no passphrase given")
                    locked.append(label)
                    return
                try:
                    data = bytes(pyrage.passphrase.decrypt(_dearmor(data), secret))
                except Exception:
                    tried.append(f"{label}: passphrase-protected; wrong passphrase or damaged file")
                    locked.append(label)
                    return
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                tried.append(f"{label}: not UTF-8 text")
                return
            found, problem, pq = _parse_identity_lines(text)
            pq_seen += pq
            if problem:
                tried.append(f"{label}: {problem}")
                return
            ids.extend(found)
            pubs.extend(_public_of(i) for i in found)
            extra = f" ({pq} post-quantum)" if pq else ""
            tried.append(f"{label}: {count(len(found))}{extra}")

        if environ.get("SOPS_AGE_KEY"):
            text_source("SOPS_AGE_KEY", environ["SOPS_AGE_KEY"])
        else:
            tried.append("SOPS_AGE_KEY: not set")
        key_file = environ.get("SOPS_AGE_KEY_FILE")
        if key_file:
            try:
                text_source(f"SOPS_AGE_KEY_FILE={key_file}", Path(key_file).expanduser().read_bytes())
            except OSError as exc:
                tried.append(f"SOPS_AGE_KEY_FILE={key_file}: cannot read ({getattr(exc, 'strerror', exc)})")
        else:
            tried.append("SOPS_AGE_KEY_FILE: not set")
        key_cmd = environ.get("SOPS_AGE_KEY_CMD")
        if key_cmd:
            try:
                argv = shlex.split(key_cmd)
                proc = subprocess.run(argv, capture_output=True, env=dict(environ), timeout=60, check=False)
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                tried.append(f"SOPS_AGE_KEY_CMD: could not run ({type(exc).__name__})")
            else:
                if proc.returncode != 0:
                    tried.append(f"SOPS_AGE_KEY_CMD: exited with status {proc.returncode}")
                else:
                    text_source("SOPS_AGE_KEY_CMD", proc.stdout)
        else:
            tried.append("SOPS_AGE_KEY_CMD: not set")
        default = default_keys_file(environ, home, platform)
        if default is not None:
            if default.is_file():
                try:
                    text_source(str(default), default.read_bytes())
                except OSError:
                    tried.append(f"{default}: cannot read")
            else:
                tried.append(f"{default}: not found")
        from reconciler.backupkey import identity_path  # wix-secrets' own backup key (plaintext manifests)

        backup_key = identity_path(environ, home)
        if backup_key.is_file() and not backup_key.is_symlink():
            try:
                text_source(f"{backup_key} (wix-secrets backup identity)", backup_key.read_text("utf-8"))
            except (OSError, UnicodeDecodeError):
                tried.append(f"{backup_key}: cannot read")
        ring = cls(ids, tried, pubs)
        ring.locked = locked
        ring.post_quantum = pq_seen
        return ring

    def unwrap(self, enc: str, label: str = "") -> tuple[bytes, str | None] | None:
        """Decrypt one armored age file; returns (payload, the public key of the identity that did it).

        The identity whose public key equals ``label`` is tried first. None when no identity fits;
        raises SopsIntegrityError when the age file itself is damaged (not merely for another key).
        """
        import pyrage

        if not self._identities:
            return None
        data = enc.replace("\r\n", "\n").encode()
        if not data.endswith(b"\n"):
            data += b"\n"
        from reconciler.sops.agepq import PQIdentity, is_pq_stanza_file

        order = sorted(range(len(self._identities)), key=lambda i: not same_recipient(label, self._publics[i]))
        pq_file: bool | None = None
        for i in order:
            ident = self._identities[i]
            if isinstance(ident, PQIdentity):
                if pq_file is None:
                    pq_file = is_pq_stanza_file(data)
                if not pq_file:
                    continue
                payload = ident.unwrap(data)
                if payload is not None:
                    return payload, self._publics[i]
                continue
            try:
                return bytes(pyrage.decrypt(data, [ident])), self._publics[i]
            except Exception as exc:
                if "No matching keys" in str(exc):
                    continue
                raise SopsIntegrityError(
                    "the encrypted data key in the sops metadata is damaged: the file was modified or damaged",
                    hint="restore the file from version control",
                ) from None
        return None

    def decrypt_entry(self, enc: str) -> bytes | None:
        """Decrypt one armored age file with every identity; None when none fits.

        Raises SopsIntegrityError when the age file itself is damaged (not merely for another key).
        """
        got = self.unwrap(enc)
        return got[0] if got is not None else None

    def not_found(self, recipients: Sequence[str], *, where: str) -> SopsKeyNotFound:
        """The error listing the recipients the file is encrypted to and every place tried; its hint says
        when the file is post-quantum only, or when a passphrase-protected key could not be opened."""
        detail = "the file is encrypted to these recipients:\n" + "\n".join(
            f"  - {r[:24]}… (post-quantum)" if r.startswith(PQ_RECIPIENT) else f"  - {r}" for r in recipients
        )
        detail += "\nage identities were looked for in:\n" + "\n".join(f"  - {t}" for t in self.tried)
        pq = [r for r in recipients if r.startswith(PQ_RECIPIENT)]
        hint = "set SOPS_AGE_KEY_FILE to the keys file holding the identity of one of these recipients"
        if self.locked:
            hint = (
                "passphrase-protected keys were skipped (" + ", ".join(self.locked) + "): run in a terminal "
                "to enter the passphrase, or give an unencrypted identity (e.g. SOPS_AGE_KEY from a CI secret)"
            )
        elif pq and len(pq) == len(recipients):
            hint = (
                "the file is encrypted only to post-quantum age recipients (age1pq1…): give the matching "
                "post-quantum identity (AGE-SECRET-KEY-PQ-1…)"
            )
        return SopsKeyNotFound(
            f"{where}: cannot decrypt: no age identity found matches a recipient of this file", detail=detail, hint=hint
        )


def _dearmor(data: bytes) -> bytes:
    """Binary age from armored (``age -a``); binary as is."""
    import base64

    text = data.strip()
    if not text.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        return data
    lines = [ln.strip() for ln in text.splitlines()[1:] if ln.strip() and not ln.startswith(b"-----END")]
    return base64.b64decode(b"".join(lines))


def parse_recipient(text: str) -> Any:
    """An age recipient object for ``age1…``, ``ssh-ed25519 …`` or ``ssh-rsa …``."""
    import pyrage

    r = text.strip()
    if r.upper().startswith("AGE-SECRET-KEY-") or "PRIVATE KEY" in r:
        # a secret key pasted where a public one belongs: say so without echoing any of it
        raise SopsEncryptError(
            "an age identity or private key was given where a recipient (public key) belongs",
            hint="give its public key (age-keygen -y, or the .pub file) and keep the secret key secret",
        )
    try:
        if r.startswith("age1"):
            if r.startswith(PQ_RECIPIENT):
                return r  # encrypted by reconciler.sops.agepq
            if r.count("1") > 1:  # age1<plugin>1…: bech32 data never contains "1"
                raise SopsEncryptError(f"unsupported age recipient type (age plugin): {r[:12]}…")
            return pyrage.x25519.Recipient.from_str(r)
        if r.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            return pyrage.ssh.Recipient.from_str(r)
    except SopsEncryptError:
        raise
    except Exception as exc:
        raise SopsEncryptError(f"invalid age recipient: {r[:40]!r}") from exc
    raise SopsEncryptError(f"invalid age recipient: {r[:40]!r}", hint="expected age1…, ssh-ed25519 … or ssh-rsa …")


def encrypt_to_recipients(secret: bytes, recipients: Sequence[str]) -> list[tuple[str, str]]:
    """The armored age file of ``secret`` for each recipient separately: [(recipient, enc)]."""
    import pyrage

    from reconciler.sops.agepq import encrypt_pq

    out = []
    for r in recipients:
        rec = parse_recipient(r)
        if isinstance(rec, str):
            out.append((r.strip(), encrypt_pq(secret, rec)))
            continue
        try:
            enc = pyrage.encrypt(secret, [rec], armored=True)
        except Exception as exc:
            raise SopsEncryptError(f"could not encrypt the data key to {r.strip()[:40]!r}") from exc
        out.append((r.strip(), bytes(enc).decode("ascii")))
    return out
