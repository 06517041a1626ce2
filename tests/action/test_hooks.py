"""reconciler.action_hooks: the pre-commit hooks and the GitLab note/issue helpers.

The hooks run as pre-commit runs them (``python -m reconciler.action_hooks HOOK FILE...``); the
GitLab helpers talk to a small fake GitLab API on loopback that records every request.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from reconciler.action_hooks import DRIFT_LABEL, gitlab_drift_issue, gitlab_mr_note

from .gha import CANARIES, encrypt_manifest, manifest_yaml
from fake_gitlab import FakeGitLab
from support import AgeKey


def hook(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler.action_hooks", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- check-encrypted ---------------------------------------------------------------------------------


def test_check_encrypted_accepts_encrypted_and_refuses_plaintext(tmp_path: Path, age_key: AgeKey) -> None:
    (tmp_path / "good.sops.yaml").write_bytes(encrypt_manifest(manifest_yaml(), age_key.recipient))
    (tmp_path / "plain.sops.yaml").write_text(manifest_yaml(), encoding="utf-8")
    (tmp_path / ".sops.yaml").write_text("creation_rules:\n  - age: age1xyz\n", encoding="utf-8")

    ok = hook("check-encrypted", "good.sops.yaml", ".sops.yaml", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ok.stderr == ""

    bad = hook("check-encrypted", "good.sops.yaml", "plain.sops.yaml", "missing.sops.yaml", cwd=tmp_path)
    assert bad.returncode == 1
    assert "plain.sops.yaml: not SOPS-encrypted" in bad.stderr
    assert "wix-secrets encrypt --in-place plain.sops.yaml" in bad.stderr
    assert "sops --encrypt" not in bad.stderr
    assert "missing.sops.yaml: cannot read" in bad.stderr
    assert "good.sops.yaml" not in bad.stderr
    for value in CANARIES.values():  # the refusal never quotes the plaintext it found
        assert value.splitlines()[0] not in bad.stdout + bad.stderr


def test_check_encrypted_refuses_a_file_with_a_fake_sops_block(tmp_path: Path) -> None:
    (tmp_path / "fake.sops.yaml").write_text(manifest_yaml() + "sops:\n  version: 3.9.0\n", encoding="utf-8")
    result = hook("check-encrypted", "fake.sops.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "not SOPS-encrypted" in result.stderr


# --- validate ----------------------------------------------------------------------------------------


def test_validate_checks_each_manifest_on_its_own(tmp_path: Path, age_key: AgeKey) -> None:
    (tmp_path / "a.sops.yaml").write_bytes(encrypt_manifest(manifest_yaml(), age_key.recipient))
    (tmp_path / "b.yaml").write_text(manifest_yaml(), encoding="utf-8")  # same names: fine, checked apart
    (tmp_path / "broken.yaml").write_text("version: 1\nsecrets:\n  wixy:\n    value: abcdefgh\n", encoding="utf-8")
    key_file = tmp_path / "keys.txt"
    key_file.write_text(age_key.identity + "\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SOPS_AGE_KEY_FILE": str(key_file)}

    ok = hook("validate", "a.sops.yaml", "b.yaml", ".sops.yaml", cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    bad = hook("validate", "a.sops.yaml", "broken.yaml", cwd=tmp_path, env=env)
    assert bad.returncode == 1
    assert "broken.yaml:3" in bad.stdout + bad.stderr
    for value in CANARIES.values():
        assert value.splitlines()[0] not in bad.stdout + bad.stderr


# --- GitLab helpers ----------------------------------------------------------------------------------


def test_gitlab_mr_note_is_created_once_then_updated(gitlab: FakeGitLab, tmp_path: Path) -> None:
    gitlab.notes += [{"id": 1, "body": "a human comment"}, {"id": 2, "body": "another one"}, {"id": 3, "body": "x"}]
    summary = tmp_path / "plan.md"
    summary.write_text("### plan\n\n| `A` | create |\n", encoding="utf-8")
    env = gitlab.env(CI_MERGE_REQUEST_IID="7")
    out = io.StringIO()
    assert gitlab_mr_note(str(summary), "wix-secrets:plan:shop", environ=env, out=out) == 0
    assert gitlab.notes[-1]["body"] == "<!-- wix-secrets:plan:shop -->\n### plan\n\n| `A` | create |\n"
    assert "posted note" in out.getvalue()

    summary.write_text("### plan v2\n", encoding="utf-8")
    assert gitlab_mr_note(str(summary), "wix-secrets:plan:shop", environ=env, out=out) == 0
    assert len(gitlab.notes) == 4  # updated in place, found on the second page
    assert gitlab.notes[-1]["body"] == "<!-- wix-secrets:plan:shop -->\n### plan v2\n"
    assert ("PUT", "/api/v4/projects/42/merge_requests/7/notes/103") in gitlab.log
    # another site gets its own note
    assert gitlab_mr_note(str(summary), "wix-secrets:plan:blog", environ=env, out=out) == 0
    assert len(gitlab.notes) == 5


def test_gitlab_mr_note_outside_a_merge_request_and_with_a_bad_token(gitlab: FakeGitLab, tmp_path: Path) -> None:
    out = io.StringIO()
    assert gitlab_mr_note("missing.md", "m", environ=gitlab.env(), out=out) == 0
    assert "not a merge request pipeline" in out.getvalue() and gitlab.log == []
    env = gitlab.env(CI_MERGE_REQUEST_IID="7", WIX_SECRETS_GITLAB_TOKEN="wrong-token-value")
    assert gitlab_mr_note("missing.md", "m", environ=env, out=out) == 1
    assert "HTTP 401" in out.getvalue() and "wrong-token-value" not in out.getvalue()
    env = {"CI_MERGE_REQUEST_IID": "7"}
    assert gitlab_mr_note("missing.md", "m", environ=env, out=out) == 1
    assert "missing CI_API_V4_URL, CI_PROJECT_ID, WIX_SECRETS_GITLAB_TOKEN" in out.getvalue()


def _drift_doc(tmp_path: Path, has_changes: bool) -> tuple[str, str]:
    md = tmp_path / "drift.md"
    md.write_text("### drift\n\n| `STRIPE_API_KEY` | update |\n" if has_changes else "### drift: none\n")
    doc = tmp_path / "drift.json"
    counts = {"create": 0, "update": int(has_changes), "rename": 0, "delete": 0, "unchanged": 3}
    doc.write_text(
        json.dumps({"format_version": "1", "command": "drift", "summary": counts, "has_changes": has_changes})
    )
    return str(md), str(doc)


def test_gitlab_drift_issue_opens_updates_and_closes(gitlab: FakeGitLab, tmp_path: Path) -> None:
    env = gitlab.env(CI_PIPELINE_URL="https://gitlab.example.com/p/-/pipelines/9")
    out = io.StringIO()
    args = ("wix-secrets:drift:shop", "wix-secrets drift on site shop")

    md, doc = _drift_doc(tmp_path, True)
    assert gitlab_drift_issue(md, doc, *args, environ=env, out=out) == 0
    assert len(gitlab.issues) == 1
    issue = gitlab.issues[0]
    assert issue["labels"] == DRIFT_LABEL and issue["title"] == args[1]
    assert issue["description"].startswith("<!-- wix-secrets:drift:shop -->\n### drift")

    assert gitlab_drift_issue(md, doc, *args, environ=env, out=out) == 0  # still drifting: same issue
    assert len(gitlab.issues) == 1 and "updated issue #1" in out.getvalue()

    md, doc = _drift_doc(tmp_path, False)
    assert gitlab_drift_issue(md, doc, *args, environ=env, out=out) == 0
    assert issue["state"] == "closed"
    assert gitlab.issue_notes and "back in sync" in gitlab.issue_notes[0][1]
    assert gitlab_drift_issue(md, doc, *args, environ=env, out=out) == 0  # clean, no issue: nothing
    assert "nothing to do" in out.getvalue()


def test_gitlab_drift_issue_leaves_the_issue_alone_when_the_check_failed(gitlab: FakeGitLab, tmp_path: Path) -> None:
    (tmp_path / "drift.json").write_text('{"command": "drift", "error": {"message": "401", "exit_code": 1}}')
    out = io.StringIO()
    code = gitlab_drift_issue("drift.md", str(tmp_path / "drift.json"), "m", "t", environ=gitlab.env(), out=out)
    assert code == 1
    assert gitlab.log == []
