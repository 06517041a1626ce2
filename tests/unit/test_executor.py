"""What the executor reads: exactly the values the plan needs."""

from __future__ import annotations

from reconciler.executor import names_to_read
from reconciler.model import DesiredSecret, DesiredState, Policy, RemoteSecret, Sensitive


def remote(*names: str) -> list[RemoteSecret]:
    return [RemoteSecret(f"id-{n}", n) for n in names]


def test_reads_declared_names_and_rename_sources_never_undeclared_or_ignored() -> None:
    desired = DesiredState(
        secrets=(
            DesiredSecret("A", Sensitive("a")),
            DesiredSecret("B", Sensitive("b"), renamed_from=("OLD",)),
            DesiredSecret("C", Sensitive("c"), renamed_from=("B",)),  # chain: B moves to C, OLD to B
            DesiredSecret("GONE", None, state="absent"),
            DesiredSecret("ign_x", Sensitive("x")),
        ),
        policy=Policy(ignore=("ign_*",)),
    )
    listed = remote("A", "B", "OLD", "GONE", "other", "ign_x")
    assert sorted(s.name for s in names_to_read(desired, listed)) == ["A", "B", "OLD"]
