"""Rendering of :class:`~reconciler.codeguard.CodeReport`: human text, Markdown, the JSON section and
GitHub workflow annotations. Pure strings; names and locations only (never a value).

Names, paths and details come from the scanned code, which a pull request writes: they were made
printable by the scanner, Markdown escapes them as HTML and annotations escape them as GitHub's
workflow commands require, so they cannot inject terminal escapes, Markdown or extra commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from reconciler.codeguard import Breaking, CodeReport
from reconciler.codescan import CodeReference
from reconciler.render.mdescape import md_code, md_text

__all__ = ["CodeAnnotation", "code_annotations", "code_human", "code_json", "code_markdown", "with_code"]

_SHOWN: Final = 20  # references listed per name in text outputs


def _ref_json(r: CodeReference) -> dict[str, Any]:
    return {
        "name": r.name,
        "file": r.path,
        "line": r.line,
        "column": r.column,
        "api": r.api,
        "detail": r.detail or None,
    }


def _breaking_json(b: Breaking) -> dict[str, Any]:
    return {
        "name": b.name,
        "action": b.action,
        "new_name": b.new_name,
        "certain": b.certain,
        "references": [_ref_json(r) for r in b.references],
        "dynamic": [_ref_json(r) for r in b.dynamic],
        "unscanned": b.unscanned,
    }


def code_json(report: CodeReport) -> dict[str, Any]:
    """The ``code`` and ``overdue`` members of the plan document (``schemas/plan.schema.json``)."""
    overdue = [
        {"name": o.name, "updated": o.updated, "age_days": o.age_days, "max_age": o.max_age} for o in report.overdue
    ]
    scan = report.scan
    if scan is None:
        return {"code": None, "overdue": overdue}
    verdict = report.verdict
    return {
        "code": {
            "roots": list(scan.roots),
            "files": scan.files,
            "references": [_ref_json(r) for r in scan.references],
            "unscanned": [{"file": u.path, "reason": u.reason} for u in scan.unscanned],
            "breaking": [_breaking_json(b) for b in verdict.breaking],
            "refused": verdict.error is not None,
            "allowed_by_flag": verdict.allowed and bool(verdict.breaking),
            "missing": [{"name": name, "references": [_ref_json(r) for r in refs]} for name, refs in report.missing],
            "unreferenced": list(report.unreferenced),
            "dynamic_names": None if report.dynamic_names is None else list(report.dynamic_names),
        },
        "overdue": overdue,
    }


def _refs_lines(refs: tuple[CodeReference, ...], indent: str, *, detail: bool) -> list[str]:
    lines = [f"{indent}{r.location}  {r.api}" + (f": {r.detail}" if detail and r.detail else "") for r in refs[:_SHOWN]]
    if len(refs) > _SHOWN:
        lines.append(f"{indent}... and {len(refs) - _SHOWN} more")
    return lines


def code_human(report: CodeReport, *, color: bool = False) -> str:
    """The code and age section printed after the plan ("" when there is nothing to say)."""
    if report.empty:
        return ""

    def paint(code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    lines: list[str] = []
    scan = report.scan
    if scan is not None:
        lines.append(
            f"Code: {scan.files} file(s) scanned in {', '.join(scan.roots) or '.'}; "
            f"{len(scan.static)} reference(s) to {len(scan.names())} name(s), {len(scan.dynamic)} dynamic"
            + (f", {len(scan.unscanned)} file(s) not scanned" if scan.unscanned else "")
        )
        for b in report.verdict.breaking:
            if b.certain:
                mark = paint("31", "✗") if not report.verdict.allowed else paint("33", "!")
                lines.append(f"  {mark} {b.what}: the code reads {b.name}")
                lines += _refs_lines(b.references, "      ", detail=False)
            else:
                lines.append(f"  {paint('33', '?')} {b.what}: the code may read it (names it cannot resolve)")
                lines += _refs_lines(b.dynamic, "      ", detail=True)
                if b.unscanned:
                    lines.append(f"      {b.unscanned} file(s) not scanned")
        if report.verdict.allowed and report.verdict.breaking:
            lines.append("  (allowed by --allow-breaking-code)")
        for name, refs in report.missing:
            lines.append(f"  {paint('33', '!')} the code reads {name}, which is neither declared nor on the site:")
            lines += _refs_lines(refs, "      ", detail=False)
        if scan.dynamic and not report.verdict.breaking:
            lines.append(f"  {len(scan.dynamic)} dynamic reference(s) (names this tool cannot resolve):")
            lines += _refs_lines(scan.dynamic, "      ", detail=True)
        for u in scan.unscanned[:_SHOWN]:
            lines.append(f"  not scanned: {u.path} ({u.reason})")
        if report.unreferenced:
            note = (
                " (dynamic references may read some of them)" if scan.dynamic and report.dynamic_names is None else ""
            )
            lines.append(
                f"Unreferenced: {len(report.unreferenced)} secret(s) on the site that no scanned code reads "
                f"(candidates for cleanup; never deleted by this){note}:"
            )
            lines += [f"  - {name}" for name in report.unreferenced]
    if report.overdue:
        lines.append(f"Rotation overdue: {len(report.overdue)} secret(s) older than their max_age:")
        lines += [f"  {paint('33', '⏰')} {o.message}" for o in report.overdue]
    return "\n".join(lines) + "\n"


def with_code(plan_text: str, report: CodeReport | None, *, color: bool = False) -> str:
    """The human plan followed by the code and age section (when there is one)."""
    section = code_human(report, color=color) if report is not None else ""
    if not section:
        return plan_text
    return plan_text.rstrip("\n") + "\n\n" + section


def _code(text: str) -> str:
    """Names, locations and API calls read from scanned code (a pull request writes it): inert (10.7)."""
    return md_code(text)


def code_markdown(report: CodeReport) -> str:
    """The Markdown section (pull-request comment, step summary); "" when there is nothing to say."""
    if report.empty:
        return ""
    lines: list[str] = []
    scan = report.scan
    if scan is not None:
        lines += ["#### Site code", ""]
        lines.append(
            f"{scan.files} file(s) scanned; {len(scan.static)} reference(s) to {len(scan.names())} name(s), "
            f"{len(scan.dynamic)} dynamic" + (f", {len(scan.unscanned)} not scanned" if scan.unscanned else "") + "."
        )
        lines.append("")
        if report.verdict.breaking:
            verdict = "allowed by `--allow-breaking-code`" if report.verdict.allowed else "**refused**"
            lines += [f"Changes that break code ({verdict}):", "", "| Change | Code | API |", "|---|---|---|"]
            for b in report.verdict.breaking:
                refs = b.references if b.certain else b.dynamic
                what = md_text(b.what) + ("" if b.certain else " (may break: dynamic reference)")
                for r in refs[:_SHOWN] or ():
                    lines.append(f"| {what} | {_code(r.location)} | {_code(r.api)} |")
                if not refs:
                    lines.append(f"| {what} | {b.unscanned} file(s) not scanned | |")
            lines.append("")
        for name, refs in report.missing:
            where = ", ".join(_code(r.location) for r in refs[:5])
            lines.append(
                f"> [!WARNING]\n> The code reads {_code(name)}, which is neither declared nor on the site: {where}\n"
            )
        if report.unreferenced:
            lines.append("Secrets no scanned code reads (candidates for cleanup; never deleted by this): ")
            lines.append(", ".join(_code(n) for n in report.unreferenced))
            lines.append("")
    if report.overdue:
        lines += ["#### Rotation overdue", "", "| Secret | Last changed | Age | max_age |", "|---|---|---|---|"]
        for o in report.overdue:
            lines.append(f"| {_code(o.name)} | {md_text(o.updated[:10])} | {o.age_days} days | {o.max_age} |")
        lines.append("")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CodeAnnotation:
    """One annotation on a code line: ``level`` is error (refused) or warning."""

    level: str
    message: str
    file: str
    line: int
    column: int


def code_annotations(doc: Mapping[str, Any]) -> list[CodeAnnotation]:
    """Annotations from a plan document's ``code`` member (the GitHub Action reads the document): on
    each code line a change breaks (error when refused, warning when allowed) and on each line reading
    a name that is neither declared nor on the site. Malformed members are skipped."""
    code = doc.get("code")
    if not isinstance(code, Mapping):
        return []
    found: list[CodeAnnotation] = []
    level = "error" if code.get("refused") else "warning"

    def refs(items: Any) -> list[tuple[str, int, int]]:
        out = []
        for ref in items if isinstance(items, list) else []:
            if isinstance(ref, Mapping) and isinstance(ref.get("file"), str):
                line, column = ref.get("line"), ref.get("column")
                if isinstance(line, int) and isinstance(column, int):
                    out.append((ref["file"], line, column))
        return out[:_SHOWN]

    for b in code.get("breaking") or []:
        if not isinstance(b, Mapping) or not isinstance(b.get("name"), str):
            continue
        what = f"rename {b['name']} → {b.get('new_name')}" if b.get("action") == "rename" else f"delete {b['name']}"
        certain = bool(b.get("certain"))
        verb = "reads it" if certain else "may read it (a name this tool cannot resolve)"
        for file, line, column in refs(b.get("references") if certain else b.get("dynamic")):
            found.append(
                CodeAnnotation(level, f"wix-secrets: the plan would {what}; this code {verb}", file, line, column)
            )
    for item in code.get("missing") or []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            message = f"wix-secrets: the code reads {item['name']}, which is neither declared nor on the site"
            found += [CodeAnnotation("warning", message, f, ln, c) for f, ln, c in refs(item.get("references"))]
    return found
