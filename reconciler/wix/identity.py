"""Which identity authenticates the requests to a site: decided from an environment mapping and overrides.

Wix accepts several identities, and which of them may call the Secrets API is not settled (see
``docs/wix-api-assumptions.md``), so the choice is explicit and visible. The identities (``--auth`` /
``WIX_AUTH`` values):

========================  ==================================================================
``api-key``               ``WIX_API_KEY`` + ``WIX_SITE_ID`` (or ``--site-id``)
``wix-app``               ``WIX_CLIENT_ID``, ``WIX_CLIENT_SECRET``, ``WIX_INSTANCE_ID`` (OAuth)
``wix-cli``               a Wix user token from ``wix token --site <id>`` (after ``wix login``),
                          falling back to ``npx --no-install @wix/cli token --site <id>``
``token-command``         ``WIX_TOKEN_COMMAND``: a command (no shell) whose stdout is the token
``access-token``          ``WIX_ACCESS_TOKEN``: a token given as is
========================  ==================================================================

Precedence: ``--auth`` (the ``choice`` argument), then ``WIX_AUTH``, then the only identity whose
variables are set. Two configured identities without a choice is an error naming both; ``wix-cli``
is never guessed (it needs no variable), it is always chosen.

This module is pure: it reads only the mapping it is given (never ``os.environ``) and runs nothing;
a token command runs when the first request needs a token (:class:`~reconciler.wix.auth.CommandTokenAuth`).
Every credential is passed to ``register`` (the CLI's redactor) the moment it is read, before it is
checked, and a credential that cannot be sent in an HTTP header is refused by name, never echoed.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.errors import UsageError
from reconciler.model import Sensitive
from reconciler.redact import Redactor
from reconciler.wix.auth import (
    OAUTH_VARS,
    ApiKeyAuth,
    Auth,
    CommandTokenAuth,
    OAuthClientCredentials,
    StaticTokenAuth,
    check_header_value,
    legacy_auth_from_environ,
)

__all__ = ["KINDS", "LABELS", "Identity", "auth_for_cli", "configured_kinds", "resolve_identity"]

log = logging.getLogger("reconciler.wix")

KINDS = ("api-key", "wix-app", "wix-cli", "token-command", "access-token")
LABELS = {
    "api-key": "API key (WIX_API_KEY)",
    "wix-app": "Wix app (WIX_CLIENT_ID, WIX_CLIENT_SECRET, WIX_INSTANCE_ID)",
    "wix-cli": "Wix user through the Wix CLI (--auth wix-cli, after `wix login`)",
    "token-command": "token command (WIX_TOKEN_COMMAND)",
    "access-token": "access token (WIX_ACCESS_TOKEN)",
}
WIX_CLI_COMMANDS = (("wix", "token", "--site"), ("npx", "--no-install", "@wix/cli", "token", "--site"))
_HINT = (
    "choose one with --auth api-key|wix-app|wix-cli|token-command|access-token (or WIX_AUTH); "
    "see README 'Pointing it at a real site'"
)


@dataclass(frozen=True)
class Identity:
    """The chosen identity: its kind, the :class:`Auth` that sends it, and why it was chosen."""

    kind: str
    auth: Auth
    chosen_by: str
    configured: tuple[str, ...]

    def describe(self) -> str:
        """``auth: wix-cli token for site S (chosen by --auth)``: safe to print (never a credential)."""
        return f"auth: {self.auth.description} ({self.chosen_by})"


def configured_kinds(environ: Mapping[str, str]) -> list[str]:
    """The identities whose variables are set (even partly), in :data:`KINDS` order. Never ``wix-cli``."""

    def has(name: str) -> bool:
        return bool(environ.get(name, "").strip())

    found = []
    if has("WIX_API_KEY"):
        found.append("api-key")
    if any(has(n) for n in OAUTH_VARS):
        found.append("wix-app")
    if has("WIX_TOKEN_COMMAND"):
        found.append("token-command")
    if has("WIX_ACCESS_TOKEN"):
        found.append("access-token")
    return found


def resolve_identity(
    environ: Mapping[str, str],
    *,
    site_id: str | None = None,
    choice: str | None = None,
    register: Callable[[str], None] | None = None,
    wall: Callable[[], float] = time.time,
) -> Identity:
    """The identity to use (see the module docstring for the precedence). UsageError says what to fix."""
    add = register or (lambda _value: None)
    for name in ("WIX_API_KEY", "WIX_CLIENT_SECRET", "WIX_ACCESS_TOKEN"):
        value = environ.get(name, "").strip()
        if value:
            add(value)  # registered before anything else is done with it
    configured = configured_kinds(environ)
    env_choice = environ.get("WIX_AUTH", "").strip()
    if choice:
        kind, chosen_by = choice.strip(), "chosen by --auth"
        where = "--auth"
    elif env_choice:
        kind, chosen_by = env_choice, "chosen by WIX_AUTH"
        where = "WIX_AUTH"
    elif len(configured) > 1:
        raise UsageError(
            f"{len(configured)} Wix identities are configured: "
            + " and ".join(LABELS[k] for k in configured)
            + "; choose one",
            hint=_HINT,
        )
    elif configured:
        kind, chosen_by, where = configured[0], "the only identity configured", ""
    else:
        kind, chosen_by, where = "", "", ""
    if kind and kind not in KINDS:
        raise UsageError(f"unknown identity {kind!r} in {where}", hint=f"choose one of {', '.join(KINDS)}")
    site = (site_id or "").strip() or environ.get("WIX_SITE_ID", "").strip() or None
    if site is not None:
        check_header_value("the site id (WIX_SITE_ID or --site-id)", site)
    auth = _build(kind, environ, site, add, wall)
    others = [k for k in KINDS if k != kind]
    auth.alternatives = "other identities: " + "; ".join(
        LABELS[k] + (" [configured]" if k in configured else "") for k in others
    )
    return Identity(kind or _kind_of(auth), auth, chosen_by or "the only identity configured", tuple(configured))


def _kind_of(auth: Auth) -> str:
    return "wix-app" if isinstance(auth, OAuthClientCredentials) else "api-key"


def _build(
    kind: str, environ: Mapping[str, str], site: str | None, add: Callable[[str], None], wall: Callable[[], float]
) -> Auth:
    def get(name: str) -> str:
        return environ.get(name, "").strip()

    if kind in ("", "api-key", "wix-app"):
        if get("WIX_API_KEY") and kind != "wix-app":
            check_header_value("WIX_API_KEY", get("WIX_API_KEY"))
        if kind == "api-key" and get("WIX_API_KEY") and site:
            return ApiKeyAuth(Sensitive(get("WIX_API_KEY")), site)
        if kind == "wix-app" and all(get(n) for n in OAUTH_VARS):
            return OAuthClientCredentials(
                get("WIX_CLIENT_ID"), Sensitive(get("WIX_CLIENT_SECRET")), get("WIX_INSTANCE_ID")
            )
        if kind == "api-key":
            missing = [
                n for n, ok in (("WIX_API_KEY", get("WIX_API_KEY")), ("WIX_SITE_ID (or --site-id)", site)) if not ok
            ]
            raise UsageError(f"the api-key identity needs {' and '.join(missing)}")
        if kind == "wix-app":
            missing = [n for n in OAUTH_VARS if not get(n)]
            raise UsageError(f"the wix-app identity needs {', '.join(missing)}")
        try:
            return legacy_auth_from_environ(environ, site_id=site)
        except UsageError as exc:
            if kind:
                raise
            raise UsageError(
                exc.summary,
                hint=(exc.hint or "") + "; or use a Wix user token: --auth wix-cli (after `wix login`), "
                "WIX_TOKEN_COMMAND or WIX_ACCESS_TOKEN",
            ) from None
    if kind == "wix-cli":
        if not site:
            raise UsageError(
                "--auth wix-cli needs the site id: give --site-id or set WIX_SITE_ID",
                hint="the site id is in the dashboard URL (https://manage.wix.com/dashboard/<site-id>/...)",
            )
        return CommandTokenAuth(
            [(*c, site) for c in WIX_CLI_COMMANDS],
            site_id=site,
            environ=environ,
            kind="wix-cli",
            register=add,
            wall=wall,
        )
    if kind == "token-command":
        text = get("WIX_TOKEN_COMMAND")
        if not text:
            raise UsageError("the token-command identity needs WIX_TOKEN_COMMAND (a command that prints the token)")
        try:
            argv = shlex.split(text)
        except ValueError:
            raise UsageError("WIX_TOKEN_COMMAND cannot be split into words (unbalanced quotes)") from None
        if not argv:
            raise UsageError("WIX_TOKEN_COMMAND is empty")
        return CommandTokenAuth([argv], site_id=site, environ=environ, kind="token-command", register=add, wall=wall)
    assert kind == "access-token"
    token = get("WIX_ACCESS_TOKEN")
    if not token:
        raise UsageError("the access-token identity needs WIX_ACCESS_TOKEN")
    check_header_value("WIX_ACCESS_TOKEN", token)
    return StaticTokenAuth(Sensitive(token), site)


def auth_for_cli(
    environ: Mapping[str, str], *, site_id: str | None, choice: str | None, redactor: Redactor | None
) -> Auth:
    """What a front end calls: resolve, register credentials with ``redactor``, log the choice for ``-v``."""
    identity = resolve_identity(
        environ, site_id=site_id, choice=choice, register=redactor.add if redactor is not None else None
    )
    log.info("%s", identity.describe())
    return identity.auth
