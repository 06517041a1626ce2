"""Native SOPS v3 with age: decrypt (MAC always verified), encrypt, edit, set/unset, rotate, updatekeys.

Public API (see docs/architecture.md): :func:`is_encrypted`, :func:`decrypt`, :class:`Decrypted`,
:class:`KeyRing`, :func:`encrypt`, :class:`EncryptionRules`. Heavy modules (yaml, cryptography,
pyrage) are imported lazily by the submodules that need them.
"""

from __future__ import annotations
