"""A full disk under the emulated site: a failed save is rolled back and answered 503, never counted.

The end-to-end test mounts a 64 KiB tmpfs (the suite runs as root in CI and here; without root the
store-level tests below still prove the rollback) and points ``--local`` at a file on it.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.state import remove_stale_temp_files

PREFIX = "/_api/cloud-secrets-vault-server/api/v1/secrets"
AUTH = {"Authorization": "k"}


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs and must run as root (CI and the dev container do)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path, kib: int) -> Path:
    """Occupy ``kib`` KiB of the disk with a filler file (as far as it goes)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(kib):
            os.write(fd, b"\0" * 1024)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_failed_save_rolls_back_and_answers_503(tiny_disk: Path) -> None:
    path = tiny_disk / "site.json"
    emulator = Emulator(state_file=path)
    ok = emulator.handle("POST", PREFIX, AUTH, json.dumps({"secret": {"name": "small", "value": "v"}}).encode())
    assert ok.status == 200
    fill(tiny_disk, 64)
    big = json.dumps({"secret": {"name": "big", "value": "x" * 3000}}).encode()
    reply = emulator.handle("POST", PREFIX, AUTH, big)
    assert reply.status == 503
    assert emulator.requests[-1].fault == "save_failed"
    listed = emulator.handle("GET", PREFIX, AUTH, b"").json()["secrets"]
    assert [s["name"] for s in listed] == ["small"]  # the unsaved secret is not visible
    assert emulator.handle("GET", PREFIX + "/name/big", AUTH, b"").status == 404
    secret_id = listed[0]["id"]
    patch = json.dumps({"secret": {"value": "y" * 3000}}).encode()
    assert emulator.handle("PATCH", f"{PREFIX}/{secret_id}", AUTH, patch).status == 503
    assert emulator.handle("GET", PREFIX + "/name/small", AUTH, b"").json() == {"value": "v"}
    assert emulator.handle("DELETE", f"{PREFIX}/{secret_id}", AUTH, b"").status in (200, 503)
    # what a fresh process sees equals what this one answers: nothing unsaved is served
    again = Emulator(state_file=path).handle("GET", PREFIX, AUTH, b"").json()["secrets"]
    assert again == emulator.handle("GET", PREFIX, AUTH, b"").json()["secrets"]
    assert not [p for p in tiny_disk.iterdir() if p.name.endswith(".tmp")]


def manifest(path: Path, count: int) -> Path:
    lines = ["version: 1", "secrets:"]
    for i in range(count):
        lines += [f"  S{i:03d}:", f"    value: {'v' * 180}{i:03d}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_full_disk_under_local_exits_3_and_a_rerun_converges(cli, tiny_disk: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = str(tiny_disk / "site.json")
    wanted = manifest(tmp_path / "m.yaml", 40)
    filler = fill(tiny_disk, 52)
    first = cli("apply", "--local", site, "--auto-approve", "--retries", "1", "--no-backup", str(wanted))
    assert first.code == 3, first.out + first.err
    text = first.out + first.err
    assert "Apply complete" not in text
    assert "matches the plan" not in text
    assert "503" in text or "server error" in text.lower()
    persisted = json.loads(Path(site).read_text())["secrets"] if Path(site).exists() else []
    reported = {line.split()[1].rstrip(":") for line in first.out.splitlines() if line.strip().startswith("✓")}
    failed = {line.split()[1].rstrip(":") for line in first.out.splitlines() if line.strip().startswith("✗")}
    assert failed and len(reported) + len(failed) == 40
    assert {s["name"] for s in persisted} == reported  # what was reported applied is exactly what is on disk
    assert "v" * 180 not in text
    filler.unlink()  # make room
    second = cli("apply", "--local", site, "--auto-approve", "--no-backup", str(wanted))
    assert second.code == 0, second.out + second.err
    assert len(json.loads(Path(site).read_text())["secrets"]) == 40
    again = cli("plan", "--local", site, "--detailed-exitcode", str(wanted))
    assert again.code == 0, again.out + again.err


def test_stale_temp_files_from_a_killed_save_are_removed_on_start(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    Emulator(state_file=path).handle("POST", PREFIX, AUTH, b'{"secret":{"name":"a","value":"v"}}')
    stale = tmp_path / ".site.json.abc123.tmp"
    stale.write_text('{"secrets":[{"value":"CANARY-leftover"}]}')
    other = tmp_path / ".other.json.abc.tmp"
    other.write_text("not ours")
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / ".site.json.link.tmp").symlink_to(target)
    Emulator(state_file=path)
    assert not stale.exists()
    assert other.exists()  # another file's temp is not ours to remove
    assert target.read_text() == "keep"  # a symlink is removed, never followed
    assert not (tmp_path / ".site.json.link.tmp").exists() or (tmp_path / ".site.json.link.tmp").is_symlink()
    assert remove_stale_temp_files(path) == []
