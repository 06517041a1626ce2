"""Code-aware plans: which secret names the site's JavaScript/TypeScript code reads.

- :mod:`~reconciler.codescan.tokenizer`: JS/TS text → tokens (comments dropped, strings, templates and
  regular expressions told apart), linear time;
- :mod:`~reconciler.codescan.scanner`: tokens → :class:`CodeReference` (static names and dynamic
  references), pure;
- :mod:`~reconciler.codescan.files`: code roots and globs → files read safely (boundaries, symlinks,
  caps);
- :mod:`~reconciler.codescan.age`: ``max_age`` durations and overdue secrets (pure);
- :mod:`~reconciler.codescan.policy`: the manifest's ``policy.code``, ``code_dynamic_names`` and
  ``max_age``, read and merged.

:func:`scan_code` puts the first three together; the guard that uses the result is
:mod:`reconciler.codeguard`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.codescan.files import CodeRoot, Limits, Unscanned, collect, shown_path
from reconciler.codescan.scanner import CodeReference, display_safe, scan_source

__all__ = ["CodeReference", "CodeRoot", "CodeScan", "Limits", "Unscanned", "display_safe", "scan_code", "scan_texts"]


@dataclass(frozen=True)
class CodeScan:
    """What the scanned code reads. ``references`` are in file, line, column order."""

    references: tuple[CodeReference, ...]
    files: int
    unscanned: tuple[Unscanned, ...] = ()
    roots: tuple[str, ...] = ()

    @property
    def static(self) -> tuple[CodeReference, ...]:
        return tuple(r for r in self.references if r.name is not None)

    @property
    def dynamic(self) -> tuple[CodeReference, ...]:
        return tuple(r for r in self.references if r.name is None)

    def names(self) -> set[str]:
        return {r.name for r in self.references if r.name is not None}

    def of(self, name: str) -> tuple[CodeReference, ...]:
        return tuple(r for r in self.references if r.name == name)


def scan_texts(files: Sequence[tuple[str, str]], *, roots: Sequence[str] = ()) -> CodeScan:
    """Scan in-memory sources given as (path, text). Pure."""
    refs: list[CodeReference] = []
    for path, text in files:
        refs.extend(scan_source(text, path))
    refs.sort(key=lambda r: (r.path, r.line, r.column, r.name or "", r.api))
    return CodeScan(tuple(refs), len(files), (), tuple(roots))


def scan_code(roots: Sequence[CodeRoot], *, display_base: Path, limits: Limits | None = None) -> CodeScan:
    """Read the files the roots name (see :mod:`~reconciler.codescan.files`) and scan them."""
    sources, unscanned = collect(roots, display_base=display_base, limits=limits or Limits())
    shown = [display_safe(shown_path(r.base / r.spec, display_base), limit=400) for r in roots]
    scan = scan_texts([(s.path, s.text) for s in sources], roots=shown)
    return CodeScan(scan.references, scan.files, tuple(unscanned), scan.roots)
