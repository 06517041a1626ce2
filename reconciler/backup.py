"""Encrypted backups of the values an apply is about to destroy.

A Wix secret that is deleted cannot be restored, and an overwritten value is gone. Before any delete or
value overwrite, apply writes the old values into a SOPS file encrypted to proven recipients only
(:func:`choose_recipients`: ``--backup-age``, else the manifest recipients whose stanza our own
identity unwrapped plus those pinned in ``.sops.yaml``; never a bare ``recipient:`` label, which the
MAC does not cover), named with the site and a UTC timestamp. The file is a valid
manifest: restoring is a plain ``wix-secrets apply BACKUP``. Names and descriptions stay readable
(``encrypted_regex: ^value$``); values never touch the disk unencrypted (the YAML is built and
encrypted in memory).

:func:`entries_needed` and :func:`render` are pure; :func:`write` does the file I/O for the CLI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reconciler.errors import UsageError
from reconciler.fsutil import atomic_write
from reconciler.model import RemoteSecret, Sensitive
from reconciler.plan import Action, Plan

__all__ = ["BackupEntry", "choose_recipients", "entries_needed", "filename", "pinned_recipients", "render", "write"]


@dataclass(frozen=True)
class BackupEntry:
    secret: RemoteSecret
    value: Sensitive | None  # None until read


def entries_needed(plan: Plan, values: Mapping[str, Sensitive]) -> list[BackupEntry]:
    """The remote secrets whose current value the plan destroys (deletes and value overwrites)."""
    entries = []
    for change in plan.actionable:
        if change.remote is None:
            continue
        if change.action is Action.DELETE or "value" in change.changed:
            entries.append(BackupEntry(change.remote, values.get(change.remote.id)))
    return entries


def pinned_recipients(sources: Sequence[str], *, cwd: Path, environ: Mapping[str, str]) -> list[str]:
    """The age recipients ``.sops.yaml`` pins for the manifest files ``sources`` (its matching creation
    rule, as ``sops`` finds it from ``cwd``); an absent, unreadable or non-matching config pins none."""
    from reconciler.errors import SopsError
    from reconciler.sops.config import find_config, rule_for_file

    try:
        config = find_config(cwd, environ)
    except OSError:
        return []
    if config is None:
        return []
    if not config.is_absolute():
        config = cwd / config
    out: list[str] = []
    for source in sources:
        path = Path(source)
        path = path if path.is_absolute() else cwd / path
        try:
            rule = rule_for_file(config, path)
        except (SopsError, OSError):
            continue
        if rule is not None:
            out.extend(rule.age)
            out.extend(r for g in rule.key_groups for r in g)
    return list(dict.fromkeys(out))


def choose_recipients(
    explicit: Sequence[str] | str | None,
    proven: Sequence[str],
    *,
    sources: Sequence[str] = (),
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Who the backup is encrypted to: only recipients that are proven, never a bare metadata label.

    ``explicit`` (``--backup-age``, comma-separated allowed) wins. Otherwise: ``proven`` (the manifest
    recipients whose stanza our identity unwrapped, :attr:`reconciler.sops.Decrypted.unwrapped`) plus
    the recipients ``.sops.yaml`` pins for the manifest ``sources``. Empty means none is proven:
    :func:`write` then refuses.
    """
    if explicit:
        items = [explicit] if isinstance(explicit, str) else list(explicit)
        return list(dict.fromkeys(r.strip() for item in items for r in item.split(",") if r.strip()))
    pinned = pinned_recipients(sources, cwd=cwd, environ=environ or {}) if cwd is not None else []
    return list(dict.fromkeys([*proven, *pinned]))


def filename(site: str, created: str) -> str:
    """``wix-secrets-backup-<site>-<YYYYmmddTHHMMSSZ>.sops.yaml``; ``site`` is an id or a name, never a value."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", site).strip("-")[:64] or "site"
    stamp = re.sub(r"[^0-9TZ]", "", created)
    return f"wix-secrets-backup-{slug}-{stamp}.sops.yaml"


# Characters a YAML reader refuses raw (DEL, C1 controls, U+FFFE/U+FFFF) or reads as a line break
# inside a quoted scalar (NEL, LINE/PARAGRAPH SEPARATOR, folded to a space) or as a byte-order mark.
# json.dumps escapes only C0 controls, quotes and backslashes.
_ESCAPE: Final = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar that every YAML reader reads back byte for byte.

    A JSON string is a valid YAML double-quoted scalar; the characters in :data:`_ESCAPE` are written
    as ``\\uXXXX`` escapes too (issue 10.10: NEL came back as a space, DEL and C1 gave "invalid YAML").
    """
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def render(entries: Sequence[BackupEntry], *, site: str, created: str) -> bytes:
    """The plaintext backup manifest (kept in memory only; encrypt before writing)."""
    lines = [
        f"# wix-secrets backup of {len(entries)} secret value(s) of {site}, taken {created}",
        "# before an apply deleted or overwrote them. Restore with: wix-secrets apply THIS_FILE",
        "version: 1",
        "secrets:",
    ]
    for entry in entries:
        if entry.value is None:
            raise ValueError(f"no value read for {entry.secret.name}")
        lines.append(f"  {_quote(entry.secret.name)}:")
        lines.append(f"    value: {_quote(entry.value.reveal())}")
        if entry.secret.description:
            lines.append(f"    description: {_quote(entry.secret.description)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def write(
    entries: Sequence[BackupEntry], *, directory: Path, recipients: Sequence[str], site: str, created: str
) -> Path:
    """Encrypt and write the backup atomically (mode 0600, folder 0700). Returns its path."""
    require_recipients(recipients)
    from reconciler.sops import EncryptionRules, encrypt

    plain = render(entries, site=site, created=created)
    sealed = encrypt(plain, recipients=list(recipients), rules=EncryptionRules(encrypted_regex="^value$"))
    name = filename(site, created)
    target, n = directory / name, 1
    while target.exists():  # two applies in one second: never replace an earlier backup
        n += 1
        target = directory / name.replace(".sops.yaml", f"-{n}.sops.yaml")
    atomic_write(target, sealed, dir_mode=0o700)
    return target


def require_recipients(recipients: Sequence[str]) -> None:
    """Refuse, before anything is read, created or changed, when no backup recipient is proven."""
    if not recipients:
        raise UsageError(
            "cannot write the backup of the values this apply deletes or overwrites: no age recipient is proven",
            hint="the backup goes only to a recipient whose key decrypted the manifest here, to recipients "
            "pinned in .sops.yaml, or to --backup-age RECIPIENT (the recipient labels in a sops block "
            "are not authenticated); or pass --no-backup to go without one",
        )
