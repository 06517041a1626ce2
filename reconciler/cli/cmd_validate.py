"""``wix-secrets validate``: check manifests offline; every problem at once, with file and line."""

from __future__ import annotations

import argparse

from reconciler.cli.app import add_subcommand
from reconciler.cli.console import Console
from reconciler.errors import Diagnostic, ExitCode, ManifestError
from reconciler.model import DesiredState

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "validate",
        help="check manifests (schema and Wix rules); sends no request",
        description="Decrypt (if encrypted) and validate each manifest against the JSON Schema and the Wix "
        "rules. Several manifests are then checked together as the manifests of one site, as plan merges "
        "them (names differing only by case across files, one source renamed twice...); --each checks them "
        "only one by one. Reports every problem at once with file, line and what to do. Exit 1 if any.",
    )
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST")
    parser.add_argument(
        "--each",
        action="store_true",
        help="the manifests belong to different sites: check each on its own, not also together",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON document")
    parser.add_argument(
        "--code",
        action="append",
        nargs="?",
        const="",
        metavar="PATH",
        help="also check the site's code: every name it reads must be declared (or match policy.ignore). "
        "PATH: a folder, file or glob (repeatable); without PATH, the manifests' policy.code",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    import json

    from reconciler.manifest import merged_problems
    from reconciler.operations import load_desired
    from reconciler.render.json import FORMAT_VERSION, diagnostic_dict

    results: list[dict[str, object]] = []
    diagnostics: list[Diagnostic] = []
    states: list[DesiredState] = []
    passphrase = console.passphrase_prompt()  # one prompt per protected identity, for every manifest
    for path in args.manifests:
        try:
            state = load_desired([path], environ=console.environ, cwd=console.cwd, passphrase=passphrase)
        except ManifestError as exc:
            diagnostics.extend(exc.diagnostics)
            results.append({"path": path, "valid": False, "secrets": None})
            continue
        for secret in state.present():
            if secret.value is not None:
                console.redactor.add(secret.value.reveal())
        results.append({"path": path, "valid": True, "secrets": len(state.secrets)})
        if not args.json and state.policy.names != "dashboard":  # names the Wix dashboard would refuse
            from reconciler.siterules import name_warnings

            for warning in name_warnings(s.name for s in state.present()):
                console.err(f"{path}: warning: {warning}")
        states.append(state)
    if len(states) > 1 and len(states) == len(args.manifests) and not args.each:
        together = merged_problems(states)
        diagnostics.extend(together)
        for r in results:
            r["valid"] = not any(d.file == r["path"] for d in together)
    if args.code is not None and states and not any(d.severity == "error" for d in diagnostics):
        from reconciler.manifest import merge_states

        checked = [merge_states(states)] if not args.each else states  # the names of the site's manifests together
        for state in checked:
            diagnostics.extend(_check_code(args, console, state))
    if args.json:
        console.out(
            json.dumps(
                {
                    "format_version": FORMAT_VERSION,
                    "command": "validate",
                    "valid": not any(d.severity == "error" for d in diagnostics),
                    "manifests": results,
                    "diagnostics": [diagnostic_dict(d) for d in diagnostics],
                },
                indent=2,
            )
        )
    else:
        for d in diagnostics:
            console.err(d.format())
        for r in results:
            if r["valid"]:
                console.out(f"{r['path']}: valid ({r['secrets']} secrets)")
        if diagnostics:
            count = sum(1 for d in diagnostics if d.severity == "error")
            console.err(f"\n{count} problem{'s' if count != 1 else ''} found; nothing was sent to Wix.")
    return ExitCode.ERROR if any(d.severity == "error" for d in diagnostics) else ExitCode.OK


def _check_code(args: argparse.Namespace, console: Console, state: DesiredState) -> list[Diagnostic]:
    """Every name the code reads must be declared present (or be ignored): else the code would fail."""
    from reconciler.cli.codeaware import scan_for
    from reconciler.globs import matches_any

    paths = [p for p in args.code if p]
    scan = scan_for(console, state, paths)
    if scan is None:
        return [
            Diagnostic(
                "--code without PATH, and the manifest has no policy.code",
                file=state.source,
                hint="pass --code PATH or add policy.code to the manifest",
            )
        ]
    declared = {s.name for s in state.present()}
    found = []
    for ref in scan.static:
        assert ref.name is not None
        if ref.name not in declared and not matches_any(ref.name, state.policy.ignore):
            found.append(
                Diagnostic(
                    f"the code reads {ref.name!r} ({ref.api}), which {state.source} does not declare",
                    file=ref.path,
                    line=ref.line,
                    column=ref.column,
                    hint="declare it, fix the name in the code, or add it to policy.ignore if another tool manages it",
                )
            )
    for item in scan.unscanned:
        found.append(Diagnostic(f"not scanned: {item.reason}", file=item.path, severity="warning"))
    return found
