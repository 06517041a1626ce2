"""Manifest validation: every problem at once, with file, line and a hint; never a value in a message."""

from __future__ import annotations

import textwrap

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import check_name, load_manifest
from reconciler.model import UNSET

CANARY = "CANARY-9f3e-secret-value"


def load(text: str, **kw: object) -> object:
    return load_manifest(textwrap.dedent(text).encode(), file="m.yaml", **kw)  # type: ignore[arg-type]


def problems(text: str, **kw: object) -> list[tuple[int | None, str]]:
    with pytest.raises(ManifestError) as info:
        load(text, **kw)
    assert CANARY not in str(info.value)
    return [(d.line, d.message) for d in info.value.diagnostics]


def test_a_valid_manifest_loads_with_policy_and_tombstones() -> None:
    state = load(
        """\
        version: 1
        secrets:
          API_KEY:
            value: abc
            description: the key
          NEW:
            value: "0123"
            renamed_from: [OLD]
          GONE:
            state: absent
        policy:
          prune: true
          protect: ["prod_*"]
          ignore: ["legacy_*"]
        """
    )
    names = {s.name: s for s in state.secrets}  # type: ignore[attr-defined]
    assert names["API_KEY"].value.reveal() == "abc"
    assert names["API_KEY"].description == "the key"
    assert names["NEW"].description is UNSET
    assert names["NEW"].renamed_from == ("OLD",)
    assert names["GONE"].state == "absent" and names["GONE"].value is None
    assert state.policy.prune and state.policy.protect == ("prod_*",)  # type: ignore[attr-defined]
    assert names["API_KEY"].line == 3


def test_every_problem_is_reported_at_once_with_lines() -> None:
    found = problems(
        f"""\
        version: 2
        secrets:
          good:
            value: {CANARY}
          wixThing:
            value: x
          bad name:
            value: x
          numeric:
            value: 0123
          boolish:
            value: yes
          sci:
            value: 1e3
          toolong:
            value: x
            description: {"d" * 201}
          novalue:
            description: nothing
          extra:
            value: x
            colour: blue
        polcy: {{}}
        """
    )
    text = "\n".join(msg for _, msg in found)
    assert "version must be 1" in text
    assert "starts with 'wix'" in text
    assert "contains ' '" in text
    assert "value of numeric is read as an integer" in text
    assert "YAML 1.1 tools read as a boolean" in text
    assert "value of sci is read as a number" in text
    assert "description is longer than 200" in text
    assert "novalue has no value" in text
    assert "unknown key 'colour'" in text
    assert "unknown key 'polcy'" in text
    assert len(found) >= 10
    assert all(line is not None for line, _ in found)
    assert [line for line, msg in found if "numeric" in msg] == [10]
    assert [line for line, msg in found if "colour" in msg] == [22]


def test_duplicate_keys_are_errors_with_both_lines() -> None:
    found = problems(
        """\
        version: 1
        secrets:
          A:
            value: one
          A:
            value: two
        """
    )
    assert found == [(5, "duplicate key 'A' (first defined on line 3)")]


def test_case_only_duplicates_are_refused() -> None:
    found = problems("version: 1\nsecrets:\n  Token:\n    value: a\n  TOKEN:\n    value: b\n")
    assert any("differ only by case" in m for _, m in found)


def test_still_encrypted_values_are_refused() -> None:
    found = problems("version: 1\nsecrets:\n  A:\n    value: ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\n")
    assert found == [(4, "the value of A is still SOPS-encrypted text")]


def test_aliases_are_refused() -> None:
    found = problems("version: 1\nsecrets:\n  A: &x\n    value: a\n  B: *x\n")
    assert any("aliases" in m for _, m in found)


def test_value_length_limits_and_empty_values() -> None:
    found = problems(f'version: 1\nsecrets:\n  A:\n    value: "{"x" * 3501}"\n  B:\n    value: ""\n')
    text = " ".join(m for _, m in found)
    assert "3501 characters long; Wix allows at most 3500" in text
    assert "the value of B is empty" in text
    assert len(found) == 2


def test_value_from_env_and_file(tmp_path: object) -> None:
    files = {"key.txt": b"from-file\n"}
    state = load(
        """\
        version: 1
        secrets:
          A:
            value_from: {env: MY_A}
          B:
            value_from: {file: key.txt}
        """,
        environ={"MY_A": "from-env"},
        read_file=lambda p: files[p],
    )
    values = {s.name: s.value.reveal() for s in state.secrets}  # type: ignore[attr-defined]
    assert values == {"A": "from-env", "B": "from-file"}


def test_value_from_missing_sources_are_reported() -> None:
    def missing(path: str) -> bytes:
        raise FileNotFoundError(2, "No such file or directory")

    found = problems(
        "version: 1\nsecrets:\n  A:\n    value_from: {env: NOPE}\n  B:\n    value_from: {file: x.txt}\n",
        environ={},
        read_file=missing,
    )
    assert [m for _, m in found] == [
        "environment variable NOPE is not set",
        "cannot read x.txt: No such file or directory",
    ]


def test_declared_secret_matching_ignore_is_an_error() -> None:
    found = problems("version: 1\nsecrets:\n  legacy_a:\n    value: a\npolicy:\n  ignore: [legacy_*]\n")
    assert any("policy.ignore" in m for _, m in found)


def test_syntax_errors_give_a_line_and_no_snippet() -> None:
    found = problems(f"version: 1\nsecrets:\n  A:\n    value: [{CANARY}\n")
    assert found and found[0][0] is not None and "YAML syntax error" in found[0][1]


def test_tombstone_with_other_fields_is_an_error() -> None:
    found = problems("version: 1\nsecrets:\n  A:\n    state: absent\n    value: x\n")
    assert any("tombstone" in m or "absent" in m for _, m in found)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("API_KEY", True),
        ("a+b=c-d@e#f$g", True),
        ("x" * 50, True),
        ("x" * 51, False),
        ("WiXy", False),
        ("has space", False),
        ("", False),
        ("naïve", False),
    ],
)
def test_name_rules(name: str, ok: bool) -> None:
    assert (check_name(name) is None) is ok


def test_an_explicit_str_tag_makes_a_string() -> None:
    state = load("version: 1\nsecrets:\n  A:\n    value: !!str 0123\n  B:\n    value: !!str 1e3\n")
    assert {s.name: s.value.reveal() for s in state.secrets} == {"A": "0123", "B": "1e3"}  # type: ignore[attr-defined]


def test_renamed_from_a_name_that_is_also_declared_is_refused_like_terraform_moved() -> None:
    # issue 13.2: apply renamed good_one away, created it again and reported a false partial failure
    found = problems(
        """\
        version: 1
        secrets:
          good_one:
            value: a
          new_one:
            value: b
            renamed_from: [good_one]
          OLD:
            state: absent
          NEWER:
            value: c
            renamed_from: [OLD]
        """
    )
    assert found == [
        (7, "good_one is renamed to new_one but is also declared (line 3)"),
        (12, "OLD is renamed to NEWER but is also declared (line 8)"),
    ]


def test_a_case_only_rename_is_valid() -> None:
    state = load(
        "version: 1\nsecrets:\n  WEBHOOK_SIGNING_SECRET:\n    value: v\n    renamed_from: [webhook_signing_secret]\n"
    )
    assert state.secrets[0].renamed_from == ("webhook_signing_secret",)  # type: ignore[attr-defined]


def test_structural_problems_do_not_stop_the_other_checks() -> None:
    # issue 13.5: a duplicate key or an alias stopped validate after those two problems
    found = problems(
        """\
        version: 1
        secrets:
          A:
            value: x
          A:
            value: y
          B:
            value: &anchor v
          C:
            value: *anchor
          D:
            value: yes
          wix_bad:
            value: v
          E:
            nope: 1
        """
    )
    assert found == [
        (5, "duplicate key 'A' (first defined on line 3)"),
        (10, "YAML aliases (*name) are not allowed in a manifest"),  # and not also "C is read as null"
        (12, "value of D is an unquoted word that YAML 1.1 tools read as a boolean"),
        (13, "name 'wix_bad' starts with 'wix', which Wix reserves (in any case)"),
        (15, "E has no value"),
        (16, "unknown key 'nope' in secrets.E; allowed: description, max_age, renamed_from, state, value, value_from"),
    ]


def test_each_schema_problem_is_reported_once() -> None:
    # issue 13.6: "missing required key 'version'" and "... 'secrets'" were each printed twice
    assert problems("foo: 1\n") == [
        (1, "the document is missing required key 'version'"),
        (1, "the document is missing required key 'secrets'"),
        (1, "unknown key 'foo' in the document; allowed: policy, secrets, sops, version"),
    ]


def test_a_saved_plan_given_as_a_manifest_is_recognised() -> None:
    plan = '{\n  "kind": "wix-secrets-plan",\n  "format_version": "1",\n  "changes": []\n}\n'
    with pytest.raises(ManifestError) as info:
        load_manifest(plan.encode(), file="plan.json")
    [d] = info.value.diagnostics
    assert (d.file, d.line, d.message) == ("plan.json", 2, "this is a saved plan, not a manifest")
    assert d.hint is not None and "wix-secrets apply plan.json" in d.hint


@pytest.mark.parametrize(
    "body",
    [
        "secrets:\n  A: {value: x, renamed_from: 1}\n",
        "policy: {protect: 1, ignore: true}\nsecrets:\n  A: {value: x}\n",
    ],
)
def test_a_list_field_of_the_wrong_type_is_a_diagnostic_not_a_traceback(body: str) -> None:
    # found by test_fuzz_manifests: `renamed_from: 1` used to raise TypeError ('int' is not iterable)
    found = problems("version: 1\n" + body)
    assert found and all(line is not None for line, _ in found)
