"""The official Wix JavaScript SDK (@wix/sdk, @wix/secrets; pinned in package-lock.json) vs the emulator.

The SDK runs unchanged; only its fetch is pointed at the emulator's loopback URL. ``npm ci`` installs
the pinned packages on first run (CI included), so this test never skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator, EmulatorServer, RequestRecord

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "sdk_against_emulator.mjs"
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _node_modules() -> None:
    installed = HERE / "node_modules" / "@wix"
    if (installed / "sdk").is_dir() and (installed / "secrets").is_dir():
        return
    npm = shutil.which("npm")
    assert npm, "npm is required for the JS SDK compatibility test (Node >= 18)"
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)


@pytest.fixture(scope="module")
def sdk_run() -> tuple[dict[str, Any], Emulator]:
    _node_modules()
    node = shutil.which("node")
    assert node, "node is required for the JS SDK compatibility test"
    emulator = Emulator(api_key="IST.sdk-test-key", app_secret="app-secret")
    with EmulatorServer(emulator) as server:
        proc = subprocess.run([node, str(SCRIPT), server.url], cwd=HERE, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), emulator


def test_crud_round_trip_through_the_sdk(sdk_run: tuple[dict[str, Any], Emulator]) -> None:
    out, _ = sdk_run
    assert out["emptyList"] == []
    secret_id = out["createdId"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", secret_id)
    [created] = out["listAfterCreate"]
    assert created["_id"] == secret_id  # the SDK renamed id -> _id and parsed the dates
    assert (created["name"], created["description"]) == ("sdk_secret", "made by the SDK")
    assert ISO_MS.fullmatch(created["created"]) and created["created"] == created["updated"]
    assert out["valueAfterCreate"] == {"value": "first-value"}
    assert out["updateResult"] is None  # {} -> undefined
    [updated] = out["listAfterUpdate"]
    assert (updated["_id"], updated["name"]) == (secret_id, "sdk_renamed")
    assert updated["updated"] > updated["created"] == created["created"]
    assert out["valueAfterUpdate"] == {"value": "second-value"}
    assert out["deleteResult"] is None and out["deleteSpecial"] is None
    assert out["listAfterDelete"] == []


def test_special_characters_in_names(sdk_run: tuple[dict[str, Any], Emulator]) -> None:
    out, _ = sdk_run
    assert out["specialValue"] == {"value": "special-value"}
    # the SDK puts the name raw in the path and an encoded copy in the query string
    raw = "/_api/cloud-secrets-vault-server/api/v1/secrets/name/a+b=c@d$e?name=a%2Bb%3Dc%40d%24e"
    assert raw in out["seenUrls"]


def test_errors_surface_as_sdk_errors(sdk_run: tuple[dict[str, Any], Emulator]) -> None:
    out, _ = sdk_run
    assert (out["duplicate"]["status"], out["duplicate"]["code"]) == (409, "ALREADY_EXISTS")
    assert out["duplicate"]["requestId"]  # read from x-wix-request-id
    assert (out["invalidName"]["status"], out["invalidName"]["violations"]) == (400, ["secret.name"])
    for key in ("missing", "oldNameAfterRename", "deleteAgain"):
        assert (out[key]["status"], out[key]["code"]) == (404, "NOT_FOUND"), key
    assert (out["wrongKey"]["status"], out["wrongKey"]["code"]) == (401, "UNAUTHENTICATED")


def test_app_strategy_oauth_token_flow(sdk_run: tuple[dict[str, Any], Emulator]) -> None:
    out, emulator = sdk_run
    assert out["appValue"] == {"value": "from-app"}
    assert out["appList"] == ["app_secret_name"]
    assert "/oauth2/token" in out["seenUrls"]
    assert RequestRecord("POST", "token", 200, None) in emulator.requests


def test_exact_request_counts(sdk_run: tuple[dict[str, Any], Emulator]) -> None:
    _, emulator = sdk_run
    assert emulator.counts() == {
        "list": 6,
        "get_value": 6,
        "create": 5,
        "update": 1,
        "delete": 4,
        "token": 1,
        "other": 0,
    }
    assert all(r.fault is None for r in emulator.requests)
