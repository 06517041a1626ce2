"""The audit log of ``apply --audit-log FILE``: one JSON line per change, valid against
``schemas/audit.schema.json``, with keyed fingerprints, the manifest digest and the CI context, and
never a value (canaries are grepped for in the file)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler import __version__
from reconciler.audit import append_records, ci_context
from reconciler.schema import load_schema
from reconciler.sops import KeyRing, decrypt_text, edit

from support import EmulatorSites, new_age_key, wix_env

CANARY_A = "CANARY-audit-a-71d3c0e2-5b4f-4a89-9c1d-2e3f4a5b6c7d"
CANARY_B = "CANARY-audit-b-0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_ACTOR": "octocat",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/site-secrets",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_WORKFLOW": "wix-secrets apply",
}


def validator() -> Any:
    schema = load_schema("audit")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def read_log(path: Path) -> list[dict[str, Any]]:
    text = path.read_text("utf-8")
    assert CANARY_A not in text and CANARY_B not in text
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        validator().validate(record)
    return records


@pytest.fixture
def encrypted(cli: Any, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    key = new_age_key()
    plain = tmp_path / "m.yaml"
    plain.write_text(
        f"version: 1\nsecrets:\n  A:\n    value: {CANARY_A}\n    description: first\n  OLD:\n    value: old-value-1\n"
    )
    recipient = key.recipient
    result = cli("encrypt", "--age", recipient, "--encrypted-regex", "^value$", "--in-place", str(plain))
    assert result.code == 0, result.err
    return plain, {"SOPS_AGE_KEY": key.identity}


def test_apply_writes_one_valid_line_per_change_with_fingerprints_and_ci(
    cli: Any, tmp_path: Path, encrypted: Any
) -> None:
    manifest, keys = encrypted
    site = str(tmp_path / "site.json")
    env = {**keys, **GITHUB}
    (tmp_path / "logs").mkdir()  # an output path's folder must exist (no silent mkdir)
    first = cli("apply", "--local", site, "--auto-approve", "--audit-log", "logs/audit.jsonl", str(manifest), env=env)
    assert first.code == 0, first.err
    log = tmp_path / "logs" / "audit.jsonl"
    assert (log.stat().st_mode & 0o777) == 0o600
    records = read_log(log)
    assert [(r["action"], r["secret"]["name"], r["status"]) for r in records] == [
        ("create", "A", "applied"),
        ("create", "OLD", "applied"),
    ]
    a = records[0]
    assert a["secret"]["id"] and a["fingerprint"]["before"] is None and len(a["fingerprint"]["after"]) == 12
    assert a["tool"] == {"name": "wix-secrets", "version": __version__}
    assert a["site"]["local"] == site and a["plan_digest"] and a["converged"] is True
    assert a["ci"] == {
        "sha": GITHUB["GITHUB_SHA"],
        "actor": "octocat",
        "run_url": "https://github.com/acme/site-secrets/actions/runs/4242/attempts/2",
        "repository": "acme/site-secrets",
        "ref": "refs/heads/main",
        "workflow": "wix-secrets apply",
    }
    # second apply: an update of A's value, a rename of OLD to NEW; appended, not rewritten
    ring = KeyRing.discover(keys, home=tmp_path)
    plain = decrypt_text(manifest.read_bytes(), keys=ring).decode()
    plain = plain.replace(CANARY_A, CANARY_B).replace("    OLD:\n", "    NEW:\n        renamed_from: [OLD]\n", 1)
    manifest.write_bytes(edit(manifest.read_bytes(), plain.encode(), keys=ring))  # same data key
    second = cli("apply", "--local", site, "--auto-approve", "--audit-log", "logs/audit.jsonl", str(manifest), env=keys)
    assert second.code == 0, second.out + second.err
    records = read_log(log)
    assert len(records) == 4
    by_action = {r["action"]: r for r in records[2:]}
    assert by_action["update"]["secret"] == {"name": "A", "id": a["secret"]["id"], "previous_name": None}
    assert by_action["update"]["fingerprint"]["before"] is None  # never derived from a site value
    assert by_action["update"]["fingerprint"]["after"] not in (None, a["fingerprint"]["after"])
    assert by_action["rename"]["secret"]["previous_name"] == "OLD"
    assert by_action["rename"]["secret"]["id"] == records[1]["secret"]["id"]  # the id is kept
    assert by_action["update"]["ci"] is None  # no GITHUB_* this time
    for result in (first, second):
        assert CANARY_A not in result.out + result.err and CANARY_B not in result.out + result.err


def test_plaintext_manifests_have_null_fingerprints_and_no_changes_write_nothing(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(f"version: 1\nsecrets:\n  A:\n    value: {CANARY_A}\n")
    site = str(tmp_path / "site.json")
    assert cli("apply", "--local", site, "--auto-approve", "--audit-log", "a.jsonl", "m.yaml").code == 0
    records = read_log(tmp_path / "a.jsonl")
    assert len(records) == 1 and records[0]["fingerprint"] is None
    assert cli("apply", "--local", site, "--auto-approve", "--audit-log", "a.jsonl", "m.yaml").code == 0
    assert len(read_log(tmp_path / "a.jsonl")) == 1  # nothing to do, nothing logged


def test_failed_operations_are_logged_as_failed(cli: Any, tmp_path: Path, emulator_site: EmulatorSites) -> None:
    from reconciler.emulator import Emulator
    from reconciler.emulator.core import Reply

    class FailingCreates(Emulator):
        def handle(self, method: str, target: str, headers: Any, body: bytes) -> Any:
            if method == "POST" and "/secrets" in target:
                return Reply(503, (("content-type", "application/json"),), b'{"message": "unavailable"}')
            return super().handle(method, target, headers, body)

    _, url = emulator_site(FailingCreates(api_key="k"))
    (tmp_path / "m.yaml").write_text(f"version: 1\nsecrets:\n  A:\n    value: {CANARY_A}\n")
    env = wix_env(url, api_key="k", site_id="s")
    result = cli("apply", "--auto-approve", "--retries", "0", "--audit-log", "a.jsonl", "m.yaml", env=env)
    assert result.code != 0, result.out
    records = read_log(tmp_path / "a.jsonl")
    assert len(records) == 1
    assert records[0]["status"] == "failed" and records[0]["error"]
    assert records[0]["secret"]["id"] is None


def test_ci_context_outside_ci_is_null() -> None:
    assert ci_context({"HOME": "/x"}) is None
    assert ci_context({"GITHUB_SHA": "abc"}) == {
        "sha": "abc",
        "actor": None,
        "run_url": None,
        "repository": None,
        "ref": None,
        "workflow": None,
    }


def test_concurrent_appends_never_interleave_within_a_line(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    big = {"padding": "x" * 3000}

    def writer(n: int) -> None:
        append_records(log, ({**big, "writer": n, "i": i} for i in range(50)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = log.read_text().splitlines()
    assert len(lines) == 200
    assert all(json.loads(line)["padding"] == big["padding"] for line in lines)
    assert oct(os.stat(log).st_mode & 0o777) == oct(0o600)
