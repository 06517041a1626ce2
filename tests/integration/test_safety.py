"""Safety under faults and mistakes: saved plans, stale plans, backups, partial failures, kills.

Everything runs against the real emulator (in-process transport or loopback HTTP); the only test
double is a client wrapper that makes chosen operations fail, implementing the same protocol.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer, EmulatorTransport, Faults
from reconciler.errors import ServerError
from reconciler.executor import apply_plan, read_remote
from reconciler.manifest import load_manifest
from reconciler.model import Sensitive
from reconciler.plan import make_plan
from reconciler.sops import decrypt
from reconciler.wix import WixSecretsClient
from reconciler.wix.auth import ApiKeyAuth

from support import SECRETS_API, VALUES_ONLY, new_age_key, write_sops_manifest

CANARY = "CANARY-7c1e4a55-please-never-print"
KEY = new_age_key()
RECIPIENT = KEY.recipient
KEY_ENV = {"SOPS_AGE_KEY": KEY.identity}


def encrypted_manifest(path: Path, secrets: dict[str, str], extra: str = "") -> Path:
    """``secrets`` (then ``extra``) SOPS-encrypted to ``KEY``, the values only."""
    return write_sops_manifest(path, secrets, RECIPIENT, extra, rules=VALUES_ONLY)


def base(url: str) -> str:
    return url + SECRETS_API


H = {"Authorization": "k", "wix-site-id": "s"}
HTTP_ENV = {"WIX_API_KEY": "k", "WIX_SITE_ID": "s"}


def call(method: str, url: str, **kw: object) -> httpx.Response:
    """A request that rides out the emulator's injected faults (tests set up state with it)."""
    for _ in range(50):
        try:
            response = httpx.request(method, url, headers=H, **kw)  # type: ignore[arg-type]
        except httpx.TransportError:
            continue
        if response.status_code < 500 and response.status_code != 429:
            return response
        time.sleep(0.05)
    raise AssertionError(f"{method} {url} kept failing")


def names(url: str) -> dict[str, dict[str, str]]:
    return {s["name"]: s for s in call("GET", base(url)).json()["secrets"]}


def test_saved_plan_applies_exactly_and_holds_no_value(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tmp_path / "site.json")
    first = encrypted_manifest(tmp_path / "a.sops.yaml", {"A": "one", "B": CANARY})
    assert cli("apply", "--local", site, "--auto-approve", str(first), env=KEY_ENV).code == 0
    second = encrypted_manifest(tmp_path / "b.sops.yaml", {"A": "two", "B": CANARY, "C": "new"})
    planned = cli("plan", "--local", site, "--out", "p.json", str(second), env=KEY_ENV)
    assert planned.code == 0, planned.err
    text = (tmp_path / "p.json").read_text()
    assert CANARY not in text and '"two"' not in text and "new" not in text.replace('"name": "C"', "")
    assert oct((tmp_path / "p.json").stat().st_mode & 0o777) == "0o600"
    doc = json.loads(text)
    assert doc["kind"] == "wix-secrets-plan" and doc["manifest_digest"].startswith("hmac-sha256:")
    assert [(c["action"], c["name"]) for c in doc["changes"]] == [("update", "A"), ("create", "C")]
    # the target comes from the apply run's own flags and must be the plan's
    applied = cli("apply", "--local", site, "p.json", env={**KEY_ENV, "XDG_STATE_HOME": str(tmp_path / "state")})
    assert applied.code == 0, applied.err
    assert "Apply complete: 2 applied" in applied.out
    assert cli("plan", "--local", site, "--detailed-exitcode", str(second), env=KEY_ENV).code == 0


def test_stale_plan_when_the_site_changed_names_the_secret(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    emulator = Emulator()
    with EmulatorServer(emulator) as server:
        env = {**KEY_ENV, **HTTP_ENV, "WIX_API_URL": server.url}
        m = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": "one", "B": "two"})
        httpx.post(base(server.url), json={"secret": {"name": "A", "value": "zero"}}, headers=H)
        assert cli("plan", "--out", "p.json", str(m), env=env).code == 0
        secret_id = names(server.url)["A"]["id"]
        httpx.patch(f"{base(server.url)}/{secret_id}", json={"secret": {"value": "out-of-band"}}, headers=H)
        emulator.reset()
        stale = cli("apply", "p.json", env=env)
        assert stale.code == 4
        assert "A: changed on the site" in stale.err
        assert emulator.counts()["create"] == 0 and emulator.counts()["update"] == 0
        # someone creates B, which the plan would create: stale too
        assert cli("plan", "--out", "p2.json", str(m), env=env).code == 0
        httpx.post(base(server.url), json={"secret": {"name": "B", "value": "x"}}, headers=H)
        stale = cli("apply", "p2.json", env=env)
        assert stale.code == 4 and "B: now exists on the site" in stale.err


def test_stale_plan_when_the_manifest_changed(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tmp_path / "site.json")
    m = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": "one"})
    assert cli("plan", "--local", site, "--out", "p.json", str(m), env=KEY_ENV).code == 0
    encrypted_manifest(m, {"A": "other"})
    result = cli("apply", "--local", site, "p.json", env=KEY_ENV)
    assert result.code == 4 and "the manifest changed" in result.err


def test_saved_plan_of_a_plaintext_manifest_for_a_local_site_is_keyed_by_the_local_key(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No SOPS data key and no Wix credential: the user's local key binds it (more in
    tests/integration/test_local_saved_plans.py); without any key at all it is refused (a token
    identity: tests/wix/test_identity_service.py)."""
    (tmp_path / "m.yaml").write_text(f"version: 1\nsecrets:\n  A:\n    value: {CANARY}\n")
    result = cli("plan", "--local", str(tmp_path / "s.json"), "--out", "p.json", "m.yaml")
    assert result.code == 0 and "Created the local key" in result.err, result.err
    saved = (tmp_path / "p.json").read_text()
    assert CANARY not in saved and '"mac": "hmac-sha256:' in saved


def test_backup_before_delete_and_overwrite_restores_with_a_plain_apply(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tmp_path / "site.json")
    start = encrypted_manifest(tmp_path / "a.sops.yaml", {"KEEP": "k", "CHANGE": CANARY, "DROP": "d" + CANARY})
    assert cli("apply", "--local", site, "--auto-approve", str(start), env=KEY_ENV).code == 0
    nxt = encrypted_manifest(
        tmp_path / "b.sops.yaml", {"KEEP": "k", "CHANGE": "new"}, extra="  DROP:\n    state: absent\n"
    )
    backups = tmp_path / "backups"
    result = cli("apply", "--local", site, "--auto-approve", "--backup-dir", str(backups), str(nxt), env=KEY_ENV)
    assert result.code == 0, result.err
    files = list(backups.iterdir())
    assert len(files) == 1 and files[0].name.startswith("wix-secrets-backup-site-")  # named after site.json
    assert CANARY not in files[0].name and oct(files[0].stat().st_mode & 0o777) == "0o600"
    raw = files[0].read_bytes()
    assert CANARY.encode() not in raw
    restored = decrypt(raw, keys=KEY.keyring()).documents[0]["secrets"]
    assert restored == {"CHANGE": {"value": CANARY}, "DROP": {"value": "d" + CANARY}}
    back = cli("apply", "--local", site, "--auto-approve", "--no-backup", str(files[0]), env=KEY_ENV)
    assert back.code == 0, back.err
    assert cli("plan", "--local", site, "--detailed-exitcode", str(start), env=KEY_ENV).code == 0
    assert CANARY not in result.out + result.err + back.out + back.err


def test_backup_needs_a_recipient_and_stops_the_apply(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tmp_path / "site.json")
    (tmp_path / "a.yaml").write_text("version: 1\nsecrets:\n  A:\n    value: one\n")
    (tmp_path / "b.yaml").write_text("version: 1\nsecrets:\n  A:\n    value: two\n")
    assert cli("apply", "--local", site, "--auto-approve", "a.yaml").code == 0
    refused = cli("apply", "--local", site, "--auto-approve", "b.yaml")
    assert refused.code == 1 and "no age recipient" in refused.err
    assert cli("plan", "--local", site, "--detailed-exitcode", "b.yaml").code == 2  # nothing changed
    ok = cli(
        "apply",
        "--local",
        site,
        "--auto-approve",
        "--backup-age",
        RECIPIENT,
        "--backup-dir",
        str(tmp_path / "bk"),
        "b.yaml",
    )
    assert ok.code == 0 and len(list((tmp_path / "bk").iterdir())) == 1


class FailingClient:
    """The real client with chosen creates failing, as a flaky Wix would."""

    def __init__(self, inner: WixSecretsClient, fail: set[str]) -> None:
        self.inner, self.fail = inner, fail

    async def list_secrets(self):  # type: ignore[no-untyped-def]
        return await self.inner.list_secrets()

    async def get_value(self, name: str) -> Sensitive:
        return await self.inner.get_value(name)

    async def create(self, name: str, value: Sensitive, description: str | None) -> str:
        if name in self.fail:
            raise ServerError("Wix answered 503", status=503)
        return await self.inner.create(name, value, description)

    async def update(self, id: str, **kw):  # type: ignore[no-untyped-def]
        return await self.inner.update(id, **kw)

    async def delete(self, id: str) -> None:
        return await self.inner.delete(id)


def test_partial_failure_skips_deletes_then_a_rerun_converges(tmp_path: Path) -> None:
    emulator = Emulator()
    text = b"version: 1\nsecrets:\n  A:\n    value: a\n  B:\n    value: b\n  OLD:\n    state: absent\n"
    desired = load_manifest(text, file="m.yaml")

    async def scenario() -> None:
        async with WixSecretsClient(
            api_url="http://127.0.0.1",
            auth=ApiKeyAuth("k", "s"),
            transport=EmulatorTransport(emulator),
            rate_limit=None,
        ) as client:
            await client.create("OLD", Sensitive("o"), None)
            flaky = FailingClient(client, {"B"})
            plan = make_plan(desired, await read_remote(flaky, desired))
            result = await apply_plan(flaky, plan)
            assert result.status == "partial"
            assert {(i.change.name, i.status) for i in result.items} == {
                ("A", "applied"),
                ("B", "failed"),
                ("OLD", "skipped"),
            }
            assert "OLD" in {s.name for s in await client.list_secrets()}  # nothing deleted
            plan = make_plan(desired, await read_remote(client, desired))
            result = await apply_plan(client, plan)
            assert result.status == "success" and result.converged
            assert {s.name for s in await client.list_secrets()} == {"A", "B"}

    asyncio.run(scenario())


def test_partial_apply_exits_3_skips_deletes_and_a_rerun_finishes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "site.json"
    (tmp_path / "m.yaml").write_text(
        "version: 1\nsecrets:\n  A:\n    value: a2\n  NEW:\n    value: new-value\n  OLD:\n    state: absent\n"
    )
    seeded = Emulator(state_file=state)
    for name, value in (("A", "a1"), ("OLD", "o")):
        seeded.handle(
            "POST",
            "/api/v1/secrets",
            {"authorization": "k"},
            json.dumps({"secret": {"name": name, "value": value}}).encode(),
        )
    # every create fails (5xx, after retries); reads and updates work
    flaky = Emulator(state_file=state, faults=Faults(error_rate=1.0, routes=frozenset({"create"}), seed=3))
    with EmulatorServer(flaky) as server:
        env = {**HTTP_ENV, "WIX_API_URL": server.url}
        result = cli(
            "apply",
            "--auto-approve",
            "--retries",
            "1",
            "--backup-age",
            RECIPIENT,
            "--backup-dir",
            "bk",
            "m.yaml",
            env=env,
        )
        assert result.code == 3, result.err
        assert "✓ A: update applied" in result.out
        assert "✗ NEW: create failed" in result.out
        assert "· OLD: delete skipped (skipped because 1 other operation failed)" in result.out
        assert "Apply PARTIALLY complete: 1 applied, 1 failed, 1 skipped." in result.out
        assert flaky.counts()["delete"] == 0
    with EmulatorServer(Emulator(state_file=state)) as server:
        env = {**HTTP_ENV, "WIX_API_URL": server.url}
        again = cli("apply", "--auto-approve", "--backup-age", RECIPIENT, "--backup-dir", "bk", "m.yaml", env=env)
        assert again.code == 0, again.err
        assert set(names(server.url)) == {"A", "NEW"}
        assert cli("plan", "--detailed-exitcode", "m.yaml", env=env).code == 0


@pytest.mark.slow
def test_apply_of_200_secrets_converges_under_20_percent_faults_and_a_rate_limit(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    emulator = Emulator(faults=Faults(error_rate=0.08, drop_rate=0.06, lost_reply_rate=0.06, rate_limit=6000, seed=7))
    secrets = {f"S{i:03d}": f"value-{i}-{CANARY}" for i in range(200)}
    m = encrypted_manifest(tmp_path / "m.sops.yaml", secrets)
    with EmulatorServer(emulator) as server:
        for i in range(3):  # pre-existing secrets not in the manifest must survive
            call("POST", base(server.url), json={"secret": {"name": f"keep{i}", "value": "k"}})
        env = {**KEY_ENV, **HTTP_ENV, "WIX_API_URL": server.url}
        codes = []
        for _ in range(3):
            result = cli("apply", "--auto-approve", "--rate-limit", "9000", str(m), env=env)
            codes.append(result.code)
            assert CANARY not in result.out + result.err
            if result.code == 0:
                break
        assert codes[-1] == 0 and set(codes) <= {0, 3}, codes
        site = names(server.url)
        assert set(site) == set(secrets) | {"keep0", "keep1", "keep2"}
        kinds = {r.fault for r in emulator.requests}
        assert {"drop", "error"} <= kinds and ({"lost_drop", "lost_error"} & kinds)
        created = [
            r
            for r in emulator.requests
            if r.route == "create" and (r.status == 200 or (r.fault or "").startswith("lost"))
        ]
        assert len(created) == 200 + 3  # each secret created exactly once, even when answers were lost
        final = cli("plan", "--detailed-exitcode", "--rate-limit", "9000", str(m), env=env)
        assert final.code == 0, final.out


@pytest.mark.slow
def test_sigkill_half_way_then_apply_again_converges(tmp_path: Path) -> None:
    emulator = Emulator(faults=Faults(latency_ms=15))
    secrets = {f"K{i:03d}": f"v{i}" for i in range(150)}
    m = encrypted_manifest(tmp_path / "m.sops.yaml", secrets)
    with EmulatorServer(emulator) as server:
        env = {**os.environ, **KEY_ENV, **HTTP_ENV, "WIX_API_URL": server.url}
        argv = [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            "--auto-approve",
            "--concurrency",
            "4",
            "--rate-limit",
            "0",
            str(m),
        ]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while emulator.counts()["create"] < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        half = emulator.counts()["create"]
        assert 30 <= half < 150
        again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert set(names(server.url)) == set(secrets)
        plan = subprocess.run(
            [*argv[:3], "plan", "--detailed-exitcode", "--rate-limit", "0", str(m)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert plan.returncode == 0, plan.stdout + plan.stderr


def test_no_value_reaches_any_output_in_any_mode(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every command, every output mode, success and failure paths, with canary values."""
    import base64
    import urllib.parse

    forms = {
        CANARY,
        base64.b64encode(CANARY.encode()).decode(),
        urllib.parse.quote(CANARY, safe=""),
        json.dumps(CANARY)[1:-1],
    }
    site = str(tmp_path / "site.json")
    m = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": CANARY, "B": "b-" + CANARY})
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent(f"""\
        version: 1
        secrets:
          wixA:
            value: {CANARY}
          B:
            value: "{CANARY}"
            value_from: {{env: X}}
        """)
    )
    outputs: list[str] = []
    runs = [
        ("validate", str(m)),
        ("validate", "--json", str(bad)),
        ("validate", str(bad)),
        ("plan", "--local", site, str(m)),
        ("plan", "--local", site, "--json", str(m)),
        ("plan", "--local", site, "--markdown", str(m)),
        ("--debug", "plan", "-v", "--local", site, str(m)),
        ("plan", "--local", site, "--json", str(bad)),
        ("apply", "--local", site, str(m)),  # refuses: no tty
        (
            "--debug",
            "apply",
            "--local",
            site,
            "--auto-approve",
            "--json-file",
            "a.json",
            "--markdown-file",
            "a.md",
            "--backup-dir",
            "bk",
            str(m),
        ),
        ("drift", "--local", site, "--json", str(m)),
        ("drift", "--local", site, "--markdown", str(m)),
        ("plan", "--local", site, "--out", "p.json", str(m)),
        ("apply", "--local", site, "p.json"),
        ("decrypt", str(m), "-o", "plain.yaml"),
    ]
    for argv in runs:
        result = cli(*argv, env=KEY_ENV)
        outputs += [result.out, result.err]
    m2 = encrypted_manifest(tmp_path / "m2.sops.yaml", {"A": "changed", "B": "b"}, extra="  C:\n    value: c\n")
    for argv in [
        ("--debug", "apply", "--local", site, "--auto-approve", "--backup-dir", "bk", str(m2)),
        ("apply", "--local", site, "--auto-approve", "--backup-dir", "bk", str(m)),
    ]:
        result = cli(*argv, env=KEY_ENV)
        outputs += [result.out, result.err]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name not in ("site.json", "site.json.lock", "plain.yaml", "bad.yaml"):
            outputs.append(path.read_text(errors="replace"))
            outputs.append(path.name)
    blob = "\n".join(outputs)
    for form in forms:
        assert form not in blob
    assert CANARY in (tmp_path / "plain.yaml").read_text()  # decrypt -o writes plaintext on purpose


def test_applying_a_saved_plan_writes_the_audit_log(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tmp_path / "site.json")
    m = encrypted_manifest(tmp_path / "m.sops.yaml", {"A": CANARY})
    assert cli("plan", "--local", site, "--out", "p.json", str(m), env=KEY_ENV).code == 0
    result = cli("apply", "--local", site, "p.json", "--audit-log", "audit.jsonl", env=KEY_ENV)
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(r["action"], r["secret"]["name"], r["status"]) for r in lines] == [("create", "A", "applied")]
    assert CANARY not in (tmp_path / "audit.jsonl").read_text()
