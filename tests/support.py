"""Scaffolding shared by the tests: a Wix site on the emulator, its credentials, seeding it over HTTP,
a fake server's JSON reply, age keys, and manifests written plain or SOPS-encrypted.

Plain typed functions and values live here (a test module imports them: ``from support import ...``;
``tests/`` is on ``sys.path`` because ``tests/conftest.py`` sits there); ``tests/conftest.py`` turns the
ones that need a teardown or a per-session value into fixtures (``emulator_site``, ``wix_site``,
``age_key``). What differs between tests (the API key, faults, quirks, the emulator class, the
encryption rules) is a parameter here, never a second copy.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar, overload

import httpx
import pyrage

from reconciler.emulator import Emulator, EmulatorServer
from reconciler.sops import EncryptionRules, KeyRing, encrypt

#: The Secrets API's collection path on the wire (the emulator also answers the other prefixes).
SECRETS_API = "/_api/cloud-secrets-vault-server/api/v1/secrets"
#: The credentials of the usual test site (``wix_site``): the API key it accepts, the site id sent.
TEST_KEY = "test-key"
TEST_SITE = "site-1"
#: sops' ``--encrypted-regex '^value$'``: only the values are encrypted, names and descriptions readable.
VALUES_ONLY = EncryptionRules(encrypted_regex="^value$")

E = TypeVar("E", bound=Emulator)


# -- a site on the emulator, over loopback HTTP -------------------------------------------------------


class Site(NamedTuple, Generic[E]):
    """An emulator and the loopback URL it is served at (unpacks as ``emulator, url = site``)."""

    emulator: E
    url: str


class EmulatorSites:
    """Serves emulators over loopback HTTP for one test; :meth:`close` stops every server it started.

    ``sites(api_key=..., faults=..., quirks=...)`` builds an :class:`Emulator` with those options;
    ``sites(SomeEmulator(...))`` serves one the test built (a subclass, a shared state file).
    """

    def __init__(self) -> None:
        self._servers: list[EmulatorServer] = []

    @overload
    def __call__(self, emulator: E, /) -> Site[E]: ...

    @overload
    def __call__(self, emulator: None = None, /, **options: Any) -> Site[Emulator]: ...

    def __call__(self, emulator: Emulator | None = None, /, **options: Any) -> Site[Any]:
        if emulator is None:
            emulator = Emulator(**options)
        elif options:
            raise TypeError("pass either an emulator or the options to build one, not both")
        server = EmulatorServer(emulator).start()
        self._servers.append(server)
        return Site(emulator, server.url)

    def close(self) -> None:
        while self._servers:
            self._servers.pop().stop()


# -- credentials and requests, as a client of the site sends them -----------------------------------


def wix_env(url: str, *, api_key: str = TEST_KEY, site_id: str = TEST_SITE, **extra: str) -> dict[str, str]:
    """The environment that points the CLI at the site at ``url`` with an API key (``extra`` added)."""
    return {"WIX_API_URL": url, "WIX_API_KEY": api_key, "WIX_SITE_ID": site_id, **extra}


def wix_headers(*, api_key: str = TEST_KEY, site_id: str = TEST_SITE) -> dict[str, str]:
    """The headers an API-key client sends to the Secrets API."""
    return {"Authorization": api_key, "wix-site-id": site_id}


def seed(
    url: str, *secrets: tuple[str, str] | tuple[str, str, str], api_key: str = TEST_KEY, site_id: str = TEST_SITE
) -> dict[str, str]:
    """Create ``(name, value)`` or ``(name, value, description)`` secrets on the site, out of band (an empty
    description is left out); returns each name's id. A refused request fails the test."""
    ids = {}
    for name, value, *description in secrets:
        body = {"name": name, "value": value}
        if description and description[0]:
            body["description"] = description[0]
        r = httpx.post(url + SECRETS_API, json={"secret": body}, headers=wix_headers(api_key=api_key, site_id=site_id))
        r.raise_for_status()
        ids[name] = r.json()["id"]
    return ids


def listing(url: str, *, api_key: str = TEST_KEY, site_id: str = TEST_SITE) -> dict[str, dict[str, Any]]:
    """The site's secrets (no values: what ListSecretInfo returns) by name."""
    r = httpx.get(url + SECRETS_API, headers=wix_headers(api_key=api_key, site_id=site_id))
    r.raise_for_status()
    return {s["name"]: s for s in r.json()["secrets"]}


def send_json(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> None:
    """Answer the request a fake server's ``handler`` serves: ``status``, a JSON content type, ``body`` as
    given (bytes, so a hostile fake can send a broken one), then ``headers``."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


# -- age keys --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeKey:
    """An X25519 age identity (``AGE-SECRET-KEY-1…``) and its recipient (``age1…``)."""

    identity: str
    recipient: str

    def keyring(self) -> KeyRing:
        return KeyRing.from_identities([self.identity])


def new_age_key() -> AgeKey:
    """A fresh age key (the ``age_key`` fixture is one per test session)."""
    identity = pyrage.x25519.Identity.generate()
    return AgeKey(str(identity), str(identity.to_public()))


# -- manifests --------------------------------------------------------------------------------------


def write_dedented(path: Path, text: str) -> Path:
    """Write ``textwrap.dedent(text)`` at ``path`` (its folder made if missing): a manifest or project file
    written inline in a test."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def manifest_yaml(values: Mapping[str, str], extra: str = "") -> str:
    """A version-1 manifest declaring ``values`` (each a JSON, so YAML, double-quoted string), then ``extra``."""
    body = "".join(f"  {name}:\n    value: {json.dumps(value)}\n" for name, value in values.items())
    return "version: 1\nsecrets:\n" + body + extra


def write_manifest(path: Path, values: Mapping[str, str], extra: str = "") -> Path:
    """:func:`manifest_yaml` written in plain text at ``path``."""
    path.write_text(manifest_yaml(values, extra), encoding="utf-8")
    return path


def write_sops_manifest(
    path: Path, values: Mapping[str, str], recipient: str, extra: str = "", *, rules: EncryptionRules | None = None
) -> Path:
    """:func:`manifest_yaml` SOPS-encrypted to ``recipient`` at ``path`` (``rules=None``: every value, as
    sops does by default; :data:`VALUES_ONLY`: only ``value`` keys)."""
    path.write_bytes(encrypt(manifest_yaml(values, extra).encode(), recipients=[recipient], rules=rules))
    return path
