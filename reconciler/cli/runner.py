"""The flow shared by ``plan``, ``apply`` and ``drift``: load, read the site, plan, show, maybe apply.

Output goes where the flags say: human text on stdout by default, ``--json`` or ``--markdown``
instead, and ``--json-file``/``--markdown-file`` in addition. Every value loaded from a manifest or
read from the site is registered with the console's redactor before anything is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from typing import Any, Literal

from reconciler.cli.app import add_output_options, add_site_options
from reconciler.cli.console import Console
from reconciler.cli.progress import ProgressReporter
from reconciler.cli.site import open_client, site_settings
from reconciler.errors import ApprovalError, Diagnostic, ExitCode, ManifestError, WixSecretsError
from reconciler.model import DesiredState, RemoteState
from reconciler.render import RunInfo

__all__ = ["add_plan_arguments", "run_site_command"]

log = logging.getLogger("reconciler.cli")
Command = Literal["plan", "apply", "drift"]


def add_plan_arguments(parser: argparse.ArgumentParser, command: Command) -> None:
    parser.add_argument(
        "manifests", nargs="+", metavar="MANIFEST", help="manifest file(s); later ones override earlier"
    )
    group = parser.add_argument_group("plan")
    if command != "drift":
        group.add_argument(
            "--prune",
            action="store_true",
            default=None,
            help="delete secrets the manifest does not declare (overrides policy.prune)",
        )
        group.add_argument(
            "--max-deletes",
            type=int,
            default=None,
            metavar="N",
            help="refuse a plan that deletes more than N secrets (default 5)",
        )
        group.add_argument(
            "--allow-mass-delete",
            action="store_true",
            help="allow plans that delete more than half of the site or come from a (nearly) empty manifest",
        )
    if command != "apply":
        group.add_argument(
            "--detailed-exitcode",
            action="store_true",
            help="exit 2 when there are changes (plan) or drift (drift), 0 when none, 1 on error",
        )
    group.add_argument("--json-file", metavar="FILE", help="also write the JSON document to FILE")
    group.add_argument("--markdown-file", metavar="FILE", help="also write the Markdown summary to FILE")
    add_output_options(parser)
    add_site_options(parser)


def _register(console: Console, desired: DesiredState | None = None, remote: RemoteState | None = None) -> None:
    if desired is not None:
        for secret in desired.present():
            if secret.value is not None:
                console.redactor.add(secret.value.reveal())
    if remote is not None:
        for value in remote.values.values():
            console.redactor.add(value.reveal())


def _write(console: Console, path: str | None, text: str) -> None:
    if path:
        target = console.resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(console.redactor.scrub(text), encoding="utf-8")


def _info(command: Command, args: argparse.Namespace, desired: DesiredState | None, settings: Any) -> RunInfo:
    return RunInfo(
        command=command,
        manifest_paths=tuple(args.manifests),
        digest=desired.digest if desired else "",
        encrypted=bool(desired and desired.fingerprint_key is not None),
        site_id=settings.site_id if settings else None,
        api_url=None if settings is None or settings.local else settings.api_url,
        local=settings.local if settings else None,
    )


def _emit_error(
    console: Console,
    args: argparse.Namespace,
    info: RunInfo,
    error: WixSecretsError,
    diagnostics: tuple[Diagnostic, ...] = (),
) -> None:
    from reconciler.render.json import dumps, error_document

    doc = dumps(error_document(info, error, diagnostics))
    if args.json:
        console.out(doc)
    _write(console, args.json_file, doc + "\n")
    if args.markdown_file or args.markdown:
        lines = [f"### wix-secrets {info.command}: error", "", f"**{error.summary}**", ""]
        lines += [f"- `{d.location()}`: {d.message}" + (f" ({d.hint})" if d.hint else "") for d in diagnostics]
        text = "\n".join(lines) + "\n"
        if args.markdown:
            console.out(text)
        _write(console, args.markdown_file, text)


def run_site_command(args: argparse.Namespace, console: Console, command: Command) -> int:
    if getattr(args, "max_deletes", None) is not None and args.max_deletes < 0:
        from reconciler.errors import UsageError

        raise UsageError("--max-deletes must be 0 or more")
    settings = None
    info = _info(command, args, None, None)
    try:
        settings = site_settings(args, console)
        info = _info(command, args, None, settings)
        from reconciler.operations import load_desired

        desired = load_desired(args.manifests, environ=console.environ, cwd=console.cwd)
        _register(console, desired)
        info = _info(command, args, desired, settings)
        return asyncio.run(_run(args, console, command, desired, settings, info))
    except ManifestError as exc:
        _emit_error(console, args, info, exc, exc.diagnostics)
        raise
    except WixSecretsError as exc:
        _emit_error(console, args, info, exc)
        raise


async def _run(
    args: argparse.Namespace,
    console: Console,
    command: Command,
    desired: DesiredState,
    settings: Any,
    info: RunInfo,
) -> int:
    from reconciler.guards import DEFAULT_MAX_DELETES, Limits, check_guards
    from reconciler.operations import apply_site, plan_site
    from reconciler.render.human import render_apply, render_plan
    from reconciler.render.json import dumps, plan_document
    from reconciler.render.markdown import render_markdown

    started = time.monotonic()
    async with open_client(settings, console) as client:
        reader = client.read_only() if command == "drift" else client
        planned = await plan_site(
            reader,
            desired,
            prune=getattr(args, "prune", None),
            on_read=ProgressReporter(console, "reading values"),
        )
        _register(console, remote=planned.remote)
        plan = planned.plan
        log.info("planned in %.0f ms: %s", (time.monotonic() - started) * 1000, client.stats)
        guard_error: WixSecretsError | None = None
        if command != "drift":
            limits = Limits(
                max_deletes=DEFAULT_MAX_DELETES if args.max_deletes is None else args.max_deletes,
                allow_mass_delete=args.allow_mass_delete,
            )
            try:
                check_guards(plan, desired, planned.remote, limits)
            except WixSecretsError as exc:
                guard_error = exc

        human = render_plan(plan, info, color=console.color, verbose=bool(args.verbose) or command == "drift")
        if command != "apply" or not plan.has_changes or plan.conflicts or guard_error:
            _write(console, args.json_file, dumps(plan_document(plan, info)) + "\n")
            _write(console, args.markdown_file, render_markdown(plan, info))
            if args.json:
                console.out(dumps(plan_document(plan, info)))
            elif args.markdown:
                console.out(render_markdown(plan, info))
            else:
                console.out(human)
            if plan.conflicts:
                console.err("Error: the plan has conflicts (listed above); nothing was changed.")
                return ExitCode.ERROR
            if guard_error is not None:
                raise guard_error
            if command == "apply":
                return ExitCode.OK
            drifted = plan.has_changes or (command == "drift" and bool(plan.summary()["unmanaged"]))
            return ExitCode.CHANGES if drifted and args.detailed_exitcode else ExitCode.OK

        # apply with changes
        if not args.json and not args.markdown:
            console.out(human)
        if not args.auto_approve:
            _confirm(console)
        result = await apply_site(client, planned, progress=_item_progress(console, len(plan.actionable)))
        log.info("applied in %.0f ms: %s", (time.monotonic() - started) * 1000, client.stats)
        doc = dumps(plan_document(plan, info, result))
        _write(console, args.json_file, doc + "\n")
        _write(console, args.markdown_file, render_markdown(plan, info, result))
        if args.json:
            console.out(doc)
        elif args.markdown:
            console.out(render_markdown(plan, info, result))
        else:
            console.out("")
            console.out(render_apply(result, color=console.color))
        return ExitCode.OK if result.status == "success" else ExitCode.PARTIAL


def _confirm(console: Console) -> None:
    if not console.interactive:
        raise ApprovalError(
            "refusing to apply without confirmation: there is no terminal to ask on",
            hint="review the plan above and pass --auto-approve (or apply a saved plan file)",
        )
    answer = console.ask("\nDo you want to perform these actions? Only 'yes' will be accepted: ")
    if answer != "yes":
        raise ApprovalError("apply cancelled; nothing was changed")


def _item_progress(console: Console, total: int) -> Any:
    reporter = ProgressReporter(console, "applying")
    done = 0

    def progress(event: str, change: Any, status: Any) -> None:
        nonlocal done
        if event == "done":
            done += 1
            reporter(done, total)
            log.info("%s %s: %s", change.action.value, change.name, status)

    return progress
