"""The fast reader gives exactly PyYAML's tree (comments included) or declines (None)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.sops import EncryptionRules, encrypt
from reconciler.sops.emit import dump
from reconciler.sops.fastyaml import parse
from reconciler.sops.store import load

from .cases import CASES
from .conftest import SopsRun, sops_encrypt
from .test_interop import norm
from support import AgeKey


@pytest.mark.parametrize(("name", "text", "rules"), CASES, ids=[c[0] for c in CASES])
def test_same_tree_as_pyyaml(
    name: str, text: str, rules: dict[str, object], sops: SopsRun, tmp_path: Path, age_key: AgeKey
) -> None:
    theirs = sops_encrypt(sops, tmp_path, text, [age_key.recipient], rules).decode()
    ours = encrypt(text.encode(), recipients=[age_key.recipient], rules=EncryptionRules(**rules)).decode()  # type: ignore[arg-type]
    for doc in (theirs, ours, dump(load(text)).decode(), dump(load(text), go_floats=True).decode()):
        fast = parse(doc)
        assert fast is not None, doc  # everything sops or we write is in the subset
        assert norm(fast) == norm(load(doc))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1 # inline\n",
        "a: &x 1\nb: *x\n",
        "a: [1, 2]\n",
        "a: >\n  folded\n",
        "a: b\n  c\n",
        "- 1\n",
        "a:\n- 1\n",
        "a: 1\r\n",
        "a:\t1\n",
        "a: 1\n\nb: 2\n",
        "a: 1\na: 2\n",
        "1: x\n",
        "a: 18446744073709551615\n",
        "a: |2\n   x\n",
        "a: 'x' y\n",
        "? a\n: b\n",
        "a: !!str 1\n",
        "x:\n  # dangling\ny: 1\n",
        "a:\n    b: 1\n  c: 2\n",
        "a: {b: 1}\n",
        "a: b: c\n",
        "a: 1\n...\n",
    ],
)
def test_declines_outside_the_subset(text: str) -> None:
    assert parse(text) is None
