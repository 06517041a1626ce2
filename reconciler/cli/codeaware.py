"""Code-aware plans in the CLI: the ``--code``/``--allow-breaking-code`` flags (the service does the
scan and the guard: :class:`reconciler.service.SiteSession`), and the scan ``validate --code`` runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from reconciler.cli.console import Console

if TYPE_CHECKING:
    from reconciler.codescan import CodeScan
    from reconciler.model import DesiredState

__all__ = ["add_code_arguments", "scan_for"]


def add_code_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    group = parser.add_argument_group("site code (code-aware plans, docs/code-aware.md)")
    group.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="PATH",
        help="the site's code: a folder, file or glob (repeatable; replaces policy.code and the project's code:)",
    )
    if command != "drift":
        group.add_argument(
            "--allow-breaking-code",
            action="store_true",
            help="allow deleting or renaming away secrets the site's code reads (or may read)",
        )


def scan_for(console: Console, desired: DesiredState, paths: list[str]) -> CodeScan | None:
    """Scan ``paths`` (else the manifests' policy.code); None when no code is named."""
    from reconciler.codescan import scan_code
    from reconciler.codescan.roots import code_roots

    roots = code_roots(desired, cwd=console.cwd, paths=paths)
    return scan_code(roots, display_base=console.cwd) if roots else None
