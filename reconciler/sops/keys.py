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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import SopsEncryptError, SopsFormatError, SopsIntegrityError, SopsKeyNotFound

__all__ = ["KeyRing", "default_keys_file", "encrypt_to_recipients", "parse_recipient"]


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


def _parse_identity_lines(text: str) -> tuple[list[Any], str | None]:
    import pyrage

    ids: list[Any] = []
    stripped = text.lstrip()
    if stripped.startswith(("age-encryption.org", "-----BEGIN AGE")):
        return [], "passphrase-protected identity files are not supported; decrypt it with `age -d` first"
    for raw in text.split("\n"):
        line = raw.removesuffix("\r")
        if not line or line.startswith("#"):
            continue
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                ids.append(pyrage.x25519.Identity.from_str(line))
            except Exception:
                return [], "a line is not a valid age identity"
        elif line.startswith("AGE-PLUGIN-"):
            return [], "age plugin identities are not supported"
        else:
            return [], "unknown identity type (expected AGE-SECRET-KEY-1...)"
    return ids, None


class KeyRing:
    """The age identities available to decrypt, and the list of places that were searched."""

    def __init__(self, identities: Sequence[Any] = (), tried: Sequence[str] = ()) -> None:
        self._identities = list(identities)
        self.tried: tuple[str, ...] = tuple(tried)

    def __repr__(self) -> str:
        return f"KeyRing({len(self._identities)} identities)"

    def __len__(self) -> int:
        return len(self._identities)

    @classmethod
    def from_identities(cls, identities: Sequence[str], *, source: str = "given identities") -> KeyRing:
        """Identities as text: ``AGE-SECRET-KEY-1…`` lines or OpenSSH private keys."""
        import pyrage

        out: list[Any] = []
        for text in identities:
            if "PRIVATE KEY" in text:
                try:
                    out.append(pyrage.ssh.Identity.from_buffer(text.encode()))
                except Exception as exc:
                    raise SopsFormatError(f"{source}: not a usable OpenSSH private key") from exc
                continue
            ids, problem = _parse_identity_lines(text)
            if problem:
                raise SopsFormatError(f"{source}: {problem}")
            out.extend(ids)
        return cls(out, [f"{source} ({len(out)} identities)"])

    @classmethod
    def discover(cls, environ: Mapping[str, str], *, home: Path, platform: str = sys.platform) -> KeyRing:
        """Every identity sops would load, from all sources combined."""
        import pyrage

        ids: list[Any] = []
        tried: list[str] = []

        def count(n: int) -> str:
            return f"{n} identit{'y' if n == 1 else 'ies'}"

        def ssh_file(label: str, path: Path) -> None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                tried.append(f"{label} {path}: cannot read ({exc.strerror})")
                return
            try:
                ids.append(pyrage.ssh.Identity.from_buffer(data))
                tried.append(f"{label} {path}: 1 ssh identity")
            except Exception:
                tried.append(f"{label} {path}: not usable (encrypted or unsupported ssh key)")

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

        def text_source(label: str, text: str) -> None:
            found, problem = _parse_identity_lines(text)
            if problem:
                tried.append(f"{label}: {problem}")
                return
            ids.extend(found)
            tried.append(f"{label}: {count(len(found))}")

        if environ.get("SOPS_AGE_KEY"):
            text_source("SOPS_AGE_KEY", environ["SOPS_AGE_KEY"])
        else:
            tried.append("SOPS_AGE_KEY: not set")
        key_file = environ.get("SOPS_AGE_KEY_FILE")
        if key_file:
            try:
                text_source(f"SOPS_AGE_KEY_FILE={key_file}", Path(key_file).expanduser().read_text("utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
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
                    text_source("SOPS_AGE_KEY_CMD", proc.stdout.decode("utf-8", "replace"))
        else:
            tried.append("SOPS_AGE_KEY_CMD: not set")
        default = default_keys_file(environ, home, platform)
        if default is not None:
            if default.is_file():
                try:
                    text_source(str(default), default.read_text("utf-8"))
                except (OSError, UnicodeDecodeError):
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
        return cls(ids, tried)

    def decrypt_entry(self, enc: str) -> bytes | None:
        """Decrypt one armored age file with every identity; None when none fits.

        Raises SopsIntegrityError when the age file itself is damaged (not merely for another key).
        """
        import pyrage

        if not self._identities:
            return None
        data = enc.replace("\r\n", "\n").encode()
        if not data.endswith(b"\n"):
            data += b"\n"
        try:
            return bytes(pyrage.decrypt(data, self._identities))
        except Exception as exc:
            if "No matching keys" in str(exc):
                return None
            raise SopsIntegrityError(
                "the encrypted data key in the sops metadata is damaged: the file was modified or damaged",
                hint="restore the file from version control",
            ) from None

    def not_found(self, recipients: Sequence[str], *, where: str) -> SopsKeyNotFound:
        """The error listing every place tried and the recipients the file is encrypted to."""
        detail = "the file is encrypted to these recipients:\n" + "\n".join(f"  - {r}" for r in recipients)
        detail += "\nage identities were looked for in:\n" + "\n".join(f"  - {t}" for t in self.tried)
        return SopsKeyNotFound(
            f"{where}: cannot decrypt: no age identity found matches a recipient of this file",
            detail=detail,
            hint="set SOPS_AGE_KEY_FILE to the keys file holding the identity of one of these recipients",
        )


def parse_recipient(text: str) -> Any:
    """An age recipient object for ``age1…``, ``ssh-ed25519 …`` or ``ssh-rsa …``."""
    import pyrage

    r = text.strip()
    try:
        if r.startswith("age1"):
            if r.count("1") > 1:  # age1<plugin>1… and age1pq1…: bech32 data never contains "1"
                raise SopsEncryptError(f"unsupported age recipient type: {r[:12]}…")
            return pyrage.x25519.Recipient.from_str(r)
        if r.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            return pyrage.ssh.Recipient.from_str(r)
    except SopsEncryptError:
        raise
    except Exception as exc:
        raise SopsEncryptError(f"invalid age recipient: {r[:40]!r}") from exc
    raise SopsEncryptError(f"invalid age recipient: {r[:40]!r}",
                           hint="expected age1…, ssh-ed25519 … or ssh-rsa …")


def encrypt_to_recipients(secret: bytes, recipients: Sequence[str]) -> list[tuple[str, str]]:
    """The armored age file of ``secret`` for each recipient separately: [(recipient, enc)]."""
    import pyrage

    out = []
    for r in recipients:
        rec = parse_recipient(r)
        try:
            enc = pyrage.encrypt(secret, [rec], armored=True)
        except Exception as exc:
            raise SopsEncryptError(f"could not encrypt the data key to {r.strip()[:40]!r}") from exc
        out.append((r.strip(), bytes(enc).decode("ascii")))
    return out
