"""The action's ``auth`` input chooses the Wix identity through the service's ``make_auth``, like
``--auth`` does for the CLI; site-rule warnings reach the job as warning annotations.

In-process entry point (``run_action``) against a live emulator over loopback HTTP that refuses API
keys and accepts a Wix user token, like a site whose Secrets API does not take API keys.
"""

from __future__ import annotations

import pytest

from reconciler.emulator import Emulator, Quirks

from .gha import API_KEY, CANARIES, SITE_ID, Runner, encrypt_manifest, manifest_yaml
from support import AgeKey, EmulatorSites, Site

TOKEN = "action-user-token-1a2b3c4d5e6f"


@pytest.fixture
def token_site(emulator_site: EmulatorSites) -> Site[Emulator]:
    """A site that refuses API keys and accepts the Wix user token ``TOKEN``."""
    return emulator_site(api_key=API_KEY, user_tokens=[TOKEN], quirks=Quirks(refuse_api_keys=True))


def inputs(site: Site[Emulator], age_key: AgeKey, **more: str) -> dict[str, str]:
    return {
        "command": "plan",
        "manifest": "secrets/shop.sops.yaml",
        "api-url": site.url,
        "site-id": SITE_ID,
        "api-key": API_KEY,
        "age-key": age_key.identity,
        **more,
    }


def test_the_auth_input_chooses_the_identity(runner: Runner, token_site: Site[Emulator], age_key: AgeKey) -> None:
    env = {"WIX_ACCESS_TOKEN": TOKEN}
    # an API key and an access token: without a choice the run is refused, naming both, before any request
    refused = runner.run_entry_point(inputs(token_site, age_key), env=env)
    assert refused.code == 1, refused.log
    assert any("2 Wix identities are configured" in a for a in refused.annotations("error"))
    assert token_site.emulator.requests == []
    chosen = runner.run_entry_point(inputs(token_site, age_key, auth="access-token"), env=env)
    assert chosen.code == 0, chosen.log
    assert chosen.outputs["has-changes"] == "true"
    statuses = [r.status for r in token_site.emulator.requests]
    assert statuses and 403 not in statuses and 401 not in statuses
    for run in (refused, chosen):
        run.assert_no_leak()
        assert TOKEN not in run.log and TOKEN not in run.summary


def test_an_unknown_auth_input_is_a_clear_error(runner: Runner, token_site: Site[Emulator], age_key: AgeKey) -> None:
    run = runner.run_entry_point(inputs(token_site, age_key, auth="password"))
    assert run.code == 1
    assert any("unknown identity 'password'" in a for a in run.annotations("error")), run.log
    assert token_site.emulator.requests == []


def test_a_name_the_dashboard_refuses_is_a_warning_annotation(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    values = {**CANARIES, "odd@name": "odd-value-8642"}
    manifest = runner.workspace / "secrets" / "shop.sops.yaml"
    manifest.write_bytes(encrypt_manifest(manifest_yaml(values), age_key.recipient))
    run = runner.run_entry_point(inputs(site, age_key))
    assert run.code == 0, run.log
    assert any("odd@name" in w and "dashboard" in w for w in run.annotations("warning")), run.log
    run.assert_no_leak(values)
