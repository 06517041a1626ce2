"""The manifest fields of code-aware plans and secret age: policy.code, code_dynamic_names, max_age."""

from __future__ import annotations

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifest, merge_states
from reconciler.project import parse_project


def load(text: str, file: str = "secrets/m.yaml"):  # type: ignore[no-untyped-def]
    return load_manifest(text.encode(), file=file)


def test_policy_fields_are_read_with_the_file_they_come_from() -> None:
    state = load(
        "version: 1\nsecrets:\n  A:\n    value: x\n    max_age: 2w\n"
        "policy:\n  code: [../src, 'src/**/*.web.js']\n  code_dynamic_names: ['X_*']\n  max_age: 90d\n"
    )
    assert state.policy.code == (("../src", "secrets/m.yaml"), ("src/**/*.web.js", "secrets/m.yaml"))
    assert state.policy.code_dynamic_names == ("X_*",)
    assert state.policy.max_age == 90 * 86400
    assert state.secrets[0].max_age == 14 * 86400
    plain = load("version: 1\nsecrets:\n  A:\n    value: x\n")
    assert plain.policy.code == () and plain.policy.code_dynamic_names is None and plain.policy.max_age is None
    empty = load("version: 1\nsecrets: {}\npolicy:\n  code_dynamic_names: []\n")
    assert empty.policy.code_dynamic_names == ()


@pytest.mark.parametrize(
    ("snippet", "where"),
    [
        ("secrets:\n  A:\n    value: x\n    max_age: 90 days\n", "secrets.A.max_age"),
        ("secrets:\n  A:\n    value: x\npolicy:\n  max_age: 0d\n", "policy.max_age"),
        ("secrets:\n  A:\n    value: x\npolicy:\n  code: src\n", "policy.code"),
        ("secrets:\n  A:\n    value: x\npolicy:\n  code: ['']\n", "policy.code.0"),
        ("secrets:\n  A:\n    state: absent\n    max_age: 9d\n", "secrets.A"),
    ],
)
def test_bad_fields_are_reported_with_their_line(snippet: str, where: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load("version: 1\n" + snippet)
    assert any(d.path == where and d.line is not None for d in caught.value.diagnostics), caught.value.diagnostics


def test_merging_manifests() -> None:
    base = load("version: 1\nsecrets: {}\npolicy:\n  code: [src]\n  max_age: 90d\n", "base.yaml")
    site = load(
        "version: 1\nsecrets: {}\npolicy:\n  code: [lib]\n  code_dynamic_names: [A]\n  max_age: 30d\n", "s.yaml"
    )
    merged = merge_states([base, site])
    assert merged.policy.code == (("src", "base.yaml"), ("lib", "s.yaml"))
    assert merged.policy.code_dynamic_names == ("A",) and merged.policy.max_age == 30 * 86400
    assert merge_states([base, base]).policy.code_dynamic_names is None


def test_project_code_per_site(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (
        "version: 1\ndefaults:\n  code: [shared]\nsites:\n"
        "  - name: shop\n    local: s.json\n    manifests: [m.yaml]\n    code: [src/backend]\n"
        "  - name: blog\n    local: b.json\n    manifests: [m.yaml]\n"
    )
    project = parse_project(text.encode(), file="wix-secrets.yaml", base=tmp_path)
    shop, blog = project.sites
    assert shop.code == ("shared", "src/backend") and shop.code_base == str(tmp_path)
    assert blog.code == ("shared",)
    with pytest.raises(ManifestError):
        parse_project(text.replace("code: [src/backend]", "code: src").encode(), file="p.yaml", base=tmp_path)
