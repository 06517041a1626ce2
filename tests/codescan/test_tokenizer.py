"""The tokenizer's contract: token kinds, string values, positions, and what it drops."""

from __future__ import annotations

import pytest

from reconciler.codescan.tokenizer import (
    IDENT,
    NUMBER,
    PUNCT,
    REGEX,
    STRING,
    TEMPLATE,
    TEMPLATE_HEAD,
    TEMPLATE_MIDDLE,
    TEMPLATE_TAIL,
    tokenize,
)


def kinds(text: str) -> list[tuple[int, str]]:
    toks = tokenize(text)
    return [(toks.kind[i], toks.raw(i)) for i in range(len(toks))]


def test_comments_are_dropped_and_strings_are_single_tokens() -> None:
    assert kinds("a // x 'y\nb /* c\n d */ 'e\\'f' \"g\"") == [
        (IDENT, "a"),
        (IDENT, "b"),
        (STRING, "'e\\'f'"),
        (STRING, '"g"'),
    ]


def test_templates_nest() -> None:
    assert kinds("`a${ `b${c}d` }e${f}g`") == [
        (TEMPLATE_HEAD, "`a${"),
        (TEMPLATE_HEAD, "`b${"),
        (IDENT, "c"),
        (TEMPLATE_TAIL, "}d`"),
        (TEMPLATE_MIDDLE, "}e${"),
        (IDENT, "f"),
        (TEMPLATE_TAIL, "}g`"),
    ]
    assert kinds("`x${ {a: 1} }y`")[-1] == (TEMPLATE_TAIL, "}y`")  # an object literal's braces inside


@pytest.mark.parametrize(
    ("text", "regex"),
    [
        ("x = /a/g", True),
        ("return /a/", True),
        ("(/a/)", True),
        ("[/a/]", True),
        ("if (x) /a/.test(y)", True),
        ("} /a/.test(y)", True),
        ("`${/a/}`", True),
        ("a / b / c", False),
        ("f(x) / 2 / 3", False),
        ("a[0] / 2 / 3", False),
        ("i++ / 2 / 3", False),
        ("1 / 2 / 3", False),
        ("'s' / 2 / 3", False),
        ("x.return / 2 / 3", False),
    ],
)
def test_regex_or_division(text: str, regex: bool) -> None:
    assert any(k == REGEX for k, _ in kinds(text)) is regex


def test_string_values_and_positions() -> None:
    toks = tokenize("x('a\\u0062\\x63\\n', `d\\`e`, 'f\\\ng')\n  y")
    values = [toks.string(i) for i in range(len(toks)) if toks.kind[i] in (STRING, TEMPLATE)]
    assert values == ["abc\n", "d`e", "fg"]
    last = len(toks) - 1
    assert toks.ident(last) == "y" and toks.position(last) == (3, 3)
    assert toks.position(len(toks)) == (3, 4)  # past the end: the end of the text
    assert toks.string(0) is None  # an identifier has no string value
    assert tokenize("'open").string(0) is None  # an unterminated string has none either


def test_numbers_punctuators_and_escaped_identifiers() -> None:
    assert kinds("a?.b ?? c?.5:1 ... => 1e3 .5") == [
        (IDENT, "a"),
        (PUNCT, "?."),
        (IDENT, "b"),
        (PUNCT, "??"),
        (IDENT, "c"),
        (PUNCT, "?"),
        (NUMBER, ".5"),
        (PUNCT, ":"),
        (NUMBER, "1"),
        (PUNCT, "..."),
        (PUNCT, "=>"),
        (NUMBER, "1e3"),
        (NUMBER, ".5"),
    ]
    toks = tokenize("\\u0061bc")
    assert toks.ident(0) == "abc"
