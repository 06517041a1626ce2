"""The Action's messages name its inputs, not the CLI's flags (``action.in_action_terms``): a guard's hint
says ``allow-mass-delete: true`` where the CLI says ``--allow-mass-delete``. Flags with no input, and text
that only looks like a flag (a secret name such as ``A--prune``), are left alone."""

from __future__ import annotations

import pytest

from reconciler.action import in_action_terms
from reconciler.emulator import Emulator

from .gha import API_KEY, SITE_ID, Runner, encrypt_manifest, manifest_yaml
from support import AgeKey, Site


@pytest.mark.parametrize(
    ("cli", "action"),
    [
        ("if this is intended, pass --allow-mass-delete", "if this is intended, pass allow-mass-delete: true"),
        ("more than --max-deletes 3 (A, B)", "more than max-deletes: 3 (A, B)"),
        ("pass --max-deletes 7 --allow-mass-delete", "pass max-deletes: 7 allow-mass-delete: true"),
        ("or to --backup-age RECIPIENT; or pass --no-backup", "or to backup-age: RECIPIENT; or pass no-backup: true"),
        ("narrow policy.code / --code so that", "narrow policy.code / the code input so that"),
        ("or pass --allow-breaking-code", "or pass allow-breaking-code: true"),
        ("plan --out FILE", "plan plan-file: FILE"),
        ("use --local or --target NAME", "use --local or --target NAME"),  # no such inputs
        ("the secret A--prune and x --max-deletes-ish", "the secret A--prune and x --max-deletes-ish"),
    ],
)
def test_cli_flags_become_the_inputs_that_do_the_same(cli: str, action: str) -> None:
    assert in_action_terms(cli) == action


def test_a_secret_named_like_a_flag_is_never_reworded(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    """A manifest may name secrets ``--no-backup`` or ``--allow-mass-delete`` (the Wix name rules allow
    it): the refusal lists them as they are, and only the tool's own words name inputs."""
    manifest = runner.workspace / "secrets" / "shop.sops.yaml"
    common = {
        "manifest": "secrets/shop.sops.yaml",
        "api-url": site.url,
        "site-id": SITE_ID,
        "api-key": API_KEY,
        "age-key": age_key.identity,
    }
    names = {"--no-backup": "v1", "--allow-mass-delete": "v2", "KEEP_ONE": "v3", "KEEP_TWO": "v4"}
    manifest.write_bytes(encrypt_manifest(manifest_yaml(names), age_key.recipient))
    assert runner.run_entry_point({**common, "command": "apply"}).code == 0
    kept = {"KEEP_ONE": "v3", "KEEP_TWO": "v4"}
    manifest.write_bytes(encrypt_manifest(manifest_yaml(kept), age_key.recipient))
    refused = runner.run_entry_point({**common, "command": "plan", "prune": "true", "max-deletes": "1"})
    assert refused.code == 5, refused.log
    assert "more than max-deletes: 1 (--allow-mass-delete, --no-backup)" in refused.log, refused.log
    assert "allow-mass-delete: true," not in refused.log and "(no-backup: true" not in refused.log
