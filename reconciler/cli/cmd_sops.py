"""``encrypt``, ``decrypt``, ``edit``, ``set``, ``unset``, ``updatekeys``, ``rotate``, ``keygen``: SOPS without sops.

Thin wrappers over :mod:`reconciler.sops` (bytes in, bytes out). Nothing heavy is imported at module
level: yaml, cryptography and pyrage load only when a command runs. Values are never taken from argv
(``set`` reads stdin or a hidden prompt); ``edit``'s plaintext temp file is 0600 in a private 0700
directory (under ``$XDG_RUNTIME_DIR`` when it exists), removed whatever happens, and one left by an edit
killed with SIGKILL is removed by the next edit. ``edit`` refuses to fall back to vi without a terminal.
"""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli.app import add_subcommand
from reconciler.cli.console import Console
from reconciler.errors import ApprovalError, UsageError

if TYPE_CHECKING:
    from reconciler.sops.keys import KeyRing
    from reconciler.sops.tree import EncryptionRules

__all__ = ["register"]

_RULE_FLAGS = (
    ("--encrypted-regex", "encrypted_regex", "encrypt only values whose key path matches this regex"),
    ("--unencrypted-regex", "unencrypted_regex", "leave values whose key path matches this regex in clear"),
    ("--encrypted-suffix", "encrypted_suffix", "encrypt only values under keys ending with this suffix"),
    ("--unencrypted-suffix", "unencrypted_suffix", "leave values under keys ending with this suffix in clear"),
    ("--encrypted-comment-regex", "encrypted_comment_regex", "encrypt the values after comments matching this"),
    ("--unencrypted-comment-regex", "unencrypted_comment_regex", "leave values after matching comments in clear"),
)


_TYPES = ("yaml", "json", "dotenv", "ini", "binary")


def _types(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    p.add_argument(
        "--input-type",
        choices=_TYPES,
        help="the file's format (default: from its extension, as sops: "
        ".yaml/.yml, .json, .env, .ini, anything else binary)",
    )
    if output:
        p.add_argument("--output-type", choices=_TYPES, help="the format to write (default: the input's)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the sops subcommands."""
    p = add_subcommand(
        subparsers,
        "encrypt",
        help="encrypt a file with SOPS/age (no sops binary needed)",
        description="Encrypt FILE to age recipients (--age, SOPS_AGE_RECIPIENTS or .sops.yaml). "
        "Every sops store: YAML, JSON, dotenv, INI and binary.",
    )
    p.add_argument("file", metavar="FILE")
    _types(p)
    p.add_argument("--age", metavar="RECIPIENT[,RECIPIENT...]", help="age or ssh recipients (replace .sops.yaml keys)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-i", "--in-place", action="store_true", help="replace FILE with the encrypted file")
    out.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    for flag, dest, text in _RULE_FLAGS:
        p.add_argument(flag, dest=dest, metavar="VALUE", help=text)
    p.add_argument("--mac-only-encrypted", action="store_true", help="the MAC covers only encrypted values")
    _config_flag(p)
    p.set_defaults(handler=_encrypt)

    p = add_subcommand(
        subparsers,
        "decrypt",
        help="decrypt a SOPS file (MAC verified), like sops -d",
        description="Decrypt FILE and print the plaintext (or write it to OUT, mode 0600).",
    )
    p.add_argument("file", metavar="FILE")
    _types(p)
    p.add_argument("--extract", metavar="PATH", help='print only the value at PATH, in sops\' syntax: \'["a"]["b"]\'')
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", metavar="OUT", help="write to OUT (mode 0600) instead of stdout")
    out.add_argument("-i", "--in-place", action="store_true", help="replace FILE with its plaintext")
    p.set_defaults(handler=_decrypt)

    p = add_subcommand(
        subparsers,
        "edit",
        help="edit a SOPS file in $EDITOR and re-encrypt it",
        description="Open the plaintext of FILE in $EDITOR (a private temp file), then "
        "re-encrypt; unchanged values keep their ciphertext.",
    )
    p.add_argument("file", metavar="FILE")
    _types(p, output=False)
    p.set_defaults(handler=_edit)

    p = add_subcommand(
        subparsers,
        "set",
        help="set one secret's value in an encrypted manifest (or any path)",
        description="Set secrets[NAME].value, or the value at a sops path such as "
        '\'["a"]["b"]\'; the value is read from stdin or a hidden prompt.',
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("name", metavar="NAME|PATH")
    _types(p, output=False)
    p.add_argument("--description", help="also set secrets[NAME].description")
    p.set_defaults(handler=_set)

    p = add_subcommand(
        subparsers,
        "unset",
        help="remove one secret from an encrypted manifest (or any path)",
        description="Remove secrets[NAME], or the value at a sops path such as '[\"a\"]', from FILE.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("name", metavar="NAME|PATH")
    _types(p, output=False)
    p.set_defaults(handler=_unset)

    p = add_subcommand(
        subparsers,
        "updatekeys",
        help="re-encrypt the data key to the recipients .sops.yaml names",
        description="Show the recipient change for FILE and apply it (asks unless --yes).",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    _types(p, output=False)
    _config_flag(p)
    p.set_defaults(handler=_updatekeys)

    p = add_subcommand(
        subparsers,
        "rotate",
        help="re-encrypt a SOPS file under a new data key",
        description="Generate a new data key and re-encrypt every value (in place, or to OUT).",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of replacing FILE")
    p.add_argument(
        "--add-age",
        metavar="RECIPIENT[,RECIPIENT...]",
        action="append",
        default=[],
        help="also encrypt to these age recipients (as sops rotate --add-age)",
    )
    p.add_argument(
        "--rm-age",
        metavar="RECIPIENT[,RECIPIENT...]",
        action="append",
        default=[],
        help="stop encrypting to these age recipients (as sops rotate --rm-age)",
    )
    _types(p, output=False)
    p.set_defaults(handler=_rotate)

    p = add_subcommand(
        subparsers,
        "keygen",
        help="generate a new age identity",
        description="Write a new age identity to OUT (mode 0600) or stdout; print its public key.",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="keys file to create (refuses to overwrite)")
    p.set_defaults(handler=_keygen)


# ------------------------------------------------------------------ helpers


def _read(console: Console, name: str) -> tuple[Path, bytes]:
    path = console.resolve(name)
    try:
        return path, path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from exc


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Atomic replace; keeps an existing file's mode, else 0600 (private) or 0644."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o600 if private else 0o644
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode if not private else mode & 0o700 or 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def _keyring(console: Console) -> KeyRing:
    from reconciler.sops.keys import KeyRing

    home = Path(console.environ.get("HOME") or Path.home())
    return KeyRing.discover(console.environ, home=home, passphrase=console.passphrase_prompt())


def _cli_rules(args: argparse.Namespace) -> EncryptionRules:
    from reconciler.sops.tree import EncryptionRules

    kw = {dest: getattr(args, dest) for _, dest, _ in _RULE_FLAGS if getattr(args, dest, None)}
    return EncryptionRules(**kw, mac_only_encrypted=bool(getattr(args, "mac_only_encrypted", False)))


def _config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="the .sops.yaml to use, as sops --config (default: SOPS_CONFIG, else the nearest .sops.yaml "
        "from the current folder upward)",
    )


def _creation_rule(console: Console, path: Path, config: str | None = None) -> Any:
    """The creation rule for ``path``: from ``--config FILE`` when given (it must exist), else from
    ``SOPS_CONFIG`` or the nearest ``.sops.yaml``."""
    from reconciler.sops.config import find_config, rule_for_file

    if config:
        chosen = console.resolve(config)
        if not chosen.is_file():
            raise UsageError(f"--config {config}: no such file", hint="point --config at a .sops.yaml")
        return rule_for_file(chosen, path)
    found = find_config(console.cwd, console.environ)
    return rule_for_file(found, path) if found is not None else None


def _emit(console: Console, data: bytes, output: str | None, *, private: bool) -> None:
    if output:
        _write(console.resolve(output), data, private=private)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            console.out(text, end="")
            return
        # a binary file's bytes, exactly: through the underlying byte stream when there is one
        stream: Any = console.stdout
        raw = getattr(getattr(stream, "_inner", stream), "buffer", None)
        if raw is None:
            console.out(data.decode("utf-8", "surrogateescape"), end="")
            return
        stream.flush()
        raw.write(data)
        raw.flush()


def _fmt(args: argparse.Namespace, *, output: bool = False) -> str:
    from reconciler.sops.formats import choose

    given = getattr(args, "output_type" if output else "input_type", None)
    if output and not given:
        given = getattr(args, "input_type", None)
    return choose(args.file, given)


# ------------------------------------------------------------------ handlers


def _encrypt(args: argparse.Namespace, console: Console) -> int:
    from reconciler.sops.api import encrypt

    path, plain = _read(console, args.file)
    rules = _cli_rules(args)
    recipients = [r for r in (args.age or console.environ.get("SOPS_AGE_RECIPIENTS", "")).split(",") if r.strip()]
    groups: tuple[tuple[str, ...], ...] = ()
    threshold = None
    if not recipients:
        rule = _creation_rule(console, path, args.config)
        if rule is None:
            raise UsageError("no recipients: pass --age RECIPIENT, set SOPS_AGE_RECIPIENTS, or add a .sops.yaml")
        recipients, groups, threshold = list(rule.age), rule.key_groups, rule.shamir_threshold
        rules = rule.rules.merged(rules)
        if rule.other_keys:
            console.err(
                f"note: {rule.config_path} also names {', '.join(rule.other_keys)} keys; wix-secrets "
                "encrypts to the age recipients only (use sops for the others)"
            )
    else:
        rule = _creation_rule_quiet(console, path, args.config)
        if rule is not None:
            rules = rule.rules.merged(rules)
    data = encrypt(
        plain,
        recipients=recipients,
        rules=rules,
        key_groups=groups,
        shamir_threshold=threshold,
        where=args.file,
        fmt=_fmt(args),
        output_fmt=_fmt(args, output=True),
    )
    if args.in_place:
        _write(path, data, private=False)
    else:
        _emit(console, data, args.output, private=False)
    return 0


def _creation_rule_quiet(console: Console, path: Path, config: str | None = None) -> Any:
    from reconciler.errors import SopsEncryptError

    try:
        return _creation_rule(console, path, config)
    except SopsEncryptError:
        return None


def _decrypt(args: argparse.Namespace, console: Console) -> int:
    from reconciler.sops.api import decrypt_text

    path, data = _read(console, args.file)
    plain = decrypt_text(
        data,
        keys=_keyring(console),
        where=args.file,
        fmt=_fmt(args),
        output_fmt=_fmt(args, output=True),
        extract=args.extract,
    )
    if args.in_place:
        _write(path, plain, private=True)
    else:
        _emit(console, plain, args.output, private=True)
    return 0


_EDIT_PREFIX = "wix-secrets-edit-"


def _editor(console: Console) -> str:
    """``SOPS_EDITOR``, ``VISUAL`` or ``EDITOR``; vi only when a person is at a terminal. Without one,
    vi would draw the decrypted file on whatever stdout is (a CI log): refuse instead."""
    for name in ("SOPS_EDITOR", "VISUAL", "EDITOR"):
        if console.environ.get(name, "").strip():
            return console.environ[name]
    if console.stdin_tty and console.stdout_tty and not console.in_ci:
        return "vi"
    raise UsageError(
        "edit needs an editor: no $SOPS_EDITOR, $VISUAL or $EDITOR is set and there is no terminal",
        hint="set EDITOR (e.g. EDITOR=nano) in a terminal; in scripts use `decrypt`/`encrypt` or `set`",
    )


def _edit_base(console: Console) -> Path:
    """Where edit's private temp dir goes: ``$XDG_RUNTIME_DIR`` (tmpfs, removed at logout) when it is a
    directory of ours that nobody else can enter, else the temp dir."""
    import tempfile

    runtime = console.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        try:
            st = os.stat(runtime)
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
            return Path(runtime)
    tmp = console.environ.get("TMPDIR", "")
    return Path(tmp) if tmp and os.path.isabs(tmp) and os.path.isdir(tmp) else Path(tempfile.gettempdir())


def _clean_stale_edits(base: Path) -> int:
    """Remove ``wix-secrets-edit-<pid>-*`` dirs of ours whose process is gone (an edit killed by SIGKILL
    cannot clean up after itself). Returns how many were removed."""
    import shutil

    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(_EDIT_PREFIX):
            continue
        pid_text = entry.name[len(_EDIT_PREFIX) :].split("-", 1)[0]
        try:
            st = entry.stat(follow_symlinks=False)
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or pid <= 0 or _alive(pid):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += not os.path.exists(entry.path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (EPERM)
        return True
    return True


def _edit(args: argparse.Namespace, console: Console) -> int:
    import shlex
    import shutil
    import subprocess
    import tempfile

    from reconciler.errors import SopsError
    from reconciler.sops.api import decrypt_text, edit

    editor = _editor(console)
    path, data = _read(console, args.file)
    keys = _keyring(console)
    fmt = _fmt(args)
    plain = decrypt_text(data, keys=keys, where=args.file, fmt=fmt)
    base = _edit_base(console)
    if _clean_stale_edits(base):
        console.err(f"removed the plaintext left behind by an interrupted edit in {base}")
    tmpdir = tempfile.mkdtemp(prefix=f"{_EDIT_PREFIX}{os.getpid()}-", dir=base)
    try:
        os.chmod(tmpdir, 0o700)
        tmp = Path(tmpdir) / (path.stem + (path.suffix or ".yaml"))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(plain)
        while True:
            try:
                rc = subprocess.call([*shlex.split(editor), str(tmp)], env=dict(console.environ))
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot run the editor {editor!r}: {getattr(exc, 'strerror', None) or exc}") from exc
            if rc != 0:
                raise UsageError(f"the editor exited with status {rc}; {args.file} was not changed")
            edited = tmp.read_bytes()
            if edited == plain:
                console.err(f"{args.file}: no changes")
                return 0
            try:
                new = edit(data, edited, keys=keys, where=args.file, fmt=fmt)
                break
            except SopsError as exc:
                # like sops: offer to fix the edit instead of losing it (the temp file is still private)
                if not console.interactive:
                    raise
                console.err(f"Error: {exc.user_message()}")
                if console.ask("Edit again? [Y/n] ").lower() in ("n", "no"):
                    raise
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    _write(path, new, private=False)
    console.err(f"{args.file}: re-encrypted")
    return 0


def _target(args: argparse.Namespace, fmt: str) -> str | None:
    """The sops path NAME stands for, or None for a manifest secret name (``secrets[NAME]``)."""
    name: str = args.name
    if name.startswith("["):
        return name
    if fmt in ("yaml", "json"):
        return None
    if fmt == "dotenv":
        import json

        return "[" + json.dumps(name) + "]"
    raise UsageError(f"{args.file} is {fmt}: give the value's path in sops' syntax, e.g. '[\"section\"][\"key\"]'")


def _set(args: argparse.Namespace, console: Console) -> int:
    from reconciler.sops.api import set_path, set_secret

    path, data = _read(console, args.file)
    fmt = _fmt(args)
    target = _target(args, fmt)
    keys = _keyring(console)
    value = console.ask_secret(f"Value for {args.name}: ")
    if value == "":
        raise UsageError(f"empty value for {args.name}; nothing was changed")
    console.redactor.add(value)
    if target is not None:
        if args.description is not None:
            raise UsageError("--description applies to a manifest secret NAME, not to a path")
        new = set_path(data, target, value, keys=keys, where=args.file, fmt=fmt)
        _write(path, new, private=False)
        console.err(f"{args.file}: set {target}")
        return 0
    _write(
        path,
        set_secret(data, args.name, value, keys=keys, description=args.description, where=args.file, fmt=fmt),
        private=False,
    )
    console.err(f"{args.file}: set secrets.{args.name}")
    return 0


def _unset(args: argparse.Namespace, console: Console) -> int:
    from reconciler.sops.api import unset_path, unset_secret

    path, data = _read(console, args.file)
    fmt = _fmt(args)
    target = _target(args, fmt)
    if target is not None:
        _write(path, unset_path(data, target, keys=_keyring(console), where=args.file, fmt=fmt), private=False)
        console.err(f"{args.file}: removed {target}")
        return 0
    _write(path, unset_secret(data, args.name, keys=_keyring(console), where=args.file, fmt=fmt), private=False)
    console.err(f"{args.file}: removed secrets.{args.name}")
    return 0


def _updatekeys(args: argparse.Namespace, console: Console) -> int:
    from reconciler.sops.api import open_file, updatekeys

    path, data = _read(console, args.file)
    rule = _creation_rule(console, path, args.config)
    if rule is None:
        raise UsageError("no .sops.yaml found from the current directory upward (or pass --config FILE)")
    keys = _keyring(console)
    fmt = _fmt(args)
    if rule.other_keys:
        console.err(
            f"note: {rule.config_path} also names {', '.join(rule.other_keys)} keys for this file; "
            "wix-secrets updates only age recipients (use sops for the others)"
        )
    opened = open_file(data, keys=keys, where=args.file, fmt=fmt).metadata
    current = opened.recipients
    if opened.other_keys:
        console.err(
            f"note: the {', '.join(opened.other_keys)} keys of {args.file} are kept as they are "
            "(the data key does not change); only age recipients are updated here"
        )
    wanted = list(rule.age) or [r for g in rule.key_groups for r in g]
    added = [r for r in wanted if r not in current]
    removed = [r for r in current if r not in wanted]
    if not added and not removed:
        console.err(f"{args.file}: already up to date")
        return 0
    console.err(f"The following changes will be made to the file's recipients ({args.file}):")
    for r in added:
        console.err(f"+++ {r}")
    for r in removed:
        console.err(f"--- {r}")
    if not args.yes:
        if not console.interactive:
            raise ApprovalError("updatekeys needs confirmation: run it in a terminal or pass --yes")
        if console.ask("Apply these changes? [y/N] ").lower() not in ("y", "yes"):
            console.err("Nothing changed.")
            return 0
    new, _ = updatekeys(
        data,
        keys=keys,
        recipients=rule.age,
        key_groups=rule.key_groups,
        shamir_threshold=rule.shamir_threshold,
        where=args.file,
        fmt=fmt,
    )
    _write(path, new, private=False)
    console.err(f"{args.file}: recipients updated")
    return 0


def _rotate(args: argparse.Namespace, console: Console) -> int:
    from reconciler.sops.api import rotate

    path, data = _read(console, args.file)
    add = [r.strip() for item in args.add_age for r in item.split(",") if r.strip()]
    remove = [r.strip() for item in args.rm_age for r in item.split(",") if r.strip()]
    new = rotate(data, keys=_keyring(console), where=args.file, fmt=_fmt(args), add=add, remove=remove)
    for r in add:
        console.err(f"+++ {r}")
    for r in remove:
        console.err(f"--- {r}")
    _write(console.resolve(args.output) if args.output else path, new, private=False)
    console.err(f"{args.file}: re-encrypted under a new data key")
    return 0


def _keygen(args: argparse.Namespace, console: Console) -> int:
    from datetime import UTC, datetime

    import pyrage

    identity = pyrage.x25519.Identity.generate()
    public = str(identity.to_public())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"# created: {created}\n# public key: {public}\n{identity}\n"
    if args.output:
        target = console.resolve(args.output)
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # e.g. ~/.config/sops/age/
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise UsageError(f"{args.output} already exists; not overwriting a keys file") from exc
        except OSError as exc:
            raise UsageError(f"cannot create {args.output}: {exc.strerror}") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        console.err(f"Public key: {public}")
    else:
        console.out(text, end="")
        console.err(f"Public key: {public}")
    return 0
