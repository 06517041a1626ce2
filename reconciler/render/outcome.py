"""One site's outcome as the machine document and as Markdown (the CLI and the Action share these).

Takes any object shaped like :class:`reconciler.service.SiteOutcome` (a Protocol, so this renderer does
not import the service): the plan and the error together when both exist. Pure strings and dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from reconciler.errors import Diagnostic, WixSecretsError
from reconciler.executor import ApplyResult
from reconciler.plan import Plan
from reconciler.render import RunInfo

__all__ = ["OutcomeLike", "site_json", "site_markdown"]


class OutcomeLike(Protocol):
    @property
    def info(self) -> RunInfo: ...
    @property
    def plan(self) -> Plan | None: ...
    @property
    def result(self) -> ApplyResult | None: ...
    @property
    def refusal(self) -> WixSecretsError | None: ...
    @property
    def diagnostics(self) -> Sequence[Diagnostic]: ...
    @property
    def name(self) -> str | None: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def interrupted(self) -> str | None: ...


def site_json(outcome: OutcomeLike) -> dict[str, Any]:
    """The ``schemas/plan.schema.json`` document of one site's run."""
    from reconciler.render.json import site_document

    doc = site_document(
        outcome.info,
        plan=outcome.plan,
        result=outcome.result,
        error=outcome.refusal,
        diagnostics=outcome.diagnostics,
        exit_code=outcome.exit_code,
        interrupted=outcome.interrupted,
    )
    code = getattr(outcome, "code", None)  # reconciler.codeguard.CodeReport: code-aware plans, secret age
    if code is not None and outcome.plan is not None:
        from reconciler.render.code import code_json

        doc.update(code_json(code))
        doc["warnings"] = [*doc.get("warnings", []), *code.warnings()]
    return doc


def site_markdown(outcome: OutcomeLike) -> str:
    """The Markdown summary of one site's run: the plan (and result), then the error if any."""
    from reconciler.render.markdown import render_markdown
    from reconciler.render.mdescape import md_code, md_text

    refusal = outcome.refusal
    if outcome.plan is not None:
        text = render_markdown(outcome.plan, outcome.info, outcome.result)
        code = getattr(outcome, "code", None)
        if code is not None:
            from reconciler.render.code import code_markdown

            text = text.rstrip("\n") + "\n\n" + code_markdown(code)
        if refusal is not None:
            text = text.rstrip("\n") + f"\n\n**Error: {md_text(refusal.summary)}**\n"
        return text
    # every text here comes from the manifest, the server or the environment: escaped (issue 10.7)
    title = f"### wix-secrets {outcome.info.command}: {md_text(outcome.name) + ': ' if outcome.name else ''}error"
    lines = [title, "", f"**{md_text(refusal.summary) if refusal else 'not planned'}**", ""]
    lines += [
        f"- {md_code(d.location())}: {md_text(d.message)}" + (f" ({md_text(d.hint)})" if d.hint else "")
        for d in outcome.diagnostics
    ]
    return "\n".join(lines) + "\n"
