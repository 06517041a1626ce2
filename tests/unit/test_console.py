"""Colour decisions and redaction of everything written."""

from __future__ import annotations

import io
import logging

import pytest

from reconciler.cli.console import wants_color
from reconciler.redact import REPLACEMENT, RedactingFilter, RedactingStream, Redactor, forms_of


@pytest.mark.parametrize(
    ("environ", "tty", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": ""}, True, True),  # no-color.org: only a non-empty NO_COLOR counts
        ({"NO_COLOR": ""}, False, False),
        ({"FORCE_COLOR": ""}, False, False),
        ({"NO_COLOR": "", "FORCE_COLOR": "1"}, False, True),
        ({"NO_COLOR": "1"}, True, False),
        ({"TERM": "dumb"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),
    ],
)
def test_colour_only_on_a_tty_and_never_with_no_color(environ: dict[str, str], tty: bool, expected: bool) -> None:
    assert wants_color(environ, tty) is expected


def test_redactor_scrubs_every_encoded_form() -> None:
    value = "p@ss/wörd+1=="
    redactor = Redactor([value])
    for form in forms_of(value):
        assert redactor.scrub(f"before {form} after") == f"before {REPLACEMENT} after"


def test_short_values_are_not_scrubbed() -> None:
    assert Redactor(["ab1"]).scrub("ab1 stays") == "ab1 stays"


def test_stream_and_log_filter_scrub() -> None:
    redactor = Redactor(["hunter2-secret"])
    sink = io.StringIO()
    RedactingStream(sink, redactor).write("x hunter2-secret y\n")
    assert sink.getvalue() == f"x {REPLACEMENT} y\n"
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "value %s", ("hunter2-secret",), None)
    RedactingFilter(redactor).filter(record)
    assert record.getMessage() == f"value {REPLACEMENT}"
