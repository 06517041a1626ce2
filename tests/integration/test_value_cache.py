"""``--value-cache`` against the emulator over loopback HTTP, with a real SOPS/age-encrypted manifest.

Exact request counts: a warm plan sends one list and no value read; an out-of-band write (a new
updatedDate) is read again and shows up in the plan; a plaintext manifest gets a warning and every read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx

from reconciler.emulator import Emulator

from support import SECRETS_API, AgeKey, Site, seed, wix_env, wix_headers, write_manifest, write_sops_manifest

CANARY = "CANARY-77c1f0e2-value-cache"
VALUES = {"API_KEY": f"{CANARY}-api", "DB_URL": f"{CANARY}-db", "TOKEN": f"{CANARY}-token"}


def write_out_of_band(url: str, secret_id: str, value: str) -> None:
    r = httpx.patch(f"{url}{SECRETS_API}/{secret_id}", json={"secret": {"value": value}}, headers=wix_headers())
    r.raise_for_status()


def reads(emulator: Emulator) -> tuple[int, int, int]:
    """(lists, value reads, writes) since the last reset; then reset the log."""
    counts = emulator.counts()
    emulator.reset()
    return counts["list"], counts["get_value"], counts["create"] + counts["update"] + counts["delete"]


def test_second_plan_skips_every_read_and_an_out_of_band_write_is_caught(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, wix_site: Site[Emulator], age_key: AgeKey
) -> None:
    emulator, url = wix_site
    secret_key, recipient = age_key.identity, age_key.recipient
    ids = seed(url, *VALUES.items())
    emulator.reset()
    manifest = write_sops_manifest(tmp_path / "m.sops.yaml", VALUES, recipient)
    cache_dir = tmp_path / "cache"
    plan = ("plan", "--detailed-exitcode", "--value-cache", str(cache_dir), str(manifest))

    cold = cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key))
    assert cold.code == 0, cold.out + cold.err
    assert reads(emulator) == (1, 3, 0)

    warm = cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key))
    assert warm.code == 0, warm.out + warm.err
    assert reads(emulator) == (1, 1, 0)  # one list, only the sampled re-read (executor.CACHE_SAMPLE, min 1)

    # someone changes DB_URL behind the tool's back: new updatedDate -> read again -> drift shown
    write_out_of_band(url, ids["DB_URL"], "changed-out-of-band")
    emulator.reset()
    caught = cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key))
    assert caught.code == 2, caught.out + caught.err
    assert "DB_URL" in caught.out and "update" in caught.out
    assert reads(emulator) == (1, 2, 0)  # the rewritten secret, and one sampled re-read

    applied = cli(
        "apply",
        "--auto-approve",
        "--no-backup",
        "--value-cache",
        str(cache_dir),
        str(manifest),
        env=wix_env(url, SOPS_AGE_KEY=secret_key),
    )
    assert applied.code == 0, applied.out + applied.err
    assert reads(emulator) == (2, 2, 1)  # plan list + read of DB_URL + 1 sample, one update, one verifying list

    after_apply = cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key))
    assert after_apply.code == 0, after_apply.out + after_apply.err
    assert reads(emulator) == (1, 2, 0)  # the applied secret has a new updatedDate: read once more (+1 sample)
    settled = cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key))
    assert settled.code == 0
    assert reads(emulator) == (1, 1, 0)

    files = list(cache_dir.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    text = files[0].read_text()
    assert CANARY not in text and "changed-out-of-band" not in text
    for result in (cold, warm, caught, applied, after_apply, settled):
        assert CANARY not in result.out + result.err


def test_an_out_of_band_write_of_the_same_value_is_read_and_shows_no_change(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, wix_site: Site[Emulator], age_key: AgeKey
) -> None:
    emulator, url = wix_site
    secret_key, recipient = age_key.identity, age_key.recipient
    ids = seed(url, *VALUES.items())
    manifest = write_sops_manifest(tmp_path / "m.sops.yaml", VALUES, recipient)
    plan = ("plan", "--detailed-exitcode", "--value-cache", str(tmp_path / "cache"), str(manifest))
    assert cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key)).code == 0
    write_out_of_band(url, ids["TOKEN"], VALUES["TOKEN"])
    emulator.reset()
    again = cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key))
    assert again.code == 0, again.out + again.err
    assert reads(emulator) == (1, 2, 0)  # the rewritten one, and one sampled re-read


def test_a_value_changed_without_a_new_updated_date_is_caught_by_the_sample(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, wix_site: Site[Emulator], age_key: AgeKey
) -> None:
    emulator, url = wix_site
    secret_key, recipient = age_key.identity, age_key.recipient
    seed(url, *VALUES.items())
    manifest = write_sops_manifest(tmp_path / "m.sops.yaml", VALUES, recipient)
    plan = ("plan", "--detailed-exitcode", "--value-cache", str(tmp_path / "cache"), str(manifest))
    assert cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key)).code == 0
    with emulator.store.transaction(write=True) as store:  # a Wix that changes values, not updatedDate
        for record in store.all():
            record.value = "silently-changed-" + record.name
    emulator.reset()
    caught = cli(*plan, env=wix_env(url, SOPS_AGE_KEY=secret_key))
    assert caught.code == 2, caught.out + caught.err  # the drift is shown, not hidden by the cache
    assert "value cache" in caught.err and "not trusted" in caught.err
    assert reads(emulator) == (1, 3, 0)  # one sample, then every other value
    assert CANARY not in caught.out + caught.err


def test_the_distrusted_cache_warning_reaches_the_python_api_outcome(
    tmp_path: Path, wix_site: Site[Emulator], age_key: AgeKey
) -> None:
    import reconciler

    emulator, url = wix_site
    secret_key, recipient = age_key.identity, age_key.recipient
    seed(url, *VALUES.items())
    manifest = write_sops_manifest(tmp_path / "m.sops.yaml", VALUES, recipient)
    site = reconciler.remote_site(url, site_id="site-1")
    options = reconciler.Options(value_cache=tmp_path / "cache")
    environ = {**wix_env(url, SOPS_AGE_KEY=secret_key), "HOME": str(tmp_path)}
    first = reconciler.plan_site([manifest], site, environ=environ, options=options)
    assert first.plan is not None and not first.plan.has_changes and first.warnings == []
    with emulator.store.transaction(write=True) as store:  # a Wix that changes values, not updatedDate
        for record in store.all():
            record.value = "silently-changed-" + record.name
    caught = reconciler.plan_site([manifest], site, environ=environ, options=options)
    assert caught.plan is not None and caught.plan.has_changes
    assert [w for w in caught.warnings if "value cache" in w and "not trusted" in w]
    assert CANARY not in " ".join(caught.warnings)


def test_a_re_encrypted_manifest_with_a_new_value_trusts_nothing(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, wix_site: Site[Emulator], age_key: AgeKey
) -> None:
    emulator, url = wix_site
    secret_key, recipient = age_key.identity, age_key.recipient
    seed(url, *VALUES.items())
    cache = str(tmp_path / "cache")
    first = write_sops_manifest(tmp_path / "a.sops.yaml", VALUES, recipient)
    assert cli("plan", "--value-cache", cache, str(first), env=wix_env(url, SOPS_AGE_KEY=secret_key)).code == 0
    emulator.reset()
    # encrypting again makes a new data key, hence a new cache key: every entry is void
    wanted = dict(VALUES, API_KEY="new-wanted-value")
    second = write_sops_manifest(tmp_path / "a.sops.yaml", wanted, recipient)
    result = cli(
        "plan", "--detailed-exitcode", "--value-cache", cache, str(second), env=wix_env(url, SOPS_AGE_KEY=secret_key)
    )
    assert result.code == 2, result.out + result.err
    assert reads(emulator) == (1, 3, 0)  # a new data key: nothing is trusted


def test_plaintext_manifest_warns_and_reads_everything(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, wix_site: Site[Emulator]
) -> None:
    emulator, url = wix_site
    seed(url, *VALUES.items())
    emulator.reset()
    manifest = write_manifest(tmp_path / "plain.yaml", VALUES)
    cache_dir = tmp_path / "cache"
    for _ in range(2):
        result = cli("plan", "--value-cache", str(cache_dir), str(manifest), env=wix_env(url))
        assert result.code == 0, result.out + result.err
        assert "--value-cache is unavailable for a plaintext manifest" in result.err
        assert reads(emulator) == (1, 3, 0)
    assert not cache_dir.exists()
