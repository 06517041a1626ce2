"""The service layer: one engine for every front end (CLI, GitHub Action, Python API).

Between the front ends and the core (manifest, plan, executor, wix client). It takes typed
:class:`Options` and a :class:`Connection` (built from an environ mapping plus overrides), runs one
site (:class:`SiteSession`, :func:`run_site`), a saved plan (:func:`apply_plan_file`) or many sites of
a project (:func:`run_project`), and returns a typed outcome whose exit code follows the one policy
(:func:`exit_code`). It never reads ``sys.argv``, the terminal or ``os.environ`` and never prints;
progress goes to an :class:`Events` callback.

Modules: ``options``, ``connection``, ``events``, ``outcome``, ``session``, ``saved``, ``run``.
"""

from __future__ import annotations

from reconciler.service.connection import Connection, connection_settings, make_auth, open_client
from reconciler.service.events import Events, NullEvents, Phase
from reconciler.service.options import BackupOptions, Command, Options
from reconciler.service.outcome import ProjectOutcome, SiteOutcome, exit_code, most_severe
from reconciler.service.run import (
    Stop,
    apply_plan_file,
    apply_plan_file_async,
    run_project,
    run_site,
    run_site_async,
)
from reconciler.service.saved import read_plan_file, save_plan
from reconciler.service.session import SiteSession, load_desired

__all__ = [
    "BackupOptions",
    "Command",
    "Connection",
    "Events",
    "NullEvents",
    "Options",
    "Phase",
    "ProjectOutcome",
    "SiteOutcome",
    "SiteSession",
    "Stop",
    "apply_plan_file",
    "apply_plan_file_async",
    "connection_settings",
    "exit_code",
    "load_desired",
    "make_auth",
    "most_severe",
    "open_client",
    "read_plan_file",
    "run_project",
    "run_site",
    "run_site_async",
    "save_plan",
]
