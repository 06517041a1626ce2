"""A saved plan of a plaintext manifest for a ``--local`` site: there is no SOPS data key and no Wix
credential to key it, so the user's local key (the local backup identity, created once, mode 0600)
does. Such a plan applies on this machine; an edited plan file, or the same file under another
user's key, is refused (exit 4) and changes nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import reconciler

VALUE = "local-plan-canary-5d2e"


def manifest(path: Path, value: str = VALUE) -> Path:
    path.write_text(f"version: 1\nsecrets:\n  FIRST:\n    value: {value}\n  SECOND:\n    value: two\n")
    return path


def test_plan_out_of_a_plaintext_manifest_for_a_local_site(cli: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    m = manifest(tmp_path / "m.yaml")
    planned = cli("plan", "--local", "site.json", "--out", "plan.json", str(m), env=env)
    assert planned.code == 0, planned.err
    key = home / ".config" / "wix-secrets" / "backup-key.txt"
    assert "Created the local key" in planned.err and str(key) in planned.err
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert VALUE not in (tmp_path / "plan.json").read_text() and VALUE not in planned.out + planned.err

    # another user (another local key) cannot apply it, and an edited file is refused
    stranger = cli("apply", "--local", "site.json", "plan.json", env={"HOME": str(tmp_path / "other")})
    assert stranger.code == 4 and "keyed by the local key of the user who made it" in stranger.err, stranger.err
    doc = json.loads((tmp_path / "plan.json").read_text())
    doc["limits"]["max_deletes"] = 99
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    edited = cli("apply", "--local", "site.json", "edited.json", env=env)
    assert edited.code == 4 and "modified" in edited.err, edited.err
    assert not (tmp_path / "site.json").exists() or '"FIRST"' not in (tmp_path / "site.json").read_text()

    applied = cli("apply", "--local", "site.json", "plan.json", env=env)
    assert applied.code == 0, applied.err
    assert "Created the local key" not in applied.err  # made once
    assert cli("plan", "--local", "site.json", "--detailed-exitcode", str(m), env=env).code == 0

    # a changed manifest makes the saved plan stale
    assert cli("plan", "--local", "site.json", "--out", "plan2.json", str(m), env=env).code == 0
    manifest(m, "changed")
    stale = cli("apply", "--local", "site.json", "plan2.json", env=env)
    assert stale.code == 4 and "manifest changed" in stale.err, stale.err


def test_the_python_api_saves_and_applies_a_local_plaintext_plan(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home")}
    site = reconciler.local_site(tmp_path / "site.json")
    m = manifest(tmp_path / "m.yaml")
    planned = reconciler.plan_site([m], site, environ=env, out=tmp_path / "plan.json", cwd=tmp_path)
    assert planned.error is None and planned.saved_plan == tmp_path / "plan.json"
    applied = reconciler.apply_plan_file(tmp_path / "plan.json", site, environ=env, cwd=tmp_path)
    assert applied.error is None and applied.exit_code == 0


def test_a_credential_in_the_environment_keys_it_and_no_local_key_is_made(cli: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "WIX_API_KEY": "IST.local-plan-key-9"}
    m = manifest(tmp_path / "m.yaml")
    planned = cli("plan", "--local", "site.json", "--out", "plan.json", str(m), env=env)
    assert planned.code == 0 and "Created the local key" not in planned.err, planned.err
    assert not (home / ".config" / "wix-secrets").exists()
    assert cli("apply", "--local", "site.json", "plan.json", env=env).code == 0
