"""Manifest-level rules end to end against the emulator over loopback HTTP: protect cannot be bypassed,
renames are validated like Terraform's ``moved`` blocks, case-only renames work, and nothing derived
from a site value is shown. Request counts are exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator import Emulator

from support import SECRETS_API, Site, listing, seed, wix_env, wix_headers, write_dedented


def value_of(url: str, name: str) -> str:
    value: str = httpx.get(f"{url}{SECRETS_API}/name/{name}", headers=wix_headers()).json()["value"]
    return value


def writes(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.method in ("POST", "PATCH", "DELETE"))


def test_protect_cannot_be_bypassed_by_renaming(cli: Any, tmp_path: Path, wix_site: Site[Emulator]) -> None:
    # issue 10.5: `renamed_from` a protected name renamed it away and overwrote its value, exit 0
    emulator, url = wix_site
    ids = seed(url, ("prod_stripe", "sk_live_original"), ("OTHER", "v"))
    m = write_dedented(
        tmp_path / "m.yaml",
        """\
        version: 1
        secrets:
          innocent_name:
            value: attacker-chosen
            renamed_from: [prod_stripe]
          OTHER:
            value: v
        policy:
          protect: ["prod_*"]
        """,
    )
    emulator.reset()
    result = cli(
        "apply", "--auto-approve", "--no-backup", "--max-deletes", "9", "--allow-mass-delete", str(m), env=wix_env(url)
    )
    assert result.code == 1, result.err
    assert "prod_stripe is protected by 'prod_*'" in result.out + result.err
    assert writes(emulator) == 0
    assert listing(url)["prod_stripe"]["id"] == ids["prod_stripe"]
    assert value_of(url, "prod_stripe") == "sk_live_original"


def test_no_fingerprint_of_a_site_value_under_a_key_the_manifest_author_chose(
    cli: Any, tmp_path: Path, wix_site: Site[Emulator]
) -> None:
    # issue 10.4: a PR author encrypts a new manifest (to the public recipient: they then know its data
    # key) that names any site secret, directly or via renamed_from, and reads the keyed fingerprint of
    # the site's current value in the plan; a weak value then falls to an offline guess.
    import pyrage

    from reconciler.fingerprint import derive_key, fingerprint
    from reconciler.model import Sensitive
    from reconciler.sops import EncryptionRules, KeyRing, decrypt, encrypt

    _emulator, url = wix_site
    seed(url, ("stripe_key", "hunter2"), ("db_password", "letmein"))
    owner = pyrage.x25519.Identity.generate()
    body = (
        "version: 1\nsecrets:\n"
        "  stripe_key:\n    value: guess-1\n"
        "  innocent:\n    value: guess-2\n    renamed_from: [db_password]\n"
    )
    sealed = encrypt(
        body.encode(), recipients=[str(owner.to_public())], rules=EncryptionRules(encrypted_regex="^value$")
    )
    m = tmp_path / "pr.sops.yaml"
    m.write_bytes(sealed)
    keys = {"SOPS_AGE_KEY": str(owner)}
    data_key = decrypt(sealed, keys=KeyRing.discover(keys, home=tmp_path)).data_key  # the author knows it
    fp_key = derive_key(data_key, "fingerprint")
    leaked = {fingerprint(fp_key, Sensitive(v)) for v in ("hunter2", "letmein")}
    shown = {fingerprint(fp_key, Sensitive(v)) for v in ("guess-1", "guess-2")}

    outputs = []
    for flags in ((), ("--json",), ("--markdown",), ("-v",)):
        result = cli("plan", *flags, "--out", str(tmp_path / "p.json"), str(m), env=wix_env(url, **keys))
        assert result.code == 0, result.err
        outputs.append(result.out + result.err + (tmp_path / "p.json").read_text())
    text = "\n".join(outputs)
    assert not any(fp in text for fp in leaked)
    assert all(fp in text for fp in shown)  # the declared values' fingerprints are still there
    doc = json.loads(cli("plan", "--json", str(m), env=wix_env(url, **keys)).out)
    changed = {c["name"]: c for c in doc["changes"] if c["action"] != "unmanaged"}
    assert changed["stripe_key"]["changed"] == ["value"] and changed["stripe_key"]["fingerprint"]["before"] is None
    assert changed["innocent"]["changed"] == ["name", "value"] and changed["innocent"]["fingerprint"]["before"] is None


def test_validate_refuses_renamed_from_a_declared_name_and_apply_sends_nothing(
    cli: Any, tmp_path: Path, wix_site: Site[Emulator]
) -> None:
    emulator, url = wix_site
    seed(url, ("good_one", "a"))
    m = write_dedented(
        tmp_path / "m.yaml",
        """\
        version: 1
        secrets:
          good_one:
            value: a
          new_one:
            value: a
            renamed_from: [good_one]
        """,
    )
    checked = cli("validate", str(m))
    assert checked.code == 1
    assert f"{m}:7:" in checked.err and "good_one is renamed to new_one but is also declared (line 3)" in checked.err
    emulator.reset()
    applied = cli("apply", "--auto-approve", "--no-backup", str(m), env=wix_env(url))
    assert applied.code == 1 and emulator.requests == []
    assert set(listing(url)) == {"good_one"}


def test_a_case_only_rename_is_one_patch_of_the_name_by_id(cli: Any, tmp_path: Path, wix_site: Site[Emulator]) -> None:
    emulator, url = wix_site
    ids = seed(url, ("webhook_signing_secret", "whsec_1"))
    m = write_dedented(
        tmp_path / "m.yaml",
        """\
        version: 1
        secrets:
          WEBHOOK_SIGNING_SECRET:
            value: whsec_1
            renamed_from: [webhook_signing_secret]
        """,
    )
    emulator.reset()
    applied = cli("apply", "--auto-approve", str(m), env=wix_env(url))
    assert applied.code == 0, applied.out + applied.err
    patches = [r for r in emulator.requests if r.method == "PATCH"]
    assert len(patches) == 1 and writes(emulator) == 1
    assert {n: s["id"] for n, s in listing(url).items()} == {"WEBHOOK_SIGNING_SECRET": ids["webhook_signing_secret"]}
    assert value_of(url, "WEBHOOK_SIGNING_SECRET") == "whsec_1"
    again = cli("plan", "--detailed-exitcode", str(m), env=wix_env(url))
    assert again.code == 0, again.out + again.err


def test_several_manifests_of_one_site_are_checked_together_like_one_file(
    cli: Any, tmp_path: Path, wix_site: Site[Emulator]
) -> None:
    # issue 10.13: each file was valid alone, and the merge skipped the checks one file has
    emulator, url = wix_site
    seed(url, ("OLD", "v"), ("legacy_x", "keep"))
    base = write_dedented(
        tmp_path / "base.yaml",
        """\
        version: 1
        secrets:
          NEW_A:
            value: a
            renamed_from: [OLD]
          Api_Key:
            value: k
          legacy_x:
            value: overwrite-me
        """,
    )
    site = write_dedented(
        tmp_path / "site.yaml",
        """\
        version: 1
        secrets:
          NEW_B:
            value: b
            renamed_from: [OLD]
          API_KEY:
            value: k
        policy:
          ignore: ["legacy_*"]
        """,
    )
    emulator.reset()
    for command in (("plan",), ("apply", "--auto-approve", "--no-backup")):
        result = cli(*command, str(base), str(site), env=wix_env(url))
        assert result.code == 1, result.out + result.err
        text = result.err
        assert f"{site}:6: error: API_KEY and Api_Key ({base}:6) differ only by case" in text
        assert f"{site}:3: error: OLD is in renamed_from of both NEW_A ({base}:3) and NEW_B" in text
        assert f"{base}:8: error: legacy_x is declared but policy.ignore pattern 'legacy_*' of {site}" in text
    assert emulator.requests == []
    checked = cli("validate", str(base), str(site))
    assert checked.code == 1 and "differ only by case" in checked.err and "renamed_from of both" in checked.err
    assert cli("validate", "--each", str(base), str(site)).code == 0
    declared = write_dedented(tmp_path / "more.yaml", "version: 1\nsecrets:\n  OLD:\n    value: again\n")
    refused = cli("validate", str(base), str(declared))
    assert f"{base}:3: error: OLD is renamed to NEW_A but is also declared ({declared}:3)" in refused.err


def test_a_saved_plan_where_a_manifest_is_expected_says_so(cli: Any, tmp_path: Path) -> None:
    # issue 13.6: `plan plan.json`, `validate plan.json`, `apply plan.json other.yaml` gave 13 schema errors
    site = str(tmp_path / "site.json")
    m = write_dedented(tmp_path / "m.yaml", "version: 1\nsecrets:\n  A:\n    value: a\n")
    saved = cli("plan", "--local", site, "--out", "plan.json", str(m), env={"WIX_API_KEY": "k"})
    assert saved.code == 0, saved.err
    for argv in (
        ("validate", "plan.json"),
        ("plan", "--local", site, "plan.json"),
        ("apply", "--local", site, "plan.json", str(m)),
    ):
        result = cli(*argv)
        assert result.code == 1, (argv, result.err)
        assert "plan.json:2: error: this is a saved plan, not a manifest" in result.err
        assert "hint: apply it with `wix-secrets apply plan.json`" in result.err
        assert result.err.count("error:") == 1, result.err


def test_a_manifest_nobody_here_can_decrypt_names_the_file_recipients_and_places_tried(
    cli: Any, tmp_path: Path
) -> None:
    # issue 13.8: "<file>: no age identity available can decrypt this file"
    import pyrage

    from reconciler.sops import EncryptionRules, encrypt

    owner, stranger = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    m = tmp_path / "m.sops.yaml"
    m.write_bytes(
        encrypt(
            b"version: 1\nsecrets:\n  A:\n    value: a\n", recipients=[str(owner.to_public())], rules=EncryptionRules()
        )
    )
    for argv in (("validate", str(m)), ("plan", "--local", str(tmp_path / "s.json"), str(m))):
        result = cli(*argv, env={"SOPS_AGE_KEY": str(stranger)})
        assert result.code == 1
        assert f"{m}: cannot decrypt: no age identity found matches a recipient of this file" in result.err
        assert "<file>" not in result.err
        assert str(owner.to_public()) in result.err and "SOPS_AGE_KEY" in result.err
        assert str(stranger) not in result.err and str(owner) not in result.err  # never a key


def test_a_backup_restores_values_with_nel_del_and_c1_controls_byte_for_byte(cli: Any, tmp_path: Path) -> None:
    # issue 10.10: NEL came back as a space; DEL and C1 controls aborted the restore with "invalid YAML"
    import pyrage

    owner = pyrage.x25519.Identity.generate()
    site = str(tmp_path / "site.json")
    tricky = "a\\u0085b\\u007fc\\u0080\\u009f\\u2028d"  # YAML escapes, in the plaintext manifest
    first = write_dedented(
        tmp_path / "a.yaml", f'version: 1\nsecrets:\n  K:\n    value: "{tricky}"\n    description: "\\u0085"\n'
    )
    assert cli("apply", "--local", site, "--auto-approve", str(first)).code == 0
    second = write_dedented(tmp_path / "b.yaml", "version: 1\nsecrets:\n  K:\n    value: overwritten\n")
    applied = cli(
        "apply",
        "--local",
        site,
        "--auto-approve",
        "--backup-dir",
        "bk",
        "--backup-age",
        str(owner.to_public()),
        str(second),
    )
    assert applied.code == 0, applied.err
    [backup] = (tmp_path / "bk").iterdir()
    restored = cli(
        "apply", "--local", site, "--auto-approve", "--no-backup", str(backup), env={"SOPS_AGE_KEY": str(owner)}
    )
    assert restored.code == 0, restored.out + restored.err
    again = cli("plan", "--local", site, "--detailed-exitcode", str(first))
    assert again.code == 0, again.out + again.err  # the site holds exactly the first value and description


def test_every_refusing_guard_in_one_run_with_the_flags_that_pass_them_all(
    cli: Any, tmp_path: Path, wix_site: Site[Emulator]
) -> None:
    # issue 13.7: one refusal per run; following its hint met the next refusal
    emulator, url = wix_site
    seed(url, *[(f"s{i}", "v") for i in range(10)])
    m = write_dedented(tmp_path / "m.yaml", "version: 1\nsecrets:\n  s0:\n    value: v\n  s1:\n    value: v\n")
    emulator.reset()
    refused = cli("apply", "--auto-approve", "--no-backup", "--prune", str(m), env=wix_env(url))
    assert refused.code == 5, refused.err
    assert "2 safety guards refused the plan" in refused.err
    assert "max-deletes: the plan deletes 8 secrets, more than --max-deletes 5" in refused.err
    assert "mass-delete: the plan deletes 8 secrets of the site's 10, more than half" in refused.err
    assert "hint: if this is intended, pass --max-deletes 8 --allow-mass-delete" in refused.err
    assert writes(emulator) == 0
    done = cli(
        "apply",
        "--auto-approve",
        "--no-backup",
        "--prune",
        "--max-deletes",
        "8",
        "--allow-mass-delete",
        str(m),
        env=wix_env(url),
    )
    assert done.code == 0, done.err
    assert set(listing(url)) == {"s0", "s1"}
