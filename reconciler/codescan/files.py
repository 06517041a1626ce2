"""Which files are the site's code, and reading them safely: roots and globs in, (path, text) out.

A *code root* is a path or glob (``src/backend``, ``src/**/*.web.js``) relative to the file that
names it (a manifest's ``policy.code``, a project's ``code:``) or to the working directory
(``--code``). Defences, because a pull request writes manifests and code alike:

- roots named by a manifest or project file must stay inside its *boundary* (the repository that holds
  that file: the nearest parent with ``.git``, else the file's own directory), after resolving symlinks;
- while walking, directory symlinks are never followed and a file symlink is read only if its target is
  inside the root being walked; anything else is *unscanned* (listed, and the guard treats it as unknown
  code: deletes stay refused);
- only regular files are opened (never a FIFO or a device), without following a final symlink, each read
  up to :attr:`Limits.max_file_bytes`; a larger file is unscanned; the number of files, of directory
  entries visited and of bytes read are capped (:class:`~reconciler.errors.UsageError` past them);
- hidden directories (``.git``, ``.wix``) and ``node_modules`` are not walked;
- globs are matched by a small dynamic-programming matcher (time ``O(len(pattern) * len(path))``), never
  by a regular expression built from the pattern.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reconciler.codescan.scanner import display_safe
from reconciler.errors import UsageError

__all__ = [
    "CODE_SUFFIXES",
    "CodeRoot",
    "Limits",
    "SourceFile",
    "Unscanned",
    "collect",
    "glob_match",
    "repo_boundary",
    "shown_path",
]

CODE_SUFFIXES: Final = (".js", ".jsw", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts")
_SKIP_DIRS: Final = frozenset({"node_modules"})
_GLOB_CHARS: Final = frozenset("*?[")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 1024 * 1024
    max_files: int = 5_000
    max_total_bytes: int = 64 * 1024 * 1024
    max_entries: int = 200_000


@dataclass(frozen=True)
class CodeRoot:
    """One code path or glob. ``base``: the directory it is relative to. ``boundary``: where it must
    resolve to (None: anywhere, for ``--code`` on the command line). ``origin``: who named it, for messages."""

    spec: str
    base: Path
    boundary: Path | None = None
    origin: str = "--code"


@dataclass(frozen=True)
class SourceFile:
    path: str  # as shown: relative to the display base when under it, `/`-separated
    text: str


@dataclass(frozen=True, order=True)
class Unscanned:
    path: str
    reason: str


def repo_boundary(start: Path) -> Path:
    """The repository holding ``start`` (nearest parent directory with ``.git``), else ``start``."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def collect(
    roots: Sequence[CodeRoot], *, display_base: Path, limits: Limits = Limits()
) -> tuple[list[SourceFile], list[Unscanned]]:
    """Read every code file the roots name. Raises UsageError for a root that is missing, outside its
    boundary, or past a limit; unreadable files are returned as Unscanned."""
    files: list[SourceFile] = []
    unscanned: list[Unscanned] = []
    seen: set[str] = set()
    budget = _Budget(limits)
    for root in roots:
        for path, walk_root, explicit in _expand(root, budget):
            shown = display_safe(shown_path(path, display_base), limit=400)
            real = os.path.realpath(path)
            if real in seen:
                continue
            if os.path.islink(path) and not explicit and not _inside(Path(real), walk_root):
                unscanned.append(Unscanned(shown, f"a symbolic link to outside {shown_path(walk_root, display_base)}"))
                continue
            seen.add(real)
            text, problem = _read(path, limits, follow=explicit)
            if problem is not None:
                unscanned.append(Unscanned(shown, problem))
                continue
            assert text is not None
            budget.add_file(len(text))
            files.append(SourceFile(shown, text))
    return files, sorted(set(unscanned))


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.entries = 0
        self.files = 0
        self.bytes = 0

    def visit(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise UsageError(
                f"the code paths hold more than {self.limits.max_entries} directory entries",
                hint="narrow policy.code / --code to the site's source folders (e.g. src/backend)",
            )

    def add_file(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.limits.max_files:
            raise UsageError(
                f"the code paths hold more than {self.limits.max_files} source files",
                hint="narrow policy.code / --code to the site's source folders (e.g. src/backend)",
            )
        if self.bytes > self.limits.max_total_bytes:
            raise UsageError(
                f"the code paths hold more than {self.limits.max_total_bytes // (1024 * 1024)} MiB of source",
                hint="narrow policy.code / --code to the site's source folders (e.g. src/backend)",
            )


def _expand(root: CodeRoot, budget: _Budget) -> Iterator[tuple[Path, Path, bool]]:
    """(file, the root directory it was found under, named explicitly?) for one code root."""
    if "\0" in root.spec or not root.spec.strip():
        raise UsageError(f"{root.origin}: invalid code path {root.spec!r}")
    parts = Path(root.spec).parts
    literal: list[str] = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        literal.append(part)
    pattern = "/".join(parts[len(literal) :])
    start = root.base / Path(*literal) if literal else root.base
    if not start.exists():
        raise UsageError(
            f"{root.origin}: code path {root.spec!r} does not exist ({start})",
            hint="paths are relative to the file that names them (--code: to the working directory)",
        )
    resolved = start.resolve()
    if root.boundary is not None and not _inside(resolved, root.boundary.resolve()):
        raise UsageError(
            f"{root.origin}: code path {root.spec!r} is outside {root.boundary}",
            detail="code paths named by a manifest or project file must stay inside its repository "
            "(the nearest parent with .git, else its own directory), symbolic links resolved",
        )
    if not pattern:
        if resolved.is_file():
            yield start, resolved.parent, True
            return
        if not resolved.is_dir():
            raise UsageError(f"{root.origin}: code path {root.spec!r} is neither a file nor a directory")
        for path in _walk(resolved, budget):
            if path.name.endswith(CODE_SUFFIXES):
                yield path, resolved, False
        return
    if not resolved.is_dir():
        raise UsageError(f"{root.origin}: the folder of code glob {root.spec!r} is not a directory")
    for path in _walk(resolved, budget):
        if glob_match(pattern, path.relative_to(resolved).as_posix()):
            yield path, resolved, False


def _walk(top: Path, budget: _Budget) -> Iterator[Path]:
    """Files under ``top`` in sorted order; directory symlinks, hidden directories and node_modules skipped."""
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[Path] = []
        for entry in entries:
            budget.visit()
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith(".") and entry.name not in _SKIP_DIRS:
                    subdirs.append(Path(entry.path))
            elif not entry.is_dir(follow_symlinks=False):
                yield Path(entry.path)  # files, symlinks and special files (reported, never opened)
        stack.extend(reversed(subdirs))


def _read(path: Path, limits: Limits, *, follow: bool) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it was not read)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
        real = os.path.realpath(path)  # a file symlink inside the root: open its target, no further links
        path = Path(real)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > limits.max_file_bytes:
            return None, f"larger than {limits.max_file_bytes // 1024} KiB"
        chunks: list[bytes] = []
        remaining = limits.max_file_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)
    if len(data) > limits.max_file_bytes:
        return None, f"larger than {limits.max_file_bytes // 1024} KiB"
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff"), None


def _inside(path: Path, boundary: Path) -> bool:
    return path == boundary or boundary in path.parents


def shown_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when possible, ``/``-separated."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        pass
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


def glob_match(pattern: str, path: str) -> bool:
    """Does the ``/``-separated ``path`` match ``pattern``? ``*``, ``?`` and ``[...]`` within a
    component, ``**`` for any number of components. Dynamic programming: no backtracking blow-up."""
    pats = [p for p in pattern.split("/") if p not in ("", ".")]
    return _sequence_match(pats, path.split("/"), "**", _component_match)


def _sequence_match(pats: Sequence[str], items: Sequence[str], star: str, one: Callable[[str, str], bool]) -> bool:
    """Do ``pats`` match all of ``items``? ``star`` matches any run of items, any other pattern exactly
    one item for which ``one(pattern, item)``. Dynamic programming: no backtracking blow-up."""
    # reach[j]: the patterns so far match items[:j]
    reach = [True] + [False] * len(items)
    for pat in pats:
        nxt = [False] * (len(items) + 1)
        if pat == star:
            seen = False
            for j in range(len(items) + 1):
                seen = seen or reach[j]
                nxt[j] = seen
        else:
            for j in range(len(items)):
                if reach[j] and one(pat, items[j]):
                    nxt[j + 1] = True
        reach = nxt
    return reach[len(items)]


def _component_match(pat: str, name: str) -> bool:
    return _sequence_match(_component_tokens(pat), list(name), "*", _char_match)


def _component_tokens(pat: str) -> list[str]:
    """``*``, ``?``, ``[...]`` classes and literal characters."""
    tokens: list[str] = []
    i = 0
    while i < len(pat):
        c = pat[i]
        if c == "*":
            if not tokens or tokens[-1] != "*":
                tokens.append("*")
            i += 1
        elif c == "[":
            close = pat.find("]", i + 2)
            if close < 0:
                tokens.append("\\[")
                i += 1
            else:
                tokens.append(pat[i : close + 1])
                i = close + 1
        else:
            tokens.append("?" if c == "?" else "\\" + c)
            i += 1
    return tokens


def _char_match(tok: str, ch: str) -> bool:
    if tok == "?":
        return True
    if tok.startswith("\\"):
        return tok[1:] == ch
    body = tok[1:-1]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    hit = False
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            hit = hit or body[i] <= ch <= body[i + 2]
            i += 3
        else:
            hit = hit or body[i] == ch
            i += 1
    return hit != negate
