"""The benchmark command runs on a fresh checkout: ``python -m benchmarks --quick`` against real emulator
processes. Only exact request counts are asserted (from the emulators' request logs), never times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIX_", "SOPS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--silent", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| scenario |" in proc.stdout  # the table
    result: list[dict[str, Any]] = json.loads(out.read_text())
    return result


def by(rows: list[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    found = [r for r in rows if r["scenario"] == scenario]
    assert found, scenario
    return found


@pytest.mark.slow
def test_every_scenario_ran_and_its_request_counts_are_exact(rows: list[dict[str, Any]]) -> None:
    scenarios = {r["scenario"] for r in rows}
    for expected in (
        "plan (default concurrency)",
        "plan, sequential baseline",
        "apply: N creates",
        "apply: N updates",
        "plan at the rate limit, both sides agree",
        "request rate at the budget",
        "ten sites at once, latency only",
        "peak memory of a plan",
        "start-up: wix-secrets --version",
        "plan with --value-cache, warm",
        "peer: official SDK script, 1 site",
        "peer: wix-secrets plan vs the SDK script",
        "fleet: wix-secrets plan --all vs the SDK script",
        "fleet: peak memory of plan --all, 8 sites",
    ):
        assert expected in scenarios
    for row in rows:
        assert row["counts_ok"], row


@pytest.mark.slow
def test_a_plan_is_one_list_and_one_value_read_per_secret(rows: list[dict[str, Any]]) -> None:
    for row in by(rows, "plan (default concurrency)") + by(rows, "plan, sequential baseline"):
        n = int(row["params"].split()[0].removeprefix("N="))
        assert row["counts"] == {"list": 1, "get_value": n}


@pytest.mark.slow
def test_an_apply_is_one_write_per_change_plus_one_verifying_list(rows: list[dict[str, Any]]) -> None:
    for row in by(rows, "apply: N creates"):
        n = int(row["params"].split()[0].removeprefix("N="))
        assert row["counts"] == {"list": 2, "create": n}  # the plan's list and the verifying list
    for row in by(rows, "apply: N updates"):
        n = int(row["params"].split()[0].removeprefix("N="))
        assert row["counts"] == {"list": 2, "get_value": n, "update": n}


@pytest.mark.slow
def test_rate_limited_runs_agreeing_with_the_server_get_no_429(rows: list[dict[str, Any]]) -> None:
    (agree,) = by(rows, "plan at the rate limit, both sides agree")
    n = int(agree["params"].split(",")[0].removeprefix("N="))
    assert agree["counts"] == {"list": 1, "get_value": n}  # nothing refused, nothing retried
    (budget,) = by(rows, "request rate at the budget")
    assert sum(budget["counts"].values()) == 40


@pytest.mark.slow
def test_many_sites_and_the_warm_value_cache(rows: list[dict[str, Any]]) -> None:
    for row in by(rows, "ten sites at once, latency only"):
        assert row["counts"] == {"list": 3, "get_value": 30}
    (warm,) = by(rows, "plan with --value-cache, warm")
    assert warm["counts"] == {"list": 1, "get_value": 1}  # only the sampled re-read (executor.CACHE_SAMPLE)
    (cold,) = by(rows, "plan with --value-cache, cold")
    assert cold["counts"] == {"list": 1, "get_value": 50}


@pytest.mark.slow
def test_the_sdk_peer_and_wix_secrets_send_exactly_the_same_requests(rows: list[dict[str, Any]]) -> None:
    """The official-SDK script and wix-secrets, against the same emulator: 1 list + 1 read per secret per site."""
    one = by(rows, "peer: official SDK script, 1 site") + by(rows, "peer: wix-secrets plan vs the SDK script")
    one += by(rows, "peer: wix-secrets plan vs validate + network limit")
    assert [r["counts"] for r in one] == [{"list": 1, "get_value": 40}] * 3
    fleet = by(rows, "fleet: official SDK script, 4 sites at once")
    fleet += by(rows, "fleet: wix-secrets plan --all vs the SDK script")
    assert [r["counts"] for r in fleet] == [{"list": 4, "get_value": 24}] * 2
    big = by(rows, "fleet: official SDK script, 8 sites at once") + by(rows, "fleet: wix-secrets plan --all, 8 sites")
    big += by(rows, "fleet: peak memory of plan --all, 8 sites")
    assert [r["counts"] for r in big] == [{"list": 8, "get_value": 48}] * 3
    (memory,) = by(rows, "fleet: peak memory of plan --all, 8 sites")
    assert memory["unit"] == "MiB" and memory["measured"] > 0  # measured, not timed: no bound on speed
