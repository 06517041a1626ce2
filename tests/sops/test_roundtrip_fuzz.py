"""Seeded random trees (tricky strings, every scalar type, comments, nesting): our writer round-trips
through both readers, the fast reader agrees with PyYAML, and ``sops -d`` prints what we print."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.sops import decrypt_text, encrypt
from reconciler.sops.emit import dump
from reconciler.sops.fastyaml import parse
from reconciler.sops.goyaml import GoTime
from reconciler.sops.store import Branch, Comment, load, to_plain

from .conftest import SopsRun
from .test_interop import norm
from support import AgeKey

ALPHABET = [*"abcXYZ019 _-:#'\"\\/.,[]{}&*!|>%@`?~=+\n", "é", "✓", "🙂", "\xa0", "\x00", "\x1b"]
WORDS = [
    "yes",
    "no",
    "on",
    "null",
    "~",
    "true",
    "1e3",
    "0x1f",
    "0777",
    "1_000",
    ".5",
    "2024-01-01",
    "12:30",
    "-",
    "---",
    "...",
    "=",
    "",
    " ",
    "- x",
    "a: b",
    "a #b",
    "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
]


class Gen:
    def __init__(self, seed: int, *, multiline_keys: bool = True) -> None:
        self.rng = random.Random(seed)
        self.multiline_keys = multiline_keys

    def text(self) -> str:
        if self.rng.random() < 0.3:
            return self.rng.choice(WORDS)
        return "".join(self.rng.choice(ALPHABET) for _ in range(self.rng.randint(0, 12)))

    def key(self) -> str:
        k = self.text()
        return k if self.multiline_keys else k.replace("\n", "n")

    def scalar(self) -> Any:
        r = self.rng.random()
        if r < 0.5:
            return self.text()
        if r < 0.6:
            return self.rng.randint(-(10**12), 10**12)
        if r < 0.7:
            return self.rng.choice([0.5, -1.25, 3.0, 1e21, 1.5e-7, float("inf")])
        if r < 0.8:
            return self.rng.choice([True, False, None])
        return GoTime.make(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))

    def tree(self, depth: int = 0) -> Any:
        r = self.rng.random()
        if depth > 3 or r < 0.5:
            return self.scalar()
        if r < 0.75:
            b = Branch()
            seen: set[str] = set()
            for _ in range(self.rng.randint(0, 4)):
                if self.rng.random() < 0.2:
                    b.items.append((Comment(f" c{self.rng.randint(0, 9)}"), None))
                    continue
                k = self.key()
                if k not in seen:
                    seen.add(k)
                    b.items.append((k, self.tree(depth + 1)))
            return b
        return [
            Comment(" lc") if self.rng.random() < 0.2 else self.tree(depth + 1) for _ in range(self.rng.randint(0, 4))
        ]

    def doc(self) -> Branch:
        return Branch([("root", self.tree()), ("k", self.scalar())])


def test_writer_and_readers_agree() -> None:
    gen = Gen(20261123)
    fast_count = 0
    for _ in range(600):
        doc = gen.doc()
        text = dump([doc]).decode()
        ref = load(text)
        assert norm(to_plain(ref[0])) == norm(to_plain(doc)), text
        fast = parse(text)
        if fast is not None:
            fast_count += 1
            assert norm(fast) == norm(ref), text
    assert fast_count > 450  # the fast reader takes almost everything we write


def test_sops_prints_what_we_print(sops: SopsRun, tmp_path: Path, age_key: AgeKey) -> None:
    gen = Gen(7, multiline_keys=False)  # go-yaml writes multi-line keys as `? |` complex keys; we quote them
    path = tmp_path / "f.yaml"
    for _ in range(25):
        doc = gen.doc()
        # sops misplaces foot comments of nested maps (its own files fail the same way): keep comments shallow
        for _, v in doc.items:
            if isinstance(v, Branch):
                v.items = [(k, x) for k, x in v.items if not isinstance(k, Comment)]
        data = encrypt(dump([doc]), recipients=[age_key.recipient])
        path.write_bytes(data)
        out = sops(["-d", str(path)])
        assert out.stdout == decrypt_text(data, keys=age_key.keyring())
