"""wix-secrets: a declarative GitOps reconciler for the Wix Secrets Manager.

The public Python API (``docs/python-api.md``) is importable from here: ``from reconciler import
load_manifests, local_site, plan, apply``. The names resolve lazily on first use, so importing the
package stays free of side effects and heavy imports and ``wix-secrets --version`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from reconciler.api import (
        apply_plan_file,
        apply_plan_file_async,
        apply_project,
        apply_project_async,
        apply_site,
        apply_site_async,
        load_manifests,
        load_plan_file,
        local_site,
        plan_project,
        plan_project_async,
        plan_site,
        plan_site_async,
        remote_site,
        site_from_environ,
    )
    from reconciler.errors import (
        GuardError,
        ManifestError,
        PartialApplyError,
        StalePlanError,
        WixSecretsError,
    )
    from reconciler.executor import ApplyResult
    from reconciler.model import DesiredState
    from reconciler.plan import Action, Change, Plan
    from reconciler.planfile import SavedPlan
    from reconciler.service import (
        BackupOptions,
        Connection,
        Events,
        Options,
        ProjectOutcome,
        SiteOutcome,
    )

_EXPORTS: dict[str, str] = {
    "Action": "reconciler.plan",
    "ApplyResult": "reconciler.executor",
    "BackupOptions": "reconciler.service",
    "Change": "reconciler.plan",
    "Connection": "reconciler.service",
    "DesiredState": "reconciler.model",
    "Events": "reconciler.service",
    "GuardError": "reconciler.errors",
    "ManifestError": "reconciler.errors",
    "Options": "reconciler.service",
    "PartialApplyError": "reconciler.errors",
    "Plan": "reconciler.plan",
    "ProjectOutcome": "reconciler.service",
    "SavedPlan": "reconciler.planfile",
    "SiteOutcome": "reconciler.service",
    "StalePlanError": "reconciler.errors",
    "WixSecretsError": "reconciler.errors",
    "apply_site": "reconciler.api",
    "apply_site_async": "reconciler.api",
    "apply_plan_file": "reconciler.api",
    "apply_plan_file_async": "reconciler.api",
    "apply_project": "reconciler.api",
    "apply_project_async": "reconciler.api",
    "load_manifests": "reconciler.api",
    "load_plan_file": "reconciler.api",
    "local_site": "reconciler.api",
    "plan_site": "reconciler.api",
    "plan_site_async": "reconciler.api",
    "plan_project": "reconciler.api",
    "plan_project_async": "reconciler.api",
    "remote_site": "reconciler.api",
    "site_from_environ": "reconciler.api",
}

__all__ = [
    "Action",
    "ApplyResult",
    "BackupOptions",
    "Change",
    "Connection",
    "DesiredState",
    "Events",
    "GuardError",
    "ManifestError",
    "Options",
    "PartialApplyError",
    "Plan",
    "ProjectOutcome",
    "SavedPlan",
    "SiteOutcome",
    "StalePlanError",
    "WixSecretsError",
    "__version__",
    "apply_plan_file",
    "apply_plan_file_async",
    "apply_project",
    "apply_project_async",
    "apply_site",
    "apply_site_async",
    "load_manifests",
    "load_plan_file",
    "local_site",
    "plan_project",
    "plan_project_async",
    "plan_site",
    "plan_site_async",
    "remote_site",
    "site_from_environ",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
