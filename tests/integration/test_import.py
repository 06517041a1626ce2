"""``wix-secrets import`` against the emulator over loopback HTTP: encrypted output, round trip, safety.

The imported file must be SOPS-encrypted on disk (never a plaintext temp file), mode 0600, carry a
header comment naming the site, and plan with no changes right after. The User-Agent test lives here
too: every request names the tool and its version.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__
from reconciler.emulator import Emulator
from reconciler.sops import KeyRing, decrypt, is_encrypted

from support import TEST_KEY, AgeKey, EmulatorSites, Site, new_age_key, seed, wix_env

CANARY = "CANARY-import-5f1c9a7e-0b2d-4c61-9e3a-7d8f6a5b4c3d"
TRICKY = ["0123", "yes", "null", "2024-01-01", 'multi\nline "quoted" \\ é', "  padded  ", "#hash: colon"]


class RecordingEmulator(Emulator):
    """The emulator, also keeping every request's headers (for the User-Agent test)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.headers: list[dict[str, str]] = []

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Any:
        self.headers.append({k.lower(): v for k, v in headers.items()})
        return super().handle(method, target, headers, body)


@pytest.fixture
def server(emulator_site: EmulatorSites) -> Site[RecordingEmulator]:
    return emulator_site(RecordingEmulator(api_key=TEST_KEY))


def seed_site(url: str) -> None:
    seed(url, ("API_KEY", CANARY, "main key"), ("DB_URL", "postgres://u:p@h/db", ""))
    seed(url, *((f"T{i}", value, f"tricky {i}") for i, value in enumerate(TRICKY)))


def test_import_then_plan_shows_no_changes(cli: Any, tmp_path: Path, server: Any, age_key: AgeKey) -> None:
    _emulator, url = server
    identity, recipient = age_key.identity, age_key.recipient
    seed_site(url)
    out = tmp_path / "secrets" / "site.sops.yaml"
    out.parent.mkdir()  # an output path's folder must exist (no silent mkdir)
    result = cli("import", "--out", str(out), "--age", recipient, env=wix_env(url))
    assert result.code == 0, result.err
    assert "Imported 9 secrets" in result.out
    data = out.read_bytes()
    assert is_encrypted(data)
    assert CANARY.encode() not in data and b"postgres://" not in data
    assert (out.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in out.parent.iterdir()) == ["site.sops.yaml"]  # no temp file left
    text = data.decode()
    assert text.startswith(f"# Imported by wix-secrets {__version__} from site site-1 ({url}) at ")
    assert "API_KEY:" in text and "description: main key" in text  # names/descriptions readable
    plain = decrypt(data, keys=KeyRing.discover({"SOPS_AGE_KEY": identity}, home=tmp_path)).documents[0]
    assert plain["secrets"]["API_KEY"] == {"value": CANARY, "description": "main key"}
    assert [plain["secrets"][f"T{i}"]["value"] for i in range(len(TRICKY))] == TRICKY
    planned = cli("plan", "--detailed-exitcode", str(out), env=wix_env(url, SOPS_AGE_KEY=identity))
    assert planned.code == 0, planned.out + planned.err
    assert "No changes" in planned.out
    for r in (result, planned):
        assert CANARY not in r.out + r.err


def test_import_needs_a_recipient_and_reads_nothing_without_one(cli: Any, tmp_path: Path, server: Any) -> None:
    emulator, url = server
    seed_site(url)
    emulator.reset()
    result = cli("import", "--out", "x.sops.yaml", env=wix_env(url))
    assert result.code == 1
    assert "no age recipient" in result.err and "--age" in result.err
    assert not (tmp_path / "x.sops.yaml").exists()
    assert emulator.counts().get("list", 0) == 0


def test_import_uses_the_sops_yaml_rule_for_the_output_path(
    cli: Any, tmp_path: Path, server: Any, age_key: AgeKey
) -> None:
    _, url = server
    identity, recipient = age_key.identity, age_key.recipient
    seed_site(url)
    other = new_age_key().recipient
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: ^other/\n    age: {other}\n"
        f"  - path_regex: \\.sops\\.yaml$\n    age: {recipient}\n"
    )
    result = cli("import", "-o", "prod.sops.yaml", env=wix_env(url))
    assert result.code == 0, result.err
    assert ".sops.yaml" in result.out
    data = (tmp_path / "prod.sops.yaml").read_bytes()
    assert recipient in data.decode() and other not in data.decode()
    assert "encrypted_regex: ^value$" in data.decode()
    assert cli("plan", "--detailed-exitcode", "prod.sops.yaml", env=wix_env(url, SOPS_AGE_KEY=identity)).code == 0


def test_import_refuses_to_overwrite_without_force(cli: Any, tmp_path: Path, server: Any, age_key: AgeKey) -> None:
    _, url = server
    seed_site(url)
    target = tmp_path / "m.sops.yaml"
    target.write_text("keep me\n")
    result = cli("import", "--out", str(target), "--age", age_key.recipient, env=wix_env(url))
    assert result.code == 1 and "--force" in result.err
    assert target.read_text() == "keep me\n"
    forced = cli("import", "--out", str(target), "--age", age_key.recipient, "--force", env=wix_env(url))
    assert forced.code == 0, forced.err
    assert is_encrypted(target.read_bytes())


def test_names_a_manifest_cannot_hold_are_reported_not_dropped(
    cli: Any, tmp_path: Path, server: Any, age_key: AgeKey
) -> None:
    _, url = server
    identity, recipient = age_key.identity, age_key.recipient
    seed(url, ("token", "a", ""), ("TOKEN", "b", ""), ("fine", "c", ""))
    result = cli("import", "--out", "m.sops.yaml", "--age", recipient, env=wix_env(url))
    assert result.code == 0, result.err
    assert "token was NOT imported" in result.err and "TOKEN was NOT imported" in result.err
    assert "differs only by case" in result.err
    assert "2 secret(s) could not be imported" in result.out
    text = (tmp_path / "m.sops.yaml").read_text()
    assert "# NOT imported: token" in text and "# NOT imported: TOKEN" in text
    planned = cli("plan", "--detailed-exitcode", "m.sops.yaml", env=wix_env(url, SOPS_AGE_KEY=identity))
    assert planned.code == 0, planned.out + planned.err  # the two show as unmanaged, not as changes


def test_import_from_a_local_site_round_trips(cli: Any, tmp_path: Path, age_key: AgeKey) -> None:
    identity, recipient = age_key.identity, age_key.recipient
    site = str(tmp_path / "site.json")
    (tmp_path / "m.yaml").write_text(f'version: 1\nsecrets:\n  A:\n    value: "{CANARY}"\n    description: d\n')
    assert cli("apply", "--local", site, "--auto-approve", "m.yaml").code == 0
    result = cli("import", "--local", site, "--out", "i.sops.yaml", "--age", recipient)
    assert result.code == 0, result.err
    assert "from local site" in (tmp_path / "i.sops.yaml").read_text().splitlines()[0]
    planned = cli("plan", "--local", site, "--detailed-exitcode", "i.sops.yaml", env={"SOPS_AGE_KEY": identity})
    assert planned.code == 0, planned.out + planned.err


def test_every_request_names_the_tool_and_version_in_the_user_agent(cli: Any, server: Any, age_key: AgeKey) -> None:
    emulator, url = server
    seed_site(url)
    emulator.headers.clear()
    assert cli("import", "--out", "m.sops.yaml", "--age", age_key.recipient, env=wix_env(url)).code == 0
    assert len(emulator.headers) == 1 + 9
    agents = {h.get("user-agent", "") for h in emulator.headers}
    assert agents == {f"wix-secrets/{__version__} (+https://github.com/wix-secrets/wix-secrets)"}


def test_a_failed_import_leaves_no_file(cli: Any, tmp_path: Path, age_key: AgeKey) -> None:
    result = cli(
        "import",
        "--api-url",
        "http://127.0.0.1:9",
        "--out",
        "m.sops.yaml",
        "--age",
        age_key.recipient,
        "--retries",
        "0",
        env={"WIX_API_KEY": "k", "WIX_SITE_ID": "s"},
    )
    assert result.code == 1
    assert os.listdir(tmp_path) == [] or "m.sops.yaml" not in os.listdir(tmp_path)
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
