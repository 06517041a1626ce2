"""Hostile manifest bytes: every one is a clear error with file and line, never a traceback, and every
read is bounded (issue 10 items 9, 11, 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifest
from reconciler.valuefile import MAX_BYTES, read_value_file

CANARY = "CANARY-5b1f-do-not-print"


def problems(data: bytes, **kw: Any) -> list[tuple[int | None, str]]:
    with pytest.raises(ManifestError) as info:
        load_manifest(data, file="m.yaml", **kw)
    assert CANARY not in str(info.value)
    assert all(d.file == "m.yaml" for d in info.value.diagnostics)
    return [(d.line, d.message) for d in info.value.diagnostics]


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\ufffe"])
def test_a_character_yaml_does_not_allow_is_an_error_with_its_line(char: str) -> None:
    data = f'version: 1\nsecrets:\n  A:\n    value: "{CANARY}{char}x"\n'.encode()
    found = problems(data)
    assert len(found) == 1 and found[0][0] == 4
    assert "character YAML does not allow" in found[0][1]


def test_ten_thousand_levels_of_nesting_are_one_error_not_a_recursion_error() -> None:
    found = problems(b"version: 1\nsecrets: " + b"[" * 10_000 + b"]" * 10_000 + b"\n")
    assert found == [(2, "nested deeper than 32 levels")]
    found = problems(b"version: 1\nsecrets:\n" + b"".join(b"  " * i + b"k:\n" for i in range(1, 1000)))
    assert [m for _, m in found] == ["nested deeper than 32 levels"]


def test_nesting_up_to_the_limit_is_still_composed() -> None:
    found = problems(b"x: " + b"[" * 31 + b"]" * 31 + b"\n")  # depth 32: schema errors, not a depth error
    assert all("nested deeper" not in m for _, m in found)


def test_every_explicit_tag_except_str_is_refused_with_its_line() -> None:
    data = textwrap.dedent(
        f"""\
        version: 1
        secrets:
          A:
            value: !!binary aGVsbG8=
          B:
            value: !vault {CANARY}
          C:
            value: !!bool "x"
          D:
            value: !!str 0123
          E: !!map
            value: v
          F:
            value: ! text
          G:
            value: !<tag:yaml.org,2002:str> verbatim str
        """
    ).encode()
    found = problems(data)
    assert found == [
        (4, "explicit YAML tags are not allowed in a manifest (tag !!binary)"),
        (6, "explicit YAML tags are not allowed in a manifest (a custom tag)"),
        (8, "explicit YAML tags are not allowed in a manifest (tag !!bool)"),
        (11, "explicit YAML tags are not allowed in a manifest (tag !!map)"),
        (14, "explicit YAML tags are not allowed in a manifest (the non-specific tag !)"),
    ]


def test_value_files_must_be_regular_and_small(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_bytes(b"v" * 3500 + b"\n")
    (tmp_path / "big.txt").write_bytes(b"v" * (MAX_BYTES + 1))
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as f:
        f.truncate(64 << 30)  # 64 GiB, no disk used: reading it whole would exhaust memory
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "ok.txt")
    assert read_value_file(tmp_path / "ok.txt") == b"v" * 3500 + b"\n"
    assert read_value_file(tmp_path / "link") == b"v" * 3500 + b"\n"  # Kubernetes mounts use symlinks

    def refused(name: str) -> str:
        with pytest.raises(OSError) as info:
            read_value_file(tmp_path / name)
        return str(info.value.strerror)

    assert "larger than a value Wix accepts" in refused("big.txt")
    assert "larger than a value Wix accepts" in refused("sparse")
    assert refused("fifo").startswith("it is a FIFO")  # opened without blocking: no writer needed
    assert refused("dir").startswith("it is a directory")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_before_any_read(device: str) -> None:
    with pytest.raises(OSError) as info:
        read_value_file(Path(device))
    assert info.value.strerror == "it is a character device; value_from reads only regular files"


def test_value_from_a_fifo_is_a_clear_error_from_the_cli_and_never_hangs(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "m.yaml").write_text(
        "version: 1\nsecrets:\n  A:\n    value_from: {file: fifo}\n  B:\n    value_from: {file: /dev/zero}\n"
    )
    # a subprocess, so that a regression hangs only it (the timeout is a guard, not a speed assertion)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "m.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith(("WIX_", "SOPS_"))},
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "m.yaml:4:" in done.stderr and "cannot read fifo: it is a FIFO (named pipe)" in done.stderr
    assert "m.yaml:6:" in done.stderr and "cannot read /dev/zero: it is a character device" in done.stderr


def test_lists_of_the_wrong_type_are_schema_errors_not_type_errors() -> None:
    """Found by the fuzz test: ``renamed_from: 1`` iterated an int (TypeError, a traceback)."""
    data = b"version: 1\nsecrets:\n  A:\n    value: x\n    renamed_from: 1\npolicy:\n  protect: 1\n  ignore: {a: 1}\n"
    found = problems(data)
    assert (5, "secrets.A.renamed_from must be a list") in found
    assert (7, "policy.protect must be a list") in found
    assert (8, "policy.ignore must be a list") in found
