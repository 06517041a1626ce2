"""Every file a run writes (audit log, backup, plan file, ``--json-file``, ``--markdown-file``): a full
disk, a missing folder or a symlink never ends in a traceback, a false success, an empty or partial
file, or a followed symlink. The full disk is a real 64 KiB tmpfs (the tests run as root)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CANARY = "CANARY-output-files-22c1"


def manifest(path: Path, count: int) -> Path:
    path.write_text("version: 1\nsecrets:\n" + "".join(f"  S{i:02}:\n    value: {CANARY}-{i}\n" for i in range(count)))
    return path


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled up to the last byte by ``fill()``."""
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(where: Path) -> None:
    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (4096, 1):  # pages first, then the last bytes
            while True:
                try:
                    os.write(fd, b"x" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)


def leftovers(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir() if p.name != "filler")


def test_json_markdown_and_plan_files_on_a_full_disk(cli: Any, tmp_path: Path, disk: Path) -> None:
    m = manifest(tmp_path / "m.yaml", 30)
    site = str(tmp_path / "site.json")
    fill(disk)
    for flag, what in (("--json-file", "JSON file"), ("--markdown-file", "Markdown file")):
        result = cli("plan", "--local", site, flag, str(disk / "out"), str(m))
        assert result.code == 1, result.err
        assert f"cannot write the {what}" in result.err and "no space left" in result.err
        assert "Traceback" not in result.err and leftovers(disk) == []
    saved = cli("plan", "--local", site, "--out", str(disk / "p.json"), str(m), env={"WIX_API_KEY": "k"})
    assert saved.code == 1 and "cannot write the plan file" in saved.err and "no space left" in saved.err
    assert "Saved the plan" not in saved.err and leftovers(disk) == []


def test_a_full_audit_log_is_rolled_back_and_reported(cli: Any, tmp_path: Path, disk: Path) -> None:
    m = manifest(tmp_path / "m.yaml", 30)
    site = str(tmp_path / "site.json")
    audit = disk / "audit.jsonl"
    audit.write_text('{"earlier": "record"}\n')
    fill(disk)
    result = cli("apply", "--local", site, "--auto-approve", "--no-backup", "--audit-log", str(audit), str(m))
    assert result.code == 1, result.err
    assert "cannot write the audit log" in result.err and "no space left" in result.err
    assert "records are missing from the audit log" in result.err
    assert audit.read_text() == '{"earlier": "record"}\n'  # no partial line left behind
    assert "Traceback" not in result.err and CANARY not in result.out + result.err


def test_a_full_disk_for_the_backup_stops_the_apply_before_any_write(cli: Any, tmp_path: Path, disk: Path) -> None:
    site = str(tmp_path / "site.json")
    first = manifest(tmp_path / "a.yaml", 3)
    assert cli("apply", "--local", site, "--auto-approve", "--no-backup", str(first)).code == 0
    before = json.loads(Path(site).read_text())
    changed = tmp_path / "b.yaml"
    changed.write_text("version: 1\nsecrets:\n  S00:\n    value: other-value-123\n")
    fill(disk)
    env = {"WIX_SECRETS_BACKUP_AGE": ""}
    result = cli(
        "apply",
        "--local",
        site,
        "--auto-approve",
        "--backup-dir",
        str(disk / "backups"),
        "--backup-age",
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
        str(changed),
        env=env,
    )
    assert result.code == 1, result.err
    assert "backup" in result.err and "nothing was applied" in result.err
    assert json.loads(Path(site).read_text()) == before
    assert "Traceback" not in result.err


def test_output_paths_whose_folder_is_missing_are_refused_before_any_request(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.yaml", 2)
    site = tmp_path / "site.json"
    for argv in (
        ("plan", "--out", "nowhere/p.json"),
        ("plan", "--json-file", "nowhere/p.json"),
        ("plan", "--markdown-file", "nowhere/p.md"),
        ("apply", "--auto-approve", "--audit-log", "nowhere/a.jsonl"),
        ("apply", "--auto-approve", "--backup-dir", "nowhere/at/all"),
    ):
        result = cli(argv[0], "--local", str(site), *argv[1:], str(m), env={"WIX_API_KEY": "k"})
        assert result.code == 1, (argv, result.err)
        assert "does not exist" in result.err, result.err
        assert not (tmp_path / "nowhere").exists() and not site.exists(), argv


def test_no_output_follows_a_symlink(cli: Any, tmp_path: Path) -> None:
    m = manifest(tmp_path / "m.yaml", 2)
    site = str(tmp_path / "site.json")
    target = tmp_path / "precious.txt"
    target.write_text("do not overwrite\n")
    for flag in ("--json-file", "--markdown-file", "--out"):
        link = tmp_path / f"link{flag}"
        link.symlink_to(target)
        result = cli("plan", "--local", site, flag, str(link), str(m), env={"WIX_API_KEY": "k"})
        assert result.code == 0, result.err
        assert not link.is_symlink() and link.read_text() != "do not overwrite\n"  # replaced, not followed
    audit = tmp_path / "audit.jsonl"
    audit.symlink_to(target)
    refused = cli("apply", "--local", site, "--auto-approve", "--audit-log", str(audit), str(m))
    assert refused.code == 1 and "symbolic link" in refused.err
    assert not Path(site).exists()  # refused before any request
    assert target.read_text() == "do not overwrite\n"


def test_the_audit_log_is_never_opened_through_a_symlink_created_late(tmp_path: Path) -> None:
    from reconciler.errors import OutputError
    from reconciler.fsutil import append_lines

    target = tmp_path / "precious.txt"
    target.write_text("keep\n")
    (tmp_path / "a.jsonl").symlink_to(target)
    with pytest.raises(OutputError, match="symbolic link"):
        append_lines(tmp_path / "a.jsonl", [b"x\n"], what="audit log")
    assert target.read_text() == "keep\n"
