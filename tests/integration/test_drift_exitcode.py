"""``drift --detailed-exitcode``: the exit code agrees with the text (issue 13 item 1). A secret the
manifest does not manage is drift only when the policy prunes, and then the text says it would be
deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_unmanaged_secrets_are_drift_only_with_prune(cli: Any, tmp_path: Path) -> None:
    site = str(tmp_path / "site.json")
    both = tmp_path / "both.yaml"
    both.write_text("version: 1\nsecrets:\n  A:\n    value: aaaa\n  EXTRA:\n    value: eeee\n")
    assert cli("apply", "--local", site, "--auto-approve", "--no-backup", str(both)).code == 0
    one = tmp_path / "one.yaml"
    one.write_text("version: 1\nsecrets:\n  A:\n    value: aaaa\n")
    quiet = cli("drift", "--local", site, "--detailed-exitcode", str(one))
    assert quiet.code == 0, quiet.out
    assert "No drift" in quiet.out and "EXTRA" in quiet.out  # listed as not managed, not as drift
    pruning = tmp_path / "prune.yaml"
    pruning.write_text("version: 1\npolicy:\n  prune: true\nsecrets:\n  A:\n    value: aaaa\n")
    drifted = cli("drift", "--local", site, "--detailed-exitcode", str(pruning))
    assert drifted.code == 2, drifted.out
    assert "No drift" not in drifted.out and "EXTRA" in drifted.out and "delete" in drifted.out
