"""The multi-site example as shipped, and site options with --all/--site (issue 13, item 15).

``examples/project`` must work from a fresh checkout with no account (its sites are ``local:``);
``--local``/``--site-id`` with several sites are usage errors, ``--api-url``/``WIX_API_URL`` apply to
every chosen site, and ``wix-secrets sites`` says where each site is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from support import EmulatorSites, listing

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "project"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of examples/project (tracked files only: no demo-*.json left from a run)."""
    target = tmp_path / "project"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("demo-*"))
    return target


def test_the_example_plans_and_applies_without_an_account(cli: Any, project: Path) -> None:
    planned = cli("plan", "--all", "--detailed-exitcode", cwd=project)  # no credential in the environment
    assert planned.code == 2, planned.out + planned.err
    assert "Summary of 3 site(s): 3 with changes, 0 failed." in planned.out
    assert "missing credentials" not in planned.out + planned.err
    applied = cli("apply", "--all", "--auto-approve", cwd=project)
    assert applied.code == 0, applied.out + applied.err
    for name in ("shop", "blog", "shop-staging"):
        site = project / f"demo-{name}.json"
        assert site.is_file() and site.stat().st_mode & 0o777 == 0o600
    again = cli("plan", "--all", "--detailed-exitcode", cwd=project)
    assert again.code == 0, again.out
    assert "Summary of 3 site(s): 0 with changes, 0 failed." in again.out


def test_the_examples_tracked_files_do_not_include_site_files() -> None:
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "examples/project/demo-*.json" in ignore


def test_sites_lists_where_each_site_is(cli: Any, project: Path) -> None:
    listed = cli("sites", cwd=project)
    assert listed.code == 0
    assert "shop [production]: local demo-shop.json (emulated; no credentials used)" in listed.out
    assert "$None" not in listed.out
    # without the local: lines, the Wix-app site says where its instance comes from
    text = (project / "wix-secrets.yaml").read_text()
    (project / "wix-secrets.yaml").write_text("\n".join(ln for ln in text.splitlines() if "local: demo-" not in ln))
    real = cli("sites", cwd=project)
    assert real.code == 0, real.err
    assert "shop [production]: site 11111111-1111-4111-8111-111111111111;" in real.out
    assert "shop-staging [staging]: Wix app instance (from $STAGING_WIX_INSTANCE_ID);" in real.out
    assert "None" not in real.out


def test_local_with_several_sites_is_a_usage_error(cli: Any, project: Path) -> None:
    for argv, env in ((["--local", "x.json"], {}), ([], {"WIX_LOCAL_SITE": "x.json"})):
        result = cli("plan", "--all", *argv, env=env, cwd=project)
        assert result.code == 1
        flag = "--local" if argv else "WIX_LOCAL_SITE"
        assert f"{flag} names one site, but 3 sites are chosen (shop, blog, shop-staging)" in result.err
        assert not (project / "x.json").exists()
    site_id = cli("plan", "--site", "shop", "--site", "blog", "--site-id", "abc", cwd=project)
    assert site_id.code == 1 and "--site-id names one site, but 2 sites are chosen" in site_id.err


def test_local_with_one_site_uses_that_file(cli: Any, project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.json"
    result = cli("apply", "--site", "blog", "--local", str(other), "--auto-approve", cwd=project)
    assert result.code == 0, result.out + result.err
    assert f"local {other}" in result.out
    assert other.is_file() and not (project / "demo-blog.json").exists()


def test_api_url_and_wix_api_url_apply_to_every_site(cli: Any, tmp_path: Path, emulator_site: EmulatorSites) -> None:
    """Both sites are `local:` in the project file; --api-url sends both to the server instead. (One
    emulator holds one site, so the two sites' manifests declare different names.)"""
    _, url = emulator_site()  # any API key is accepted
    (tmp_path / "a.yaml").write_text("version: 1\nsecrets:\n  A_KEY:\n    value: one\n")
    (tmp_path / "b.yaml").write_text("version: 1\nsecrets:\n  B_KEY:\n    value: two\n")
    (tmp_path / "wix-secrets.yaml").write_text(
        "version: 1\nsites:\n"
        "  - {name: a, site_id: site-a, manifests: [a.yaml], local: a.json, credentials: {api_key_env: A_KEY_VAR}}\n"
        "  - {name: b, site_id: site-b, manifests: [b.yaml], local: b.json, credentials: {api_key_env: B_KEY_VAR}}\n"
    )
    env = {"A_KEY_VAR": "k1", "B_KEY_VAR": "k2"}
    applied = cli("apply", "--all", "--auto-approve", "--api-url", url, env=env, cwd=tmp_path)
    assert applied.code == 0, applied.out + applied.err
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()  # not the local: files
    assert sorted(listing(url, api_key="k1", site_id="s")) == ["A_KEY", "B_KEY"]
    again = cli("plan", "--all", "--detailed-exitcode", "--json", env={**env, "WIX_API_URL": url}, cwd=tmp_path)
    assert again.code == 0, again.out + again.err
    doc = json.loads(again.out)
    assert [s["site"]["api_url"] for s in doc["sites"]] == [url, url]
    missing = cli("plan", "--all", "--api-url", url, cwd=tmp_path)  # the credentials the file names are needed
    assert missing.code == 1 and "missing credentials: A_KEY_VAR not set" in missing.out


def test_local_and_api_url_together_are_refused(cli: Any, project: Path) -> None:
    result = cli("plan", "--site", "shop", "--local", "a.json", "--api-url", "http://127.0.0.1:9", cwd=project)
    assert result.code == 1 and "--local and --api-url both given" in result.err
