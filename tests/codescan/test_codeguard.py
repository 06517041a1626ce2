"""The code guard, code-aware findings, secret age and their rendering: pure functions on values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.codeguard import check_code, code_report, missing_names, unreferenced
from reconciler.codescan import CodeScan, Unscanned, scan_texts
from reconciler.codescan.age import format_duration, overdue_secrets, parse_duration, parse_wix_date
from reconciler.model import DesiredSecret, DesiredState, Policy, RemoteSecret, RemoteState, Sensitive
from reconciler.plan import make_plan
from reconciler.render.code import CodeAnnotation, code_annotations, code_human, code_json, code_markdown

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CODE = scan_texts(
    [
        ("src/backend/stripe.web.js", 'import { getSecret } from "wix-secrets-backend";\n\nawait getSecret("STRIPE");'),
        ("src/backend/mail.jsw", 'await secrets.getSecretValue("MAIL_KEY");\nawait secrets.getSecretValue("GHOST");'),
    ]
)
DYNAMIC = scan_texts([("src/backend/util.js", "export const read = (n) => getSecret(n);")])


def remote(*names: str, updated: str = "2026-05-01T00:00:00.000Z") -> RemoteState:
    secrets = tuple(RemoteSecret(id=f"id-{n}", name=n, updated_date=updated) for n in names)
    return RemoteState(secrets, {s.id: Sensitive("v") for s in secrets})


def desired(*secrets: DesiredSecret, **policy: object) -> DesiredState:
    return DesiredState(secrets=secrets, policy=Policy(**policy))  # type: ignore[arg-type]


def present(name: str, **kw: object) -> DesiredSecret:
    return DesiredSecret(name, Sensitive("v"), **kw)  # type: ignore[arg-type]


def absent(name: str) -> DesiredSecret:
    return DesiredSecret(name, None, state="absent")


def test_deleting_a_referenced_name_is_refused_with_every_location() -> None:
    state = desired(present("MAIL_KEY"), absent("STRIPE"))
    plan = make_plan(state, remote("STRIPE", "MAIL_KEY"))
    verdict = check_code(plan, CODE, dynamic_names=None)
    assert [(b.name, b.action, [r.location for r in b.references]) for b in verdict.breaking] == [
        ("STRIPE", "delete", ["src/backend/stripe.web.js:3:17"])
    ]
    assert verdict.error is not None and verdict.error.exit_code == 5
    assert verdict.error.guard == "code-references"
    assert "src/backend/stripe.web.js:3:17" in (verdict.error.detail or "")
    assert "--allow-breaking-code" in (verdict.error.hint or "")
    allowed = check_code(plan, CODE, dynamic_names=None, allow_breaking=True)
    assert allowed.error is None and allowed.allowed and len(allowed.breaking) == 1


def test_pruning_and_renaming_away_are_refused_the_same_way() -> None:
    pruned = make_plan(desired(present("MAIL_KEY"), prune=True), remote("STRIPE", "MAIL_KEY"))
    assert [b.what for b in check_code(pruned, CODE, dynamic_names=None).breaking] == ["delete STRIPE"]
    renamed = make_plan(desired(present("STRIPE_V2", renamed_from=("STRIPE",))), remote("STRIPE"))
    verdict = check_code(renamed, CODE, dynamic_names=None)
    assert [b.what for b in verdict.breaking] == ["rename STRIPE → STRIPE_V2"] and verdict.error is not None
    # renaming TO a referenced name breaks nothing; a name freed and re-created breaks nothing
    onto = make_plan(desired(present("STRIPE", renamed_from=("OLD",))), remote("OLD"))
    assert check_code(onto, CODE, dynamic_names=None).breaking == ()
    reuse = make_plan(desired(present("NEW", renamed_from=("STRIPE",)), present("STRIPE")), remote("STRIPE"))
    assert check_code(reuse, CODE, dynamic_names=None).breaking == ()


def test_unreferenced_deletes_pass_without_dynamic_references() -> None:
    plan = make_plan(desired(absent("UNUSED"), present("STRIPE")), remote("UNUSED", "STRIPE"))
    assert check_code(plan, CODE, dynamic_names=None).error is None


def test_dynamic_references_make_every_delete_conservative() -> None:
    plan = make_plan(desired(absent("UNUSED")), remote("UNUSED", "KEEP"))
    verdict = check_code(plan, DYNAMIC, dynamic_names=None)
    assert verdict.error is not None and not verdict.breaking[0].certain
    assert "cannot resolve" in verdict.error.summary
    assert "src/backend/util.js:1:38" in (verdict.error.detail or "")
    assert "policy.code_dynamic_names" in (verdict.error.hint or "")
    # listing the names dynamic references can take lifts the refusal for the others...
    assert check_code(plan, DYNAMIC, dynamic_names=("PAYMENT_*",)).error is None
    # ...but not for a name they list
    listed = check_code(plan, DYNAMIC, dynamic_names=("UNU*",))
    assert listed.error is not None and listed.breaking[0].dynamic == DYNAMIC.dynamic


def test_unscanned_files_keep_deletes_refused() -> None:
    scan = CodeScan(CODE.references, 2, (Unscanned("src/huge.js", "larger than 1024 KiB"),))
    plan = make_plan(desired(absent("UNUSED")), remote("UNUSED"))
    verdict = check_code(plan, scan, dynamic_names=("X",))
    assert verdict.error is not None and "src/huge.js (larger than 1024 KiB)" in (verdict.error.detail or "")


def test_missing_and_unreferenced_names() -> None:
    state = desired(present("STRIPE"))
    site = remote("STRIPE", "MAIL_KEY", "OLD_ONE", "legacy_x")
    assert [n for n, _ in missing_names(CODE, state, site)] == ["GHOST"]
    assert unreferenced(site, CODE, ignore=("legacy_*",), dynamic_names=None) == ("OLD_ONE",)
    both = CodeScan(CODE.references + DYNAMIC.references, 3)
    assert unreferenced(site, both, ignore=(), dynamic_names=("OLD_*",)) == ("legacy_x",)


def test_durations_and_dates() -> None:
    assert parse_duration("90d") == 90 * 86400 and parse_duration("2w") == 14 * 86400
    assert parse_duration("36h") == 36 * 3600
    for bad in ("0d", "90", "d", "1.5d", "-3d", "90D", "1000000d"):
        assert parse_duration(bad) is None
    assert format_duration(90 * 86400) == "90d" and format_duration(14 * 86400) == "2w"
    assert format_duration(36 * 3600) == "36h"
    assert parse_wix_date("2024-01-02T03:04:05.678Z") == datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    for bad in ("", "yesterday", "2024-01-02T03:04:05", "9" * 100):
        assert parse_wix_date(bad) is None


def test_overdue_secrets() -> None:
    secrets = [
        RemoteSecret("1", "OLD", updated_date="2026-01-01T00:00:00Z"),
        RemoteSecret("2", "FRESH", updated_date="2026-05-30T00:00:00Z"),
        RemoteSecret("3", "STRICT", updated_date="2026-05-01T00:00:00Z"),
        RemoteSecret("4", "NO_DATE", updated_date=""),
        RemoteSecret("5", "SKIPPED", updated_date="2020-01-01T00:00:00Z"),
    ]
    found = overdue_secrets(
        secrets, default_max_age=90 * 86400, per_secret={"STRICT": 7 * 86400}, now=NOW, skip={"SKIPPED"}
    )
    assert [(o.name, o.age_days, o.max_age) for o in found] == [("OLD", 151, "90d"), ("STRICT", 31, "1w")]
    assert found[0].message == "OLD: value last changed 2026-01-01, 151 days ago (max_age 90d)"
    assert overdue_secrets(secrets, default_max_age=None, per_secret={}, now=NOW) == ()


def test_code_report_for_plan_and_drift() -> None:
    state = desired(present("STRIPE"), present("MAIL_KEY", max_age=86400), absent("OLD_ONE"), max_age=365 * 86400)
    site = remote("STRIPE", "MAIL_KEY", "OLD_ONE", "UNUSED", updated="2026-01-01T00:00:00Z")
    plan = make_plan(state, site)
    report = code_report(plan, state, site, CODE, command="plan", now=NOW)
    assert report.verdict.error is None and report.unreferenced == ()
    assert [o.name for o in report.overdue] == ["MAIL_KEY"]  # OLD_ONE is being deleted
    assert [n for n, _ in report.missing] == ["GHOST"]
    assert "neither declared nor on the site" in report.warnings()[0]
    drift = code_report(plan, state, site, CODE, command="drift", now=NOW)
    assert drift.unreferenced == ("OLD_ONE", "UNUSED") and drift.verdict.breaking == ()
    no_code = code_report(plan, state, site, None, command="drift", now=NOW)
    assert no_code.scan is None and [o.name for o in no_code.overdue] == ["MAIL_KEY"]
    assert code_json(no_code)["code"] is None


def test_renderers_never_let_code_text_inject() -> None:
    hostile = scan_texts([("src/a.js", 'getSecret("x<img src=x>|`@team`\\n::error::forged%0A")')])
    state = desired(absent("x<img src=x>|`@team`\\n::error::forged%0A"))
    # the name cannot be a real secret name; use the guard directly on a plan with that remote name
    site = remote("x<img src=x>|`@team`\\n::error::forged%0A")
    plan = make_plan(state, site)
    report = code_report(plan, state, site, hostile, command="plan", now=NOW)
    markdown = code_markdown(report)
    assert "<img" not in markdown and "&lt;img" in markdown
    notes = code_annotations(code_json(report))
    assert [n.level for n in notes] == ["error"] and "forged%0A" in notes[0].message  # escaped by the action
    human = code_human(report)
    assert "\x1b" not in human and "delete x<img" in human


def test_human_markdown_json_and_annotations() -> None:
    state = desired(absent("STRIPE"), present("MAIL_KEY"), max_age=30 * 86400)
    site = remote("STRIPE", "MAIL_KEY", updated="2026-01-01T00:00:00Z")
    plan = make_plan(state, site)
    report = code_report(plan, state, site, CODE, command="plan", now=NOW)
    human = code_human(report)
    assert "✗ delete STRIPE: the code reads STRIPE" in human
    assert "      src/backend/stripe.web.js:3:17  getSecret" in human
    assert "Rotation overdue: 1 secret(s)" in human and "MAIL_KEY: value last changed 2026-01-01" in human
    markdown = code_markdown(report)
    assert "**refused**" in markdown and "`src/backend/stripe.web.js:3:17`" in markdown
    assert "#### Rotation overdue" in markdown
    doc = code_json(report)
    assert doc["code"]["refused"] is True
    assert doc["code"]["breaking"][0]["references"][0] == {
        "name": "STRIPE",
        "file": "src/backend/stripe.web.js",
        "line": 3,
        "column": 17,
        "api": "getSecret",
        "detail": None,
    }
    assert doc["overdue"] == [
        {"name": "MAIL_KEY", "updated": "2026-01-01T00:00:00Z", "age_days": 151, "max_age": "30d"}
    ]
    assert code_annotations(doc) == [
        CodeAnnotation(
            "error", "wix-secrets: the plan would delete STRIPE; this code reads it", "src/backend/stripe.web.js", 3, 17
        ),
        CodeAnnotation(
            "warning",
            "wix-secrets: the code reads GHOST, which is neither declared nor on the site",
            "src/backend/mail.jsw",
            2,
            30,
        ),
    ]
    assert (
        code_annotations({"code": {"breaking": [{"name": 1}, "x"], "missing": [{"name": "A", "references": [{}]}]}})
        == []
    )
    assert code_annotations({"code": None}) == [] and code_annotations({}) == []


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_empty_report_renders_nothing(command: str) -> None:
    state = desired(present("A"))
    site = remote("A")
    report = code_report(make_plan(state, site), state, site, None, command=command, now=NOW)
    assert report.empty and code_human(report) == "" and code_markdown(report) == ""
