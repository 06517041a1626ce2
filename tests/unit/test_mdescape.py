"""Markdown escaping (issue 10.7): text the tool did not write renders as itself and forms no markup.

``rendered`` undoes exactly what a CommonMark renderer undoes (backslash escapes of ASCII punctuation,
HTML entities, the ``<code>`` wrapper), so "readable" is checked as "renders back to the original"."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.render.mdescape import md_code, md_fenced, md_text

ATTACKS = [
    "<img src=x onerror=alert(1)>",
    "[approve](https://evil.example/x)",
    "![px](https://evil.example/p.png)",
    "<script>alert(1)</script>",
    "a|b\nc\r\n| --- |",
    "`code` and ``more``",
    "**bold** _em_ ~~strike~~",
    "# heading",
    "- item",
    "1. first",
    "> quote",
    "@admin please merge #12",
    "https://evil.example and www.evil.example",
    "$x^2$ math",
    "&lt;img&gt; already an entity",
    "back\\slash\\",
    "<!-- hidden -->",
]


def rendered(markdown: str) -> str:
    """What a CommonMark renderer shows for our escaped inline text (code wrapper dropped)."""
    text = re.sub(r"^<code>(.*)</code>$", r"\1", markdown)
    if text.startswith("`") and text.endswith("`"):
        return text[1:-1]
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    return html.unescape(text)


def flattened(text: str) -> str:
    return re.sub(r"[\r\n\u0085\u2028\u2029\v\f]+", " ", text).replace("\t", " ")


def assert_inert(markdown: str) -> None:
    assert "\n" not in markdown and "\r" not in markdown
    if markdown.startswith("`"):  # a plain code span: literal, and nothing in it can end it or a cell
        assert markdown.endswith("`") and "`" not in markdown[1:-1]
        assert not set("<>&|[]()!") & set(markdown), markdown
        return
    bare = markdown.removeprefix("<code>").removesuffix("</code>")
    assert "<" not in bare and ">" not in bare
    assert "](" not in bare
    assert "://" not in bare
    # every "|", "[", "]", "(", ")", "!", "`", "*", "_" is escaped (after an odd run of backslashes)
    for match in re.finditer(r"(\\*)([|\[\]()!`*_])", bare):
        assert len(match.group(1)) % 2 == 1, (markdown, match.group(0))


def test_attacks_are_inert_and_render_as_the_original_text() -> None:
    for attack in ATTACKS:
        text = md_text(attack)
        assert_inert(text)
        assert rendered(text) == flattened(attack), (attack, text)
        code = md_code(attack)
        assert_inert(code)
        assert rendered(code) == flattened(attack), (attack, code)


def test_plain_names_and_paths_stay_plain_code_spans() -> None:
    assert md_code("STRIPE_API_KEY") == "`STRIPE_API_KEY`"
    assert md_code("secrets/shop.sops.yaml:5:3") == "`secrets/shop.sops.yaml:5:3`"
    assert md_text("m.yaml: 2 problems found") == "m.yaml: 2 problems found"
    # anything a code span cannot carry (backticks, |, HTML, line breaks) is not put in one
    for hostile in ("a`b", "a|b", "<b>", "a\nb", "[a](b)"):
        assert md_code(hostile).startswith("<code>"), hostile


def test_line_start_markup_is_escaped() -> None:
    assert md_text("- x") == "\\- x"
    assert md_text("+ x") == "\\+ x"
    assert md_text("12. x") == "12\\. x"
    assert md_text("3) x") == "3\\) x"
    assert md_text("# x") == "\\# x"
    assert md_text("a-b 1. c") == "a-b 1. c"  # only at the start of the line


def test_a_fenced_block_cannot_be_closed_by_its_content() -> None:
    block = md_fenced("line one\n```\n<img src=x>\n`````` more")
    lines = block.splitlines()
    fence = lines[0]
    assert set(fence) == {"`"} and len(fence) == 7 and lines[-1] == fence
    assert all(not line.startswith(fence) for line in lines[1:-1])
    assert lines[1:-1] == ["line one", "```", "<img src=x>", "`````` more"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_renders_back_and_forms_no_markup(text: str) -> None:
    escaped = md_text(text)
    assert "\n" not in escaped and "<" not in escaped and "](" not in escaped.replace("\\](", "")
    expected = re.sub(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]", "\ufffd", flattened(text))
    assert rendered(escaped) == expected
    code = md_code(text)
    assert rendered(code) == expected


def test_a_plan_with_hostile_names_paths_site_and_server_errors_renders_inert_markdown() -> None:
    # every piece of text render_markdown did not write: a site secret's name (the server chooses it),
    # a rename source, the site label, the manifest path, a server error message, a delete reason
    from reconciler.executor import ApplyResult, ItemResult
    from reconciler.model import DesiredSecret, DesiredState, Policy, RemoteSecret, RemoteState, Sensitive
    from reconciler.plan import Action, make_plan
    from reconciler.render import RunInfo
    from reconciler.render.markdown import render_markdown

    hostile = "<img src=x onerror=alert(1)>[approve](https://evil.example)|`x`\n# done"
    ts = "2024-01-01T00:00:00.000Z"
    site = RemoteState(
        (
            RemoteSecret("00000000-0000-4000-8000-000000000001", hostile, "", ts, ts),
            RemoteSecret("00000000-0000-4000-8000-000000000002", "OLD_NAME", "", ts, ts),
        ),
        {},
    )
    state = DesiredState(
        secrets=(DesiredSecret("NEW_NAME", Sensitive("v"), renamed_from=("OLD_NAME",)),),
        policy=Policy(prune=True),
    )
    plan = make_plan(state, site, prune=True)
    deleted = plan.of(Action.DELETE)
    assert [c.name for c in deleted] == [hostile]
    result = ApplyResult(tuple(ItemResult(c, "failed", error=f"Wix said: {hostile}") for c in plan.changes))
    info = RunInfo("apply", (f"{hostile}.yaml",), site_id=hostile)
    markdown = render_markdown(plan, info, result)
    assert "<img" not in markdown and "](" not in markdown and "<!--" not in markdown
    assert "https://" not in markdown and "\n# done" not in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len([c for c in plan.changes if c.action.is_change])
    cells = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
    assert cells == {6}, table  # no row gained or lost a column
    # still readable: the hostile text, as a renderer shows it, is in the rendered summary
    assert flattened(hostile) in rendered(md_text(hostile))
    assert md_code(hostile) in markdown and md_text(hostile) in markdown


def test_a_marker_cannot_close_its_html_comment() -> None:
    from reconciler.render.mdescape import md_comment

    assert md_comment("wix-secrets:plan:site_1") == "<!-- wix-secrets:plan:site_1 -->"
    for hostile in ("x --> <img src=x onerror=alert(1)>", "a--!>b", "a\n-->\n# title", "--->", "a->b"):
        comment = md_comment(hostile)
        inner = comment.removeprefix("<!-- ").removesuffix(" -->")
        assert "--" not in inner and ">" not in inner and "\n" not in inner, comment
        assert not inner.startswith("-") and not inner.endswith("-")
