"""Wix's help-page rules: names the dashboard would not accept (warning, or error with policy.names:
dashboard) and the 64-secret cap (a plan warning). Run through the CLI against ``--local``."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.siterules import cap_warning, dashboard_name_problem


def test_dashboard_name_rules() -> None:
    assert dashboard_name_problem("GOOD_name-1") is None
    assert "41 characters" in (dashboard_name_problem("A" * 41) or "")
    sharp = dashboard_name_problem("API#KEY") or ""
    assert "'#'" in sharp and "official Wix SDK cannot read" in sharp
    assert "'+'" in (dashboard_name_problem("a+b") or "")


def test_cap_warning_only_when_the_plan_goes_above_64() -> None:
    assert cap_warning(64, 10) is None
    assert "65 secrets" in (cap_warning(65, 64) or "")
    assert cap_warning(70, 70) is None  # already above and not growing: the cap evidently does not apply


def test_plan_warns_for_names_outside_the_dashboard_rules(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = tmp_path / "m.yaml"
    m.write_text("version: 1\nsecrets:\n  API#KEY:\n    value: v-1234\n  OK_NAME:\n    value: v-5678\n")
    result = cli("plan", "--local", str(tmp_path / "site.json"), str(m))
    assert result.code == 0, result.err
    text = result.out + result.err
    assert "API#KEY contains '#'" in text and "OK_NAME contains" not in text


def test_policy_names_dashboard_makes_it_an_error_with_the_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = tmp_path / "m.yaml"
    m.write_text(
        "version: 1\nsecrets:\n  OK_NAME:\n    value: v-5678\n  a+b:\n    value: v-1234\npolicy:\n  names: dashboard\n"
    )
    result = cli("validate", str(m))
    assert result.code == 1
    assert ":5:" in result.err and "a+b contains '+'" in result.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsecrets: {}\npolicy:\n  names: web\n")
    assert cli("validate", str(bad)).code == 1


def test_plan_warns_when_the_site_would_exceed_64_secrets(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tmp_path / "site.json")
    m = tmp_path / "m.yaml"
    m.write_text("version: 1\nsecrets:\n" + "".join(f"  S{i:02d}:\n    value: v-{i:04d}\n" for i in range(64)))
    assert cli("apply", "--local", site, "--auto-approve", str(m)).code == 0
    quiet = cli("plan", "--local", site, str(m))
    assert "at most 64" not in quiet.out + quiet.err
    more = tmp_path / "more.yaml"
    more.write_text(m.read_text() + "  EXTRA:\n    value: v-extra\n")
    result = cli("plan", "--local", site, "--json", str(more))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert "65 secrets" in json.dumps(doc)


def test_validate_warns_too_and_stays_valid(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = tmp_path / "m.yaml"
    m.write_text("version: 1\nsecrets:\n  " + "N" * 45 + ":\n    value: v-1234\n")
    result = cli("validate", str(m))
    assert result.code == 0
    assert "warning: " + "N" * 45 + " is 45 characters long" in result.err


def test_uncleared_memory_is_private_holds_no_text_and_ignores_a_damaged_file(tmp_path: Path) -> None:
    import stat

    from reconciler.uncleared import Uncleared, state_file

    path = state_file({"XDG_STATE_HOME": str(tmp_path / "state")})
    memory = Uncleared(path, "https://www.wixapis.com site-1")
    assert memory.remember([("id-1", "a kept description")]) is True
    assert memory.remember([("id-1", "a kept description")]) is False
    memory.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "a kept description" not in path.read_text() and "site-1" not in path.read_text()
    assert Uncleared(path, "https://www.wixapis.com site-1").known.keys() == {"id-1"}
    assert Uncleared(path, "https://www.wixapis.com site-2").known == {}
    path.write_text("{not json")
    assert Uncleared(path, "https://www.wixapis.com site-1").known == {}
