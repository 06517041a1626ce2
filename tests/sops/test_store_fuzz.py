"""Random and mutated input to every store's reader: a clear SopsError (or a verified decrypt), never
another exception, in bounded time. Deterministic seeds; complements test_roundtrip_fuzz (YAML)."""

from __future__ import annotations

import contextlib
import random
import re
from pathlib import Path

import pytest

from reconciler.errors import SopsError
from reconciler.sops import decrypt_text, encrypt
from reconciler.sops.formats import FORMATS, load_plain

from .conftest import SopsRun
from support import AgeKey

SEEDS = {
    "yaml": b"a: 1\nb: [x, y]\n# c\nd: {e: f}\n",
    "json": b'{"a": 1, "b": [true, null, "x"], "c": {"d": 1.5}}',
    "dotenv": b"# c\nA=1\nB=two\n",
    "ini": b'; c\n[s]\nk = v\nq = "x" ; c\n[t]\nz: 1\n',
    "binary": b"\x00\x01binary\xff\n",
}
ALPHABET = b'{}[]",:=;#\n\t \\"\'abcENC[AES256_GCM,data:iv:tag:type:str]sops_mac0123456789-.e+'


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(b) + 1)
        if op < 0.4 and b:
            b[min(pos, len(b) - 1)] = rng.choice(ALPHABET)
        elif op < 0.7:
            b[pos:pos] = bytes(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8)))
        elif b:
            del b[pos : pos + rng.randint(1, 8)]
    return bytes(b)


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_plaintext_never_crashes_a_reader(fmt: str) -> None:
    rng = random.Random(f"plain-{fmt}")
    for _ in range(400):
        data = _mutate(rng, SEEDS[fmt]) if rng.random() < 0.7 else rng.randbytes(rng.randint(0, 64))
        with contextlib.suppress(SopsError):  # anything else (a traceback) fails the test
            load_plain(fmt, data, where="fuzz")


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_encrypted_files_are_refused_or_verified(
    fmt: str, age_key: AgeKey, sops: SopsRun, tmp_path: Path
) -> None:
    rng = random.Random(f"enc-{fmt}")
    keys = age_key.keyring()
    good = encrypt(SEEDS[fmt], recipients=[age_key.recipient], fmt=fmt)
    expected = decrypt_text(good, keys=keys, fmt=fmt)
    for _ in range(150):
        data = _mutate(rng, good)
        for reader in (fmt, rng.choice(FORMATS)):
            try:
                out = decrypt_text(data, keys=keys, fmt=reader)
            except SopsError:
                continue
            if reader == fmt and out != expected:
                # outside the MAC: a damaged encrypted comment is kept as it is (sops only warns): as sops prints
                path = tmp_path / f"m.{fmt}"
                path.write_bytes(data)
                theirs = sops(["-d", "--input-type", fmt, "--output-type", fmt, str(path)], check=False)
                assert theirs.returncode == 0 and theirs.stdout == out


def test_a_version_with_trailing_characters_is_refused_like_sops(
    age_key: AgeKey, sops: SopsRun, tmp_path: Path
) -> None:
    """Found by the mutation fuzz: `version: 3.11.0a` was accepted here, while sops refuses it."""
    good = encrypt(SEEDS["yaml"], recipients=[age_key.recipient], fmt="yaml")
    version = re.search(rb"version: (\S+)", good)
    assert version is not None
    bad = good.replace(b"version: " + version.group(1), b"version: " + version.group(1) + b"a")
    with pytest.raises(SopsError, match="invalid sops version"):
        decrypt_text(bad, keys=age_key.keyring(), fmt="yaml")
    path = tmp_path / "m.yaml"
    path.write_bytes(bad)
    assert sops(["-d", str(path)], check=False).returncode != 0
