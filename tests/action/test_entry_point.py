"""The action's entry point end to end: a simulated runner, the real service, a live emulator (HTTP).

Each test runs the entry point in-process (``run_action``, what ``python -m reconciler.action`` runs;
``test_composite.py`` keeps the subprocess run of the whole ``action.yml``), then checks the
exit status, the step outputs, the job summary, the annotations, that every value was masked before
anything else was printed, and that no form of any value appears anywhere but an ::add-mask:: line.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from reconciler.emulator import Emulator

from .gha import (
    API_KEY,
    CANARIES,
    INJECTION,
    SITE_ID,
    ActionRun,
    Runner,
    encrypt_manifest,
    manifest_yaml,
    parse_github_output,
)
from support import AgeKey, Site

SECRETS_PREFIX = "/_api/cloud-secrets-vault-server/api/v1/secrets"


def site_inputs(site: Site[Emulator], age_key: AgeKey, **more: str) -> dict[str, str]:
    return {
        "manifest": "secrets/shop.sops.yaml",
        "api-url": site.url,
        "site-id": SITE_ID,
        "api-key": API_KEY,
        "age-key": age_key.identity,
        **more,
    }


def writes(site: Site[Emulator]) -> list[str]:
    return [r.route for r in site.emulator.requests if r.route in ("create", "update", "delete")]


def site_values(site: Site[Emulator]) -> dict[str, str]:
    with site.emulator.store.transaction(write=False) as store:
        return {s.name: s.value for s in store.all()}


def assert_masks_first(run: ActionRun) -> None:
    """Every value (and each form, each line) is masked, and nothing but masks comes before."""
    lines = run.log_lines
    first_other = next(i for i, line in enumerate(lines) if not line.startswith("::add-mask::"))
    assert first_other > 0
    assert all(not line.startswith("::add-mask::") for line in lines[first_other:]), "a mask came late"
    masked = set(run.masks())
    from reconciler.redact import forms_of

    for name, value in CANARIES.items():
        if "\n" in value:
            for line in value.splitlines():
                if len(line) >= 4:
                    assert line in masked, f"a line of {name} is not masked"
        else:
            assert value in masked, f"{name} is not masked"
            assert forms_of(value) <= masked, f"a form of {name} is not masked"
    assert API_KEY in masked


def test_plan_masks_first_then_reports_outputs_and_summary(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan"))

    assert run.code == 0, run.log  # changes, but detailed-exitcode is false
    assert_masks_first(run)
    assert run.outputs["has-changes"] == "true"
    assert (run.outputs["creates"], run.outputs["updates"], run.outputs["renames"], run.outputs["deletes"]) == (
        "4",
        "0",
        "0",
        "0",
    )
    assert run.outputs["exit-code"] == "2"
    assert "plan-file" not in run.outputs

    # the job summary and the summary file hold the same Markdown: names, actions, fingerprints
    summary_file = Path(run.outputs["summary-file"])
    assert summary_file.is_file()
    text = summary_file.read_text(encoding="utf-8")
    assert text.strip() and text.strip() in run.summary
    assert text.startswith(f"<!-- wix-secrets:plan:{SITE_ID.replace('-', '_')} -->\n")
    for name in CANARIES:
        assert re.search(rf"`{re.escape(name)}`.*create", text), name
    assert len(re.findall(r"`[0-9a-f]{12}`", text)) == 4  # a value fingerprint per secret (encrypted manifest)
    assert "|" in text  # a table

    assert writes(site) == []  # plan writes nothing
    run.assert_no_leak()
    assert run.annotations("error") == []


def test_plan_output_is_fenced_against_workflow_commands(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan"))
    lines = run.log_lines
    stops = [i for i, line in enumerate(lines) if line.startswith("::stop-commands::")]
    assert len(stops) == 1
    token = lines[stops[0]].split("::")[2]
    assert len(token) >= 32
    resume = lines.index(f"::{token}::")
    # whatever the CLI prints (descriptions included) sits between the fence lines, inert
    for i, line in enumerate(lines):
        if INJECTION in line:
            assert stops[0] < i < resume
    run.assert_no_leak()


def test_plan_with_detailed_exitcode_fails_the_step_on_changes(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan", **{"detailed-exitcode": "true"}))
    assert run.code == 2
    assert run.outputs["exit-code"] == "2"
    assert run.outputs["has-changes"] == "true"
    run.assert_no_leak()


def test_apply_then_drift_clean_then_drift_after_an_out_of_band_change(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    applied = runner.run_entry_point(site_inputs(site, age_key, command="apply"))
    assert applied.code == 0, applied.log
    assert_masks_first(applied)
    assert applied.outputs["exit-code"] == "0"
    assert applied.outputs["creates"] == "4"
    assert site_values(site) == CANARIES  # the site now holds exactly the manifest's values
    assert Path(applied.outputs["summary-file"]).read_text(encoding="utf-8") in applied.summary
    applied.assert_no_leak()

    site.emulator.reset()
    clean = runner.run_entry_point(site_inputs(site, age_key, command="drift"))
    assert clean.code == 0, clean.log
    assert_masks_first(clean)
    assert clean.outputs["has-changes"] == "false"
    assert clean.outputs["exit-code"] == "0"
    assert (clean.outputs["creates"], clean.outputs["updates"], clean.outputs["deletes"]) == ("0", "0", "0")
    assert clean.summary.startswith("\n<!-- wix-secrets:drift:")
    clean.assert_no_leak()

    # someone changes a value in the dashboard: drift sees it, read-only
    with httpx.Client(base_url=site.url, headers={"Authorization": API_KEY, "wix-site-id": SITE_ID}) as http:
        listed = http.get(SECRETS_PREFIX).json()
        secret = next(s for s in listed["secrets"] if s["name"] == "STRIPE_API_KEY")
        reply = http.patch(
            f"{SECRETS_PREFIX}/{secret['id']}",
            json={"secret": {"value": "changed-out-of-band-value"}, "fieldMask": {"paths": ["value"]}},
        )
        assert reply.status_code == 200, reply.text
    site.emulator.reset()
    drifted = runner.run_entry_point(site_inputs(site, age_key, command="drift", **{"detailed-exitcode": "true"}))
    assert drifted.code == 2, drifted.log
    assert drifted.outputs["has-changes"] == "true"
    assert drifted.outputs["updates"] == "1"
    assert drifted.outputs["exit-code"] == "2"
    assert "STRIPE_API_KEY" in drifted.summary
    assert writes(site) == []  # drift never writes
    drifted.assert_no_leak(CANARIES | {"oob": "changed-out-of-band-value"})

    # apply puts it back, keeping an encrypted backup of the overwritten value in RUNNER_TEMP
    repaired = runner.run_entry_point(site_inputs(site, age_key, command="apply"))
    assert repaired.code == 0, repaired.log
    assert repaired.outputs["updates"] == "1"
    assert site_values(site) == CANARIES
    backups = [name for name in repaired.files if name.startswith("wix-secrets-backups/")]
    assert backups, sorted(repaired.files)
    repaired.assert_no_leak(CANARIES | {"oob": "changed-out-of-band-value"})  # backups included


def test_broken_manifest_becomes_annotations_on_the_file(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    broken = runner.workspace / "secrets" / "broken.yaml"
    broken.write_text(
        "version: 1\n"
        "secrets:\n"
        "  GOOD_ONE:\n"
        "    value: fine-value-1234\n"
        "  wix_reserved:\n"
        "    value: x-value-5678\n"
        "  OTHER:\n"
        "    value: y-value-9012\n"
        "    colour: blue\n",
        encoding="utf-8",
    )
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan", manifest="secrets/broken.yaml"))
    assert run.code == 1
    assert run.outputs["exit-code"] == "1"
    errors = run.annotations("error")
    assert len(errors) >= 2, run.log
    for line in errors:
        assert line.startswith("::error file=secrets/broken.yaml,line="), line
        props = line.split("::")[1]
        assert re.fullmatch(r"error file=secrets/broken\.yaml,line=\d+(,col=\d+)?,title=[^,:]+", props), props
    lines_reported = {int(re.search(r"line=(\d+)", e).group(1)) for e in errors}  # type: ignore[union-attr]
    assert 5 in lines_reported  # wix_reserved: a reserved prefix
    assert 9 in lines_reported or 7 in lines_reported  # the unknown key under OTHER
    # the summary says why, and nothing reached Wix
    assert "secrets/broken.yaml:5" in run.summary and "2 problems found" in run.summary
    assert Path(run.outputs["summary-file"]).is_file()
    assert site.emulator.requests == []
    run.assert_no_leak({"a": "fine-value-1234", "b": "x-value-5678", "c": "y-value-9012"})


def test_wrong_age_key_is_an_error_annotation_not_a_crash(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    import pyrage

    other = str(pyrage.x25519.Identity.generate())
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan", **{"age-key": other}))
    assert run.code == 1
    assert run.outputs["exit-code"] == "1"
    assert other in run.masks()  # the identity given is masked, even though it is the wrong one
    errors = run.annotations("error")
    assert len(errors) == 1 and "title=wix-secrets plan failed" in errors[0], run.log
    assert "Traceback" not in run.log
    assert site.emulator.requests == []
    run.assert_no_leak()
    for where, text in run.without_masks():
        assert other not in text, where


def test_bad_command_input(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="destroy"))
    assert run.code == 1
    assert run.annotations("error") == [
        "::error title=wix-secrets%3A bad input::input 'command' must be one of plan, apply, drift (got 'destroy')"
    ]
    assert run.outputs == {"exit-code": "1"}
    assert "bad input" in run.summary


def test_a_glob_that_matches_nothing_is_an_error(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    run = runner.run_entry_point(site_inputs(site, age_key, command="plan", manifest="secrets/*.sops.yml"))
    assert run.code == 1
    assert "matched no file" in run.annotations("error")[0]
    assert site.emulator.requests == []


def test_globs_and_working_directory(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    # two manifests under infra/secrets, given as a glob relative to working-directory
    base = runner.workspace / "infra"
    (base / "secrets").mkdir(parents=True)
    first = {k: CANARIES[k] for k in ("STRIPE_API_KEY", "DATABASE_URL")}
    second = {k: CANARIES[k] for k in ("TLS_KEY", "webhook_secret")}
    (base / "secrets" / "a.sops.yaml").write_bytes(encrypt_manifest(manifest_yaml(first), age_key.recipient))
    (base / "secrets" / "b.sops.yaml").write_bytes(encrypt_manifest(manifest_yaml(second), age_key.recipient))
    run = runner.run_entry_point(
        site_inputs(site, age_key, command="apply", manifest="secrets/*.sops.yaml", **{"working-directory": "infra"})
    )
    assert run.code == 0, run.log
    assert_masks_first(run)
    assert run.outputs["creates"] == "4"
    assert site_values(site) == CANARIES
    run.assert_no_leak()


def test_inputs_with_hyphens_as_the_runner_sets_them(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    # a JavaScript/Docker runner passes INPUT_SITE-ID; the entry point accepts both spellings
    env = {
        "INPUT_COMMAND": "plan",
        "INPUT_MANIFEST": "secrets/shop.sops.yaml",
        "INPUT_API-URL": site.url,
        "INPUT_SITE-ID": SITE_ID,
        "INPUT_API-KEY": API_KEY,
        "INPUT_AGE-KEY": age_key.identity,
        "INPUT_DETAILED-EXITCODE": "true",
    }
    run = runner.run_entry_point({}, env=env)
    assert run.code == 2, run.log
    assert run.outputs["has-changes"] == "true"
    run.assert_no_leak()


def test_max_deletes_guard_refuses_and_says_so(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    applied = runner.run_entry_point(site_inputs(site, age_key, command="apply"))
    assert applied.code == 0, applied.log
    # tombstones for two secrets: deleting them is more than max-deletes allows
    tomb = {k: v for k, v in CANARIES.items() if k not in ("STRIPE_API_KEY", "DATABASE_URL")}
    extra = "  STRIPE_API_KEY:\n    state: absent\n  DATABASE_URL:\n    state: absent\n"
    plain = manifest_yaml(tomb).replace("secrets:\n", "secrets:\n" + extra, 1)
    (runner.workspace / "secrets" / "shop.sops.yaml").write_bytes(encrypt_manifest(plain, age_key.recipient))
    site.emulator.reset()
    run = runner.run_entry_point(site_inputs(site, age_key, command="apply", **{"max-deletes": "1"}))
    assert run.code == 5, run.log
    assert run.outputs["exit-code"] == "5"
    assert writes(site) == []
    assert len(site_values(site)) == 4
    assert any("title=wix-secrets apply failed" in e for e in run.annotations("error")), run.log
    assert "more than max-deletes: 1" in run.summary  # the input, not the CLI flag
    run.assert_no_leak()


def test_saved_plan_is_applied_and_a_stale_one_is_refused(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    planned = runner.run_entry_point(site_inputs(site, age_key, command="plan", **{"plan-file": "shop.plan.json"}))
    assert planned.code == 0, planned.log
    saved = Path(planned.outputs["plan-file"])
    assert saved == runner.workspace / "shop.plan.json" and saved.is_file()
    planned.files["plan-file"] = saved.read_text(encoding="utf-8")  # a saved plan holds no value
    planned.assert_no_leak()

    site.emulator.reset()
    applied = runner.run_entry_point(site_inputs(site, age_key, command="apply", **{"plan-file": "shop.plan.json"}))
    assert applied.code == 0, applied.log
    assert applied.outputs["plan-file"] == str(saved)
    assert applied.outputs["creates"] == "4"
    assert site_values(site) == CANARIES
    applied.assert_no_leak()

    # a new plan, then someone changes the site before it is applied: the saved plan is stale
    runner.run_entry_point(site_inputs(site, age_key, command="plan", **{"plan-file": "again.plan.json"}))
    (runner.workspace / "secrets" / "shop.sops.yaml").write_bytes(
        encrypt_manifest(manifest_yaml(CANARIES | {"STRIPE_API_KEY": "sk_live_CANARY_rotated_91b2"}), age_key.recipient)
    )
    planned = runner.run_entry_point(site_inputs(site, age_key, command="plan", **{"plan-file": "rotate.plan.json"}))
    assert planned.outputs["updates"] == "1", planned.log
    with site.emulator.store.transaction(write=True) as store:
        record = store.by_name("STRIPE_API_KEY")
        assert record is not None
        store.update(record, name=None, value="changed-in-the-dashboard", description=None)
    site.emulator.reset()
    stale = runner.run_entry_point(site_inputs(site, age_key, command="apply", **{"plan-file": "rotate.plan.json"}))
    assert stale.code == 4, stale.log
    assert stale.outputs["exit-code"] == "4"
    assert writes(site) == []
    assert any("title=wix-secrets apply failed" in e for e in stale.annotations("error")), stale.log
    stale.assert_no_leak(CANARIES | {"new": "sk_live_CANARY_rotated_91b2", "oob": "changed-in-the-dashboard"})


def test_annotations_point_at_the_file_from_the_workspace_root(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    infra = runner.workspace / "infra" / "secrets"
    infra.mkdir(parents=True)
    (infra / "odd, name.yaml").write_text("version: 1\nsecrets:\n  OK_NAME:\n    valu: typo-1234\n", encoding="utf-8")
    run = runner.run_entry_point(
        site_inputs(
            site, age_key, command="plan", manifest="'secrets/odd, name.yaml'", **{"working-directory": "infra"}
        )
    )
    assert run.code == 1
    errors = run.annotations("error")
    assert errors and all(e.startswith("::error file=infra/secrets/odd%2C name.yaml,line=") for e in errors), errors


def test_an_unexpected_failure_while_reading_stops_before_running_and_withholds_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import reconciler.operations
    from reconciler.action import run_action

    def broken_loader(*args: object, **kwargs: object) -> None:
        message = "parser choked on: " + CANARIES["STRIPE_API_KEY"]
        raise RuntimeError(message)

    monkeypatch.setattr(reconciler.operations, "load_desired", broken_loader)
    (tmp_path / "m.yaml").write_text("version: 1\nsecrets: {}\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    output_file = tmp_path / "out"
    env = {"INPUT_MANIFEST": "m.yaml", "GITHUB_OUTPUT": str(output_file), "RUNNER_TEMP": str(tmp_path / "t")}
    code = run_action(env, stdout=out, stderr=err, cwd=tmp_path)
    assert code == 1
    text = out.getvalue() + err.getvalue()
    assert "CANARY" not in text
    assert "RuntimeError (message withheld)" in text
    assert "::stop-commands::" not in text  # the command never ran
    assert "title=wix-secrets: internal error" not in text  # the title is escaped ...
    assert "title=wix-secrets%3A internal error" in text  # ... like every property
    assert parse_github_output(output_file.read_text()) == {"exit-code": "1"}
