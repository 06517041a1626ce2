"""Import: a live site's secrets (names, descriptions, values) → the text of a manifest.

Pure: no I/O, no clock, no environment. The caller reads the site, calls :func:`build_manifest`, and
encrypts the returned bytes in memory (:func:`reconciler.sops.encrypt`) before anything reaches a disk.
Every value is written as a double-quoted YAML scalar, so nothing YAML could read as a number, boolean,
date or null changes type. Secrets whose name or value cannot be declared in a manifest (invalid names,
names that differ only by case, empty or over-long values, values that look SOPS-encrypted) are not
written; they are returned in :attr:`ImportedManifest.skipped` and listed in the header comment, so
they are never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.manifest import ENCRYPTED_MARKER, MAX_DESCRIPTION, MAX_VALUE, check_name
from reconciler.model import RemoteSecret, Sensitive

__all__ = ["ImportedManifest", "Skipped", "build_manifest"]


@dataclass(frozen=True)
class Skipped:
    """A site secret that was not written, and why (the reason names the secret, never its value)."""

    name: str
    reason: str


@dataclass(frozen=True)
class ImportedManifest:
    """The manifest's plaintext YAML (to be encrypted, never written as is) and what it holds."""

    text: bytes
    imported: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...] = ()


def _quote(text: str) -> str:
    """A YAML 1.2 double-quoted scalar (JSON string syntax is a subset of it)."""
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.split())  # one line, whatever the site name holds


def _value_problem(value: Sensitive) -> str | None:
    raw = value.reveal()
    if not raw:
        return "its value is empty; a manifest value needs at least 1 character"
    if len(raw) > MAX_VALUE:
        return f"its value is longer than {MAX_VALUE} characters"
    if ENCRYPTED_MARKER in raw:
        return "its value looks SOPS-encrypted (ENC[...]), which a manifest refuses"
    return None


def build_manifest(
    secrets: Sequence[RemoteSecret],
    values: Mapping[str, Sensitive],
    *,
    site: str,
    imported_at: str,
    tool: str,
) -> ImportedManifest:
    """The manifest for ``secrets`` with ``values`` (keyed by secret id), in the site's order.

    ``site`` (a site id or label) and ``imported_at`` (an ISO timestamp) go into the header comment.
    """
    skipped: list[Skipped] = []
    notes: list[str] = []
    lowered: dict[str, list[str]] = {}
    for secret in secrets:
        lowered.setdefault(secret.name.lower(), []).append(secret.name)
    body: list[str] = []
    imported: list[str] = []
    for secret in secrets:
        problem = check_name(secret.name)
        twins = [n for n in lowered[secret.name.lower()] if n != secret.name]
        if problem is None and twins:
            problem = "its name differs only by case from " + ", ".join(repr(n) for n in twins)
        value = values.get(secret.id)
        if problem is None and value is None:
            problem = "its value could not be read"
        if problem is None and value is not None:
            problem = _value_problem(value)
        if problem is not None:
            skipped.append(Skipped(secret.name, problem))
            continue
        assert value is not None
        body.append(f"  {_quote(secret.name)}:")
        body.append(f"    value: {_quote(value.reveal())}")
        if secret.description and len(secret.description) > MAX_DESCRIPTION:
            notes.append(
                f"{secret.name}: description longer than {MAX_DESCRIPTION} characters, left out "
                "(the site's description is left alone)"
            )
        elif secret.description:
            body.append(f"    description: {_quote(secret.description)}")
        imported.append(secret.name)
    header = [
        f"# Imported by {_comment(tool)} from {_comment(site)} at {imported_at}.",
        f"# {len(imported)} secret{'s' if len(imported) != 1 else ''} imported; "
        "review it, then plan it against the site: it should show no changes.",
    ]
    for item in skipped:
        header.append(f"# NOT imported: {_comment(item.name)}: {item.reason}")
    for note in notes:
        header.append(f"# note: {_comment(note)}")
    lines = [*header, "version: 1", "secrets:" if body else "secrets: {}", *body]
    return ImportedManifest(
        text=("\n".join(lines) + "\n").encode("utf-8"),
        imported=tuple(imported),
        skipped=tuple(skipped),
        notes=tuple(notes),
    )
