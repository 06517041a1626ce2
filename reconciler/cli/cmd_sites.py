"""``wix-secrets sites``: list the project's sites, or print a GitHub Actions matrix of them.

``--matrix`` prints ``{"include": [{"site": NAME, "environment": ENV}, ...]}`` on one line, for
``strategy.matrix: ${{ fromJSON(needs.sites.outputs.matrix) }}`` so that a workflow shards the sites
across runners (see examples/github/sharded.yml). Reads only the project file; sends no request.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from reconciler.cli.app import add_subcommand
from reconciler.cli.console import Console

__all__ = ["matrix", "register", "where_of"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "sites",
        help="list the sites of the project file (or print a GitHub Actions matrix)",
        description="List the sites named by the project file (wix-secrets.yaml, found from the current "
        "folder upward, or --project FILE): name, environment, site id, manifests and the names of the "
        "credential variables. --matrix prints a GitHub Actions matrix (JSON) to shard sites across runners.",
    )
    parser.add_argument("--project", metavar="FILE", help="the project file (default: nearest wix-secrets.yaml)")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help='print {"include": [{"site", "environment", "manifests", ...}]} for strategy.matrix',
    )
    parser.add_argument("--json", action="store_true", help="print the sites as a JSON document")
    parser.add_argument(
        "--environment", metavar="ENV", action="append", default=[], help="only sites of this environment"
    )
    parser.set_defaults(handler=run)


_APP_FIELDS = ("client_id_env", "client_secret_env", "instance_id_env")


def matrix(sites: list[Any], rel: Any = str) -> dict[str, Any]:
    """The GitHub Actions matrix: per site its name and environment, plus what a job needs to run it
    without the project file: manifests (space-separated, relative to the current folder, as the
    Action's ``manifest`` input takes them), site id and the names of the credential variables
    (``api_key_env``/``site_id_env`` for an API key, ``client_id_env``/``client_secret_env``/
    ``instance_id_env`` for a Wix app; the other kind's are empty strings, never missing)."""
    return {
        "include": [
            {
                "site": s.name,
                "environment": s.environment or "",
                "manifests": " ".join(rel(m) for m in s.manifests),
                "site_id": s.site_id or "",
                "api_key_env": s.credentials.api_key_env or "",
                "site_id_env": s.credentials.site_id_env or "",
                **{name: getattr(s.credentials, name) or "" for name in _APP_FIELDS},
            }
            for s in sites
        ]
    }


def run(args: argparse.Namespace, console: Console) -> int:
    import os

    from reconciler.project import find_project, load_project

    path = find_project(console.cwd, args.project)
    project = load_project(path, shown=args.project or os.path.relpath(path, console.cwd))
    sites = [s for s in project.sites if not args.environment or s.environment in args.environment]
    if args.matrix:
        console.out(json.dumps(matrix(sites, lambda p: os.path.relpath(p, console.cwd)), separators=(",", ":")))
        return 0
    base = path.parent

    def rel(p: str) -> str:
        return os.path.relpath(p, base)

    if args.json:
        doc = {
            "project": str(path),
            "sites": [
                {
                    "name": s.name,
                    "environment": s.environment,
                    "site_id": s.site_id,
                    "api_url": s.api_url,
                    "local": rel(s.local) if s.local else None,
                    "manifests": [rel(m) for m in s.manifests],
                    "credentials": {k: v for k, v in vars(s.credentials).items() if v},
                }
                for s in sites
            ],
        }
        console.out(json.dumps(doc, indent=2))
        return 0
    for s in sites:
        env = f" [{s.environment}]" if s.environment else ""
        console.out(f"{s.name}{env}: {where_of(s, rel)}; manifests: {', '.join(rel(m) for m in s.manifests)}")
    return 0


def where_of(site: Any, rel: Any = str) -> str:
    """Where a project site is, in words: its local file, its site id, or where the id comes from."""
    if site.local:
        return f"local {rel(site.local)} (emulated; no credentials used)"
    creds = site.credentials
    if site.site_id:
        return f"site {site.site_id}"
    if creds.api_key_env and creds.site_id_env:
        return f"site (id from ${creds.site_id_env})"
    if creds.instance_id_env:
        return f"Wix app instance (from ${creds.instance_id_env})"
    return "site (no id)"
