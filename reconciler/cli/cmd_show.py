"""``wix-secrets show PLANFILE``: show a saved plan (``plan --out``) without applying it, like ``terraform show``.

Reads only the plan file: no manifest is decrypted and no request is sent, so it needs no key and no
credential. The plan is loaded by the saved-plan module (:func:`reconciler.cli.saved.read_plan_file`)
and rendered by the usual renderers (human text, ``--json`` with a ``saved_plan`` member, ``--markdown``).
A plan file holds no value, so neither does anything shown. Whether the plan is still current is checked
by ``wix-secrets apply PLANFILE`` (exit 4 if stale), not here.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from reconciler.cli.app import add_output_options, add_subcommand
from reconciler.cli.console import Console
from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.plan import Plan
    from reconciler.planfile import SavedPlan
    from reconciler.render import RunInfo

__all__ = ["register", "saved_plan_view"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "show",
        help="show a saved plan (plan --out PLANFILE) without applying it",
        description="Show the changes saved in PLANFILE by `wix-secrets plan --out PLANFILE`, and for which "
        "manifests and site they were made. Reads only PLANFILE: no manifest is decrypted, no request is "
        "sent. `wix-secrets apply PLANFILE` applies it, or refuses (exit 4) if it is stale.",
    )
    parser.add_argument("planfile", metavar="PLANFILE", help="a plan saved by `wix-secrets plan --out`")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def saved_plan_view(saved: SavedPlan, path: str) -> tuple[Plan, RunInfo]:
    """The saved plan as a (Plan, RunInfo) pair for the renderers. Pure."""
    from reconciler.plan import Plan
    from reconciler.render import RunInfo
    from reconciler.target import target_warning

    limits = dict(saved.limits or {})
    targets = limits.get("targets") or []
    site = dict(saved.site or {})
    # a plan file is untrusted (a CI artifact): refuse odd shapes instead of showing them
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise UsageError(f"{path} is damaged: limits.targets is not a list of names")
    for key in ("site_id", "api_url", "local"):
        if site.get(key) is not None and not isinstance(site[key], str):
            raise UsageError(f"{path} is damaged: site.{key} is not a string")
    targets = tuple(targets)
    for change in saved.changes:  # names reach the terminal: no escape sequence may ride in them
        texts = [change.name, change.previous_name, change.reason, *(targets or ())]
        if change.remote is not None:
            texts += [change.remote.name, change.remote.id]
        if any(isinstance(t, str) and _CONTROL.search(t) for t in texts):
            raise UsageError(f"{path} is damaged: a name holds control characters")
    notes = [target_warning(targets)] if targets else []
    plan = Plan(changes=tuple(saved.changes), warnings=tuple(notes))
    info = RunInfo(
        command="show",
        manifest_paths=tuple(saved.manifests),
        digest=saved.digest,
        encrypted=any(c.fingerprint_after for c in saved.changes),
        site_id=site.get("site_id"),
        api_url=site.get("api_url"),
        local=site.get("local"),
        targets=targets,
    )
    return plan, info


def _limits_text(limits: dict[str, Any]) -> str:
    parts = []
    if limits.get("max_deletes") is not None:
        parts.append(f"--max-deletes {limits['max_deletes']}")
    if limits.get("allow_mass_delete"):
        parts.append("--allow-mass-delete")
    if limits.get("prune") is not None:
        parts.append("--prune" if limits["prune"] else "prune off")
    return ", ".join(parts)


def run(args: argparse.Namespace, console: Console) -> int:
    from reconciler.render.human import render_plan
    from reconciler.render.json import dumps, plan_document
    from reconciler.render.markdown import render_markdown
    from reconciler.render.mdescape import md_code, md_text
    from reconciler.service import read_plan_file

    path: str = args.planfile
    target = console.resolve(path)
    if not target.is_file():
        raise UsageError(f"{path}: no such file" if not target.exists() else f"{path}: not a file")
    saved = read_plan_file(target)
    if saved is None:
        raise UsageError(
            f"{path} is not a saved plan",
            hint="make one with `wix-secrets plan --out PLANFILE MANIFEST...`; a manifest is shown by `plan`",
        )
    plan, info = saved_plan_view(saved, path)
    made = f"made {saved.created}" + (f" by wix-secrets {saved.tool_version}" if saved.tool_version else "")
    limits = _limits_text(dict(saved.limits or {}))
    if args.json:
        doc = plan_document(plan, info)
        doc["saved_plan"] = {"path": path, "created": saved.created, "tool_version": saved.tool_version}
        console.out(dumps(doc))
    elif args.markdown:
        note = (
            f"<sub>Saved plan {md_code(path)}, {md_text(made)}; not applied. "
            f"Apply it with {md_code(f'wix-secrets apply {path}')}.</sub>\n"
        )
        console.out(render_markdown(plan, info) + note)
    else:
        # a plan file keeps only the changes: say what they are, not "0 unchanged"
        body = render_plan(plan, info, color=console.color).rsplit("\n", 1)[0]
        s = plan.summary()
        counts = f"{s['create']} to create, {s['update']} to update, {s['rename']} to rename, {s['delete']} to delete"
        lines = [
            f"Saved plan {path} ({made}){'; ' + limits if limits else ''}.",
            "",
            body,
            f"Saved changes: {counts}." if plan.has_changes else "The saved plan has no changes.",
            "",
            f"Nothing was read from the site. `wix-secrets apply {path}` applies exactly this plan, "
            "or refuses (exit 4) if the manifest or the site changed since.",
        ]
        console.out("\n".join(lines))
    return 0
