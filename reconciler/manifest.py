"""Manifest bytes → a validated :class:`~reconciler.model.DesiredState`, or every problem at once.

A manifest may be plaintext YAML or a SOPS file; :func:`load_manifest` tells them apart and decrypts
through :mod:`reconciler.sops` (bytes in, verified plaintext tree out). Positions always come from
the file as the user sees it, so for an encrypted manifest a diagnostic points into the encrypted
file: sops keeps keys and structure in clear, and the decrypted tree has the same paths.

Checks, all before any request is sent: strict YAML (:mod:`reconciler.yamlstrict`), the published
JSON Schema (:mod:`reconciler.schema`), then the Wix rules and the rules of this tool: names are
1-50 characters of ``A-Za-z0-9_+=-@#$`` not starting with ``wix`` in any case; no two declared names
differ only by case; values are strings of 1-3500 characters that do not still look encrypted
(``ENC[AES256_GCM,``); plain scalars a YAML 1.1 reader would type differently must be quoted; a
``renamed_from`` name must not also be declared (as Terraform refuses a ``moved`` block whose source is
still declared). Structural YAML problems (duplicate keys, aliases, tags) do not stop the other checks
of a plaintext manifest; a saved plan given as a manifest is recognised as such.

Several manifests of one site are merged by :func:`merge_states`, which first checks the merged state
with the same rules as one file (:func:`merged_problems`).

Desired values of an encrypted manifest are fingerprinted here, each under its own file's key
(:mod:`reconciler.fingerprint`); nothing read from a site is ever fingerprinted.

This module reads no file and no environment itself: ``value_from`` is resolved through the
``environ`` mapping and ``read_file`` callable the caller passes in (:func:`reconciler.valuefile.read_value_file`
bounds those reads).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from reconciler.errors import Diagnostic, ManifestError
from reconciler.fingerprint import derive_key, fingerprint
from reconciler.globs import matches_any
from reconciler.jsonstrict import compose_json_documents
from reconciler.model import UNSET, DesiredSecret, DesiredState, Policy, Sensitive, Unset
from reconciler.schema import violations
from reconciler.siterules import dashboard_name_problem
from reconciler.yamlstrict import YNode, compose_documents, to_python

__all__ = ["ENCRYPTED_MARKER", "check_name", "load_manifest", "merge_states", "merged_problems"]

NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9_+=\-@#$]+$")
ENCRYPTED_MARKER: Final = "ENC[AES256_GCM,"
MAX_VALUE: Final = 3500
MAX_DESCRIPTION: Final = 200
# Plain scalars that go-yaml (and so sops) reads as strings but YAML 1.1 readers read as booleans.
_YAML11_AMBIGUOUS: Final = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"}
)

KeyProvider = Callable[[], Any]  # returns a reconciler.sops.KeyRing; called only for encrypted files
FileReader = Callable[[str], bytes]


def check_name(name: str) -> str | None:
    """Why ``name`` is not a valid Wix secret name, or None. Names are not secret, so they may be shown."""
    if not name:
        return "a secret name must not be empty"
    if len(name) > 50:
        return f"name {name!r} is {len(name)} characters long; Wix allows at most 50"
    if not NAME_PATTERN.match(name):
        bad = sorted({c for c in name if not NAME_PATTERN.match(c)})
        shown = ", ".join(repr(c) for c in bad)
        return f"name {name!r} contains {shown}; Wix allows only letters, digits and _+=-@#$"
    if name.lower().startswith("wix"):
        return f"name {name!r} starts with 'wix', which Wix reserves (in any case)"
    return None


@dataclass
class _Context:
    file: str
    root: YNode
    encrypted: bool
    diags: list[Diagnostic] = field(default_factory=list)

    def add(self, path: Sequence[str | int], message: str, hint: str | None = None) -> None:
        line, column = self.root.walk(path)
        dotted = ".".join(str(p) for p in path) or None
        self.diags.append(Diagnostic(message, file=self.file, line=line, column=column, path=dotted, hint=hint))


def load_manifest(
    data: bytes,
    *,
    file: str,
    keys: KeyProvider | None = None,
    environ: Mapping[str, str] | None = None,
    read_file: FileReader | None = None,
) -> DesiredState:
    """Parse, decrypt if needed, and validate one manifest. Raises :class:`ManifestError` with every
    problem found, or a :class:`~reconciler.errors.SopsError` if an encrypted file cannot be read."""
    fmt = "json" if file.endswith(".json") else "yaml"  # as sops chooses: a JSON manifest, plain or SOPS
    documents, structural = (compose_json_documents if fmt == "json" else compose_documents)(data, file=file)
    if not documents and not structural:
        structural.append(Diagnostic("the file is empty", file=file, hint="start from examples/quickstart.yaml"))
    if len(documents) > 1:
        structural.append(Diagnostic("a manifest holds exactly one YAML document", file=file, line=documents[1].line))
    if not documents or len(documents) > 1:
        raise ManifestError(structural, file=file)
    root = documents[0]
    if root.kind != "map":
        raise ManifestError(
            [*structural, Diagnostic("the manifest must be a mapping", file=file, line=root.line)], file=file
        )
    _refuse_plan_file(root, file)

    from reconciler.sops import is_encrypted

    encrypted = is_encrypted(data)
    if encrypted and structural:  # never decrypt a file whose structure is in doubt
        raise ManifestError(structural, file=file)
    data_key: bytes | None = None
    recipients: tuple[str, ...] = ()
    if encrypted:
        from reconciler.sops import decrypt

        if keys is None:
            raise ManifestError([Diagnostic("the manifest is encrypted and no keys were given", file=file)])
        decrypted = decrypt(data, keys=keys(), fmt=fmt, where=file)
        tree = decrypted.documents[0]
        data_key = decrypted.data_key
        recipients = tuple(decrypted.unwrapped)  # proven labels only: the MAC does not cover them
    else:
        tree = to_python(root)
    if isinstance(tree, dict):
        tree = {k: v for k, v in tree.items() if k != "sops"}

    ctx = _Context(file, root, encrypted)
    _check_scalars(ctx, tree)
    for path, message in violations(tree, "manifest", skip_names=True):
        if _checked_elsewhere(path, message):
            continue
        ctx.add(path, message)
    secrets = _build(ctx, tree, environ or {}, read_file)
    policy = _policy(tree, file)
    for s in secrets:
        pattern = matches_any(s.name, policy.ignore)
        if pattern:
            ctx.add(
                ("secrets", s.name),
                f"{s.name} is declared but policy.ignore pattern {pattern!r} matches it",
                hint="remove it from the manifest or narrow the ignore pattern",
            )
    if policy.names == "dashboard":  # policy.names: dashboard (see reconciler.siterules)
        for s in secrets:
            problem = dashboard_name_problem(s.name)
            if problem:
                ctx.add(("secrets", s.name), problem, hint="rename it, or set policy.names: api to only warn")
    if ctx.diags or structural:
        # Structural problems (duplicate keys, aliases, tags) did not stop the checks: the first of two
        # duplicate keys was kept, an alias or tagged node read as an empty value. What the later checks
        # say about such a node is a consequence, not a second problem: report the structural one only.
        marked = {d.line for d in structural}
        rest = [d for d in ctx.diags if d.line not in marked]
        raise ManifestError(_in_file_order([*structural, *rest]), file=file)
    fingerprint_key = derive_key(data_key, "fingerprint") if data_key is not None else None
    if fingerprint_key is not None:  # each desired value under its own file's key, never a site value
        secrets = [
            replace(s, fingerprint=fingerprint(fingerprint_key, s.value)) if s.value is not None else s for s in secrets
        ]
    if data_key is not None:
        digest = "hmac-sha256:" + hmac.new(derive_key(data_key, "manifest-digest"), data, hashlib.sha256).hexdigest()
    else:
        digest = ""
    return DesiredState(
        secrets=tuple(secrets),
        policy=policy,
        source=file,
        digest=digest,
        fingerprint_key=fingerprint_key,
        recipients=recipients,
        cache_key=derive_key(data_key, "value-cache") if data_key is not None else None,
    )


def _refuse_plan_file(root: YNode, file: str) -> None:
    """A saved plan (``plan --out``) given where a manifest is expected: say so, not 13 schema errors."""
    from reconciler.planfile import KIND

    kind = root.get("kind")
    if kind is not None and kind.value == KIND:
        raise ManifestError(
            [
                Diagnostic(
                    "this is a saved plan, not a manifest",
                    file=file,
                    line=kind.line,
                    hint=f"apply it with `wix-secrets apply {file}` (alone: a saved plan takes no manifest)",
                )
            ],
            file=file,
        )


def _in_file_order(diags: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diags, key=lambda d: (d.line or 0, d.column or 0))


def _checked_elsewhere(path: tuple[str | int, ...], message: str) -> bool:
    """Value problems, and description type problems, are reported below with better messages."""
    if len(path) != 3 or path[0] != "secrets":
        return False
    return path[2] == "value" or (path[2] == "description" and message.endswith("must be a string"))


_TYPE_WORDS = {bool: "a boolean", int: "an integer", float: "a number", type(None): "null (empty)"}


def _check_scalars(ctx: _Context, tree: Any) -> None:
    secrets = tree.get("secrets") if isinstance(tree, dict) else None
    if not isinstance(secrets, dict):
        return
    for name, entry in secrets.items():
        if not isinstance(entry, dict):
            continue
        for key in ("value", "description"):
            if key not in entry:
                continue
            value = entry[key]
            path = ("secrets", name, key)
            if not isinstance(value, str):
                word = _TYPE_WORDS.get(type(value), "a date" if hasattr(value, "isoformat") else "not text")
                hint = f'quote it ({key}: "...") so YAML reads it as text'
                if ctx.encrypted:
                    hint = f'quote it ({key}: "...") in the plaintext and encrypt again'
                ctx.add(path, f"{key} of {name} is read as {word}, not a string", hint=hint)
                continue
            node = ctx.root.get("secrets")
            scalar = node.get(name) if node else None
            leaf = scalar.get(key) if scalar else None
            if not ctx.encrypted and leaf is not None and leaf.style is None and leaf.raw in _YAML11_AMBIGUOUS:
                ctx.add(
                    path,
                    f"{key} of {name} is an unquoted word that YAML 1.1 tools read as a boolean",
                    hint=f'quote it ({key}: "...") so every tool reads the same text',
                )


def _build(ctx: _Context, tree: Any, environ: Mapping[str, str], read_file: FileReader | None) -> list[DesiredSecret]:
    secrets = tree.get("secrets") if isinstance(tree, dict) else None
    if not isinstance(secrets, dict):
        return []
    result: list[DesiredSecret] = []
    folded: dict[str, str] = {}
    renamed_by: dict[str, str] = {}
    for name in secrets:
        problem = check_name(name)
        if problem:
            ctx.add(("secrets", name), problem, hint="rename it in the manifest (Wix enforces the same rules)")
        other = folded.get(name.casefold())
        if other is not None:
            ctx.add(
                ("secrets", name),
                f"{name} and {other} differ only by case",
                hint="Wix may treat them as one name; keep one",
            )
        folded.setdefault(name.casefold(), name)
    for name, entry in secrets.items():
        if not isinstance(entry, dict):
            if entry is None:
                ctx.add(("secrets", name), f"{name} has no fields", hint="give it a value, or `state: absent`")
            continue
        result_entry = _secret(ctx, name, entry, environ, read_file)
        for index, old in enumerate(_renamed_from(entry)):
            if not isinstance(old, str):
                continue
            path = ("secrets", name, "renamed_from", index)
            problem = check_name(old)
            if problem:
                ctx.add(path, problem)
            elif old == name:
                ctx.add(path, f"{name} lists itself in renamed_from")
            elif old in secrets:
                line = ctx.root.walk(("secrets", old))[0]
                ctx.add(
                    path,
                    f"{old} is renamed to {name} but is also declared (line {line})",
                    hint=f"a renamed secret no longer exists under its old name: remove the {old} entry, "
                    f"or {old} from renamed_from (as Terraform refuses a moved block whose source is declared)",
                )
            elif old in renamed_by:
                ctx.add(path, f"{old} is in renamed_from of both {renamed_by[old]} and {name}")
            else:
                renamed_by[old] = name
        if result_entry is not None:
            result.append(result_entry)
    return result


def _as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else nothing (the schema reports a wrong type)."""
    return value if isinstance(value, list) else []


def _renamed_from(entry: dict[str, Any]) -> list[Any]:
    return _as_list(entry.get("renamed_from"))


def _secret(
    ctx: _Context, name: str, entry: dict[str, Any], environ: Mapping[str, str], read_file: FileReader | None
) -> DesiredSecret | None:
    line = ctx.root.walk(("secrets", name))[0]
    state = entry.get("state", "present")
    description = entry.get("description", UNSET)
    if not isinstance(description, str | Unset):
        return None
    renamed = tuple(x for x in _renamed_from(entry) if isinstance(x, str))
    if state == "absent":
        extra = sorted(k for k in entry if k not in ("state",))
        if extra:
            ctx.add(
                ("secrets", name),
                f"{name} is `state: absent` but also has {', '.join(extra)}",
                hint="a tombstone takes no other field",
            )
        return DesiredSecret(name, None, state="absent", line=line)
    has_value, has_from = "value" in entry, "value_from" in entry
    if has_value and has_from:
        ctx.add(("secrets", name), f"{name} has both value and value_from; keep one")
        return None
    if not has_value and not has_from:
        ctx.add(("secrets", name), f"{name} has no value", hint="add `value:` (or `state: absent` to delete it)")
        return None
    if has_from:
        if ctx.encrypted:
            ctx.add(
                ("secrets", name, "value_from"),
                "value_from is only allowed in plaintext manifests",
                hint="put the value itself in the encrypted manifest",
            )
            return None
        text = _value_from(ctx, name, entry["value_from"], environ, read_file)
        if text is None:
            return None
        path: tuple[str, ...] = ("secrets", name, "value_from")
    else:
        text = entry["value"]
        if not isinstance(text, str):
            return None
        path = ("secrets", name, "value")
    if text.startswith(ENCRYPTED_MARKER):
        ctx.add(
            path,
            f"the value of {name} is still SOPS-encrypted text",
            hint="decryption did not happen for this value; check the file's sops metadata and rules",
        )
        return None
    if not text:
        ctx.add(path, f"the value of {name} is empty; Wix requires 1 to {MAX_VALUE} characters")
        return None
    if len(text) > MAX_VALUE:
        ctx.add(path, f"the value of {name} is {len(text)} characters long; Wix allows at most {MAX_VALUE}")
        return None
    from reconciler.codescan.age import parse_duration

    max_age = parse_duration(entry["max_age"]) if isinstance(entry.get("max_age"), str) else None
    return DesiredSecret(
        name, Sensitive(text), description=description, renamed_from=renamed, line=line, max_age=max_age
    )


def _value_from(
    ctx: _Context, name: str, spec: Any, environ: Mapping[str, str], read_file: FileReader | None
) -> str | None:
    if not isinstance(spec, dict) or len(spec) != 1:
        return None  # the schema reported it
    if "env" in spec:
        var = spec["env"]
        if not isinstance(var, str):
            return None
        if var not in environ:
            ctx.add(
                ("secrets", name, "value_from", "env"),
                f"environment variable {var} is not set",
                hint=f"export {var}=... before running (in CI, map it from the secret store)",
            )
            return None
        return environ[var]
    if "file" in spec:
        target = spec["file"]
        if not isinstance(target, str) or read_file is None:
            return None
        try:
            raw = read_file(target)
        except OSError as exc:
            ctx.add(("secrets", name, "value_from", "file"), f"cannot read {target}: {exc.strerror or exc}")
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            ctx.add(("secrets", name, "value_from", "file"), f"{target} is not UTF-8 text")
            return None
        return text.removesuffix("\n").removesuffix("\r")
    return None


def _policy(tree: Any, file: str) -> Policy:
    from reconciler.codescan.policy import policy_fields

    raw = tree.get("policy") if isinstance(tree, dict) else None
    if not isinstance(raw, dict):
        return Policy()
    return Policy(
        prune=bool(raw.get("prune", False)),
        protect=tuple(p for p in _as_list(raw.get("protect")) if isinstance(p, str)),
        ignore=tuple(p for p in _as_list(raw.get("ignore")) if isinstance(p, str)),
        names="dashboard" if raw.get("names") == "dashboard" else "api",
        **policy_fields(raw, file),
    )


def merged_problems(states: Sequence[DesiredState]) -> list[Diagnostic]:
    """What one file would refuse, checked across several files of one site (after overrides).

    Each file was checked on its own; this finds what only the merge reveals: names differing only by
    case, two secrets renamed from one source, a rename from a name another file declares, a name one
    file declares and another file's ``policy.ignore`` matches. Each problem has the file and line of
    the later declaration, and names the other file and line.
    """
    effective: dict[str, tuple[DesiredSecret, str]] = {}
    for state in states:
        for secret in state.secrets:
            effective.pop(secret.name, None)
            effective[secret.name] = (secret, state.source)

    def where(name: str) -> str:
        secret, source = effective[name]
        return f"{source}:{secret.line}" if secret.line else source

    diags: list[Diagnostic] = []

    def add(name: str, message: str, hint: str | None = None) -> None:
        secret, source = effective[name]
        diags.append(Diagnostic(message, file=source, line=secret.line, path=f"secrets.{name}", hint=hint))

    folded: dict[str, str] = {}
    renamed_by: dict[str, str] = {}
    for name, (secret, _source) in effective.items():
        other = folded.setdefault(name.casefold(), name)
        if other != name:
            add(
                name,
                f"{name} and {other} ({where(other)}) differ only by case",
                "Wix may treat them as one name; keep one",
            )
        for old in secret.renamed_from:
            if old in effective and old != name:
                add(
                    name,
                    f"{old} is renamed to {name} but is also declared ({where(old)})",
                    f"a renamed secret no longer exists under its old name: remove the {old} entry, "
                    f"or {old} from renamed_from",
                )
            elif old in renamed_by and renamed_by[old] != name:
                add(name, f"{old} is in renamed_from of both {renamed_by[old]} ({where(renamed_by[old])}) and {name}")
            else:
                renamed_by.setdefault(old, name)
    for state in states:
        for name, (_secret, source) in effective.items():
            pattern = matches_any(name, state.policy.ignore)
            if pattern is not None and source != state.source:
                add(
                    name,
                    f"{name} is declared but policy.ignore pattern {pattern!r} of {state.source} matches it",
                    "remove it from the manifest or narrow the ignore pattern",
                )
    return diags


def merge_states(states: Sequence[DesiredState]) -> DesiredState:
    """Several manifests for one site: later files override earlier ones secret by secret.

    The merged state must pass the same rules as one file (:func:`merged_problems`), else
    :class:`ManifestError`. Policy: prune if any file asks for it; protect and ignore are the union.
    Each secret keeps the fingerprint computed under its own file's key (a file whose key its author
    chose can only fingerprint values that author wrote).
    """
    if len(states) == 1:
        return states[0]
    problems = merged_problems(states)
    if problems:
        raise ManifestError(problems)
    from reconciler.codescan.policy import merged_policy_fields

    secrets: dict[str, DesiredSecret] = {}
    for state in states:
        for secret in state.secrets:
            secrets.pop(secret.name, None)
            secrets[secret.name] = secret
    keys = [s.fingerprint_key for s in states if s.fingerprint_key is not None]
    digests = [s.digest for s in states]
    return DesiredState(
        secrets=tuple(secrets.values()),
        policy=Policy(
            prune=any(s.policy.prune for s in states),
            protect=tuple(dict.fromkeys(p for s in states for p in s.policy.protect)),
            ignore=tuple(dict.fromkeys(p for s in states for p in s.policy.ignore)),
            names="dashboard" if any(s.policy.names == "dashboard" for s in states) else "api",
            **merged_policy_fields([s.policy for s in states]),
        ),
        source=", ".join(s.source for s in states),
        digest=("multi:" + hashlib.sha256("\n".join(digests).encode()).hexdigest()) if all(digests) else "",
        fingerprint_key=keys[0] if keys else None,
        recipients=tuple(dict.fromkeys(r for s in states for r in s.recipients)),
        cache_key=next((s.cache_key for s in states if s.cache_key is not None), None),
    )
