"""Shared fixtures: an isolated environment for every test, the CLI run in-process, emulated Wix sites
over loopback HTTP, an age key and a fake GitLab API.

The typed helpers these build on (``Site``, ``AgeKey``, ``wix_env``, ``seed``, manifest writers) are in
``tests/support.py``, which tests import; fixtures are here only where a teardown or a shared value
needs one.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli import run
from reconciler.cli.console import Console
from reconciler.emulator import Emulator
from reconciler.redact import Redactor

from fake_gitlab import FakeGitLab
from support import TEST_KEY, AgeKey, EmulatorSites, Site, new_age_key

_STRIP_PREFIXES = ("WIX_", "SOPS_", "GITHUB_", "INPUT_", "RUNNER_")

#: Runs against the loopback emulator are not paced at Wix's budget (150 requests a minute would make
#: the suite wait minutes for nothing). The pacing itself is tested on a fake clock
#: (tests/wix/test_wix_ratelimit.py, test_wix_retries.py) and against the emulator's own 429s
#: (tests/wix/test_wix_emulator.py, tests/benchmarks/test_smoke.py); a test about the default budget
#: removes the variable.
UNPACED = "0"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees the developer's credentials, age keys or CI variables; HOME is empty; no pacing."""
    for name in list(os.environ):
        if name.startswith(_STRIP_PREFIXES) or name in ("NO_COLOR", "FORCE_COLOR", "EDITOR", "VISUAL"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WIX_RATE_LIMIT", UNPACED)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    yield


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(tmp_path: Path) -> object:
    """Run ``wix-secrets`` in-process with a fake terminal. ``env`` replaces the environment."""

    def invoke(
        *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str = "", tty: bool = False
    ) -> Result:
        out, err = io.StringIO(), io.StringIO()
        environ = {"HOME": str(tmp_path / "home"), "PATH": os.environ.get("PATH", ""), "WIX_RATE_LIMIT": UNPACED}
        environ.update(env or {})
        console = Console(
            stdout=out,
            stderr=err,
            stdin=io.StringIO(stdin),
            environ=environ,
            cwd=cwd or tmp_path,
            stdout_tty=tty,
            stderr_tty=tty,
            stdin_tty=tty,
            color=False,
            redactor=Redactor(),
        )
        code = run(list(argv), console)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def emulator_site() -> Iterator[EmulatorSites]:
    """A factory serving emulators over loopback HTTP, each stopped at teardown; it returns ``Site(emulator,
    url)``. ``emulator_site(api_key=..., faults=..., quirks=...)`` builds the :class:`Emulator` with what the
    test needs; ``emulator_site(RecordingEmulator(...))`` serves one the test built."""
    sites = EmulatorSites()
    try:
        yield sites
    finally:
        sites.close()


@pytest.fixture
def wix_site(emulator_site: EmulatorSites) -> Site[Emulator]:
    """The usual site: an emulator accepting only ``TEST_KEY``, for ``wix_env(url)`` and ``seed(url, ...)``."""
    return emulator_site(api_key=TEST_KEY)


@pytest.fixture(scope="session")
def age_key() -> AgeKey:
    """An age key for the session (one per xdist worker): ``age_key.identity`` decrypts, ``.recipient``
    encrypts, ``.keyring()`` for the library."""
    return new_age_key()


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    """A fake GitLab API on loopback (merge request notes, issues, a request log), stopped at teardown."""
    with FakeGitLab() as fake:
        yield fake
