"""Saved plans: ``plan --out PLANFILE`` writes one, ``apply PLANFILE`` applies exactly it, or refuses.

A plan file holds no value and no unkeyed hash of a value. It binds

* to the manifest by a keyed digest (HMAC-SHA256) of the whole desired state — names, values,
  descriptions, renames, tombstones and policy — so ``value_from`` sources count too; the key is derived
  from the manifest's SOPS data key, or, for a plaintext manifest, from the site's Wix credential (for
  a ``--local`` site without one: from the user's local key, so such a plan applies on this machine only);
* to the site by the id, name, description and ``updatedDate`` of every secret the plan touches, and
  by the absence of every name it creates.

The file itself is untrusted (it travels as a CI artifact): everything in it that decides behaviour
(the target site, the limits, every planned change, the manifests it names, the digest) is bound by a
keyed MAC (``mac``, HMAC-SHA256 over the canonical JSON of the rest of the document) under a key derived
from the same secret as the digest, which the editor of the file cannot know. :func:`verify_mac`
refuses a file whose MAC does not verify (exit 4: the plan file was modified). A token-only identity
(an access token, no API key and no client secret) is not a stable secret between the plan and the
apply runs, so it never keys a plan file: a plaintext manifest with such an identity cannot be saved
("needs a key"); encrypt the manifest with SOPS. The target of an apply is never taken from the file:
the apply run names it and it must equal the file's ``site``.

:func:`stale_reasons` compares a saved plan with the site as listed now; any difference makes the plan
stale (exit code 4), naming each secret that changed. Values are never re-read: an unchanged
``updatedDate`` means an unchanged value. Everything here is pure; the CLI reads and writes the file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from reconciler import __version__
from reconciler.errors import StalePlanError, UsageError
from reconciler.fingerprint import derive_key
from reconciler.model import UNSET, DesiredState, RemoteSecret, Unset
from reconciler.plan import Action, Change, Plan

__all__ = [
    "KIND",
    "SavedPlan",
    "binding_key",
    "credential_secret",
    "desired_digest",
    "dumps",
    "is_plan_file",
    "loads",
    "mac_key",
    "stale_reasons",
    "to_plan",
    "verify_mac",
]

KIND: Final = "wix-secrets-plan"
FORMAT_VERSION: Final = "1"


def credential_secret(environ: Mapping[str, str], *, identity: str | None = None) -> bytes | None:
    """The stable secret of the chosen Wix identity that keys a plaintext manifest's plan: the API key
    (``api-key``) or the app's client secret (``wix-app``); None for a token identity or none set."""
    kind = (identity or environ.get("WIX_AUTH") or "").strip()
    for name, owner in (("WIX_API_KEY", "api-key"), ("WIX_CLIENT_SECRET", "wix-app")):
        secret = environ.get(name, "").strip()
        if secret and kind in ("", owner):
            return secret.encode("utf-8")
    return None


def binding_key(
    desired: DesiredState,
    environ: Mapping[str, str],
    *,
    identity: str | None = None,
    local_secret: bytes | None = None,
) -> bytes:
    """The key for the manifest digest: from the SOPS data key, else from the stable secret of the Wix
    identity (``identity``: the ``--auth`` choice; else ``WIX_AUTH``; else whichever is set): the API
    key (``api-key``) or the app's client secret (``wix-app``), else, for a ``--local`` site only,
    ``local_secret`` (the user's local key, which never leaves this machine). A token identity
    (``wix-cli``, ``token-command``, ``access-token``) has no stable secret: refused ("needs a key")."""
    if desired.fingerprint_key is not None:
        return derive_key(desired.fingerprint_key, "plan-digest")
    credential = credential_secret(environ, identity=identity)
    if credential is not None:
        return derive_key(credential, "plan-digest")
    kind = (identity or environ.get("WIX_AUTH") or "").strip()
    if local_secret:
        return derive_key(local_secret, "plan-digest-local")
    if kind in ("wix-cli", "token-command", "access-token"):
        raise UsageError(
            f"a saved plan of a plaintext manifest needs a key, and the {kind} identity has none: "
            "its token changes between the plan and the apply runs",
            hint="encrypt the manifest with SOPS (wix-secrets encrypt), or use the api-key or wix-app identity",
        )
    raise UsageError(
        "a saved plan needs a key to bind it to the manifest without hashing values in the clear",
        hint="encrypt the manifest with SOPS (wix-secrets encrypt), or set the site's WIX_API_KEY "
        "(or the app's WIX_CLIENT_SECRET)",
    )


def mac_key(
    desired: DesiredState,
    environ: Mapping[str, str],
    *,
    identity: str | None = None,
    local_secret: bytes | None = None,
) -> bytes:
    """The key of the plan file's MAC (a sibling of :func:`binding_key`, under another label)."""
    return derive_key(binding_key(desired, environ, identity=identity, local_secret=local_secret), "plan-file-mac")


def _mac(doc: Mapping[str, Any], key: bytes) -> str:
    body = {k: v for k, v in doc.items() if k != "mac"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "hmac-sha256:" + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_mac(saved: SavedPlan, key: bytes, *, source: str = "plan file") -> None:
    """Refuse (StalePlanError, exit 4) a plan file whose MAC is missing or does not verify."""
    expected = _mac(saved.document, key)
    if not saved.mac or not hmac.compare_digest(saved.mac.encode("utf-8"), expected.encode("utf-8")):
        raise StalePlanError(
            f"the plan file {source} was modified, or the manifest changed since it was made (re-encrypted "
            "with another data key): the plan's MAC does not verify; nothing was sent",
            changed=["plan file"],
            hint="make the plan again with `wix-secrets plan --out` and keep the file unchanged",
        )


def desired_digest(desired: DesiredState, key: bytes) -> str:
    """A keyed digest of everything the manifest asks for."""
    canonical = {
        "secrets": sorted(
            (
                {
                    "name": s.name,
                    "state": s.state,
                    "value": s.value.reveal() if s.value is not None else None,
                    "description": None if isinstance(s.description, Unset) else s.description,
                    "renamed_from": list(s.renamed_from),
                }
                for s in desired.secrets
            ),
            key=lambda item: str(item["name"]),
        ),
        "policy": {
            "prune": desired.policy.prune,
            "protect": list(desired.policy.protect),
            "ignore": list(desired.policy.ignore),
        },
    }
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "hmac-sha256:" + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SavedPlan:
    """A plan file, parsed. ``changes`` are the actionable changes, in apply order, without values."""

    manifests: tuple[str, ...]
    digest: str
    site: Mapping[str, Any]
    changes: tuple[Change, ...]
    created: str
    limits: Mapping[str, Any]
    tool_version: str = __version__
    mac: str = ""
    document: Mapping[str, Any] = field(default_factory=dict)  # as read, for the MAC


def _remote(r: RemoteSecret | None) -> dict[str, str] | None:
    if r is None:
        return None
    return {"id": r.id, "name": r.name, "description": r.description, "updated_date": r.updated_date}


def dumps(
    plan: Plan,
    *,
    manifests: Sequence[str],
    digest: str,
    site: Mapping[str, Any],
    created: str,
    limits: Mapping[str, Any],
    key: bytes,
) -> str:
    """The plan file's text (JSON) with its MAC under ``key`` (:func:`mac_key`). Only actionable
    changes are kept; values are never written."""
    doc = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "created": created,
        "manifests": list(manifests),
        "manifest_digest": digest,
        "site": dict(site),
        "limits": dict(limits),
        "changes": [
            {
                "action": c.action.value,
                "name": c.name,
                "previous_name": c.previous_name,
                "changed": list(c.changed),
                "description": None if isinstance(c.description, Unset) else c.description,
                "remote": _remote(c.remote),
                "fingerprint": {"before": None, "after": c.fingerprint_after},
                "reason": c.reason,
            }
            for c in plan.actionable
        ],
    }
    doc["mac"] = _mac(doc, key)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def is_plan_file(data: bytes) -> bool:
    head = data[:200].lstrip()
    return head.startswith(b"{") and b'"kind": "' + KIND.encode() + b'"' in head


def loads(data: bytes, *, source: str = "plan file") -> SavedPlan:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UsageError(f"{source} is not a wix-secrets plan file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise UsageError(f"{source} is not a wix-secrets plan file")
    if doc.get("format_version") != FORMAT_VERSION:
        raise UsageError(
            f"{source} has plan format {doc.get('format_version')!r}; this wix-secrets reads {FORMAT_VERSION!r}",
            hint="make the plan again with this version",
        )
    try:
        changes = tuple(_change(item) for item in doc["changes"])
        return SavedPlan(
            manifests=tuple(doc["manifests"]),
            digest=str(doc["manifest_digest"]),
            site=dict(doc["site"]),
            changes=changes,
            created=str(doc["created"]),
            limits=dict(doc.get("limits") or {}),
            tool_version=str(doc.get("tool_version", "")),
            mac=str(doc.get("mac") or ""),
            document=doc,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{source} is damaged: {type(exc).__name__} {exc}") from None


def _change(item: Mapping[str, Any]) -> Change:
    remote = item.get("remote")
    fp = item.get("fingerprint") or {}
    description = item.get("description")
    return Change(
        action=Action(item["action"]),
        name=str(item["name"]),
        remote=RemoteSecret(
            id=remote["id"],
            name=remote["name"],
            description=remote.get("description", ""),
            updated_date=remote.get("updated_date", ""),
        )
        if remote
        else None,
        previous_name=item.get("previous_name"),
        changed=tuple(item.get("changed") or ()),
        description=UNSET if description is None else str(description),
        reason=item.get("reason"),
        fingerprint_after=fp.get("after"),
    )


def stale_reasons(saved: SavedPlan, listed: Sequence[RemoteSecret]) -> list[str]:
    """Every way the site differs from what the plan was made against (empty: not stale)."""
    by_id = {s.id: s for s in listed}
    names = {s.name.casefold(): s.name for s in listed}
    freed = {c.remote.name for c in saved.changes if c.remote is not None and c.action is not Action.UPDATE}
    reasons: list[str] = []
    for change in saved.changes:
        if change.remote is None:
            existing = names.get(change.name.casefold())
            if existing is not None and existing not in freed:
                reasons.append(f"{change.name}: now exists on the site (the plan creates it)")
            continue
        now = by_id.get(change.remote.id)
        was = change.remote
        if now is None:
            reasons.append(f"{was.name}: no longer on the site (id {was.id})")
        elif now.name != was.name:
            reasons.append(f"{was.name}: renamed on the site to {now.name}")
        elif now.updated_date != was.updated_date:
            reasons.append(
                f"{was.name}: changed on the site (updated {now.updated_date}, planned against {was.updated_date})"
            )
        elif now.description != was.description:
            reasons.append(f"{was.name}: description changed on the site")
    return reasons


def to_plan(saved: SavedPlan, desired: DesiredState, listed: Sequence[RemoteSecret] = ()) -> Plan:
    """The saved changes with the values to send taken from the (digest-checked) manifest, plus, from
    the site as ``listed`` now, the declared secrets the plan leaves unchanged (so they are counted)."""
    by_name = {s.name: s for s in desired.present()}
    touched = {c.name for c in saved.changes} | {c.previous_name for c in saved.changes if c.previous_name}
    on_site = {s.name: s for s in listed}
    changes: list[Change] = [
        Change(action=Action.NOOP, name=name, remote=on_site[name])
        for name in by_name
        if name in on_site and name not in touched
    ]
    for change in saved.changes:
        value = None
        if "value" in change.changed and change.action is not Action.DELETE:
            wanted = by_name.get(change.name)
            if wanted is None or wanted.value is None:
                raise StalePlanError(f"the manifest no longer declares {change.name}", changed=[change.name])
            value = wanted.value
        changes.append(
            Change(
                action=change.action,
                name=change.name,
                remote=change.remote,
                previous_name=change.previous_name,
                changed=change.changed,
                value=value,
                description=change.description,
                protected=change.protected,
                reason=change.reason,
                fingerprint_after=change.fingerprint_after,
            )
        )
    return Plan(changes=tuple(changes))
