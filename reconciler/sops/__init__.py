"""Native SOPS v3 with age: decrypt (MAC always verified), encrypt, edit, set/unset, rotate, updatekeys.

Public API (see docs/architecture.md): :func:`is_encrypted`, :func:`decrypt`, :class:`Decrypted`,
:class:`KeyRing`, :func:`encrypt`, :class:`EncryptionRules`, plus the bytes-in/bytes-out operations
:func:`decrypt_text`, :func:`edit`, :func:`set_secret`, :func:`unset_secret`, :func:`rotate`,
:func:`updatekeys`. yaml, cryptography and pyrage are imported when first used, not by this package.

Modules: ``goyaml`` (go-yaml scalar typing, Go formatting), ``cipher`` (ENC[] values), ``store`` (YAML
with comments), ``tree`` (rules, AAD, MAC), ``metadata`` (the sops block), ``keys`` (identities),
``shamir``, ``config`` (.sops.yaml), ``api`` (whole-file operations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.sops.api import (
        Decrypted,
        KeyChange,
        SopsFile,
        decrypt,
        decrypt_text,
        edit,
        encrypt,
        is_encrypted,
        open_file,
        rotate,
        set_secret,
        unset_secret,
        updatekeys,
    )
    from reconciler.sops.keys import KeyRing
    from reconciler.sops.metadata import Metadata
    from reconciler.sops.tree import EncryptionRules

__all__ = [
    "Decrypted",
    "EncryptionRules",
    "KeyChange",
    "KeyRing",
    "Metadata",
    "SopsFile",
    "decrypt",
    "decrypt_text",
    "edit",
    "encrypt",
    "is_encrypted",
    "open_file",
    "rotate",
    "set_secret",
    "unset_secret",
    "updatekeys",
]

_WHERE = {
    "KeyRing": "reconciler.sops.keys",
    "Metadata": "reconciler.sops.metadata",
    "EncryptionRules": "reconciler.sops.tree",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        module = importlib.import_module(_WHERE.get(name, "reconciler.sops.api"))
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(name)
