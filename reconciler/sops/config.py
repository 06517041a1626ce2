"""``.sops.yaml``: found upward from the working directory, first matching creation rule wins.

Mirrors sops' ``config/config.go``: ``SOPS_CONFIG`` (or an explicit path) first, otherwise the
nearest ``.sops.yaml`` from the current directory up (100 levels); the file path is made relative to
the config's directory and tested against each rule's ``path_regex`` (unanchored RE2 search).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import SopsEncryptError, SopsFormatError
from reconciler.sops.tree import RULE_NAMES, EncryptionRules, go_regex

__all__ = ["CreationRule", "find_config", "rule_for_file"]


@dataclass(frozen=True)
class CreationRule:
    """The parts of a creation rule this tool uses (age keys and the encryption options)."""

    path_regex: str = ""
    age: tuple[str, ...] = ()
    key_groups: tuple[tuple[str, ...], ...] = ()
    shamir_threshold: int | None = None
    rules: EncryptionRules = field(default_factory=EncryptionRules)
    config_path: Path | None = None
    #: key types the rule also names that this tool cannot use (pgp, kms, ...): reported, never silently dropped
    other_keys: tuple[str, ...] = ()


def find_config(cwd: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """``SOPS_CONFIG`` if set, else the nearest ``.sops.yaml`` from ``cwd`` upward."""
    if environ and environ.get("SOPS_CONFIG"):
        return Path(environ["SOPS_CONFIG"])
    d = cwd.resolve()
    for _ in range(100):
        candidate = d / ".sops.yaml"
        if candidate.is_file():
            return candidate
        if d.parent == d:
            break
        d = d.parent
    return None


def _key_field(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return tuple(x.strip() for x in raw if x.strip())
    raise SopsFormatError(f"{where}: a key field must be a comma-separated string or a list of strings")


def rule_for_file(config: Path, file: Path) -> CreationRule | None:
    """The first creation rule of ``config`` matching ``file``; None if the config has no rules."""
    import yaml

    where = str(config)
    try:
        data = yaml.safe_load(config.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SopsFormatError(f"{where}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise SopsFormatError(f"{where}: invalid YAML") from exc
    if not isinstance(data, dict) or not data.get("creation_rules"):
        return None
    rules = data["creation_rules"]
    if not isinstance(rules, list):
        raise SopsFormatError(f"{where}: creation_rules must be a list")
    prefix = str(config.resolve().parent) + "/"
    rel = str(file.resolve())
    rel = rel.removeprefix(prefix)
    for rule in rules:
        if not isinstance(rule, dict):
            raise SopsFormatError(f"{where}: each creation rule must be a mapping")
        pattern = rule.get("path_regex") or ""
        if pattern:
            rx = go_regex(str(pattern))
            if rx is None or not rx.search(rel):
                continue
        groups: list[tuple[str, ...]] = []
        for g in rule.get("key_groups") or []:
            if not isinstance(g, dict):
                raise SopsFormatError(f"{where}: each key group must be a mapping")
            groups.append(_key_field(g.get("age"), where))
        kw = {n: str(rule[n]) for n in RULE_NAMES if rule.get(n) not in (None, "")}
        try:
            enc_rules = EncryptionRules(**kw, mac_only_encrypted=rule.get("mac_only_encrypted") is True)
        except SopsEncryptError as exc:
            raise SopsFormatError(f"{where}: {exc.summary}") from exc
        threshold = rule.get("shamir_threshold")
        kinds = ("pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms")
        others = [k for k in kinds if rule.get(k)]
        others += [k for g in rule.get("key_groups") or [] if isinstance(g, dict) for k in kinds if g.get(k)]
        return CreationRule(
            path_regex=str(pattern),
            age=_key_field(rule.get("age"), where),
            key_groups=tuple(groups),
            shamir_threshold=threshold if isinstance(threshold, int) else None,
            rules=enc_rules,
            config_path=config,
            other_keys=tuple(dict.fromkeys(others)),
        )
    raise SopsEncryptError(
        f"{where}: no matching creation rules found for {rel}",
        hint="add a creation rule whose path_regex matches, or pass --age",
    )
