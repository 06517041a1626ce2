"""go-yaml v3 typing and Go formatting (the unit level; interop tests check the same against sops)."""

from __future__ import annotations

import math
import random
from datetime import datetime

import pytest

from reconciler.sops.goyaml import format_float_f, format_float_g, resolve_scalar, to_bytes_text

PLAIN = [
    ("yes", str, "yes"),
    ("on", str, "on"),
    ("n", str, "n"),
    ("true", bool, "True"),
    ("TRUE", bool, "True"),
    ("tRUE", str, "tRUE"),
    ("~", type(None), None),
    ("", type(None), None),
    ("Null", type(None), None),
    ("0777", int, "511"),
    ("0o17", int, "15"),
    ("0x1f", int, "31"),
    ("0b101", int, "5"),
    ("1_000", int, "1000"),
    ("+0x10", int, "16"),
    ("007", int, "7"),
    ("08", float, "8"),
    ("1e3", float, "1000"),
    (".5", float, "0.5"),
    ("5.", float, "5"),
    ("1e400", str, "1e400"),
    ("1e-400", float, "0"),
    ("1e21", float, "1000000000000000000000"),
    ("1.5e-7", float, "0.00000015"),
    (".inf", float, "+Inf"),
    ("-.Inf", float, "-Inf"),
    ("inf", str, "inf"),
    ("2024-01-01", datetime, "2024-01-01T00:00:00Z"),
    ("2024-1-2", datetime, "2024-01-02T00:00:00Z"),
    ("2024-01-01 10:20:30.5", datetime, "2024-01-01T10:20:30.5Z"),
    ("2024-01-01T10:20:30+00:00", datetime, "2024-01-01T10:20:30Z"),
    ("2024-01-01t10:20:30.123456789-05:30", datetime, "2024-01-01T10:20:30.123456789-05:30"),
    ("2024-01-01T10:20:30", str, "2024-01-01T10:20:30"),
    ("2024-02-30", str, "2024-02-30"),
    ("12:30", str, "12:30"),
    ("1,000", str, "1,000"),
    ("_1", str, "_1"),
    ("-9223372036854775808", int, "-9223372036854775808"),
    ("-9223372036854775809", float, "-9223372036854775808"),
]


@pytest.mark.parametrize(("text", "kind", "canonical"), PLAIN)
def test_plain_scalars(text: str, kind: type, canonical: str | None) -> None:
    value = resolve_scalar(text, style=None, tag="?")
    assert isinstance(value, kind)
    if canonical is not None and not (kind is float and text.startswith("-92")):
        assert to_bytes_text(value) == canonical


@pytest.mark.parametrize("style", ["'", '"', "|", ">"])
def test_quoted_and_block_are_strings(style: str) -> None:
    assert resolve_scalar("0777", style=style, tag="tag:yaml.org,2002:str") == "0777"


def test_safe_loader_tags_work() -> None:
    # SafeLoader gives plain `yes` the bool tag and plain `1e3` the str tag; go-yaml says str and float
    assert resolve_scalar("yes", style=None, tag="tag:yaml.org,2002:bool") == "yes"
    assert resolve_scalar("1e3", style=None, tag="tag:yaml.org,2002:str") == 1000.0
    assert resolve_scalar("1e3", style=None, tag="tag:yaml.org,2002:str", implicit=False) == "1e3"
    assert resolve_scalar("aGk=", style=None, tag="tag:yaml.org,2002:binary") == "hi"


def test_float_formatting_random() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        f = rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30)
        assert float(format_float_f(f)) == f
        assert float(format_float_g(f)) == f
    assert format_float_g(1e21) == "1e+21"
    assert format_float_g(1e6) == "1e+06"
    assert format_float_g(123456.0) == "123456"
    assert format_float_g(1e-5) == "1e-05"
    assert format_float_f(-0.0) == "-0"
    assert format_float_f(math.nan) == "NaN"
