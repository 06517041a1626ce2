"""keygen writes a new identity where sops looks for it, creating the folder privately."""

from __future__ import annotations

from pathlib import Path


def test_keygen_creates_the_sops_keys_folder_and_refuses_to_overwrite(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / ".config" / "sops" / "age" / "keys.txt"
    result = cli("keygen", "-o", str(target))
    assert result.code == 0, result.err
    assert "Public key: age1" in result.err
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert oct(target.parent.stat().st_mode & 0o777) == "0o700"
    assert target.read_text().splitlines()[2].startswith("AGE-SECRET-KEY-1")
    again = cli("keygen", "-o", str(target))
    assert again.code == 1 and "already exists" in again.err
