"""Renderers: a plan or apply result → human text, a versioned JSON document, or Markdown.

Renderers read :class:`~reconciler.plan.Plan` and :class:`~reconciler.executor.ApplyResult` values
and return strings; they never print, and they never touch a value (only names, ids, descriptions,
actions and keyed fingerprints). :class:`RunInfo` says what the output is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.errors import Diagnostic

__all__ = ["RunInfo"]


@dataclass(frozen=True)
class RunInfo:
    """Context shown with a plan: the command, the manifests and the site."""

    command: str  # "plan", "apply" or "drift"
    manifest_paths: tuple[str, ...] = ()
    digest: str = ""
    encrypted: bool = False
    site_id: str | None = None
    api_url: str | None = None
    local: str | None = None
    site_name: str | None = None
    targets: tuple[str, ...] = ()  # --target: the plan is limited to these secrets
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def site_label(self) -> str:
        if self.site_name:
            return self.site_name
        if self.local:
            return f"local site {self.local}"
        if self.site_id:
            return f"site {self.site_id}"
        return "site"
