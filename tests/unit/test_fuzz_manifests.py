"""Property tests: random bytes and random YAML structures fed to ``validate`` and ``decrypt``
(issue 10, "Done when"): never a traceback, exit 0 or 1, bounded memory. Time is bounded by the size
cap on every generated input (and the strict YAML limits), never asserted on a wall clock.

The CLI runs in-process, so any exception that is not a deliberate error fails the example (it would
be a traceback for a user); peak memory is measured with tracemalloc and must stay under a fixed cap.
"""

from __future__ import annotations

import io
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any, Final

import pyrage
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import run
from reconciler.cli.console import Console
from reconciler.redact import Redactor
from reconciler.sops import EncryptionRules, encrypt

MAX_INPUT: Final = 8 * 1024  # the size cap that bounds time
MAX_PEAK: Final = 64 * 1024 * 1024  # bytes traced at once, whatever the input
IDENTITY = pyrage.x25519.Identity.generate()
WORK = Path(tempfile.mkdtemp(prefix="wix-secrets-fuzz-"))
FUZZ = settings(
    max_examples=int(os.environ.get("WIX_SECRETS_FUZZ_EXAMPLES", "30")),
    deadline=None,  # no wall-clock verdict
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
    # the same examples on every run, so a CI verdict does not depend on luck; set
    # WIX_SECRETS_FUZZ_EXPLORE=1 (and raise WIX_SECRETS_FUZZ_EXAMPLES) to search new ones
    derandomize=not os.environ.get("WIX_SECRETS_FUZZ_EXPLORE"),
)
KEYS = (
    "version",
    "secrets",
    "policy",
    "value",
    "value_from",
    "description",
    "renamed_from",
    "state",
    "prune",
    "protect",
    "ignore",
    "env",
    "file",
    "sops",
    "mac",
    "age",
    "A",
    "B",
    "wix_x",
    "",
)


def invoke(*argv: str, data: bytes) -> tuple[int, str]:
    path = WORK / "input.yaml"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    console = Console(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(""),
        environ={"HOME": str(WORK), "SOPS_AGE_KEY": str(IDENTITY)},
        cwd=WORK,
        stdout_tty=False,
        stderr_tty=False,
        stdin_tty=False,
        color=False,
        redactor=Redactor(),
    )
    tracemalloc.start()
    try:
        code = run([*argv, str(path)], console)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code in (0, 1), (code, err.getvalue()[-2000:])
    assert peak < MAX_PEAK, peak
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return code, err.getvalue()


scalars = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.sampled_from(["yes", "no", "on", "0123", "ENC[AES256_GCM,data:x]", "~", "2024-01-01", "x" * 3501]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=30,
)
manifests = st.fixed_dictionaries(
    {"version": st.one_of(st.just(1), scalars), "secrets": st.dictionaries(keys, trees, max_size=6)},
    optional={"policy": st.dictionaries(keys, trees, max_size=4)},
)


def dump(tree: Any) -> bytes:
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False).encode("utf-8")[:MAX_INPUT]


@FUZZ
@given(st.binary(max_size=MAX_INPUT))
def test_validate_random_bytes(data: bytes) -> None:
    invoke("validate", data=data)


@FUZZ
@given(st.one_of(trees, manifests))
def test_validate_random_yaml_structures(tree: Any) -> None:
    invoke("validate", data=dump(tree))


@FUZZ
@given(manifests, st.data())
def test_validate_mutated_manifests(tree: Any, data: st.DataObject) -> None:
    raw = bytearray(dump(tree))
    for _ in range(data.draw(st.integers(0, 8))):
        if not raw:
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.sampled_from(b"[]{}:-!&*|>'\"#\n \t\x00\x85\xff%@`,?"))
    invoke("validate", data=bytes(raw))


SEALED = encrypt(
    b"version: 1\nsecrets:\n  A:\n    value: secret-a\n    description: d\n  B:\n    value: b\n",
    recipients=[str(IDENTITY.to_public())],
    rules=EncryptionRules(encrypted_regex="^value$"),
)


@FUZZ
@given(st.binary(max_size=MAX_INPUT))
def test_decrypt_random_bytes(data: bytes) -> None:
    invoke("decrypt", data=data)


@FUZZ
@given(st.data())
def test_decrypt_and_validate_mutated_sops_files(data: st.DataObject) -> None:
    raw = bytearray(SEALED)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    invoke("decrypt", data=bytes(raw))
    invoke("validate", data=bytes(raw))
