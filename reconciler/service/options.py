"""What a run is asked to do: the typed options both front ends map to (CLI flags, Action inputs).

One dataclass, no parsing: the CLI builds it from argparse, the Action from ``INPUT_*`` variables, a
library caller directly. :meth:`Options.check` refuses impossible values with a UsageError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reconciler.errors import UsageError
from reconciler.guards import DEFAULT_MAX_DELETES, Limits

__all__ = ["BackupOptions", "Command", "Options"]

Command = Literal["plan", "apply", "drift"]


@dataclass(frozen=True)
class BackupOptions:
    """Where the encrypted backup of destroyed values goes. ``directory`` None: the default state dir."""

    enabled: bool = True
    directory: Path | None = None
    recipients: tuple[str, ...] = ()  # empty: the manifest recipients proven by our key, and .sops.yaml pins
    local_identity: bool = False  # no recipient at all: use (create once) the local backup identity


@dataclass(frozen=True)
class Options:
    command: Command = "plan"
    prune: bool | None = None  # None: the manifest's policy.prune
    max_deletes: int | None = None  # None: DEFAULT_MAX_DELETES
    allow_mass_delete: bool = False
    detailed_exitcode: bool = False
    backup: BackupOptions = field(default_factory=BackupOptions)
    audit_log: Path | None = None
    value_cache: Path | None = None
    save_plan: Path | None = None  # plan: write a saved plan file here
    targets: tuple[str, ...] = ()  # --target: limit the plan to these secrets (reconciler.target)
    code: tuple[str, ...] = ()  # the site's code (--code); empty: the project's code: or policy.code
    allow_breaking_code: bool = False  # let the code guard pass (reconciler.codeguard)

    def check(self) -> Options:
        if self.max_deletes is not None and self.max_deletes < 0:
            raise UsageError("--max-deletes must be 0 or more")
        return self

    @property
    def limits(self) -> Limits:
        return Limits(
            max_deletes=DEFAULT_MAX_DELETES if self.max_deletes is None else self.max_deletes,
            allow_mass_delete=self.allow_mass_delete,
        )
