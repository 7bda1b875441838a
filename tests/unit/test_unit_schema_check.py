"""The yes/no schema check (model/schema_check.py) against jsonschema, the oracle.

Sound: whatever it passes, jsonschema finds no error in (a document it passes skips jsonschema, so a
wrong yes would let an invalid spec through). Useful: it passes the valid documents promspec ships and
the benchmark's services, so they do not take the slow path. Exact: under `not` and `if` its answer is
jsonschema's both ways, so a negation cannot turn a "not sure" into a wrong yes.
"""

from __future__ import annotations

import copy
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.diagnostics import Report
from promspec.model.loader import load_paths
from promspec.model.schema_check import Unsupported, compile_check
from promspec.model.schemas import all_schemas
from promspec.model.validate import _quick_checks, _strict_patterns, _validators

from conftest import REPO


@cache
def _valid_documents() -> tuple[tuple[str, Any], ...]:
    """Every valid document of the bundled specs and dashboards, the tests' specs and a 3-service benchmark tree."""
    sys.path.insert(0, os.path.join(REPO, "bench"))
    try:
        from generate import write_specs
    finally:
        sys.path.pop(0)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="promspec-schema-check-") as bench:
        write_specs(Path(bench) / "specs", 3)
        roots = [
            os.path.join(REPO, "specs"),
            os.path.join(REPO, "tests", "fixtures"),
            os.path.join(REPO, "tests", "broken"),  # those valid as to their schema (wrong in meaning)
            os.path.join(REPO, "gen", "promspec", "data", "dashboards"),
            os.path.join(bench, "specs"),
        ]
        loaded = load_paths(roots, Report())
    validators = _validators()
    out = []
    for doc in loaded:
        data = doc.data
        if (
            isinstance(data, dict)
            and isinstance(data.get("kind"), str)
            and data["kind"] in validators
            and not list(validators[data["kind"]].iter_errors(data))
        ):
            out.append((data["kind"], data))
    return tuple(out)


def _jsonschema_valid(kind: str, data: Any) -> bool:
    return not any(True for _ in _validators()[kind].iter_errors(data))


def test_every_kind_compiles_and_passes_every_valid_document():
    assert set(_quick_checks()) == set(all_schemas())
    docs = _valid_documents()
    kinds = {kind for kind, _ in docs}
    assert {"Service", "Backend", "Catalog", "Settings", "AlertGroup", "Dashboard"} <= kinds
    refused = [(kind, data.get("metadata")) for kind, data in docs if not _quick_checks()[kind](data)]
    assert refused == []


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 700),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "5m", "1h30m", "0.999", "99.9%", "a b", "x\n", "up", "llama", "critical", "kind", "http"]),
    st.text(max_size=6),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, path + (i,))
    return out


def _mutate(data: Any, path: tuple, how: str, value: Any, key: str) -> Any:
    """data with one change at path: the value replaced, a key added or removed, an item duplicated."""
    data = copy.deepcopy(data)
    if not path:
        return value if how == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "remove":
        del parent[last]
    elif how == "add" and isinstance(parent[last], dict):
        parent[last][key] = value
    elif how == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif how == "add" and isinstance(parent[last], list):
        parent[last].append(value)
    return data


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pick=st.integers(0, 10_000),
    where=st.integers(0, 10_000),
    how=st.sampled_from(["replace", "remove", "add", "duplicate"]),
    value=_VALUES,
    key=st.one_of(st.sampled_from(["name", "kind", "objective", "labels", "for", "sli", "extra"]), st.text(max_size=4)),
)
def test_a_document_the_check_passes_has_no_jsonschema_error(pick, where, how, value, key):
    docs = _valid_documents()
    kind, data = docs[pick % len(docs)]
    paths = _paths(data)
    mutated = _mutate(data, paths[where % len(paths)], how, value, key)
    if _quick_checks()[kind](mutated):
        assert _jsonschema_valid(kind, mutated), (kind, paths[where % len(paths)], how, value)


def _edges(value: Any) -> list[Any]:
    """Values just past what a schema may allow where value stands: empty, a final newline, a sign, a type."""
    if isinstance(value, bool):
        return [int(value), None]
    if isinstance(value, (int, float)):
        return [-value - 1, value + 0.5, -0.5, str(value), True]
    if isinstance(value, str):
        return ["", value + "\n", value + " x", 1]
    if isinstance(value, list):
        return [[], value + value[:1], [None]]
    return [{}, [], {"x y": 1}]


def test_every_edge_the_check_passes_in_the_shipped_documents_is_valid():
    """Deterministic sweep: in the largest valid document of each kind, values replaced by each edge."""
    largest: dict[str, Any] = {}
    for kind, data in _valid_documents():
        if len(_paths(data)) > len(_paths(largest.get(kind, {}))):
            largest[kind] = data
    unsound = []
    for kind, data in sorted(largest.items()):
        paths = _paths(data)
        for path in paths[:: max(1, len(paths) // 25)]:  # 25 places spread over the document: about a second
            node = data
            for part in path:
                node = node[part]
            for edge in _edges(node):
                mutated = _mutate(data, path, "replace", edge, "")
                if _quick_checks()[kind](mutated) and not _jsonschema_valid(kind, mutated):
                    unsound.append((kind, path, edge))
    assert unsound == []


@settings(max_examples=examples(150), deadline=None)
@given(kind=st.sampled_from(sorted(all_schemas())), value=_VALUES)
def test_arbitrary_values_the_check_passes_are_valid(kind, value):
    if _quick_checks()[kind](value):
        assert _jsonschema_valid(kind, value)


# Schemas with `not` and `if`, where only exactly answered keywords may stand, and values that probe them.
_EXACT_SCHEMAS = [
    {"not": {"required": ["kind"]}},
    {"if": {"properties": {"kind": {"const": "absent"}}, "required": ["kind"]}, "then": {"required": ["expr"]}},
    {"not": {"type": "object", "properties": {"a": {"enum": ["x", "y"]}}}},
    {"not": {"type": ["string", "null"]}},
]


@settings(max_examples=examples(120), deadline=None)
@given(which=st.integers(0, len(_EXACT_SCHEMAS) - 1), value=_VALUES, kind=st.sampled_from(["absent", "other", 1, True]))
def test_under_not_and_if_the_answer_is_jsonschemas_both_ways(which, value, kind):
    from jsonschema import Draft202012Validator

    schema = _EXACT_SCHEMAS[which]
    for candidate in (value, {"kind": kind}, {"kind": kind, "expr": value}, {"a": value}):
        assert compile_check(schema)(candidate) == Draft202012Validator(schema).is_valid(candidate)


@pytest.mark.parametrize(
    "schema",
    [
        {"not": {"minLength": 2}},  # a "not sure" here would become a wrong yes
        {"not": {"uniqueItems": True}},
        {"if": {"type": "number"}, "then": {"minimum": 1}},
        {"not": {"const": 1}},
        {"$ref": "#/$defs/x"},
        {"oneOf": [{"type": "string"}]},
        {"format": "uri"},
        {"enum": [[1]]},
    ],
)
def test_what_it_cannot_answer_exactly_is_refused_when_compiled(schema):
    with pytest.raises(Unsupported):
        compile_check(_strict_patterns(schema))


@pytest.mark.parametrize(
    "schema,value,valid",
    [
        ({"type": "integer"}, 1.0, True),  # jsonschema's Draft 2020-12: 1.0 is an integer
        ({"type": "integer"}, True, False),  # and a bool is not
        ({"enum": [1]}, True, False),
        ({"const": 1}, 1.0, True),
        ({"enum": [1, 2]}, 3, False),
        # A string matches only a string, whatever else the enum holds (checked through a set)
        ({"enum": [1, "1", True]}, "1", True),
        ({"enum": [1, True, None]}, "1", False),
        ({"enum": ["a", 1]}, 1.0, True),
        ({"enum": ["a", 1]}, True, False),
        ({"const": "a"}, "a", True),
        ({"const": "a"}, "b", False),
        ({"type": ["string", "null"]}, None, True),
        ({"type": ["string", "null"]}, 1, False),
        ({"type": []}, 1, False),
        ({"items": {"type": "string"}}, ["a", 1], False),
        ({"items": {"type": "string"}}, [], True),
        ({"required": ["a", "b"]}, {"a": 1}, False),
        ({"required": ["a", "b"]}, ["a"], True),  # required says nothing of a list
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, 1, False),
        ({"allOf": [{"type": "string"}, {"minLength": 2}]}, "a", False),
        ({"allOf": [{"type": "string"}, {"minLength": 2}]}, "ab", True),
        ({"minimum": 0}, float("nan"), True),  # jsonschema fails on `instance < minimum` only
        ({"minimum": 0}, False, True),  # a bool is not a number, so no bound applies
        ({"pattern": "^a\\Z"}, "a\n", False),
        ({"uniqueItems": True}, ["a", "a"], False),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
        ({"propertyNames": {"pattern": "^[a-z]+\\Z"}}, {"A": 1}, False),
    ],
)
def test_jsonschema_meanings(schema, value, valid):
    from jsonschema import Draft202012Validator

    assert Draft202012Validator(schema).is_valid(value) == valid
    assert compile_check(schema)(value) == valid
