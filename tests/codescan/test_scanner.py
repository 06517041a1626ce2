"""The scanner: every reference form of both API generations, dynamic references, and what must not count.

Expected positions are found in the sources by searching for the argument's text, so the tests say
*which* literal is the reference; columns are 1-based characters, as editors and GitHub show them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.codescan import scan_texts
from reconciler.codescan.scanner import CodeReference, display_safe, scan_source

CORPUS = Path(__file__).parent / "corpus"


def at(text: str, needle: str) -> tuple[int, int]:
    """(line, column) where ``needle`` starts; it must occur exactly once."""
    assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times"
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def refs(text: str, path: str = "src/backend/x.js") -> list[tuple[str | None, str]]:
    return [(r.name, r.api) for r in scan_source(text, path)]


def names(text: str) -> list[str | None]:
    return [r.name for r in scan_source(text, "x.js")]


def corpus(name: str) -> tuple[str, list[CodeReference]]:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return text, scan_source(text, f"src/backend/{name}")


# ---------------------------------------------------------------- the corpus, file by file


def test_velo_v1_web_module() -> None:
    text, found = corpus("velo_v1_payments.web.js")
    assert [(r.name, r.api, (r.line, r.column)) for r in found] == [
        ("stripe_live_key", "getSecret", at(text, '"stripe_live_key");')),
        ("stripe_webhook_secret", "getSecret", at(text, "'stripe_webhook_secret'")),
    ]
    assert found[0].location == "src/backend/velo_v1_payments.web.js:15:31"


def test_velo_v2_elevated_and_const() -> None:
    text, found = corpus("velo_v2_mailer.jsw")
    assert [(r.name, r.api, (r.line, r.column), r.detail) for r in found] == [
        ("sendgrid_api_key", "elevate(getSecretValue)", at(text, "SENDGRID_KEY_NAME);"), "via SENDGRID_KEY_NAME"),
        ("mail_from_address", "getSecretValue", at(text, "`mail_from_address`"), ""),
    ]


def test_sdk_typescript_enum_const_object_and_interfaces() -> None:
    text, found = corpus("sdk_openai.ts")
    assert [(r.name, r.api, (r.line, r.column)) for r in found] == [
        ("OPENAI_API_KEY", "elevate(getSecretValue)", at(text, "SecretName.OpenAi)")),
        ("DATABASE_URL", "elevate(getSecretValue)", at(text, "DATABASE);")),
        ("TWILIO_AUTH_TOKEN", "getSecretValue", at(text, 'SecretName["Twilio"]')),
        ("SEGMENT_WRITE_KEY", "getSecretValue", at(text, "KEYS.analytics")),
        ("GOOGLE_MAPS_KEY", "getSecretValue", at(text, 'KEYS["maps"]')),
    ]


def test_minified_bundle() -> None:
    text, found = corpus("bundle.min.js")
    assert [(r.name, r.api, (r.line, r.column)) for r in found] == [
        ("MINIFIED_V1", "getSecret", at(text, '"MINIFIED_V1"')),
        ("MINIFIED_V2", "getSecretValue", at(text, "'MINIFIED_V2'")),
        ("MINIFIED_ELEVATED", "elevate(getSecretValue)", at(text, '"MINIFIED_ELEVATED"')),
    ]


def test_aliases_namespaces_and_concatenation() -> None:
    text, found = corpus("aliases.js")
    assert [(r.name, (r.line, r.column)) for r in found] == [
        ("ALIASED", at(text, '"ALIASED"')),
        ("REQUIRED", at(text, "'REQUIRED'")),
        ("NAMESPACED", at(text, '"NAMESPACED"')),
        ("COMPUTED_MEMBER", at(text, '"COMPUTED_MEMBER"')),
        ("SLACK_TOKEN", at(text, '"SLACK" + SUFFIX')),
        ("OPTIONAL_CALL", at(text, '"OPTIONAL_CALL"')),
    ]


def test_decoys_never_count() -> None:
    _, found = corpus("decoys.js")
    assert found == []


def test_dynamic_references_have_locations_and_reasons() -> None:
    text, found = corpus("dynamic.js")
    assert all(r.dynamic and r.name is None for r in found)
    assert [((r.line, r.column), r.detail) for r in found] == [
        (at(text, "name);"), "`name` is not a string constant of this file (a parameter, a variable, an import)"),
        (at(text, "`${env}_PAYMENT_KEY`"), "a template literal with interpolation"),
        (at(text, "getSecret));"), "the function is passed as a value to another function"),
        (at(text, "current);"), "`current` is not a string constant of this file (a parameter, a variable, an import)"),
        (
            at(text, "SECRET_FROM_ELSEWHERE)]"),
            "`SECRET_FROM_ELSEWHERE` is not a string constant of this file (a parameter, a variable, an import)",
        ),
    ]


def test_whole_corpus_through_scan_texts() -> None:
    files = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(CORPUS.iterdir())]
    scan = scan_texts(files)
    assert scan.files == 7
    assert len(scan.dynamic) == 5
    assert "stripe_live_key" in scan.names() and "line_comment" not in scan.names()
    positions = [(r.path, r.line, r.column) for r in scan.references]
    assert positions == sorted(positions)  # file, line, column order
    mixed = scan_texts([("a.js", "getSecret(x); getSecret('y')"), ("a.js", "getSecret('z')")])
    assert [r.name for r in mixed.references] == [None, "z", "y"]  # a dynamic and a static at 1:11 sort


# ---------------------------------------------------------------- each form on its own


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('getSecret("a")', [("a", "getSecret")]),
        ("getSecret('a')", [("a", "getSecret")]),
        ("getSecret(`a`)", [("a", "getSecret")]),
        ('await getSecret("a", { cache: false })', [("a", "getSecret")]),
        ('secrets.getSecretValue("b")', [("b", "getSecretValue")]),
        ('secrets?.getSecretValue("b")', [("b", "getSecretValue")]),
        ('client.secrets.getSecretValue("b")', [("b", "getSecretValue")]),
        ('auth.elevate(secrets.getSecretValue)("c")', [("c", "elevate(getSecretValue)")]),
        ('elevate(secrets.getSecretValue)("c")', [("c", "elevate(getSecretValue)")]),
        ('const g = auth.elevate(secrets.getSecretValue); g("c")', [("c", "elevate(getSecretValue)")]),
        ('const g = secrets.getSecretValue; g("d")', [("d", "getSecretValue")]),
        ('const g = getSecret; g("d")', [("d", "getSecret")]),
        ('import { getSecretValue as read } from "@wix/secrets"; read("e")', [("e", "getSecretValue")]),
        ('const { getSecret: gs } = await import("wix-secrets-backend"); gs("e")', [("e", "getSecret")]),
        ('const N = "f"; getSecret(N)', [("f", "getSecret")]),
        ('getSecret(N); const N = "f";', [("f", "getSecret")]),  # used before its declaration
        ('export const N: SecretName = "f"; getSecret(N)', [("f", "getSecret")]),
        ('const A = "x", B = A + "_y"; getSecret(B)', [("x_y", "getSecret")]),
        ('const P = "p_"; getSecret(P + `q`)', [("p_q", "getSecret")]),
        ('getSecret(("paren"))', [("paren", "getSecret")]),
        ('getSecret(N as string); const N = "g"', [("g", "getSecret")]),
        ('const enum E { A = "h" } getSecret(E.A)', [("h", "getSecret")]),
        ('const M = { k: "i", nested: { z: 1 }, j: "j" } as const; getSecret(M.j)', [("j", "getSecret")]),
        ('getSecret("\\x41PI_\\u004bEY")', [("API_KEY", "getSecret")]),
        ('getSe\\u0063ret("escaped_identifier")', [("escaped_identifier", "getSecret")]),
        ('ns["getSecretValue"]("computed")', [("computed", "getSecretValue")]),
        ('(0, r.getSecret)("webpack")', [("webpack", "getSecret")]),
        ('(0,r.getSecretValue)("webpack2")', [("webpack2", "getSecretValue")]),
        ('getSecret<string>("generic")', [("generic", "getSecret")]),
        ('secrets.getSecretValue<{ value: string }>("generic2")', [("generic2", "getSecretValue")]),
    ],
)
def test_reference_forms(source: str, expected: list[tuple[str, str]]) -> None:
    assert refs(source) == expected


def test_a_name_declared_twice_gives_every_candidate() -> None:
    source = 'function a() { const K = "one"; return getSecret(K) }\nfunction b() { const K = "two"; }'
    assert names(source) == ["one", "two"]


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("getSecret(name)", "`name` is not a string constant"),
        ('let N = "x"; getSecret(N)', "`N` is not a string constant"),
        ("const N = compute(); getSecret(N)", "`N` is a const whose value is not a string literal"),
        ("getSecret(`${env}_KEY`)", "a template literal with interpolation"),
        ('getSecret("a" + b)', "a computed expression"),
        ('getSecret(cond ? "a" : "b")', "a computed expression"),
        ("getSecret(CONFIG.missing)", "a computed expression"),
        ("getSecret()", "called without a name"),
        ("names.map(getSecret)", "passed as a value"),
        ("Promise.all(names.map(secrets.getSecretValue))", "passed as a value"),
        ('getSecret.call(null, "x")', "called indirectly through .call"),
        ("secrets.getSecretValue.bind(secrets)", "called indirectly through .bind"),
    ],
)
def test_dynamic_forms(source: str, detail: str) -> None:
    found = scan_source(source, "x.js")
    assert len(found) == 1
    assert found[0].name is None and detail in found[0].detail


@pytest.mark.parametrize(
    "source",
    [
        "// getSecret('x')",
        "/* getSecret('x') */",
        "#!/usr/bin/env node getSecret('hashbang')\n",
        "const s = \"getSecret('x')\";",
        "const s = 'getSecret(\"x\")';",
        'const s = `getSecret("x")`;',
        'const s = `${1} getSecret("x") ${2}`;',
        'const r = /getSecret("x")/g;',
        'const r = /[/]getSecret("x")/;',
        'const r = x = /getSecret("x")\\//;',
        'if (ok) /getSecret("x")/.test(s);',
        "function getSecret(name) { return lookup(name); }",
        "async function getSecret(name) { return lookup(name); }",
        "class S { async getSecret(name) { return 1 } }",
        "class S { getSecretValue(name: string): Promise<string> { return x } }",
        "interface R { getSecretValue(name: string): Promise<Value>; }",
        "declare function getSecret(name: string): Promise<string>;",
        "const f = (getSecret) => 1;",
        "import { getSecret } from 'wix-secrets-backend';",
        "export { getSecret };",
        "type G = typeof secrets.getSecretValue;",
        "if (getSecret < limit) { x = 1 > (2) }",
        'cache.getSecretKey("x"); getSecrets("y"); mygetSecret("z")',
        "obj.getSecret = function (n) { return n; };",
    ],
)
def test_not_references(source: str) -> None:
    assert scan_source(source, "x.js") == []


def test_regex_versus_division() -> None:
    # a division whose operands would look like a regex containing a quote: the string after it is real code
    assert names('const x = a / 2; getSecret("after_division") / 3;') == ["after_division"]
    # a regex containing a quote, then a real call on the same line
    assert names("const r = /'/; getSecret('after_regex');") == ["after_regex"]
    assert names('const r = [/"/]; getSecret("after_regex_in_array");') == ["after_regex_in_array"]
    assert names('x = y.return / 2; getSecret("property_named_return")') == ["property_named_return"]
    assert names('a++ / 2; getSecret("after_postfix")') == ["after_postfix"]


def test_nested_templates_and_references_inside_substitutions() -> None:
    source = 'const s = `a ${`b ${await getSecret("inner")} c`} d ${ {k: 1}.k } e`; getSecret("outer");'
    assert names(source) == ["inner", "outer"]


def test_unterminated_constructs_end_safely() -> None:
    assert names("const s = 'unterminated\ngetSecret('next_line')") == ["next_line"]
    assert names('/* never closed getSecret("x")') == []
    assert names("const s = `never closed ${ getSecret('in_substitution')") == ["in_substitution"]


def test_lines_and_columns_with_crlf_and_unicode() -> None:
    source = 'const é = "ü";\r\n  await getSecret("crlf")\u2028getSecret("ls")'
    found = scan_source(source, "x.js")
    assert [(r.name, r.line, r.column) for r in found] == [("crlf", 2, 19), ("ls", 3, 11)]


def test_hostile_names_and_paths_are_made_printable() -> None:
    found = scan_source('getSecret("evil\\u001b[31m\\nname")', "src/\x1b]0;pwned\x07.js")
    assert found[0].name == "evil\\x1b[31m\\nname"
    assert "\x1b" not in found[0].path and "\x07" not in found[0].path
    assert display_safe("x" * 500).endswith("...") and len(display_safe("x" * 500)) == 123


def test_many_candidates_become_dynamic() -> None:
    decls = "\n".join(f'function f{i}() {{ const K = "v{i}"; }}' for i in range(10))
    found = scan_source(decls + "\ngetSecret(K)", "x.js")
    assert sorted(r.name or "" for r in found) == sorted(f"v{i}" for i in range(10))  # each is a candidate
    found = scan_source(decls + "\ngetSecret(K + K)", "x.js")
    assert [r.name for r in found] == [None]  # 100 combinations: not worth guessing
    more = "\n".join(f'function f{i}() {{ const K = "v{i}"; }}' for i in range(40))
    found = scan_source(more + "\ngetSecret(K)", "x.js")
    assert [r.detail for r in found] == ["`K` is declared with more than 16 different values"]


@pytest.mark.parametrize(
    "hostile",
    [
        "/*" * 12_000,
        "'" * 25_000,
        "`${" * 25_000,
        "{" * 12_000 + "getSecret('deep')",
        "(" * 12_000 + "getSecret('deep')",
        "/[" * 12_000,
        "a/" * 12_000,
        "getSecret(" * 25_000,
        "const a = " + " + ".join(["'x'"] * 12_000) + "; getSecret(a)",
        "getSecret(" + "a+" * 25_000 + "'x')",
        "\\u" * 12_000,
    ],
)
def test_hostile_inputs_finish_and_stay_sane(hostile: str) -> None:
    """Linear-time tokenizer and bounded resolution: each is ~100 KB, where anything quadratic would not finish."""
    found = scan_source(hostile, "x.js")
    assert all(isinstance(r, CodeReference) for r in found)
    if hostile.endswith("getSecret('deep')"):
        assert [r.name for r in found] == ["deep"]
    if hostile.startswith("const a = "):
        assert [r.name for r in found] == [None]  # 12,000 atoms: not resolved
