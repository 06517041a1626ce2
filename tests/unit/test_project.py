"""The project file: parsing, validation with line numbers, defaults, selection, per-site environment."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from reconciler.errors import ManifestError, UsageError
from reconciler.project import find_project, load_project, parse_project, select_sites, site_environ
from reconciler.schema import load_schema

GOOD = textwrap.dedent(
    """\
    version: 1
    defaults:
      manifests: [common.yaml]
      credentials:
        api_key_env: WIX_KEY_DEFAULT
      environment: production
    sites:
      - name: shop
        site_id: 1111
        manifests: [shop.yaml]
      - name: blog
        site_id: "2222"
        manifests: [common.yaml, blog.yaml]
        credentials: {api_key_env: BLOG_KEY}
      - name: app
        environment: staging
        manifests: [app.yaml]
        credentials: {client_id_env: APP_ID, client_secret_env: APP_SECRET, instance_id_env: APP_INSTANCE}
      - name: local-one
        local: sites/local.json
        manifests: [local.yaml]
    """
)


def parse(text: str, base: Path = Path("/p")) -> object:
    return parse_project(text.encode(), file="wix-secrets.yaml", base=base)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema("project"))
    jsonschema.Draft202012Validator.check_schema(load_schema("project-result"))
    jsonschema.Draft202012Validator.check_schema(load_schema("audit"))


def test_defaults_are_inherited_and_paths_resolved() -> None:
    text = GOOD.replace("site_id: 1111", 'site_id: "1111"')
    project = parse_project(text.encode(), file="wix-secrets.yaml", base=Path("/p"))
    shop, blog, app, local = project.sites
    assert shop.manifests == ("/p/common.yaml", "/p/shop.yaml")
    assert blog.manifests == ("/p/common.yaml", "/p/blog.yaml")  # listed twice, loaded once
    assert shop.credentials.api_key_env == "WIX_KEY_DEFAULT" and blog.credentials.api_key_env == "BLOG_KEY"
    assert shop.environment == "production" and app.environment == "staging"
    assert local.local == "/p/sites/local.json" and local.api_url is None


def test_every_problem_is_reported_with_its_line() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        sites:
          - name: shop
            site_id: 1111
            manifests: [a.yaml]
            credentials: {api_key_env: KEY, token: x}
          - name: Shop
            manifests: []
          - name: "bad name"
            manifests: [b.yaml]
        """
    )
    with pytest.raises(ManifestError) as info:
        parse(text)
    messages = {(d.line, d.path, d.message) for d in info.value.diagnostics}
    assert (4, "sites.0.site_id", "sites.0.site_id must be a string") in messages
    assert any(line == 6 and "unknown key 'token'" in m for line, _, m in messages)
    assert any(path == "sites.2.name" and "not allowed" in m for _, path, m in messages)


def test_semantic_problems_duplicate_names_missing_credentials() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        sites:
          - name: shop
            manifests: [a.yaml]
            credentials: {api_key_env: KEY}
          - name: SHOP
            site_id: x
            manifests: []
          - name: both
            local: l.json
            api_url: https://example.com
            manifests: [a.yaml]
        """
    )
    with pytest.raises(ManifestError) as info:
        parse(text)
    text_all = "\n".join(d.format() for d in info.value.diagnostics)
    assert "has an API key but no site_id or site_id_env" in text_all
    assert "'SHOP' is used twice" in text_all
    assert "'SHOP' has no manifest" in text_all
    assert "'SHOP' names no complete credentials" in text_all
    assert "both local and api_url" in text_all


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(ManifestError):
        parse("version: 1\nversion: 1\nsites: []\n")


def test_select_sites() -> None:
    project = parse_project(GOOD.replace("site_id: 1111", 'site_id: "1"').encode(), file="f", base=Path("/p"))
    assert [s.name for s in select_sites(project, [], all_sites=True)] == ["shop", "blog", "app", "local-one"]
    assert [s.name for s in select_sites(project, ["BLOG", "shop"], all_sites=False)] == ["shop", "blog"]
    with pytest.raises(UsageError, match="unknown site: nope"):
        select_sites(project, ["nope"], all_sites=False)
    with pytest.raises(UsageError, match="choose one"):
        select_sites(project, ["shop"], all_sites=True)
    with pytest.raises(UsageError, match="no site chosen"):
        select_sites(project, [], all_sites=False)


def test_site_environ_maps_named_variables_and_drops_the_process_ones() -> None:
    project = parse_project(GOOD.replace("site_id: 1111", 'site_id: "1111"').encode(), file="f", base=Path("/p"))
    shop, blog, app, local = project.sites
    process = {
        "WIX_API_KEY": "process-key",
        "WIX_SITE_ID": "process-site",
        "WIX_KEY_DEFAULT": "k1",
        "BLOG_KEY": "k2",
        "APP_ID": "id",
        "APP_SECRET": "s",
        "PATH": "/bin",
    }
    env, missing = site_environ(shop, process)
    assert env["WIX_API_KEY"] == "k1" and env["WIX_SITE_ID"] == "1111" and env["PATH"] == "/bin" and not missing
    env, missing = site_environ(blog, process)
    assert env["WIX_API_KEY"] == "k2" and env["WIX_SITE_ID"] == "2222"
    env, missing = site_environ(app, process)
    assert "WIX_API_KEY" not in env and env["WIX_CLIENT_ID"] == "id" and missing == ["APP_INSTANCE"]
    env, missing = site_environ(local, process)
    assert env["WIX_LOCAL_SITE"] == "/p/sites/local.json" and "WIX_API_KEY" not in env and not missing


def test_find_project_walks_up(tmp_path: Path) -> None:
    text = "version: 1\nsites:\n  - {name: a, local: a.json, manifests: [a.yaml]}\n"
    (tmp_path / "wix-secrets.yaml").write_text(text)
    deep = tmp_path / "x" / "y"
    deep.mkdir(parents=True)
    assert find_project(deep) == tmp_path / "wix-secrets.yaml"
    assert load_project(find_project(deep)).names() == ["a"]
    with pytest.raises(UsageError, match="no such project file"):
        find_project(deep, "missing.yaml")


def test_the_example_project_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    project = load_project(root / "examples" / "project" / "wix-secrets.yaml")
    assert len(project.sites) == 3
    for site in project.sites:
        assert site.manifests[0].endswith("common.yaml") and all(Path(m).is_file() for m in site.manifests)
    assert json.dumps([s.name for s in project.sites])
