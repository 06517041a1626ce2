"""Connection settings (service.connection): flags override the environment mapping, which overrides
the defaults; ``WIX_RATE_LIMIT`` sets the request budget like ``--rate-limit`` and a bad value is a usage
error that sends nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import UsageError
from reconciler.service import connection_settings
from reconciler.service.connection import DEFAULT_RATE_LIMIT

from support import EmulatorSites, wix_env


def test_the_rate_limit_comes_from_the_flag_then_wix_rate_limit_then_the_default(tmp_path: Path) -> None:
    remote = {"WIX_API_URL": "https://example.invalid"}
    assert connection_settings(remote, cwd=tmp_path).rate_limit == DEFAULT_RATE_LIMIT
    assert connection_settings({**remote, "WIX_RATE_LIMIT": "60"}, cwd=tmp_path).rate_limit == 60.0
    assert connection_settings({**remote, "WIX_RATE_LIMIT": " 90.5 "}, cwd=tmp_path).rate_limit == 90.5
    assert connection_settings({**remote, "WIX_RATE_LIMIT": "0"}, cwd=tmp_path).rate_limit is None  # unlimited
    assert connection_settings({**remote, "WIX_RATE_LIMIT": ""}, cwd=tmp_path).rate_limit == DEFAULT_RATE_LIMIT
    flagged = connection_settings({**remote, "WIX_RATE_LIMIT": "60"}, cwd=tmp_path, rate_limit=30)
    assert flagged.rate_limit == 30
    # the embedded local site has no budget unless one is asked for
    assert connection_settings({}, cwd=tmp_path, local="s.json").rate_limit is None
    assert connection_settings({"WIX_RATE_LIMIT": "20"}, cwd=tmp_path, local="s.json").rate_limit == 20.0


@pytest.mark.parametrize("raw", ["fast", "-1", "nan", "inf", "1e999"])
def test_a_bad_wix_rate_limit_is_a_usage_error_naming_the_variable(tmp_path: Path, raw: str) -> None:
    with pytest.raises(UsageError, match="WIX_RATE_LIMIT must be a number of requests per minute"):
        connection_settings({"WIX_RATE_LIMIT": raw}, cwd=tmp_path)


def test_the_cli_refuses_a_bad_wix_rate_limit_before_any_request(
    cli: Any, tmp_path: Path, emulator_site: EmulatorSites
) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nsecrets:\n  FIRST:\n    value: v\n", encoding="utf-8")
    emulator, url = emulator_site(api_key="k")
    env = wix_env(url, api_key="k", site_id="s", WIX_RATE_LIMIT="lots")
    result = cli("plan", str(manifest), env=env)
    assert result.code == 1 and "WIX_RATE_LIMIT" in result.err and "Traceback" not in result.err
    assert emulator.requests == []
    env["WIX_RATE_LIMIT"] = "0"
    assert cli("plan", str(manifest), env=env).code == 0
    assert [r.route for r in emulator.requests][:1] == ["list"]
