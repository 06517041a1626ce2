"""The redactor at scale: thousands of values are scrubbed by a prefix index with the same result as
the regular expression used for fewer, and registering them stays cheap."""

from __future__ import annotations

import random

import pytest

from reconciler import redact
from reconciler.redact import REPLACEMENT, Redactor, forms_of


def texts(values: list[str], rng: random.Random) -> list[str]:
    out = []
    alphabet = "ab-_=%/+ xyz0123456789\n\"'"
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(0, 8)):
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))))
            if values and rng.random() < 0.7:
                form = rng.choice(sorted(forms_of(rng.choice(values))))
                parts.append(form[: rng.randint(1, len(form))] if rng.random() < 0.2 else form)
        out.append("".join(parts))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_the_prefix_scan_gives_exactly_what_the_regex_gives(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    # overlapping values: prefixes of each other, sharing their first characters, nested
    values = ["abcd", "abcdef", "abcdefgh", "bcde", "xyzab", "ab-cd-ef", "a/b+c=d", "1234", "12345678", 'zz"zz']
    values += ["".join(rng.choice("abcdxyz-_12") for _ in range(rng.randint(4, 10))) for _ in range(30)]
    regex = Redactor(values)
    scan = Redactor(values)
    monkeypatch.setattr(redact, "REGEX_FORMS", 0)  # every scrub of `scan` goes through the index
    for text in texts(values, rng):
        by_scan = scan.scrub(text)
        monkeypatch.setattr(redact, "REGEX_FORMS", 10**9)
        by_regex = regex.scrub(text)
        monkeypatch.setattr(redact, "REGEX_FORMS", 0)
        assert by_scan == by_regex, text


def test_ten_thousand_values() -> None:
    """(Registering used to recompile one regex per value: minutes and gigabytes at this size.)"""
    values = [f"value-{i:05d}-{'q' * 20}" for i in range(10_000)]
    r = Redactor(values)
    line = f"  ~ SECRET_00042  update value; was {values[42]} now {values[9_999]} end\n"
    scrubbed = r.scrub(line * 100)
    assert values[42] not in scrubbed and values[9_999] not in scrubbed
    assert scrubbed.count(REPLACEMENT) == 200
    assert len(r) >= 10_000
