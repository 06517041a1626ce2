"""``--config FILE`` on ``encrypt`` and ``updatekeys``, as ``sops --config``: the creation rules come from
that file instead of the nearest ``.sops.yaml``; a missing file is a clear error. Checked against the
real sops given the same ``--config``."""

from __future__ import annotations

from pathlib import Path

from reconciler.cli import run

from .conftest import SopsRun, console, opened_by
from support import new_age_key

NEAR, CUSTOM = new_age_key(), new_age_key()
PLAIN = "version: 1\nsecrets:\n  A:\n    value: config-flag-canary-31\n"


def layout(tmp_path: Path) -> Path:
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {NEAR.recipient}\n")
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "custom.yaml").write_text(
        f"creation_rules:\n  - age: {CUSTOM.recipient}\n    encrypted_regex: ^value$\n"
    )
    manifest = tmp_path / "m.yaml"
    manifest.write_text(PLAIN)
    return manifest


def opens_with(data: bytes) -> list[str]:
    return opened_by(data, {"near": NEAR, "custom": CUSTOM})


def test_encrypt_with_config_uses_that_file_as_sops_does(tmp_path: Path, sops: SopsRun) -> None:
    layout(tmp_path)
    c, out, err = console(tmp_path)
    assert run(["encrypt", "m.yaml"], c) == 0, err.getvalue()
    assert opens_with(out.getvalue().encode()) == ["near"]

    c, out, err = console(tmp_path)
    assert run(["encrypt", "--config", "ops/custom.yaml", "m.yaml"], c) == 0, err.getvalue()
    ours = out.getvalue().encode()
    assert opens_with(ours) == ["custom"]
    assert b"encrypted_regex: ^value$" in ours
    theirs = sops(["--config", "ops/custom.yaml", "encrypt", "m.yaml"]).stdout
    assert opens_with(theirs) == ["custom"] and b"encrypted_regex: ^value$" in theirs


def test_updatekeys_with_config_and_a_missing_config(tmp_path: Path) -> None:
    layout(tmp_path)
    c, out, err = console(tmp_path)
    assert run(["encrypt", "-i", "m.yaml"], c) == 0, err.getvalue()
    c, out, err = console(tmp_path, NEAR)
    assert run(["updatekeys", "--config", "ops/custom.yaml", "--yes", "m.yaml"], c) == 0, err.getvalue()
    assert opens_with((tmp_path / "m.yaml").read_bytes()) == ["custom"]

    before = (tmp_path / "m.yaml").read_bytes()
    for argv in (["encrypt", "--config", "nope.yaml", "m.yaml"], ["updatekeys", "--config", "nope.yaml", "m.yaml"]):
        c, out, err = console(tmp_path, CUSTOM)
        assert run(argv, c) == 1
        assert "--config nope.yaml: no such file" in err.getvalue() and "Traceback" not in err.getvalue()
        assert out.getvalue() == "" and (tmp_path / "m.yaml").read_bytes() == before
