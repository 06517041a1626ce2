"""The local backup identity: the age key that backs up the values a plaintext manifest's apply destroys.

A SOPS manifest's backup is encrypted to the manifest's own recipients. A plaintext manifest has none,
so on a terminal (a person is there to be told) apply creates, once, an age identity in the user's
config folder, ``$XDG_CONFIG_HOME/wix-secrets/backup-key.txt`` (default ``~/.config/...``; folder 0700,
file 0600, never overwritten), encrypts the backup to its public key and says where both are. Key
discovery (:meth:`reconciler.sops.KeyRing.discover`) reads the same file, so restoring is still a
plain ``wix-secrets apply BACKUP``. In CI (no terminal) nothing is created: ``--backup-age``,
``WIX_SECRETS_BACKUP_AGE`` or ``--no-backup`` must say what to do.

The same identity is the user's local key: a saved plan of a plaintext manifest for a ``--local``
site, which no SOPS data key or Wix credential can key, is keyed by a key derived from it
(:meth:`reconciler.service.session.SiteSession.local_plan_secret`, which creates it on ``plan --out``).

This module only creates and finds the identity; the CLI (backups) and the service (local saved plans)
decide when (:func:`ensure`), and :mod:`reconciler.backup` encrypts to it. The secret key is written
once and never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from reconciler.errors import UsageError

__all__ = [
    "ENV_BACKUP_AGE",
    "BackupIdentity",
    "ensure",
    "find",
    "identity_path",
    "recipients_from_env",
    "secret_of",
    "split_recipients",
]

ENV_BACKUP_AGE: Final = "WIX_SECRETS_BACKUP_AGE"
_FILE: Final = "backup-key.txt"


@dataclass(frozen=True)
class BackupIdentity:
    """Where the identity is and its public key (``age1...``); ``created`` if this call made it."""

    path: Path
    recipient: str
    created: bool = False


def identity_path(environ: Mapping[str, str], home: Path) -> Path:
    """``$XDG_CONFIG_HOME/wix-secrets/backup-key.txt``, else ``~/.config/wix-secrets/backup-key.txt``."""
    config = environ.get("XDG_CONFIG_HOME")
    base = Path(config) if config and Path(config).is_absolute() else home / ".config"
    return base / "wix-secrets" / _FILE


def recipients_from_env(environ: Mapping[str, str]) -> list[str]:
    """``WIX_SECRETS_BACKUP_AGE``: backup recipients, as :func:`split_recipients` reads them."""
    return split_recipients(environ.get(ENV_BACKUP_AGE, ""))


def split_recipients(text: str) -> list[str]:
    """Recipients separated by commas or newlines; within a piece, age recipients may also be separated
    by spaces. A piece that starts with ``ssh-`` is one ssh public key, as a ``.pub`` file holds it
    (``ssh-ed25519 AAAA… user@host``). Nothing is dropped: a word that is not a recipient is refused
    later, when the recipients are parsed."""
    found: list[str] = []
    for piece in text.replace("\n", ",").split(","):
        piece = " ".join(piece.split())
        if piece.startswith("ssh-"):
            found.append(piece)
        else:
            found.extend(piece.split())
    return list(dict.fromkeys(found))


def _read(path: Path) -> BackupIdentity:
    import pyrage

    try:
        if path.is_symlink():
            raise UsageError(f"the backup identity {path} is a symbolic link; refusing to use it")
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the backup identity {path}: {getattr(exc, 'strerror', None) or exc}") from None
    keys = [ln.strip() for ln in lines if ln.strip().startswith("AGE-SECRET-KEY-1")]
    try:
        identity = pyrage.x25519.Identity.from_str(keys[0]) if len(keys) == 1 else None
    except Exception:
        identity = None
    if identity is None:
        raise UsageError(
            f"the backup identity {path} does not hold exactly one age identity",
            hint="restore it from your own backup, or move it away to have a new one created",
        )
    return BackupIdentity(path, str(identity.to_public()))


def secret_of(path: Path) -> bytes:
    """The identity's secret key, as bytes (to derive other local keys from; never printed)."""
    lines = path.read_text("utf-8").splitlines()
    keys = [ln.strip() for ln in lines if ln.strip().startswith("AGE-SECRET-KEY-1")]
    if len(keys) != 1:
        raise UsageError(f"the local key {path} holds no single age identity")
    return keys[0].encode("ascii")


def find(environ: Mapping[str, str], home: Path) -> BackupIdentity | None:
    """The existing identity, or None if there is none yet."""
    path = identity_path(environ, home)
    if not path.exists() and not path.is_symlink():
        return None
    return _read(path)


def ensure(environ: Mapping[str, str], home: Path) -> BackupIdentity:
    """The identity, created (0600, in a 0700 folder) if there is none yet; never overwrites one."""
    found = find(environ, home)
    if found is not None:
        return found
    import pyrage

    path = identity_path(environ, home)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UsageError(f"cannot create the folder of the backup identity {path.parent}: {exc.strerror}") from None
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (
        f"# created: {created} by wix-secrets, to decrypt the backups of plaintext manifests\n"
        f"# public key: {recipient}\n{identity}\n"
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # made concurrently: use that one
        return _read(path)
    except OSError as exc:
        raise UsageError(f"cannot create the backup identity {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return BackupIdentity(path, recipient, created=True)
