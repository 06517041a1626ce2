"""A simulated GitHub Actions runner for the action tests: workspace, files, env, output parsing.

The action's entry point runs in-process (``run_action``, what ``python -m reconciler.action`` runs) with
``INPUT_*``, ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV``, ``GITHUB_WORKSPACE`` and
``RUNNER_TEMP`` pointing at temporary files, against a real emulator over loopback HTTP. The composite
test (``test_composite.py``) runs the whole ``action.yml`` as subprocesses once, end to end.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.redact import forms_of

API_KEY = "IST.action-test-api-key-3c9d1f"
SITE_ID = "5d3c1a2b-7e4f-4a1b-9c8d-0e1f2a3b4c5d"

# Every value is a canary: it must never appear in any output except an ::add-mask:: line.
CANARIES: dict[str, str] = {
    "STRIPE_API_KEY": "sk_live_CANARY_7f3a9c1e5b2d",
    "DATABASE_URL": "postgres://shop:CANARY%pw,x:y@db.example.com:5432/shop",
    "TLS_KEY": (
        "-----BEGIN PRIVATE KEY-----\n"
        "CANARYMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
        "CANARYBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
        "-----END PRIVATE KEY-----\n"
    ),
    "webhook_secret": 'whsec_CANARY_ünïcødé_"quoted"',
}
INJECTION = "::warning title=injected::from-a-description"


def manifest_yaml(values: Mapping[str, str] = CANARIES, *, extra: str = "") -> str:
    """A version-1 manifest with ``values``; every value written as a JSON (YAML) double-quoted string."""
    import json

    lines = ["version: 1", "secrets:"]
    for name, value in values.items():
        lines.append(f"  {name}:")
        lines.append(f"    value: {json.dumps(value, ensure_ascii=False)}")
        if name == "webhook_secret":
            lines.append(f"    description: {json.dumps(INJECTION)}")
        else:
            lines.append(f"    description: {name.lower()} (test)")
    return "\n".join(lines) + "\n" + extra


def encrypt_manifest(plain: str, recipient: str) -> bytes:
    from reconciler.sops import encrypt

    return encrypt(plain.encode("utf-8"), recipients=[recipient])


def parse_github_output(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT / GITHUB_ENV file the way the runner does (``k=v`` and heredoc ``k<<D``)."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"unterminated heredoc for {name}"
            i += 1
            out[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            out[name] = value
    return out


def secret_pieces(values: Mapping[str, str] = CANARIES) -> set[str]:
    """Every string that would reveal a canary: each form of each value, each line of multi-line ones."""
    pieces: set[str] = set()
    for value in values.values():
        for form in {value} | forms_of(value):
            pieces.add(form)
            pieces.update(line for line in form.splitlines() if "CANARY" in line)
    return {p for p in pieces if "CANARY" in p or len(p) >= 12}


def unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


@dataclass
class ActionRun:
    """What one run of the entry point left behind."""

    code: int
    log: str  # stdout and stderr, merged in order, as the job log shows them
    outputs: dict[str, str]
    summary: str  # the job summary (GITHUB_STEP_SUMMARY)
    env_file: str  # GITHUB_ENV
    runner_temp: Path
    files: dict[str, str] = field(default_factory=dict)  # every file the run left in RUNNER_TEMP

    @property
    def log_lines(self) -> list[str]:
        return self.log.splitlines()

    def masks(self) -> list[str]:
        return [
            unescape_data(line[len("::add-mask::") :]) for line in self.log_lines if line.startswith("::add-mask::")
        ]

    def annotations(self, level: str = "error") -> list[str]:
        return [line for line in self.log_lines if line.startswith((f"::{level} ", f"::{level}::"))]

    def without_masks(self) -> Iterator[tuple[str, str]]:
        """(where, text) for everything the run wrote, ::add-mask:: lines left out."""
        yield "log", "\n".join(line for line in self.log_lines if not line.startswith("::add-mask::"))
        yield "GITHUB_OUTPUT", "\n".join(f"{k}={v}" for k, v in self.outputs.items())
        yield "GITHUB_STEP_SUMMARY", self.summary
        yield "GITHUB_ENV", self.env_file
        yield from self.files.items()

    def assert_no_leak(self, values: Mapping[str, str] = CANARIES) -> None:
        pieces = secret_pieces(values)
        for where, text in self.without_masks():
            for piece in pieces:
                assert piece not in text, f"a form of a secret value leaked into {where}"


class Runner:
    """One simulated job: a workspace and a RUNNER_TEMP that persist across steps."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workspace = root / "workspace"
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.home = root / "home"  # an empty HOME: no sops key file found by accident
        self.home.mkdir(exist_ok=True)
        self._step = 0

    def base_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_OS": "Linux",
        }

    def step_files(self) -> tuple[Path, dict[str, str]]:
        """A fresh RUNNER_TEMP with the step's GITHUB_OUTPUT/GITHUB_STEP_SUMMARY/GITHUB_ENV files."""
        self._step += 1
        temp = self.root / f"runner-temp-{self._step}"
        temp.mkdir()
        files = self.root / f"step-{self._step}"
        files.mkdir()
        env = {}
        for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV"):
            path = files / name.lower()
            path.touch()
            env[name] = str(path)
        env["RUNNER_TEMP"] = str(temp)
        return temp, env

    def run_entry_point(self, inputs: Mapping[str, str], *, env: Mapping[str, str] | None = None) -> ActionRun:
        """The action's entry point (:func:`reconciler.action.run_action`, what ``python -m reconciler.action``
        runs) with ``INPUT_*`` set as the composite step sets them, stdout and stderr merged like a job log."""
        temp, files = self.step_files()
        full = self.base_env() | files | dict(env or {})
        for name, value in inputs.items():
            full[f"INPUT_{name.upper().replace('-', '_')}"] = value
        # in-process, as the service is: the composite test (test_composite.py) keeps one subprocess run
        from reconciler.action import run_action

        log = io.StringIO()
        code = run_action(full, stdout=log, stderr=log, cwd=self.workspace)
        return collect(code, log.getvalue(), files, temp)


def collect(code: int, log: str, files: Mapping[str, str], temp: Path) -> ActionRun:
    left = {
        str(p.relative_to(temp)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(temp.rglob("*"))
        if p.is_file() and "venv" not in p.parts and "pip-cache" not in str(p)
    }
    return ActionRun(
        code=code,
        log=log,
        outputs=parse_github_output(Path(files["GITHUB_OUTPUT"]).read_text(encoding="utf-8")),
        summary=Path(files["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8"),
        env_file=Path(files["GITHUB_ENV"]).read_text(encoding="utf-8"),
        runner_temp=temp,
        files=left,
    )
