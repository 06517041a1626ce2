"""The fast schema check agrees with jsonschema on every document: valid exactly when jsonschema finds
no error. Documents: the shipped examples and schemas' own fixtures, then thousands of seeded random
mutations of them (keys added, removed, retyped, emptied, lengthened, duplicated)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.schema import _fast_check, load_schema, violations
from reconciler.schemacheck import Unsupported, compile_check

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = sorted(p.name.removesuffix(".schema.json") for p in (ROOT / "reconciler" / "schemas").glob("*.schema.json"))


def seeds(name: str) -> list[Any]:
    docs: list[Any] = []
    if name == "manifest":
        for path in [ROOT / "examples" / "quickstart.yaml", *sorted((ROOT / "examples" / "project").glob("*.yaml"))]:
            doc = yaml.safe_load(path.read_text())
            if isinstance(doc, dict) and "sites" not in doc:
                docs.append(doc)
        docs.append(
            {
                "version": 1,
                "policy": {"prune": True, "ignore": ["LEGACY_*"]},
                "secrets": {
                    "API_TOKEN": {"value": "v-1", "description": "d", "renamed_from": ["OLD_TOKEN"]},
                    "OTHER": {"value": "v-2"},
                },
            }
        )
    elif name == "project":
        docs.append(yaml.safe_load((ROOT / "examples" / "project" / "wix-secrets.yaml").read_text()))
    docs.append({})
    return docs


def _collect(node: Any, holders: list[tuple[Any, Any]]) -> None:
    if isinstance(node, dict):
        for key in list(node):
            holders.append((node, key))
            _collect(node[key], holders)
    elif isinstance(node, list):
        for i in range(len(node)):
            holders.append((node, i))
            _collect(node[i], holders)


def mutate(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    fillers: list[Any] = [None, True, 0, 1, 1.5, -3, "", "x", "WIX_NAME", "a" * 300, [], ["a", "a"], {}, {"k": 1}]
    for _ in range(rng.randint(1, 3)):
        holders: list[tuple[Any, Any]] = []
        _collect(doc, holders)
        if not holders or rng.random() < 0.1:
            if isinstance(doc, dict):
                doc[rng.choice(["version", "secrets", "policy", "sites", "defaults", "extra"])] = rng.choice(fillers)
            continue
        parent, key = rng.choice(holders)
        roll = rng.random()
        if roll < 0.4:
            parent[key] = copy.deepcopy(rng.choice(fillers))
        elif roll < 0.6 and isinstance(parent, dict):
            del parent[key]
        elif roll < 0.8 and isinstance(parent, dict):
            parent[rng.choice(["value", "description", "renamed_from", "prune", "wix_x", "x", "name"])] = copy.deepcopy(
                rng.choice(fillers)
            )
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = copy.deepcopy(parent[key])
    return doc


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_fast_check_agrees_with_jsonschema(name: str) -> None:
    schema = load_schema(name)
    try:
        check = compile_check(schema)
    except Unsupported:  # e.g. "format": such a schema always goes through jsonschema
        assert _fast_check(name) is None
        return
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    rng = random.Random(f"schemacheck-{name}")
    docs = seeds(name)
    valid = invalid = 0
    for base in list(docs):
        for _ in range(400):
            docs.append(mutate(base, rng))
    for doc in docs:
        expected = validator.is_valid(doc)
        assert check(doc) is expected, json.dumps(doc)[:500]
        valid += expected
        invalid += not expected
    if name in ("manifest", "project"):
        assert valid >= 3 and invalid >= 100  # both answers were exercised


def test_manifest_and_project_schemas_get_the_fast_path() -> None:
    for name in ("manifest", "project"):
        compile_check(load_schema(name))  # raises Unsupported if a keyword is missing


def test_an_invalid_document_still_gets_every_message() -> None:
    doc = {"version": 2, "secrets": {"A_B": {"value": 3, "bogus": True}}}
    messages = [m for _, m in violations(doc, "manifest")]
    assert any("version" in m for m in messages)
    assert any("unknown key 'bogus'" in m for m in messages)
    assert len(messages) >= 3
