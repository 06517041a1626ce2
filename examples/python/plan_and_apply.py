"""Plan and apply examples/quickstart.sops.yaml against an emulated (--local) site, from Python.

Uses only the public API of the ``reconciler`` package (docs/python-api.md): it plans, applies with an
encrypted backup and an audit log, reads the typed result, and plans again to show the site converged.
The demo age key (examples/demo-age-key.txt) decrypts the manifest; its values are fake.

    python examples/python/plan_and_apply.py [WORK_DIR]

WORK_DIR (default: a new temporary folder) receives the emulated site, the backup and the audit log.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import reconciler
from reconciler import BackupOptions, Options

EXAMPLES = Path(__file__).resolve().parent.parent


def main(work: Path) -> int:
    environ = {"SOPS_AGE_KEY_FILE": str(EXAMPLES / "demo-age-key.txt"), "HOME": str(work)}
    manifest = EXAMPLES / "quickstart.sops.yaml"
    site = reconciler.local_site(work / "site.json")

    # 0. someone set an older Stripe key by hand: the apply will overwrite it (and back it up first)
    seed = b"version: 1\nsecrets:\n  STRIPE_API_KEY:\n    value: sk_test_an_older_demo_key\n"
    reconciler.apply_site(reconciler.load_manifests(seed), site, environ=environ)

    # 1. plan: a pure value, nothing written
    planned = reconciler.plan_site([manifest], site, environ=environ)
    assert planned.plan is not None
    summary = planned.plan.summary()
    print(f"plan: {summary['create']} to create, {summary['update']} to update, exit code {planned.exit_code}")
    for change in planned.plan.actionable:
        print(f"  {change.action.value:<7} {change.name} ({', '.join(change.changed) or 'new'})")

    # 2. apply with the CLI's safety: guards, an encrypted backup of what it overwrites, an audit log
    options = Options(
        backup=BackupOptions(directory=work / "backups"),
        audit_log=work / "audit.jsonl",
    )
    outcome = reconciler.apply_site([manifest], site, environ=environ, options=options)
    result = outcome.raise_for_status().result
    assert result is not None
    print(f"apply: {result.status}, {result.count('applied')} applied, converged={result.converged}")
    assert outcome.backup_path is not None  # encrypted to the manifest's recipients: restore with apply
    print(f"backup: {outcome.backup_path.name}")
    for item in result.items:
        print(f"  {item.change.action.value:<7} {item.change.name}: {item.status}")

    # 3. the audit log holds one JSON line per change (never a value)
    records = [json.loads(line) for line in (work / "audit.jsonl").read_text().splitlines()]
    print(f"audit: {len(records)} record(s), statuses {sorted({r['status'] for r in records})}")

    # 4. a second plan finds nothing to do
    again = reconciler.plan_site([manifest], site, environ=environ)
    assert again.plan is not None and not again.plan.has_changes
    print("plan again: no changes")
    return 0 if outcome.exit_code == 0 and not again.has_changes else 1


if __name__ == "__main__":
    if len(sys.argv) > 1:
        raise SystemExit(main(Path(sys.argv[1])))
    with tempfile.TemporaryDirectory() as folder:
        raise SystemExit(main(Path(folder)))
