"""Markdown/HTML injection through the CLI (issue 10.7): a manifest (a pull request writes it) with
secret names and a file name made of Markdown and HTML cannot put an image, a link, HTML or a table
row into ``--markdown`` / ``--markdown-file``, and the text stays readable."""

from __future__ import annotations

import html
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

IMG = "<img src=x onerror=alert(1)>"
LINK = "[approve](https://evil.example/x)"
PIXEL = "![px](https://evil.example/p.png)"


def readable(markdown: str) -> str:
    """The text a CommonMark renderer shows (backslash escapes and entities undone)."""
    text = re.sub(r"</?code>", "", markdown)
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text))


def assert_inert(markdown: str) -> None:
    assert "<img" not in markdown
    assert "](" not in markdown
    assert "://" not in markdown
    assert "<script" not in markdown


@pytest.mark.parametrize("where", ["--markdown", "--markdown-file"])
def test_invalid_names_made_of_markdown_and_html_are_escaped_in_the_error_markdown(
    cli: Any, tmp_path: Path, where: str
) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            secrets:
              "{IMG}":
                value: v1
              "{LINK}":
                value: v2
              "{PIXEL}":
                value: v3
              "a|b`c":
                value: v4
            """
        ),
        encoding="utf-8",
    )
    out_file = tmp_path / "summary.md"
    flags = ["--markdown"] if where == "--markdown" else ["--markdown-file", str(out_file)]
    result = cli("plan", "--local", str(tmp_path / "site.json"), *flags, str(manifest))
    assert result.code == 1
    markdown = result.out if where == "--markdown" else out_file.read_text(encoding="utf-8")
    assert "4 problems found" in markdown
    assert_inert(markdown)
    # one bullet per problem: no name broke out of its line
    assert len([line for line in markdown.splitlines() if line.startswith("- ")]) == 4
    shown = readable(markdown)
    for name in (IMG, LINK, PIXEL, "a|b`c"):
        assert f"name '{name}'" in shown
    assert not (tmp_path / "site.json").exists()


def test_a_manifest_file_name_made_of_markdown_is_escaped_in_the_plan_markdown(cli: Any, tmp_path: Path) -> None:
    name = f"{IMG}{LINK}"
    manifest = tmp_path / f"{name.replace('/', '_')}.yaml"
    manifest.write_text("version: 1\nsecrets:\n  A_SECRET:\n    value: some-value-1\n", encoding="utf-8")
    result = cli("plan", "--local", str(tmp_path / "site.json"), "--markdown", str(manifest))
    assert result.code in (0, 2), result.err
    assert "`A_SECRET`" in result.out
    assert_inert(result.out)
    assert manifest.name in readable(result.out)
