"""A bug (an exception that is not a WixSecretsError) never shows a traceback or its message: the message
could quote a value. The CLI says it is a bug, exits 1, shows where it happened only with --debug (frames,
message withheld), and ``--json`` still prints one document. Provoked with a real stream that fails."""

from __future__ import annotations

import io
import json
from pathlib import Path

from reconciler.cli import run
from reconciler.cli.console import Console
from reconciler.redact import Redactor

CANARY = "internal-error-canary-7b1f"


class FailingStdout(io.StringIO):
    """stdout that fails on the first line that is not the --json document (a stand-in for any bug)."""

    def write(self, text: str) -> int:
        if text.startswith("Plan"):
            message = "boom while holding " + CANARY  # the frames show source lines, never this message
            raise RuntimeError(message)
        return super().write(text)


def console(tmp_path: Path, stdout: io.StringIO) -> tuple[Console, io.StringIO]:
    err = io.StringIO()
    return Console(
        stdout=stdout,
        stderr=err,
        stdin=io.StringIO(),
        environ={"HOME": str(tmp_path)},
        cwd=tmp_path,
        redactor=Redactor(),
    ), err


def test_a_bug_says_so_without_traceback_or_message(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(f"version: 1\nsecrets:\n  A:\n    value: {CANARY}\n")
    c, err = console(tmp_path, FailingStdout())
    assert run(["plan", "--local", "s.json", "m.yaml"], c) == 1
    text = err.getvalue()
    assert "internal error (RuntimeError): this is a bug in wix-secrets" in text
    assert "Traceback" not in text and CANARY not in text and "boom" not in text

    c, err = console(tmp_path, FailingStdout())
    assert run(["plan", "--debug", "--local", "s.json", "m.yaml"], c) == 1
    text = err.getvalue()
    assert "Traceback (most recent call last)" in text and "RuntimeError (message withheld)" in text
    assert CANARY not in text and "boom" not in text


class FailingEnviron(dict[str, str]):
    """An environment mapping that fails when the connection settings read it (a stand-in for any bug
    before the document is printed)."""

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        if key == "WIX_RATE_LIMIT":
            message = "boom " + CANARY
            raise RuntimeError(message)
        return super().get(key, default)


def test_json_prints_one_document_when_a_bug_ends_the_run_before_it(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("version: 1\nsecrets:\n  A:\n    value: v\n")
    out = io.StringIO()
    c, err = console(tmp_path, out)
    c.environ = FailingEnviron(HOME=str(tmp_path))
    assert run(["plan", "--json", "--local", "s.json", "m.yaml"], c) == 1, err.getvalue()
    document = json.loads(out.getvalue())  # exactly one document
    assert document["exit_code"] == 1 and document["error"]["message"] == "internal error (RuntimeError)"
    assert CANARY not in out.getvalue() + err.getvalue()
