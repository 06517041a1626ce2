"""Code-aware plans in the CLI: the ``--code``/``--allow-breaking-code`` flags, which code roots a run
uses, the scan (phase 1, before any request) and the report and guard verdict (phase 2).

Where the code is, first match wins: ``--code PATH`` (repeatable; relative to the working directory,
anywhere), a project site's ``code:`` (relative to the project file, inside its repository), the
manifests' ``policy.code`` (relative to each manifest, inside its repository). Without any, plans are
not code-aware, but ``max_age`` still reports overdue secrets.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli.console import Console

if TYPE_CHECKING:
    from reconciler.codeguard import CodeReport
    from reconciler.codescan import CodeRoot, CodeScan
    from reconciler.model import DesiredState

__all__ = ["add_code_arguments", "code_report_for", "code_roots", "scan_for"]

#: argparse attribute multisite sets for a project site: (absolute code paths, project directory)
PROJECT_CODE = "project_site_code"


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


def code_roots(
    args: argparse.Namespace, console: Console, desired: DesiredState, *, cli_paths: list[str] | None = None
) -> list[CodeRoot]:
    from reconciler.codescan import CodeRoot
    from reconciler.codescan.files import repo_boundary

    paths = list(getattr(args, "code", None) or []) if cli_paths is None else cli_paths
    if paths:
        return [CodeRoot(p, console.cwd, None, "--code") for p in paths]
    project: tuple[tuple[str, ...], str] | None = getattr(args, PROJECT_CODE, None)
    if project and project[0]:
        base = Path(project[1])
        return [CodeRoot(p, base, repo_boundary(base), "code: of the project file") for p in project[0]]
    roots = []
    for spec, manifest in desired.policy.code:
        base = console.resolve(manifest).parent
        roots.append(CodeRoot(spec, base, repo_boundary(base), f"policy.code of {manifest}"))
    return roots


def scan_for(
    args: argparse.Namespace, console: Console, desired: DesiredState, *, cli_paths: list[str] | None = None
) -> CodeScan | None:
    """Scan the run's code (no request; UsageError for a bad root); None when no code is named."""
    roots = code_roots(args, console, desired, cli_paths=cli_paths)
    if not roots:
        return None
    from reconciler.codescan import scan_code

    return scan_code(roots, display_base=console.cwd)


def code_report_for(run: Any, args: argparse.Namespace) -> CodeReport:
    """The report of a planned run (``run`` is a cli.runner.SiteRun); the clock is read here."""
    from reconciler.codeguard import code_report

    assert run.planned is not None
    return code_report(
        run.planned.plan,
        run.desired,
        run.planned.remote,
        run.code_scan,
        command=run.command,
        now=datetime.now(UTC),
        allow_breaking=bool(getattr(args, "allow_breaking_code", False)),
    )
