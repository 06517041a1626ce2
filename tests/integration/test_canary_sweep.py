"""Canary sweep of this round's commands and output modes (extends
``tests/integration/test_safety.py::test_no_value_reaches_any_output_in_any_mode``).

Canary values sit in the manifests (SOPS-encrypted and plaintext), on the site (values the tool reads
over loopback HTTP), in a value a drift check finds changed, and in an out-of-band change. Every run has
its expected exit code asserted (a run that stopped early cannot pass the sweep by printing nothing),
then no form of any canary (plain, base64, URL-quoted, JSON-escaped) may appear in stdout, stderr
(terminal and non-terminal, with the progress line), or any file the runs wrote (plan file,
``--json-file``, ``--markdown-file``, audit log, value cache) or any file's name (backups).

Each run is one row of ``RUNS``: a mode added later (``show PLANFILE``, ``--target``, other sops stores)
is one more row.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator import Emulator
from reconciler.sops import encrypt

from support import SECRETS_API, VALUES_ONLY, Site, listing, new_age_key, seed, wix_env, wix_headers

CANARY = "CANARY-3f9a0c21-sweep-never-print"
KEY = new_age_key()
RECIPIENT = KEY.recipient


def forms(value: str) -> set[str]:
    return {
        value,
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        urllib.parse.quote(value, safe=""),
        json.dumps(value)[1:-1],
        value.encode().hex(),
    }


def overwrite(url: str, name: str, value: str) -> None:
    sid = listing(url)[name]["id"]
    r = httpx.patch(f"{url}{SECRETS_API}/{sid}", json={"secret": {"id": sid, "value": value}}, headers=wix_headers())
    r.raise_for_status()


def test_no_canary_reaches_any_output_of_this_round_s_commands(
    cli: Any, tmp_path: Path, wix_site: Site[Emulator]
) -> None:
    _, url = wix_site
    seed(url, ("A_KEY", "site-old-" + CANARY))  # read during plan: a site value
    seed(url, ("UNMANAGED_ONE", "site-only-" + CANARY))
    body = f"version: 1\nsecrets:\n  A_KEY:\n    value: {CANARY}\n  B_KEY:\n    value: b-{CANARY}\n"
    sops_manifest = tmp_path / "m.sops.yaml"
    sops_manifest.write_bytes(encrypt(body.encode(), recipients=[RECIPIENT], rules=VALUES_ONLY))
    plain_second = tmp_path / "extra.yaml"  # a second manifest of the same site (merged)
    plain_second.write_text(f"version: 1\nsecrets:\n  C_KEY:\n    value: c-{CANARY}\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"version: 1\nsecrets:\n  A_KEY:\n    value: dup-{CANARY}\n  wixReserved:\n    value: {CANARY}\n",
        encoding="utf-8",
    )
    plain_for_encrypt = tmp_path / "to-encrypt.yaml"
    plain_for_encrypt.write_text(body, encoding="utf-8")
    # the other sops stores: plaintext the user asked to encrypt, then decrypt to a file on purpose
    stores = {
        "json": f'{{"db": {{"password": "{CANARY}"}}, "n": 1}}\n',
        "dotenv": f"DB_PASSWORD={CANARY}\nOTHER=x\n",
        "ini": f"[db]\npassword = {CANARY}\n",
        "binary": f"raw bytes {CANARY}\n\x00\x01",
    }
    store_runs: list[tuple[tuple[str, ...], int, bool]] = []
    on_purpose = {"decrypted.yaml", "to-encrypt.yaml", "extra.yaml", "bad.yaml"}  # plaintext the user asked for
    for store, text in stores.items():
        (tmp_path / f"plain.{store}").write_text(text, encoding="utf-8")
        on_purpose |= {f"plain.{store}", f"decrypted.{store}"}
        store_runs += [
            (("encrypt", "--input-type", store, "--age", RECIPIENT, f"plain.{store}"), 0, False),
            (("encrypt", "--input-type", store, "--age", RECIPIENT, "-o", f"enc.{store}", f"plain.{store}"), 0, False),
            (("decrypt", "--input-type", store, "-o", f"decrypted.{store}", f"enc.{store}"), 0, False),
        ]
    # a JSON manifest (SOPS-encrypted), a third file of the same site
    json_manifest = tmp_path / "more.sops.json"
    json_body = json.dumps({"version": 1, "secrets": {"D_KEY": {"value": "d-" + CANARY}}})
    json_manifest.write_bytes(
        encrypt(
            json_body.encode(),
            recipients=[RECIPIENT],
            rules=VALUES_ONLY,
            fmt="json",
        )
    )
    env = wix_env(url, SOPS_AGE_KEY=KEY.identity)
    ms = (str(sops_manifest), str(plain_second), str(json_manifest))

    runs: list[tuple[tuple[str, ...], int, bool]] = [  # argv, exit code, on a terminal
        (("validate", *ms), 0, False),
        (("validate", "--json", *ms), 0, False),
        (("validate", "--each", *ms), 0, False),
        (("validate", "--json", *ms, str(bad)), 1, False),
        (("plan", *ms), 0, True),
        (("plan", "--detailed-exitcode", "--json", *ms), 2, True),
        (("plan", "--markdown", "--json-file", "plan.json", "--markdown-file", "plan.md", *ms), 0, False),
        (("--debug", "plan", "-v", "--out", "saved.plan", *ms), 0, False),
        (("show", "saved.plan"), 0, True),  # show PLANFILE: reads only the plan file
        (("show", "--json", "saved.plan"), 0, False),
        (("show", "--markdown", "saved.plan"), 0, False),
        (("plan", "--target", "A_KEY", "--detailed-exitcode", *ms), 2, True),  # --target
        (("plan", "--target", "A_KEY", "--json", "--markdown-file", "targeted.md", *ms), 0, False),
        (("plan", *ms, str(bad)), 1, True),
        (
            ("apply", "saved.plan", "--audit-log", "audit.jsonl", "--backup-age", RECIPIENT, "--backup-dir", "bk"),
            0,
            True,
        ),
        (("drift", "--detailed-exitcode", *ms), 0, True),  # UNMANAGED_ONE is not drift without prune
        (("drift", "--json", "--value-cache", "cache", *ms), 0, False),
        (("encrypt", "--age", RECIPIENT, str(plain_for_encrypt)), 0, False),
        (("decrypt", str(sops_manifest), "-o", "decrypted.yaml"), 0, False),
    ]
    outputs: list[str] = []

    def sweep(rows: list[tuple[tuple[str, ...], int, bool]]) -> None:
        for argv, code, tty in rows:
            result = cli(*argv, env=env, tty=tty)
            assert result.code == code, (argv, result.code, result.err)
            outputs.extend((result.out, result.err))

    sweep(runs)
    sweep(store_runs)
    for store in stores:
        assert CANARY in (tmp_path / f"decrypted.{store}").read_text(encoding="utf-8")
    # an out-of-band change (a canary form of its own) found by drift, then corrected by an apply with
    # a backup of the value it overwrites and prunes
    overwrite(url, "B_KEY", "out-of-band-" + CANARY)
    sweep(
        [
            (("drift", "--detailed-exitcode", "--markdown", *ms), 2, True),
            (("drift", "--json", "--value-cache", "cache", *ms), 0, False),
            (
                (
                    "--debug",
                    "apply",
                    "--auto-approve",
                    "--prune",
                    "--allow-mass-delete",
                    "--backup-age",
                    RECIPIENT,
                    "--backup-dir",
                    "bk",
                    "--audit-log",
                    "audit.jsonl",
                    "--json-file",
                    "apply.json",
                    "--markdown-file",
                    "apply.md",
                    *ms,
                ),
                0,
                True,
            ),
        ]
    )
    backups = list((tmp_path / "bk").iterdir())
    assert len(backups) >= 2  # the saved-plan apply and the pruning apply both backed up what they changed
    written = {"plan.json", "plan.md", "saved.plan", "audit.jsonl", "apply.json", "apply.md"}
    assert written <= {p.name for p in tmp_path.iterdir()}
    for path in tmp_path.rglob("*"):
        outputs.append(str(path.relative_to(tmp_path)))
        if path.is_file() and path.name not in on_purpose:
            outputs.append(path.read_bytes().decode("utf-8", errors="replace"))
    blob = "\n".join(outputs)
    for value in (CANARY, "b-" + CANARY, "c-" + CANARY, "d-" + CANARY, "site-old-" + CANARY, "out-of-band-" + CANARY):
        for form in forms(value):
            assert form not in blob, f"a form of a canary value leaked: {form[:12]}…"
    for form in forms(CANARY) - {CANARY}:
        assert form not in blob
    assert CANARY in (tmp_path / "decrypted.yaml").read_text(encoding="utf-8")  # -o writes plaintext on purpose
