"""The default human plan: unmanaged secrets by name (issue 13.10), descriptions old → new (issue 13.11)."""

from __future__ import annotations

from reconciler.model import DesiredSecret, DesiredState, RemoteSecret, RemoteState, Sensitive
from reconciler.plan import make_plan
from reconciler.render import RunInfo
from reconciler.render.human import render_plan

INFO = RunInfo("plan", ("m.yaml",))


def test_the_default_plan_lists_unmanaged_secrets_by_name_but_not_unchanged_ones() -> None:
    remote = RemoteState(
        (RemoteSecret("1", "KEEP", "", "d", "d"), RemoteSecret("2", "stray_one", "", "d", "d")),
        {"1": Sensitive("v")},
    )
    text = render_plan(make_plan(DesiredState((DesiredSecret("KEEP", Sensitive("v")),)), remote), INFO)
    assert "  ? stray_one  not declared; kept (prune is off)" in text
    assert "KEEP" not in text.split("\n\n")[1]  # unchanged: only with -v
    assert "(1 not managed)" in text
    verbose = render_plan(make_plan(DesiredState((DesiredSecret("KEEP", Sensitive("v")),)), remote), INFO, verbose=True)
    assert "  = KEEP" in verbose


def test_a_description_change_shows_old_and_new_with_control_characters_escaped() -> None:
    remote = RemoteState(
        (RemoteSecret("1", "A", "old text", "d", "d"), RemoteSecret("2", "R0", "was\x1b[2J", "d", "d")),
        {"1": Sensitive("v"), "2": Sensitive("v")},
    )
    desired = DesiredState(
        (
            DesiredSecret("A", Sensitive("v"), description="new text"),
            DesiredSecret("R", Sensitive("v"), description="", renamed_from=("R0",)),
            DesiredSecret("C", Sensitive("v"), description="brand new"),
        )
    )
    text = render_plan(make_plan(desired, remote), INFO)
    assert "      description: 'old text' → 'new text'" in text
    assert "      description: 'was\\x1b[2J' → ''" in text and "\x1b" not in text
    assert "      description: 'brand new'" in text
