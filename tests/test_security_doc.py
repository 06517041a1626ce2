"""docs/security.md names, for every attack, the test that proves its defence: each named test must exist.

The attack tables of the threat model are parsed as Markdown tables (three cells: attack, defence,
test). Every test is written as ``tests/<dir>/test_<file>.py::test_<name>``; each must be a test
function of that file (found with :mod:`ast`, so a renamed or deleted test fails here), every row must
name at least one, and every numbered item of issue 10 must be answered by at least one row.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
TEST_REF = re.compile(r"tests/(?:[a-z_0-9]+/)*test_[a-z_0-9]+\.py::test_[a-z_0-9]+")
ISSUE_10_ITEMS = range(1, 18)


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table row; ``\\|`` is a pipe inside a cell, as GitHub reads it."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1])]


def attack_rows(text: str) -> list[tuple[str, str, str]]:
    """Every row of every ``| attack | defence | test |`` table of ``text``."""
    rows: list[tuple[str, str, str]] = []
    in_table = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if cells == ["attack", "defence", "test"]:
            in_table = True
            continue
        if not in_table or set(line) <= {"|", "-", " ", ":"}:
            continue
        assert len(cells) == 3, f"a row of an attack table does not have three cells: {line[:80]}"
        rows.append((cells[0], cells[1], cells[2]))
    return rows


def named_tests(cell: str) -> list[str]:
    """The tests named in a test cell; anything else in backticks there is a malformed reference."""
    names = re.findall(r"`([^`]+)`", cell)
    malformed = [name for name in names if not TEST_REF.fullmatch(name)]
    assert malformed == [], f"not of the form tests/<dir>/test_<file>.py::test_<name>: {malformed}"
    return names


def _skipped(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("skip" in ast.unparse(decorator) for decorator in node.decorator_list)


@cache
def _test_functions(path: str) -> frozenset[str]:
    """The tests pytest collects from ``path``: module-level ``test_*`` functions and ``test_*`` methods
    of ``Test*`` classes, not nested helpers, and none marked skip (no test is skipped in this suite)."""
    file = ROOT / path
    if not file.is_file():
        return frozenset()
    tree = ast.parse(file.read_text(encoding="utf-8"))
    candidates = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name.startswith("Test"):
            candidates += [n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return frozenset(node.name for node in candidates if node.name.startswith("test_") and not _skipped(node))


def test_the_doc_has_attack_tables_with_rows() -> None:
    rows = attack_rows(DOC.read_text(encoding="utf-8"))
    assert len(rows) >= 40


def test_every_row_names_at_least_one_test() -> None:
    rows = attack_rows(DOC.read_text(encoding="utf-8"))
    without = [attack[:70] for attack, _, tests in rows if not named_tests(tests)]
    assert without == []


def test_every_named_test_exists() -> None:
    rows = attack_rows(DOC.read_text(encoding="utf-8"))
    refs = {ref for _, _, tests in rows for ref in named_tests(tests)}
    missing = sorted(ref for ref in refs if ref.split("::")[1] not in _test_functions(ref.split("::")[0]))
    assert missing == []


def test_every_item_of_issue_10_has_a_row() -> None:
    rows = attack_rows(DOC.read_text(encoding="utf-8"))
    answered: set[int] = set()
    for attack, _, _ in rows:
        for group in re.findall(r"\(([0-9., a-z]+)\)", attack):
            answered.update(int(n) for n in re.findall(r"\b10\.([0-9]+)\b", group))
    assert sorted(set(ISSUE_10_ITEMS) - answered) == []


def test_the_checker_catches_a_missing_test_and_a_row_without_one() -> None:
    """The checks above can fail: a made-up table with a bad reference and an empty row is caught."""
    text = (
        "| attack | defence | test |\n|---|---|---|\n"
        "| a (10.1) | b | `tests/test_security_doc.py::test_no_such_test` |\n"
        "| c (10.2) | d | none yet |\n"
        "| e `x|y` | f | `tests/test_security_doc.py` |\n"
    )
    rows = attack_rows(text.replace("`x|y`", "`x\\|y`"))
    assert len(rows) == 3
    (ref,) = named_tests(rows[0][2])
    assert ref.split("::")[1] not in _test_functions(ref.split("::")[0])
    assert named_tests(rows[1][2]) == []
    try:
        named_tests(rows[2][2])
    except AssertionError:
        pass
    else:
        raise AssertionError("a file-only reference was accepted")


def test_only_collected_tests_count(tmp_path: Path) -> None:
    """A nested helper, a skipped test and a non-test function do not prove anything."""
    file = tmp_path / "test_probe.py"
    file.write_text(
        "import pytest\n\n"
        "def test_real() -> None:\n    def test_nested() -> None: ...\n\n"
        "@pytest.mark.skip(reason='x')\ndef test_skipped() -> None: ...\n\n"
        "def helper() -> None: ...\n\n"
        "class TestGroup:\n    def test_method(self) -> None: ...\n",
        encoding="utf-8",
    )
    assert _test_functions(str(file)) == {"test_real", "test_method"}
