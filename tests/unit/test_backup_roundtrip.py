"""A backup round-trips every value Wix accepts, byte for byte (issue 10, item 10).

Backup → restore is: :func:`reconciler.backup.render` (plaintext, in memory) → SOPS encryption (the
emitter writes the readable descriptions) → :func:`reconciler.manifest.load_manifest` (decrypt and
validate, what ``wix-secrets apply BACKUP`` does). Wix accepts any string of 1-3,500 characters as a
value and up to 200 as a description; surrogates cannot be encoded in UTF-8 (so they never reach
Wix in a JSON body), and a value starting with ``ENC[AES256_GCM,`` is refused by the manifest rules
on purpose (it is what a value that was never decrypted looks like).
"""

from __future__ import annotations

from pathlib import Path

import pyrage
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from reconciler.backup import BackupEntry, render
from reconciler.manifest import ENCRYPTED_MARKER, load_manifest
from reconciler.model import RemoteSecret, Sensitive
from reconciler.sops import EncryptionRules, KeyRing, encrypt

IDENTITY = pyrage.x25519.Identity.generate()
RING = KeyRing.discover({"SOPS_AGE_KEY": str(IDENTITY)}, home=Path("/nonexistent"))
TEXT = st.characters(exclude_categories=["Cs"])  # every code point UTF-8 can carry


def restore(value: str, description: str) -> tuple[str, str]:
    entry = BackupEntry(RemoteSecret("id-1", "API_KEY", description), Sensitive(value))
    plain = render([entry], site="site-1", created="2026-01-01T00:00:00Z")
    sealed = encrypt(plain, recipients=[str(IDENTITY.to_public())], rules=EncryptionRules(encrypted_regex="^value$"))
    state = load_manifest(sealed, file="backup.sops.yaml", keys=lambda: RING)
    [secret] = state.secrets
    assert secret.value is not None and isinstance(secret.description, str)
    return secret.value.reveal(), secret.description


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.text(TEXT, min_size=1, max_size=3500), st.text(TEXT, min_size=1, max_size=200))
@example("a\x85b", "d\x85")  # NEL came back as a space
@example("a\x7fb", "\x7f")  # DEL: "invalid YAML", the apply aborted
@example("\x80\x9f\x9b[31m", "\x9f")  # C1 controls
@example("\u2028\u2029", "\u2028")  # line and paragraph separators
@example("\ufeffbom\ufffe\uffff", "\ufeff")
@example("\x00\t\r\n\r \x1b", " trailing ")
@example("yes", "null")
def test_backup_then_restore_gives_the_same_value_and_description(value: str, description: str) -> None:
    assume(not value.startswith(ENCRYPTED_MARKER))
    assert restore(value, description) == (value, description)
