"""``wix-secrets import --out FILE``: read a live site and write a SOPS-encrypted manifest of it.

The site is listed and every value read; the manifest text is built in memory
(:mod:`reconciler.importer`), encrypted in memory (:func:`reconciler.sops.encrypt`) and only the
ciphertext is written: to a private temp file (mode 0600) in the target's folder, then renamed over
the target. Recipients come from ``--age`` or from the ``.sops.yaml`` creation rule for the output
path (found as sops finds it); with neither, nothing is read and nothing is written.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.cli.app import add_site_options, add_subcommand
from reconciler.cli.console import Console
from reconciler.errors import UsageError

__all__ = ["register", "write_private"]

DEFAULT_ENCRYPTED_REGEX = "^value$"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "import",
        help="write an encrypted manifest of a live site (names, descriptions, values)",
        description="List the site, read every value, and write a SOPS/age-encrypted manifest of it. Values "
        "are encrypted in memory and never touch the disk in plaintext. Recipients come from --age or from "
        "the .sops.yaml creation rule matching --out. A plan of the imported file shows no changes.",
    )
    parser.add_argument("--out", "-o", required=True, metavar="FILE", help="the manifest to write")
    parser.add_argument(
        "--age",
        action="append",
        default=[],
        metavar="RECIPIENT",
        help="age recipient (age1...) to encrypt to; repeatable (default: the .sops.yaml rule for FILE)",
    )
    parser.add_argument(
        "--encrypted-regex",
        default=None,
        metavar="REGEX",
        help=f"keys whose values are encrypted (default {DEFAULT_ENCRYPTED_REGEX!r}, or the .sops.yaml rule's)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    add_site_options(parser)
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class _Target:
    recipients: tuple[str, ...]
    key_groups: tuple[tuple[str, ...], ...]
    shamir_threshold: int | None
    rules: Any  # reconciler.sops.EncryptionRules
    source: str


def _target(args: argparse.Namespace, console: Console, out: Path) -> _Target:
    from reconciler.sops import EncryptionRules
    from reconciler.sops.config import find_config, rule_for_file
    from reconciler.sops.tree import RULE_NAMES

    override = EncryptionRules(encrypted_regex=args.encrypted_regex) if args.encrypted_regex else None
    default = EncryptionRules(encrypted_regex=DEFAULT_ENCRYPTED_REGEX)
    if args.age:
        recipients = tuple(r.strip() for a in args.age for r in a.split(",") if r.strip())
        return _Target(recipients, (), None, override or default, "--age")
    config = find_config(console.cwd, console.environ)
    rule = rule_for_file(config, out) if config else None
    if rule is None or not (rule.age or rule.key_groups):
        raise UsageError(
            "no age recipient to encrypt the imported manifest to",
            hint="pass --age age1... (see `wix-secrets keygen`) or add a .sops.yaml creation rule "
            "with age recipients matching the output path",
        )
    has_rule = any(getattr(rule.rules, n) for n in RULE_NAMES)
    rules = (rule.rules if has_rule else default.merged(rule.rules)).merged(override)
    return _Target(rule.age, rule.key_groups, rule.shamir_threshold, rules, str(config))


def write_private(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` atomically: a 0600 temp file in the same folder, then a rename."""
    from reconciler.errors import OutputError
    from reconciler.fsutil import atomic_write, check_parent

    check_parent(path, "manifest")  # a missing folder is refused, never created
    try:
        atomic_write(path, data, overwrite=force)
    except FileExistsError:
        raise UsageError(f"{path}: already exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise OutputError(f"cannot write the manifest {path}: {exc.strerror or exc}; it was not written") from None


async def _read_site(client: Any, console: Console) -> tuple[list[Any], dict[str, Any]]:
    from reconciler.cli.progress import ProgressReporter
    from reconciler.errors import NotFoundError

    async with client:
        listed = await client.list_secrets()
        progress = ProgressReporter(console, "reading values")
        values: dict[str, Any] = {}
        done = 0

        async def read(secret: Any) -> None:
            nonlocal done
            try:
                value = await client.get_value(secret.name)
            except NotFoundError:
                return  # deleted since the list: reported as not read
            console.redactor.add(value.reveal())
            values[secret.id] = value
            done += 1
            progress(done, len(listed))

        import asyncio

        with progress:  # cleared even when a read fails or a secret vanished since the list
            await asyncio.gather(*(read(s) for s in listed))
    return listed, values


def run(args: argparse.Namespace, console: Console) -> int:
    from reconciler.cli.site import open_client, site_settings
    from reconciler.importer import build_manifest
    from reconciler.sops import encrypt

    out = console.resolve(args.out)
    if out.exists() and not args.force:
        raise UsageError(f"{args.out}: already exists; pass --force to overwrite it")
    if out.is_dir():
        raise UsageError(f"{args.out}: is a directory")
    target = _target(args, console, out)
    settings = site_settings(args, console)
    site = settings.site_id or (f"local site {settings.local}" if settings.local else settings.api_url)
    if settings.site_id and not settings.local:
        site = f"site {settings.site_id} ({settings.api_url})"
    import asyncio

    listed, values = asyncio.run(_read_site(open_client(settings, console), console))
    imported = build_manifest(
        listed,
        values,
        site=site,
        imported_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        tool=f"wix-secrets {__version__}",
    )
    data = encrypt(
        imported.text,
        recipients=target.recipients,
        rules=target.rules,
        key_groups=target.key_groups,
        shamir_threshold=target.shamir_threshold,
        where=args.out,
    )
    write_private(out, data, force=args.force)
    for item in imported.skipped:
        console.err(f"Warning: {item.name} was NOT imported: {item.reason}")
    for note in imported.notes:
        console.err(f"Note: {note}")
    count = len(imported.imported)
    console.out(
        f"Imported {count} secret{'s' if count != 1 else ''} from {site} into {args.out} "
        f"(encrypted to {len(target.recipients) or sum(len(g) for g in target.key_groups)} "
        f"recipient(s) from {target.source})."
    )
    if imported.skipped:
        console.out(f"{len(imported.skipped)} secret(s) could not be imported; see the warnings above.")
    console.out(f"Next: wix-secrets plan {args.out}  (expect no changes)")
    return 0
