"""Which site a command talks to, from flags and the environment: a thin shim over
:mod:`reconciler.service.connection` for the commands outside the plan/apply/drift flow (``import``).

``--local PATH`` (or ``WIX_LOCAL_SITE``) selects the embedded emulator persisted in PATH: no network,
no account. Otherwise ``--api-url`` (``WIX_API_URL``, default https://www.wixapis.com) with API-key or
OAuth credentials from the environment (built by :func:`reconciler.service.connection.make_auth`).
"""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli.console import Console
from reconciler.service.connection import DEFAULT_API_URL, Connection
from reconciler.service.connection import open_client as _open_client

__all__ = ["DEFAULT_API_URL", "SiteSettings", "open_client", "site_settings"]

SiteSettings = Connection


def site_settings(args: argparse.Namespace, console: Console) -> Connection:
    from reconciler.cli.frontend import connection_from_args

    return connection_from_args(args, console)


def open_client(settings: Connection, console: Console) -> Any:
    """A :class:`~reconciler.wix.WixSecretsClient` for the site (use as an async context manager)."""
    return _open_client(settings, console.environ, redactor=console.redactor)
