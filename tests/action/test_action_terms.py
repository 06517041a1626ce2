"""The Action's messages name its inputs, not the CLI's flags (``action.in_action_terms``): a guard's hint
says ``allow-mass-delete: true`` where the CLI says ``--allow-mass-delete``. Flags with no input, and text
that only looks like a flag (a secret name such as ``A--prune``), are left alone."""

from __future__ import annotations

import pytest

from reconciler.action import in_action_terms


@pytest.mark.parametrize(
    ("cli", "action"),
    [
        ("if this is intended, pass --allow-mass-delete", "if this is intended, pass allow-mass-delete: true"),
        ("more than --max-deletes 3 (A, B)", "more than max-deletes: 3 (A, B)"),
        ("pass --max-deletes 7 --allow-mass-delete", "pass max-deletes: 7 allow-mass-delete: true"),
        ("or to --backup-age RECIPIENT; or pass --no-backup", "or to backup-age: RECIPIENT; or pass no-backup: true"),
        ("narrow policy.code / --code so that", "narrow policy.code / the code input so that"),
        ("or pass --allow-breaking-code", "or pass allow-breaking-code: true"),
        ("plan --out FILE", "plan plan-file: FILE"),
        ("use --local or --target NAME", "use --local or --target NAME"),  # no such inputs
        ("the secret A--prune and x --max-deletes-ish", "the secret A--prune and x --max-deletes-ish"),
    ],
)
def test_cli_flags_become_the_inputs_that_do_the_same(cli: str, action: str) -> None:
    assert in_action_terms(cli) == action
