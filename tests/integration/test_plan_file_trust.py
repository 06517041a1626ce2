"""A saved plan file is untrusted input (a CI artifact): it cannot redirect, widen or alter an apply.

Every field that decides behaviour is bound by a keyed MAC under a key the file's editor cannot know
(from the SOPS data key; for a plaintext manifest, from the site credential of the apply run), and the
apply's target comes from the apply run's own flags and environment. Each test edits a real plan file
as an attacker would and counts the requests the real emulator (over loopback HTTP) received.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.emulator import Emulator, EmulatorServer

from support import VALUES_ONLY, new_age_key, wix_env, write_manifest, write_sops_manifest

KEY = new_age_key()
KEY_ENV = {"SOPS_AGE_KEY": KEY.identity}
CANARY = "CANARY-plan-file-7d1f0c"


def manifest(path: Path, secrets: dict[str, str], *, encrypted: bool = True) -> Path:
    """``secrets`` in a manifest: SOPS-encrypted to ``KEY`` (the values only), or in plain text."""
    if encrypted:
        return write_sops_manifest(path, secrets, KEY.recipient, rules=VALUES_ONLY)
    return write_manifest(path, secrets)


def edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def http_env(url: str, key: str = "key-1") -> dict[str, str]:
    return wix_env(url, api_key=key, **KEY_ENV)


def test_a_plan_file_edited_to_aim_at_another_server_sends_it_nothing(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.sops.yaml", {"A": CANARY, "B": "two"})
    real, attacker = Emulator(), Emulator()
    with EmulatorServer(real) as good, EmulatorServer(attacker) as evil:
        assert cli("plan", "--out", "p.json", str(m), env=http_env(good.url)).code == 0
        real.reset()

        def aim(doc: dict[str, Any]) -> None:
            doc["site"]["api_url"] = evil.url

        edit(tmp_path / "p.json", aim)
        # whatever the apply run points at, the modified file is refused before any request
        for url in (good.url, evil.url):
            result = cli("apply", "p.json", env=http_env(url))
            assert result.code == 4, result.err
            assert "the plan file p.json was modified" in result.err
            assert "Apply complete" not in result.out
        assert attacker.requests == [] and real.requests == []


def test_a_plan_file_edited_to_write_another_local_file_writes_nothing(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.sops.yaml", {"A": CANARY})
    site, elsewhere = tmp_path / "site.json", tmp_path / "elsewhere.json"
    assert cli("plan", "--local", str(site), "--out", "p.json", str(m), env=KEY_ENV).code == 0

    def aim(doc: dict[str, Any]) -> None:
        doc["site"]["local"] = str(elsewhere)

    edit(tmp_path / "p.json", aim)
    result = cli("apply", "--local", str(elsewhere), "p.json", env=KEY_ENV)
    assert result.code == 4 and "was modified" in result.err
    assert not elsewhere.exists()


def test_every_bound_field_is_covered_by_the_mac(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.sops.yaml", {"A": "one", "B": "two"})
    site = str(tmp_path / "site.json")
    assert cli("apply", "--local", site, "--auto-approve", str(m), env=KEY_ENV).code == 0
    manifest(m, {"A": "three"})
    assert cli("plan", "--local", site, "--prune", "--out", "p.json", str(m), env=KEY_ENV).code == 0
    original = (tmp_path / "p.json").read_text()
    other = manifest(tmp_path / "other.sops.yaml", {"A": "one", "B": "two"})
    edits = [
        lambda d: d["limits"].update(max_deletes=99, allow_mass_delete=True),
        lambda d: d["changes"].append({**d["changes"][-1], "name": "A", "action": "delete"}),
        lambda d: d["changes"].pop(),
        lambda d: d["changes"][0].update(name="Z"),
        lambda d: d["site"].update(site_id="other"),
        lambda d: d.update(manifests=[str(other)]),
        lambda d: d.update(manifest_digest="hmac-sha256:" + "0" * 64),
        lambda d: d.pop("mac"),
    ]
    for change in edits:
        (tmp_path / "p.json").write_text(original)
        edit(tmp_path / "p.json", change)
        result = cli("apply", "--local", site, "p.json", env=KEY_ENV)
        assert result.code == 4, (result.err, change)
        assert "was modified" in result.err
    assert json.loads(Path(site).read_text())  # the site file is untouched: B still there
    assert "B" in Path(site).read_text()


def test_the_apply_target_comes_from_the_apply_run_and_must_be_the_plans(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.sops.yaml", {"A": CANARY})
    real, other = Emulator(), Emulator()
    with EmulatorServer(real) as good, EmulatorServer(other) as second:
        assert cli("plan", "--out", "p.json", str(m), env=http_env(good.url)).code == 0
        real.reset()
        result = cli("apply", "p.json", env=http_env(second.url))
        assert result.code == 4
        assert f"was made for {good.url}" in result.err and f"this apply targets {second.url}" in result.err
        local = cli("apply", "--local", str(tmp_path / "s.json"), "p.json", env=KEY_ENV)
        assert local.code == 4 and not (tmp_path / "s.json").exists()
        assert other.requests == [] and real.requests == []
        applied = cli("apply", "p.json", env=http_env(good.url))
        assert applied.code == 0, applied.err
        assert "Apply complete: 1 applied" in applied.out


def test_plaintext_manifest_plans_are_keyed_by_the_site_credential(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.yaml", {"A": CANARY}, encrypted=False)
    real = Emulator()
    with EmulatorServer(real) as server:
        assert cli("plan", "--out", "p.json", str(m), env=http_env(server.url, key="key-1")).code == 0
        assert CANARY not in (tmp_path / "p.json").read_text()
        real.reset()
        # another credential cannot verify the file (and a forger without the key cannot make one)
        result = cli("apply", "p.json", env=http_env(server.url, key="key-2"))
        assert result.code == 4 and "was modified" in result.err
        assert real.requests == []
        assert cli("apply", "p.json", env=http_env(server.url, key="key-1")).code == 0


def test_apply_of_a_saved_plan_counts_unchanged_secrets(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.sops.yaml", {"A": "one", "B": "two", "C": "three"})
    site = str(tmp_path / "site.json")
    assert cli("apply", "--local", site, "--auto-approve", str(m), env=KEY_ENV).code == 0
    manifest(m, {"A": "one", "B": "two", "C": "changed"})
    assert cli("plan", "--local", site, "--out", "p.json", str(m), env=KEY_ENV).code == 0
    result = cli("apply", "--local", site, "p.json", env=KEY_ENV)
    assert result.code == 0, result.err
    assert "2 unchanged" in result.out
    assert "Apply complete: 1 applied, 0 failed, 0 skipped. The site matches the plan." in result.out


def test_a_failed_apply_of_a_saved_plan_never_claims_the_site_matches(cli: Any, tmp_path: Path) -> None:
    from reconciler.emulator import Faults

    m = manifest(tmp_path / "m.sops.yaml", {"A": "one", "B": "two"})
    state = tmp_path / "state.json"
    with EmulatorServer(Emulator(state_file=state)) as server:
        assert cli("apply", "--auto-approve", str(m), env=http_env(server.url)).code == 0
    manifest(m, {"A": "one", "B": "two", "C": "three"})
    failing = Emulator(state_file=state, faults=Faults(error_rate=1.0, routes=frozenset({"create"})))
    with EmulatorServer(failing) as server:
        env = http_env(server.url)
        assert cli("plan", "--out", "p.json", str(m), env=env).code == 0
        result = cli("apply", "--retries", "0", "p.json", env=env)
    assert result.code == 3, result.err
    assert "2 unchanged" in result.out
    assert "0 applied, 1 failed" in result.out and "The site matches the plan" not in result.out
