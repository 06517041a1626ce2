"""Persistence in a state file: round trip, atomic 0600 writes, two processes sharing one file."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from reconciler.emulator import Emulator, EmulatorStateError

from .conftest import make_api

PREFIX = "/_api/cloud-secrets-vault-server/api/v1/secrets"
AUTH = {"Authorization": "k"}


def create(emulator: Emulator, name: str, value: str = "v", description: str | None = None) -> str:
    secret: dict[str, str] = {"name": name, "value": value}
    if description is not None:
        secret["description"] = description
    reply = emulator.handle("POST", PREFIX, AUTH, json.dumps({"secret": secret}).encode())
    assert reply.status == 200, reply.body
    return str(reply.json()["id"])


def test_round_trip_through_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    first = Emulator(state_file=path)
    for api in make_api(first, "transport"):
        a = api.create_id("alpha", "one", "first")
        b = api.create_id("beta", "two")
        api.update(a, value="uno")
        before = api.list().json()
    second = Emulator(state_file=path)
    for api in make_api(second, "http"):
        assert api.list().json() == before
        assert api.get_value("alpha").json() == {"value": "uno"}
        assert api.get_value("beta").json() == {"value": "two"}
        api.update(b, value="dos")  # dates keep increasing after a reload
        after = api.list().json()["secrets"][1]["updatedDate"]
        assert after > before["secrets"][1]["updatedDate"]


def test_state_file_mode_is_0600_and_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"format": "wix-secrets-emulator/1", "secrets": []}))
    os.chmod(path, 0o644)
    emulator = Emulator(state_file=path)
    create(emulator, "k")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.json", "site.json.lock"]  # no temp left
    doc = json.loads(path.read_text())
    assert doc["format"] == "wix-secrets-emulator/1"
    assert [s["name"] for s in doc["secrets"]] == ["k"]


def test_missing_file_starts_empty_and_is_created_on_first_write(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    emulator = Emulator(state_file=path)
    assert emulator.handle("GET", PREFIX, AUTH, b"").json() == {"secrets": []}
    assert not path.exists()
    create(emulator, "first")
    assert path.exists()


def test_two_instances_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    one, two = Emulator(state_file=path), Emulator(state_file=path)
    create(one, "from_one")
    create(two, "from_two")
    names = [s["name"] for s in one.handle("GET", PREFIX, AUTH, b"").json()["secrets"]]
    assert names == ["from_one", "from_two"]
    dup = one.handle("POST", PREFIX, AUTH, b'{"secret":{"name":"from_two","value":"x"}}')
    assert dup.status == 409


def _writer(path: str, prefix: str, count: int) -> None:
    emulator = Emulator(state_file=Path(path))
    for i in range(count):
        create(emulator, f"{prefix}{i}")


def test_two_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), p, 25)) for p in ("a", "b")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    names = {s["name"] for s in json.loads(path.read_text())["secrets"]}
    assert names == {f"{p}{i}" for p in "ab" for i in range(25)}


def test_removed_file_means_an_empty_site(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    emulator = Emulator(state_file=path)
    create(emulator, "x")
    path.unlink()
    assert emulator.handle("GET", PREFIX, AUTH, b"").json() == {"secrets": []}


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"format": "other"}',
        b'{"format": "wix-secrets-emulator/1", "secrets": [{"id": 1}]}',
    ],
)
def test_corrupt_state_file_is_refused_without_echoing_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "site.json"
    path.write_bytes(content)
    with pytest.raises(EmulatorStateError) as info:
        Emulator(state_file=path)
    assert str(path) in str(info.value)


def test_state_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(EmulatorStateError):
        Emulator(state_file=tmp_path / "missing" / "site.json")


def test_reset_with_state_clears_the_file_too(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    emulator = Emulator(state_file=path)
    create(emulator, "x")
    assert emulator.handle("POST", "/_emulator/reset?state=1", {}, b"").status == 200
    assert json.loads(path.read_text())["secrets"] == []


def test_state_file_corrupted_while_running_gives_500_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    emulator = Emulator(state_file=str(path))  # a str path is accepted too
    create(emulator, "x")
    path.write_text("{ broken")
    reply = emulator.handle("GET", PREFIX, AUTH, b"")
    assert reply.status == 500 and reply.json() == {"message": "", "details": {}}
    path.unlink()
    assert emulator.handle("GET", PREFIX, AUTH, b"").status == 200
