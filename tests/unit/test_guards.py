"""Guards: renames of existing names are destructive, protect cannot be bypassed, every refusal at once."""

from __future__ import annotations

import pytest

from reconciler.errors import ExitCode, GuardError
from reconciler.guards import Limits, check_guards, refusals
from reconciler.model import DesiredSecret, DesiredState, Policy, RemoteSecret, RemoteState, Sensitive
from reconciler.plan import Action, Change, Plan, make_plan


def remote(*names: str) -> RemoteState:
    secrets = tuple(RemoteSecret(f"id-{n}", n, "", "d", "d") for n in names)
    return RemoteState(secrets, {s.id: Sensitive("v") for s in secrets})


def want(name: str, *renamed_from: str) -> DesiredSecret:
    return DesiredSecret(name, Sensitive("v"), renamed_from=renamed_from)


def test_renames_of_existing_names_count_as_destructive() -> None:
    site = remote(*(f"old{i}" for i in range(7)))
    state = DesiredState(tuple(want(f"new{i}", f"old{i}") for i in range(7)))
    plan = make_plan(state, site)
    assert len(plan.of(Action.RENAME)) == 7
    with pytest.raises(GuardError) as info:
        check_guards(plan, state, site, Limits())
    assert "deletes or renames away 7 secrets, more than --max-deletes 5" in str(info.value)
    assert info.value.exit_code == ExitCode.GUARD
    assert "old0 (renamed to new0)" in str(info.value)


def test_every_refusing_guard_is_reported_with_one_set_of_flags() -> None:
    site = remote(*(f"s{i}" for i in range(10)))
    state = DesiredState((want("s0"), want("s1")), Policy(prune=True))
    plan = make_plan(state, site)
    found = refusals(plan, state, site, Limits())
    assert [r.guard for r in found] == ["max-deletes", "mass-delete"]
    with pytest.raises(GuardError) as info:
        check_guards(plan, state, site, Limits())
    assert info.value.hint == "if this is intended, pass --max-deletes 8 --allow-mass-delete"
    assert "more than --max-deletes 5" in str(info.value) and "more than half" in str(info.value)
    # the hint is enough: with exactly those flags, nothing refuses
    assert refusals(plan, state, site, Limits(max_deletes=8, allow_mass_delete=True)) == []


def test_a_plan_touching_a_protected_secret_is_refused_whatever_the_flags() -> None:
    # make_plan never plans these; a plan from elsewhere (a saved plan file) may hold them
    site = remote("prod_db", "other")
    state = DesiredState((want("new_db"),), Policy(protect=("prod_*",)))
    prod = site.secrets[0]
    for change in (
        Change(Action.DELETE, "prod_db", prod),
        Change(Action.RENAME, "new_db", prod, previous_name="prod_db", changed=("name",)),
        Change(Action.UPDATE, "new_db", prod, changed=("value",), value=Sensitive("x")),
    ):
        with pytest.raises(GuardError) as info:
            check_guards(Plan((change,)), state, site, Limits(max_deletes=100, allow_mass_delete=True))
        assert "prod_db is protected by 'prod_*'" in str(info.value)
        assert info.value.hint is not None and "no flag overrides protect" in info.value.hint
    # updating it under its own name is what a manifest declaring it asks for
    same = Change(Action.UPDATE, "prod_db", prod, changed=("value",), value=Sensitive("x"))
    check_guards(Plan((same,)), state, site, Limits())
