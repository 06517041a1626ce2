"""Age identity discovery: every place sops looks, combined, and what is reported when none fits."""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.sops import KeyRing, decrypt, encrypt
from reconciler.sops.keys import default_keys_file

from .conftest import SshKey
from support import AgeKey, new_age_key

TEXT = b"a: 1\nb: two\n"


def _can_decrypt(ring: KeyRing, key: AgeKey) -> bool:
    data = encrypt(TEXT, recipients=[key.recipient])
    return decrypt(data, keys=ring).documents == [{"a": 1, "b": "two"}]


def test_sops_age_key_env_with_comment_lines(tmp_path: Path) -> None:
    k1, k2 = new_age_key(), new_age_key()
    env = {"SOPS_AGE_KEY": f"# my keys\n{k1.identity}\r\n\n{k2.identity}\n"}
    ring = KeyRing.discover(env, home=tmp_path)
    assert len(ring) == 2
    assert _can_decrypt(ring, k1) and _can_decrypt(ring, k2)


def test_sops_age_key_file(tmp_path: Path) -> None:
    k = new_age_key()
    f = tmp_path / "keys.txt"
    f.write_text(f"# created: now\n# public key: {k.recipient}\n{k.identity}\n")
    assert _can_decrypt(KeyRing.discover({"SOPS_AGE_KEY_FILE": str(f)}, home=tmp_path), k)


def test_sops_age_key_cmd(tmp_path: Path) -> None:
    k = new_age_key()
    script = tmp_path / "print key.py"
    script.write_text(f"print({k.identity!r})\n")
    env = {"SOPS_AGE_KEY_CMD": f"{sys.executable} '{script}'"}
    ring = KeyRing.discover(env, home=tmp_path)
    assert _can_decrypt(ring, k)
    assert any(t.startswith("SOPS_AGE_KEY_CMD: 1 identity") for t in ring.tried)


def test_failing_key_cmd_is_reported(tmp_path: Path) -> None:
    ring = KeyRing.discover({"SOPS_AGE_KEY_CMD": f"{sys.executable} -c 'raise SystemExit(3)'"}, home=tmp_path)
    assert len(ring) == 0
    assert "SOPS_AGE_KEY_CMD: exited with status 3" in ring.tried


def test_xdg_and_default_config_dirs(tmp_path: Path) -> None:
    k = new_age_key()
    xdg = tmp_path / "xdg"
    (xdg / "sops" / "age").mkdir(parents=True)
    (xdg / "sops" / "age" / "keys.txt").write_text(k.identity + "\n")
    assert _can_decrypt(KeyRing.discover({"XDG_CONFIG_HOME": str(xdg)}, home=tmp_path, platform="linux"), k)
    home = tmp_path / "home"
    (home / ".config" / "sops" / "age").mkdir(parents=True)
    (home / ".config" / "sops" / "age" / "keys.txt").write_text(k.identity + "\n")
    assert _can_decrypt(KeyRing.discover({}, home=home, platform="linux"), k)
    # a relative XDG_CONFIG_HOME is ignored on Linux, as in Go's os.UserConfigDir
    assert _can_decrypt(KeyRing.discover({"XDG_CONFIG_HOME": "relative"}, home=home, platform="linux"), k)


def test_platform_defaults(tmp_path: Path) -> None:
    assert default_keys_file({}, tmp_path, "darwin") == tmp_path / "Library/Application Support/sops/age/keys.txt"
    assert default_keys_file({"XDG_CONFIG_HOME": "/x"}, tmp_path, "darwin") == Path("/x/sops/age/keys.txt")
    assert default_keys_file({"APPDATA": "C:/Users/u/AppData"}, tmp_path, "win32") == Path(
        "C:/Users/u/AppData/sops/age/keys.txt"
    )
    assert default_keys_file({}, tmp_path, "linux") == tmp_path / ".config/sops/age/keys.txt"


def test_all_sources_are_combined(tmp_path: Path, ssh_ed25519: SshKey) -> None:
    k_env, k_file, k_default = new_age_key(), new_age_key(), new_age_key()
    f = tmp_path / "k.txt"
    f.write_text(k_file.identity + "\n")
    home = tmp_path / "home"
    (home / ".config" / "sops" / "age").mkdir(parents=True)
    (home / ".config" / "sops" / "age" / "keys.txt").write_text(k_default.identity + "\n")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text(ssh_ed25519.private_pem)
    ring = KeyRing.discover({"SOPS_AGE_KEY": k_env.identity, "SOPS_AGE_KEY_FILE": str(f)}, home=home, platform="linux")
    assert len(ring) == 4
    for k in (k_env, k_file, k_default):
        assert _can_decrypt(ring, k)
    data = encrypt(TEXT, recipients=[ssh_ed25519.public])
    assert decrypt(data, keys=ring).documents[0]["b"] == "two"


def test_ssh_rsa_in_home_and_env_file(tmp_path: Path, ssh_rsa: SshKey, ssh_ed25519: SshKey) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(ssh_rsa.private_pem)
    data = encrypt(TEXT, recipients=[ssh_rsa.public])
    assert decrypt(data, keys=KeyRing.discover({}, home=home)).documents[0]["a"] == 1
    f = tmp_path / "custom_ed"
    f.write_text(ssh_ed25519.private_pem)
    data = encrypt(TEXT, recipients=[ssh_ed25519.public])
    ring = KeyRing.discover({"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(f)}, home=tmp_path / "nohome")
    assert decrypt(data, keys=ring).documents[0]["a"] == 1


def test_bad_sources_do_not_hide_good_ones(tmp_path: Path) -> None:
    k = new_age_key()
    bad = tmp_path / "bad.txt"
    bad.write_text("not a key\n")
    ring = KeyRing.discover({"SOPS_AGE_KEY_FILE": str(bad), "SOPS_AGE_KEY": k.identity}, home=tmp_path)
    assert _can_decrypt(ring, k)
    assert any("unknown identity type" in t for t in ring.tried)
    assert k.identity not in " ".join(ring.tried)


def test_unusable_ssh_key_is_reported_not_fatal(tmp_path: Path) -> None:
    # an OpenSSH key pyrage cannot use (damaged here; passphrase-protected keys take the same path)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    k = new_age_key()
    ring = KeyRing.discover({"SOPS_AGE_KEY": k.identity}, home=home)
    assert _can_decrypt(ring, k)
    assert any("id_ed25519" in t and "not usable" in t for t in ring.tried)
