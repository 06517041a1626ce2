"""Identities through the service layer: :func:`reconciler.service.make_auth` is the one place that
resolves them, so the CLI, the Action and the Python API choose alike; saved plans are keyed by the
chosen identity's stable secret (API key, app client secret), and a token identity needs a SOPS key.

The site is the emulator over loopback HTTP; where the test says so it refuses API keys
(``Quirks(refuse_api_keys=True)``) and accepts a Wix user token, like a site whose Secrets API does
not take API keys.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import reconciler
from reconciler.emulator import Emulator, EmulatorServer, Quirks
from reconciler.errors import UsageError
from reconciler.redact import Redactor
from reconciler.service import connection_settings, make_auth
from reconciler.wix.auth import ApiKeyAuth, CommandTokenAuth, OAuthClientCredentials, StaticTokenAuth

from support import VALUES_ONLY, EmulatorSites, Site, new_age_key, write_manifest, write_sops_manifest

TOKEN = "user-token-0a1b2c3d4e5f6789"
API_KEY = "IST.api-key-5e6f7a8b"
APP_SECRET = "app-secret-9d8c7b6a5f4e"
APP = {"WIX_CLIENT_ID": "app-1", "WIX_CLIENT_SECRET": APP_SECRET, "WIX_INSTANCE_ID": "inst-1"}
VALUE = "svc-identity-value-4711"
AGE = new_age_key()


@pytest.fixture
def token_site(emulator_site: EmulatorSites) -> Site[Emulator]:
    """A site that refuses API keys (403) and accepts the Wix user token ``TOKEN``."""
    return emulator_site(api_key=API_KEY, user_tokens=[TOKEN], quirks=Quirks(refuse_api_keys=True))


def plain(tmp_path: Path, value: str = VALUE) -> Path:
    return write_manifest(tmp_path / "m.yaml", {"FIRST": value})


def sealed(tmp_path: Path, value: str = VALUE) -> Path:
    return write_sops_manifest(tmp_path / "m.sops.yaml", {"FIRST": value}, AGE.recipient, rules=VALUES_ONLY)


def fake_wix(tmp_path: Path, token: str = TOKEN) -> str:
    """A ``wix`` on PATH printing ``token`` for ``wix token --site S``; returns the PATH to use."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    script = directory / "wix"
    script.write_text(f"#!/bin/sh\necho '{token}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return f"{directory}{os.pathsep}{os.environ['PATH']}"


# -- make_auth: the one place ------------------------------------------------------------------------


def test_make_auth_resolves_the_chosen_identity_and_registers_its_credentials(tmp_path: Path) -> None:
    environ = {"WIX_API_KEY": API_KEY, "WIX_SITE_ID": "S", "WIX_ACCESS_TOKEN": TOKEN, **APP}
    cases: list[tuple[str, type]] = [
        ("api-key", ApiKeyAuth),
        ("wix-app", OAuthClientCredentials),
        ("access-token", StaticTokenAuth),
        ("wix-cli", CommandTokenAuth),
    ]
    for choice, expected in cases:
        redactor = Redactor()
        connection = connection_settings(environ, cwd=tmp_path, auth=choice)
        assert connection.auth == choice
        assert isinstance(make_auth(connection, environ, redactor=redactor), expected)
        for credential in (API_KEY, TOKEN, APP_SECRET):  # registered the moment they are read
            assert redactor.scrub(f"x {credential} y") != f"x {credential} y"
    # WIX_AUTH in the mapping is the choice when no override is given
    chosen = make_auth(connection_settings(environ, cwd=tmp_path), {**environ, "WIX_AUTH": "access-token"})
    assert isinstance(chosen, StaticTokenAuth)
    # three identities configured and no choice: refused, naming them
    with pytest.raises(UsageError) as info:
        make_auth(connection_settings(environ, cwd=tmp_path), environ)
    assert "3 Wix identities are configured" in info.value.summary
    assert TOKEN not in str(info.value) and API_KEY not in str(info.value)


# -- the Python API ----------------------------------------------------------------------------------


def test_python_api_chooses_the_identity_with_auth(tmp_path: Path, token_site: Site[Emulator]) -> None:
    emulator, url = token_site
    environ = {"WIX_API_KEY": API_KEY, "WIX_ACCESS_TOKEN": TOKEN, "HOME": str(tmp_path)}
    with pytest.raises(UsageError, match="2 Wix identities are configured"):
        reconciler.plan_site([plain(tmp_path)], reconciler.remote_site(url, site_id="S"), environ=environ)
    assert emulator.requests == []  # refused before any request
    site = reconciler.remote_site(url, site_id="S", auth="access-token")
    applied = reconciler.apply_site([plain(tmp_path)], site, environ=environ)
    applied.raise_for_status()
    assert applied.result is not None and applied.result.count("applied") == 1
    statuses = [r.status for r in emulator.requests]
    assert 403 not in statuses and 401 not in statuses
    # site_from_environ takes the choice from WIX_AUTH like the CLI
    again = reconciler.plan_site(
        [plain(tmp_path)],
        reconciler.site_from_environ({"WIX_API_URL": url, "WIX_SITE_ID": "S"}),
        environ={
            **environ,
            "WIX_AUTH": "access-token",
        },
    )
    assert again.plan is not None and not again.plan.has_changes


def test_python_api_sees_the_site_rule_warnings_and_the_uncleared_description(tmp_path: Path) -> None:
    emulator = Emulator(api_key=API_KEY, quirks=Quirks(keep_description_on_empty=True))
    environ = {"WIX_API_KEY": API_KEY, "XDG_STATE_HOME": str(tmp_path / "state")}
    with EmulatorServer(emulator) as server:
        site = reconciler.remote_site(server.url, site_id="S")
        odd = b"version: 1\nsecrets:\n  odd@name:\n    value: v-1234\n    description: old text\n"
        first = reconciler.apply_site([odd], site, environ=environ)
        assert first.plan is not None
        assert any("odd@name" in w and "dashboard" in w for w in first.plan.warnings)
        cleared = b'version: 1\nsecrets:\n  odd@name:\n    value: v-1234\n    description: ""\n'
        second = reconciler.apply_site(
            [cleared], site, environ=environ, options=reconciler.Options(backup=reconciler.BackupOptions(enabled=False))
        )
        assert second.exit_code == 0
        assert "Wix did not clear the description of odd@name" in second.warnings
        memory = tmp_path / "state" / "wix-secrets" / "uncleared-descriptions.json"
        assert memory.is_file() and "old text" not in memory.read_text()
        third = reconciler.plan_site([cleared], site, environ=environ)  # remembered: not planned again
        assert third.plan is not None and not third.plan.has_changes


# -- saved plans and identities ----------------------------------------------------------------------


def test_wix_cli_saved_plan_of_a_sops_manifest_applies(cli, tmp_path: Path, token_site: Site[Emulator]) -> None:  # type: ignore[no-untyped-def]
    emulator, url = token_site
    env = {"PATH": fake_wix(tmp_path), "WIX_API_URL": url, "SOPS_AGE_KEY": AGE.identity}
    m = sealed(tmp_path)
    planned = cli("plan", "--auth", "wix-cli", "--site-id", "S", "--out", "p.json", str(m), env=env)
    assert planned.code == 0, planned.err
    applied = cli("apply", "--auth", "wix-cli", "--site-id", "S", "p.json", env=env)
    assert applied.code == 0, applied.out + applied.err
    assert "1 applied" in applied.out
    with emulator.store.transaction(write=False) as store:
        assert {s.name: s.value for s in store.all()} == {"FIRST": VALUE}
    for text in (planned.out, planned.err, applied.out, applied.err, (tmp_path / "p.json").read_text()):
        assert TOKEN not in text and VALUE not in text


@pytest.mark.parametrize("kind", ["wix-cli", "access-token"])
def test_a_token_identity_cannot_key_a_plaintext_saved_plan(cli, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": fake_wix(tmp_path), "WIX_API_URL": "http://127.0.0.1:9", "WIX_SITE_ID": "S", "WIX_AUTH": kind}
    env |= {"WIX_ACCESS_TOKEN": TOKEN, "WIX_API_KEY": API_KEY}  # an API key set but not the chosen identity
    result = cli("plan", "--out", "p.json", str(plain(tmp_path)), env=env)
    assert result.code == 1
    assert f"needs a key, and the {kind} identity has none" in result.err
    assert "encrypt the manifest with SOPS" in result.err
    assert not (tmp_path / "p.json").exists()
    assert TOKEN not in result.err and API_KEY not in result.err


def test_a_wix_app_identity_keys_a_plaintext_saved_plan_with_its_client_secret(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    emulator = Emulator(app_secret=APP_SECRET)
    with EmulatorServer(emulator) as server:
        env = {"WIX_API_URL": server.url, "WIX_AUTH": "wix-app", **APP}
        m = plain(tmp_path)
        assert cli("plan", "--out", "p.json", str(m), env=env).code == 0
        doc = json.loads((tmp_path / "p.json").read_text())
        assert VALUE not in json.dumps(doc) and APP_SECRET not in json.dumps(doc)
        applied = cli("apply", "p.json", env=env)
        assert applied.code == 0, applied.out + applied.err
        # another client secret cannot verify the file's MAC: refused before any write
        assert cli("plan", "--out", "q.json", str(m), env=env).code == 0
        writes = emulator.counts()
        other = cli("apply", "q.json", env={**env, "WIX_CLIENT_SECRET": "another-secret-123"})
        assert other.code == 4 and "modified" in other.err
        assert emulator.counts() == writes


def test_the_key_of_a_plaintext_plan_follows_the_chosen_identity(tmp_path: Path) -> None:
    from reconciler.manifest import load_manifest
    from reconciler.planfile import binding_key

    desired = load_manifest(plain(tmp_path).read_bytes(), file="m.yaml")
    both = {"WIX_API_KEY": API_KEY, "WIX_CLIENT_SECRET": APP_SECRET}
    by_key = binding_key(desired, both, identity="api-key")
    by_app = binding_key(desired, both, identity="wix-app")
    assert by_key != by_app
    assert binding_key(desired, {"WIX_API_KEY": API_KEY}) == by_key
    assert binding_key(desired, {**both, "WIX_AUTH": "wix-app"}) == by_app
    with pytest.raises(UsageError, match="the token-command identity has none"):
        binding_key(desired, both, identity="token-command")


def test_the_session_keeps_the_front_ends_redactor_even_when_it_is_still_empty(tmp_path: Path) -> None:
    from reconciler.service import Options, SiteSession

    given = Redactor()  # empty, so falsy (it has __len__): must still be the one the session fills
    session = SiteSession(
        Options(), connection_settings({}, cwd=tmp_path, local="s.json"), environ={}, cwd=tmp_path, redactor=given
    )
    assert session.redactor is given
    session.use(reconciler.load_manifests(plain(tmp_path)), ["m.yaml"])
    assert given.scrub(VALUE) != VALUE
