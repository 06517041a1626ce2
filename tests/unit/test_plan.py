"""The plan is a pure function: tables of (desired, remote) → changes, with exact expectations."""

from __future__ import annotations

import pytest

from reconciler.model import UNSET, DesiredSecret, DesiredState, Policy, RemoteSecret, RemoteState, Sensitive
from reconciler.plan import Action, Plan, make_plan


def desired(
    *secrets: DesiredSecret, prune: bool = False, protect: tuple[str, ...] = (), ignore: tuple[str, ...] = ()
) -> DesiredState:
    return DesiredState(secrets=secrets, policy=Policy(prune=prune, protect=protect, ignore=ignore))


def want(name: str, value: str | None = "v", **kw: object) -> DesiredSecret:
    return DesiredSecret(name, Sensitive(value) if value is not None else None, **kw)  # type: ignore[arg-type]


def remote(*items: tuple[str, str | None] | tuple[str, str | None, str]) -> RemoteState:
    secrets = []
    values = {}
    for i, item in enumerate(items):
        name, value = item[0], item[1]
        description = item[2] if len(item) > 2 else ""
        sid = f"00000000-0000-4000-8000-{i:012d}"
        secrets.append(RemoteSecret(sid, name, description, "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"))
        if value is not None:
            values[sid] = Sensitive(value)
    return RemoteState(tuple(secrets), values)


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(c.action.value, c.name) for c in plan.changes]


def test_create_update_noop_and_unmanaged() -> None:
    plan = make_plan(
        desired(want("A", "1"), want("B", "2"), want("C", "3")),
        remote(("B", "changed"), ("C", "3"), ("D", None)),
    )
    assert actions(plan) == [("create", "A"), ("update", "B"), ("no-op", "C"), ("unmanaged", "D")]
    assert plan.summary() == {
        "create": 1,
        "update": 1,
        "rename": 0,
        "delete": 0,
        "unchanged": 1,
        "unmanaged": 1,
        "ignored": 0,
    }
    assert plan.of(Action.UPDATE)[0].changed == ("value",)
    assert plan.has_changes


def test_values_are_compared_for_real_and_an_unread_value_is_never_equal() -> None:
    # The remote value was not read (None): the plan must not treat "unknown" as "equal".
    plan = make_plan(desired(want("A", "1")), remote(("A", None)))
    assert actions(plan) == [("update", "A")]


def test_description_omitted_is_left_alone_and_empty_string_clears() -> None:
    plan = make_plan(desired(want("A", "1")), remote(("A", "1", "old")))
    assert actions(plan) == [("no-op", "A")]
    plan = make_plan(desired(want("A", "1", description="")), remote(("A", "1", "old")))
    change = plan.changes[0]
    assert (change.action, change.changed, change.description) == (Action.UPDATE, ("description",), "")
    assert change.value is None  # only changed fields are sent


def test_rename_keeps_the_id_and_carries_value_changes() -> None:
    state = remote(("db_url", "old"))
    plan = make_plan(desired(want("DATABASE_URL", "new", renamed_from=("db_url",))), state)
    change = plan.changes[0]
    assert change.action is Action.RENAME
    assert change.id == state.secrets[0].id
    assert change.previous_name == "db_url"
    assert change.changed == ("name", "value")


def test_rename_when_both_names_exist_updates_in_place_and_warns() -> None:
    plan = make_plan(desired(want("NEW", "v", renamed_from=("OLD",))), remote(("NEW", "v"), ("OLD", "x")))
    assert actions(plan) == [("no-op", "NEW"), ("unmanaged", "OLD")]
    assert any("both names exist" in w for w in plan.warnings)


def test_rename_chain_is_ordered_so_names_never_collide() -> None:
    # A→B needs B free first: B→C runs before A→B; both keep their ids.
    state = remote(("A", "a"), ("B", "b"))
    plan = make_plan(desired(want("B", "a", renamed_from=("A",)), want("C", "b", renamed_from=("B",))), state)
    assert plan.conflicts == ()
    assert [(c.action.value, c.previous_name, c.name) for c in plan.changes] == [
        ("rename", "B", "C"),
        ("rename", "A", "B"),
    ]
    assert [c.id for c in plan.changes] == [state.secrets[1].id, state.secrets[0].id]
    assert all(c.changed == ("name",) for c in plan.changes)


def test_rename_away_then_create_reusing_the_freed_name() -> None:
    state = remote(("OLD", "v"))
    plan = make_plan(desired(want("NEW", "v", renamed_from=("OLD",)), want("OLD", "fresh")), state)
    assert plan.conflicts == ()
    assert actions(plan) == [("rename", "NEW"), ("create", "OLD")]
    assert plan.changes[0].id == state.secrets[0].id
    assert plan.changes[1].reason == "reuses the name freed by the rename to NEW"


def test_rename_swap_is_a_cycle_conflict() -> None:
    plan = make_plan(
        desired(want("A", "b", renamed_from=("B",)), want("B", "a", renamed_from=("A",))),
        remote(("A", "a"), ("B", "b")),
    )
    assert len(plan.conflicts) == 1 and "cycle" in plan.conflicts[0]
    assert not plan.of(Action.RENAME)


def test_two_rename_sources_present_is_a_conflict() -> None:
    plan = make_plan(desired(want("N", "v", renamed_from=("A", "B"))), remote(("A", "v"), ("B", "v")))
    assert plan.conflicts and "all exist" in plan.conflicts[0]


def test_tombstone_deletes_without_prune_and_protect_wins() -> None:
    plan = make_plan(
        desired(
            want("KEEP"),
            DesiredSecret("OLD", None, state="absent"),
            DesiredSecret("prod_key", None, state="absent"),
            protect=("prod_*",),
        ),
        remote(("KEEP", "v"), ("OLD", None), ("prod_key", None)),
    )
    assert ("delete", "OLD") in actions(plan)
    assert ("unmanaged", "prod_key") in actions(plan)
    assert any("protected" in w for w in plan.warnings)


def test_tombstone_for_an_absent_secret_is_nothing() -> None:
    plan = make_plan(desired(want("A"), DesiredSecret("GONE", None, state="absent")), remote(("A", "v")))
    assert actions(plan) == [("no-op", "A")]


@pytest.mark.parametrize(("prune", "expected"), [(False, "unmanaged"), (True, "delete")])
def test_prune_is_opt_in(prune: bool, expected: str) -> None:
    plan = make_plan(desired(want("A"), prune=prune), remote(("A", "v"), ("EXTRA", None)))
    assert (expected, "EXTRA") in actions(plan)


def test_prune_flag_overrides_policy_and_protect_still_wins() -> None:
    state = desired(want("A"), protect=("prod_*",))
    plan = make_plan(state, remote(("A", "v"), ("prod_db", None), ("tmp", None)), prune=True)
    assert ("delete", "tmp") in actions(plan)
    assert ("unmanaged", "prod_db") in actions(plan)


def test_ignored_secrets_are_not_planned_or_touched() -> None:
    plan = make_plan(desired(want("A"), ignore=("legacy_*",), prune=True), remote(("A", "v"), ("legacy_x", None)))
    assert actions(plan) == [("no-op", "A")]
    assert plan.ignored == ("legacy_x",)
    assert plan.summary()["ignored"] == 1


def test_case_only_clash_with_a_remote_name_is_a_conflict() -> None:
    plan = make_plan(desired(want("Api_Key")), remote(("API_KEY", "v")))
    assert plan.conflicts and "differs only by case" in plan.conflicts[0]
    assert not plan.of(Action.CREATE)


def test_order_is_deterministic_renames_then_creates_updates_then_deletes() -> None:
    plan = make_plan(
        desired(want("b"), want("a"), want("R", renamed_from=("r0",)), DesiredSecret("z", None, state="absent")),
        remote(("b", "x"), ("r0", "v"), ("z", None)),
    )
    assert actions(plan) == [("rename", "R"), ("create", "a"), ("update", "b"), ("delete", "z")]


def test_only_the_declared_value_s_fingerprint_reaches_a_change() -> None:
    plan = make_plan(desired(want("A", "new", fingerprint="0123456789ab")), remote(("A", "old")))
    change = plan.changes[0]
    assert change.fingerprint_after == "0123456789ab"
    assert not hasattr(change, "fingerprint_before")  # nothing derived from the site's value
    plan = make_plan(desired(want("A", "new")), remote(("A", "old")))
    assert plan.changes[0].fingerprint_after is None


def test_plan_and_changes_are_immutable_and_never_show_values() -> None:
    plan = make_plan(desired(want("A", "canary-value-123")), remote())
    with pytest.raises(AttributeError):
        plan.changes = ()  # type: ignore[misc]
    assert "canary-value-123" not in repr(plan)
    assert "canary-value-123" not in str(plan.changes[0])


def test_unset_description_on_create_sends_only_the_value() -> None:
    plan = make_plan(desired(want("A")), remote())
    assert plan.changes[0].changed == ("value",)
    assert plan.changes[0].description is UNSET


def test_renamed_from_a_protected_secret_is_a_conflict_not_a_rename() -> None:
    # issue 10.5: renaming a protected secret away (and overwriting its value) bypassed protect
    state = remote(("prod_key", "live"), ("OTHER", "v"))
    plan = make_plan(
        desired(want("stolen", "attacker", renamed_from=("prod_key",)), want("OTHER"), protect=("prod_*",)),
        state,
        prune=True,
    )
    assert not plan.of(Action.RENAME, Action.CREATE, Action.DELETE, Action.UPDATE)
    assert len(plan.conflicts) == 1 and "prod_key is protected by 'prod_*'" in plan.conflicts[0]
    assert ("unmanaged", "prod_key") in actions(plan)


def test_refused_rename_onto_an_existing_name_still_plans_that_name_normally() -> None:
    plan = make_plan(
        desired(want("KEEP", "new", renamed_from=("prod_x",)), protect=("prod_*",)),
        remote(("KEEP", "old"), ("prod_x", "p")),
    )
    assert plan.conflicts and ("update", "KEEP") in actions(plan)


@pytest.mark.parametrize("name", ["A", "renamed"])
def test_rendered_plans_do_not_depend_on_the_site_s_current_value(name: str) -> None:
    # whatever the site holds (as long as it differs), every rendering is the same byte for byte
    from reconciler.render import RunInfo
    from reconciler.render.human import render_plan
    from reconciler.render.json import dumps, plan_document
    from reconciler.render.markdown import render_markdown

    info = RunInfo("plan", ("m.yaml",))
    rendered = set()
    for current in ("hunter2", "letmein", "x" * 3500):
        state = desired(want(name, "new", renamed_from=("A",) if name != "A" else (), fingerprint="0123456789ab"))
        plan = make_plan(state, remote(("A", current)))
        assert plan.has_changes
        rendered.add(
            (render_plan(plan, info, verbose=True), dumps(plan_document(plan, info)), render_markdown(plan, info))
        )
    assert len(rendered) == 1


def test_a_case_only_rename_is_one_rename_by_id_not_a_clash() -> None:
    # issue 13.3: refused as a conflict with "Rename one of them first", although it is the rename
    state = remote(("webhook_signing_secret", "v"))
    plan = make_plan(desired(want("WEBHOOK_SIGNING_SECRET", "v", renamed_from=("webhook_signing_secret",))), state)
    assert plan.conflicts == ()
    assert [(c.action, c.previous_name, c.name, c.changed) for c in plan.changes] == [
        (Action.RENAME, "webhook_signing_secret", "WEBHOOK_SIGNING_SECRET", ("name",))
    ]
    assert plan.changes[0].id == state.secrets[0].id


def test_a_case_only_rename_still_clashes_with_a_third_spelling() -> None:
    plan = make_plan(
        desired(want("API_KEY", "v", renamed_from=("api_key",))), remote(("api_key", "v"), ("Api_Key", "v"))
    )
    assert plan.conflicts and "Api_Key" in plan.conflicts[0] and not plan.of(Action.RENAME)
