"""The pieces of reconciler.action that speak the runner's language: escaping, masks, outputs, inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.action import (
    ActionInputError,
    annotation,
    escape_data,
    escape_property,
    get_input,
    mask_commands,
    output_block,
    parse_bool,
    read_inputs,
    resolve_manifests,
)
from reconciler.redact import forms_of

from .gha import parse_github_output, unescape_data


def test_escape_data_and_property() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape_data("a:b,c") == "a:b,c"  # message text keeps : and ,


def test_annotation_escapes_every_part_and_drops_none() -> None:
    line = annotation("error", "bad: 50%\nsecond line", file="dir,x/a:b.yaml", line=3, col=None, title="t: x")
    assert line == "::error file=dir%2Cx/a%3Ab.yaml,line=3,title=t%3A x::bad: 50%25%0Asecond line"
    assert annotation("warning", "plain") == "::warning::plain"


def test_masks_cover_every_form_and_each_line_of_multiline_values() -> None:
    single = "s3cr3t/value+with=chars"
    multi = "-----BEGIN KEY-----\nline-one-AAAA\nline-two-BBBB\n-----END KEY-----\n"
    lines = mask_commands([single, multi, ""])
    assert all(line.startswith("::add-mask::") for line in lines)
    registered = {unescape_data(line[len("::add-mask::") :]) for line in lines}
    assert forms_of(single) | {single} <= registered
    assert {"line-one-AAAA", "line-two-BBBB", "-----BEGIN KEY-----"} <= registered
    assert all("\n" not in r and "\r" not in r for r in registered)  # the runner masks line by line
    # a value with % is escaped so the runner registers the value itself, not an unescaped variant
    assert "::add-mask::100%25-pure-value" in mask_commands(["100%-pure-value"])
    assert len(lines) == len(set(lines))


def test_output_block_is_a_heredoc_the_runner_parses_back() -> None:
    tricky = "line1\nname=value\nEOF\n<<x"
    text = output_block("summary", tricky) + output_block("n", "1")
    assert parse_github_output(text) == {"summary": tricky, "n": "1"}


def test_get_input_accepts_hyphen_and_underscore_names() -> None:
    assert get_input({"INPUT_SITE-ID": " abc "}, "site-id") == "abc"
    assert get_input({"INPUT_SITE_ID": "abc"}, "site-id") == "abc"
    assert get_input({"INPUT_SITE_ID": "  "}, "site-id", "dflt") == "dflt"
    assert get_input({}, "max-deletes") == ""


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("True", True), ("yes", True), ("false", False), ("", False)]
)
def test_parse_bool(text: str, value: bool) -> None:
    assert parse_bool(text, name="x") is value


def test_parse_bool_rejects_anything_else() -> None:
    with pytest.raises(ActionInputError, match="'prune' must be true or false"):
        parse_bool("maybe", name="prune")


def test_read_inputs_defaults_and_manifest_lists() -> None:
    inputs = read_inputs({"INPUT_MANIFEST": "a.sops.yaml b.sops.yaml\n'dir with space/c.yaml'\n\n"})
    assert inputs.command == "plan"
    assert inputs.manifests == ("a.sops.yaml", "b.sops.yaml", "dir with space/c.yaml")
    assert (inputs.prune, inputs.detailed_exitcode, inputs.max_deletes, inputs.working_directory) == (
        False,
        False,
        None,
        ".",
    )
    assert (inputs.code, inputs.allow_breaking_code, inputs.allow_mass_delete) == ((), False, False)
    assert (inputs.backup_age, inputs.no_backup, inputs.audit_log) == ((), False, "")


def test_read_inputs_code_and_backup_recipients_are_lists_like_manifest() -> None:
    import pyrage

    a, b = (str(pyrage.x25519.Identity.generate().to_public()) for _ in range(2))
    inputs = read_inputs(
        {"INPUT_MANIFEST": "m", "INPUT_CODE": "src 'my site/backend'\n**/*.web.js", "INPUT_BACKUP_AGE": f"{a}\n{b},{a}"}
    )
    assert inputs.code == ("src", "my site/backend", "**/*.web.js")
    assert inputs.backup_age == (a, b)
    # WIX_SECRETS_BACKUP_AGE is the default; the input wins; no-backup leaves it out
    assert read_inputs({"INPUT_MANIFEST": "m", "WIX_SECRETS_BACKUP_AGE": b}).backup_age == (b,)
    assert read_inputs({"INPUT_MANIFEST": "m", "INPUT_BACKUP_AGE": a, "WIX_SECRETS_BACKUP_AGE": b}).backup_age == (a,)
    off = read_inputs({"INPUT_MANIFEST": "m", "INPUT_NO_BACKUP": "true", "WIX_SECRETS_BACKUP_AGE": b})
    assert (off.no_backup, off.backup_age) == (True, ())


def test_read_inputs_never_shows_the_credentials_in_its_repr() -> None:
    inputs = read_inputs({"INPUT_MANIFEST": "m.yaml", "INPUT_API_KEY": "IST.k-secret-1", "INPUT_AGE_KEY": "AGE-X"})
    assert "IST.k-secret-1" not in repr(inputs) and "AGE-X" not in repr(inputs)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "'manifest' is required"),
        ({"INPUT_MANIFEST": "m", "INPUT_COMMAND": "import"}, "'command' must be one of"),
        ({"INPUT_MANIFEST": "m", "INPUT_MAX_DELETES": "-1"}, "'max-deletes' must be a whole number"),
        ({"INPUT_MANIFEST": "m", "INPUT_DETAILED_EXITCODE": "sometimes"}, "'detailed-exitcode'"),
        ({"INPUT_MANIFEST": "'unclosed"}, "cannot split"),
    ],
)
def test_read_inputs_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ActionInputError, match=message):
        read_inputs(env)


def test_resolve_manifests(tmp_path: Path) -> None:
    (tmp_path / "s" / "deep").mkdir(parents=True)
    for name in ("s/b.sops.yaml", "s/a.sops.yaml", "s/deep/c.sops.yaml", "s/notes.txt"):
        (tmp_path / name).write_text("x")
    assert resolve_manifests(["s/*.sops.yaml"], tmp_path) == ["s/a.sops.yaml", "s/b.sops.yaml"]
    assert resolve_manifests(["s/**/*.sops.yaml", "s/a.sops.yaml"], tmp_path) == [
        "s/a.sops.yaml",
        "s/b.sops.yaml",
        "s/deep/c.sops.yaml",
    ]
    assert resolve_manifests(["missing.yaml"], tmp_path) == ["missing.yaml"]  # the CLI reports it
    with pytest.raises(ActionInputError, match="matched no file"):
        resolve_manifests(["nothing/*.yaml"], tmp_path)
