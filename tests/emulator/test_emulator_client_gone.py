"""A client that goes away in the middle of an answer (a cancelled CI job, a killed process, a second
SIGTERM) prints no traceback on the emulator's stderr: socketserver's default does. A real error in
serving is a warning naming its type, never its message (it could quote a value)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.server import _Server

CANARY = "client-gone-canary-0c4d"


@pytest.fixture
def server() -> Iterator[_Server]:
    made = _Server(("127.0.0.1", 0), Emulator())
    yield made
    made.server_close()


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")])
def test_a_client_that_went_away_is_not_a_traceback(
    server: _Server, error: OSError, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler")
    try:
        raise error
    except OSError:
        server.handle_error(None, ("127.0.0.1", 40000))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert any("went away" in r.getMessage() for r in caplog.records)


def test_a_failure_while_serving_is_a_warning_without_its_message(
    server: _Server, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler")
    try:
        message = "quoting " + CANARY
        raise ValueError(message)
    except ValueError:
        server.handle_error(None, ("127.0.0.1", 40000))
    _out, err = capfd.readouterr()
    assert "Traceback" not in err and CANARY not in err
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed: ValueError (a bug in the emulator)" in logged and CANARY not in logged
    assert "ValueError (message withheld)" in logged
