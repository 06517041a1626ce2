"""docs/wix-api-assumptions.md points every assumption at a test: each named test must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_named_in_the_assumptions_table_exists() -> None:
    text = (ROOT / "docs" / "wix-api-assumptions.md").read_text(encoding="utf-8")
    refs = set(re.findall(r"`([a-z_]+/test_[a-z_0-9]+\.py)::([a-z_0-9]+)`", text))
    assert len(refs) >= 30
    missing = [
        f"{path}::{name}"
        for path, name in sorted(refs)
        if not re.search(rf"^(async )?def {name}\(", (ROOT / "tests" / path).read_text(encoding="utf-8"), re.M)
    ]
    assert missing == []
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| assumption")]
    assert len(rows) >= 20
    for row in rows:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip()[1:-1])]
        assert len(cells) == 4, row[:80]
        named = re.findall(r"`([^`]+)`", cells[3])
        assert named, f"a row names no test: {row[:80]}"
        assert all(re.fullmatch(r"[a-z_]+/test_[a-z_0-9]+\.py::test_[a-z_0-9]+", n) for n in named), cells[3]
