"""Manifest-level rules end to end against the emulator over loopback HTTP: protect cannot be bypassed,
renames are validated like Terraform's ``moved`` blocks, case-only renames work, and nothing derived
from a site value is shown. Request counts are exact."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer

API = "/_api/cloud-secrets-vault-server/api/v1/secrets"
HEADERS = {"Authorization": "test-key", "wix-site-id": "site-1"}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def server() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(api_key="test-key")
    with EmulatorServer(emulator) as srv:
        yield emulator, srv.url


def env(url: str, **extra: str) -> dict[str, str]:
    return {"WIX_API_URL": url, "WIX_API_KEY": "test-key", "WIX_SITE_ID": "site-1", **extra}


def seed(url: str, *secrets: tuple[str, str]) -> dict[str, str]:
    ids = {}
    for name, value in secrets:
        r = httpx.post(url + API, json={"secret": {"name": name, "value": value}}, headers=HEADERS)
        r.raise_for_status()
        ids[name] = r.json()["id"]
    return ids


def listing(url: str) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in httpx.get(url + API, headers=HEADERS).json()["secrets"]}


def value_of(url: str, name: str) -> str:
    value: str = httpx.get(f"{url}{API}/name/{name}", headers=HEADERS).json()["value"]
    return value


def writes(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.method in ("POST", "PATCH", "DELETE"))


def test_protect_cannot_be_bypassed_by_renaming(cli: Any, tmp_path: Path, server: tuple[Emulator, str]) -> None:
    # issue 10.5: `renamed_from` a protected name renamed it away and overwrote its value, exit 0
    emulator, url = server
    ids = seed(url, ("prod_stripe", "sk_live_original"), ("OTHER", "v"))
    m = write(
        tmp_path / "m.yaml",
        """\
        version: 1
        secrets:
          innocent_name:
            value: attacker-chosen
            renamed_from: [prod_stripe]
          OTHER:
            value: v
        policy:
          protect: ["prod_*"]
        """,
    )
    emulator.reset()
    result = cli(
        "apply", "--auto-approve", "--no-backup", "--max-deletes", "9", "--allow-mass-delete", str(m), env=env(url)
    )
    assert result.code == 1, result.err
    assert "prod_stripe is protected by 'prod_*'" in result.out + result.err
    assert writes(emulator) == 0
    assert listing(url)["prod_stripe"]["id"] == ids["prod_stripe"]
    assert value_of(url, "prod_stripe") == "sk_live_original"
