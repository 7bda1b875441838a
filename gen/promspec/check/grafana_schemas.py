"""The Grafana Foundation SDK's vendored JSON schemas: loaded with promspec's documented patches, made
lenient for UI exports, and the shape fingerprint that tells which dashboards they validate alike."""

from __future__ import annotations

import bisect
import copy
import json
import os
from collections.abc import Hashable
from dataclasses import dataclass
from functools import cache
from typing import Any

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "grafana-schemas")
PANEL_SCHEMAS = ("timeseries", "stat", "gauge", "bargauge", "heatmap", "table", "text")

# Fields the SDK's schemas type as objects where real dashboards (older ones, and UI exports)
# carry strings. `datasource` of panels, variables and annotations (and of Prometheus queries) is a
# DataSourceRef object in the schema, but "$datasource", "-- Grafana --", a datasource name or null
# in the wild; a query variable's `query` object must hold only objects in the schema, but Grafana
# writes {"query": "label_values(...)", "refId": "...", "qryType": 1}. Patched at load time, so the
# vendored files stay byte-identical to upstream (docs/dashboards.md lists the patches).
DATASOURCE_PATCHES = (
    ("dashboard", ("definitions", "Panel", "properties", "datasource")),
    ("dashboard", ("definitions", "VariableModel", "properties", "datasource")),
    ("dashboard", ("definitions", "AnnotationQuery", "properties", "datasource")),
    ("prometheus", ("definitions", "Dataquery", "properties", "datasource")),
)
QUERY_PATCH = ("dashboard", ("definitions", "VariableModel", "properties", "query", "oneOf", 1, "additionalProperties"))
# Field overrides: Grafana's `byName` matcher takes the field name as a string and a property's value is
# whatever the property takes (a unit string, a number of decimals); the schemas type both as objects.
ANY_VALUE_PATCHES = (
    ("dashboard", ("definitions", "MatcherConfig", "properties", "options")),
    ("dashboard", ("definitions", "DynamicConfigValue", "properties", "value")),
)


def _load(name: str) -> dict[str, Any]:
    with open(os.path.join(SCHEMA_DIR, f"{name}.jsonschema.json"), encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@cache
def schema(name: str) -> dict[str, Any]:
    """A vendored schema with promspec's documented patches applied."""
    data = _load(name)
    for file, path in DATASOURCE_PATCHES:
        if file != name:
            continue
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        original = node[path[-1]]
        described = {k: v for k, v in original.items() if k == "description"}
        ref = {k: v for k, v in original.items() if k != "description"}
        node[path[-1]] = {"anyOf": [ref, {"type": "string"}, {"type": "null"}], **described}
    for file, path in ANY_VALUE_PATCHES:
        if file == name:
            node = data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = {k: v for k, v in node[path[-1]].items() if k == "description"}
    if name == QUERY_PATCH[0]:
        node = data
        for key in QUERY_PATCH[1][:-1]:  # str keys and a list index
            node = node[key]
        node[QUERY_PATCH[1][-1]] = {}
    return data


def _without_required(node: Any) -> Any:
    """A schema with every `required` list dropped: UI exports omit fields whose value is the default."""
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


# validator("dashboard", PANEL_ITEM): one element of a dashboard's `panels`, as the Dashboard schema's
# items check it (a definition of its own, so that a panel can be validated apart from its dashboard).
PANEL_ITEM = "promspec:PanelItem"


@cache
def validator(name: str, definition: str = "", lenient: bool = False) -> Any:  # a jsonschema Draft7Validator
    data = copy.deepcopy(schema(name))
    if lenient:
        data = _without_required(data)
    if definition == PANEL_ITEM:
        data["definitions"][PANEL_ITEM] = data["definitions"]["Dashboard"]["properties"]["panels"]["items"]
    if definition:
        data["$ref"] = f"#/definitions/{definition}"
    import jsonschema  # only when a dashboard is validated: its import is a tenth of the CLI's start

    return jsonschema.Draft7Validator(data)


def _schema_values(node: Any, keys: tuple[str, ...]) -> list[Any]:
    """Every value under any of keys (enum lists flattened) anywhere in a schema."""
    found: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if (k in keys and not isinstance(v, (dict, list))) or (k == "enum" and isinstance(v, list)):
                found.extend(v if isinstance(v, list) else [v])
            else:
                found.extend(_schema_values(v, keys))
    elif isinstance(node, list):
        for v in node:
            found.extend(_schema_values(v, keys))
    return found


@dataclass(frozen=True, kw_only=True)
class _ShapeKeys:
    """What the vendored schemas can tell apart in a value: enum/const strings and numeric bounds."""

    strings: frozenset[str]
    bounds: tuple[float, ...]


@cache
def _shape_keys() -> _ShapeKeys:
    values: list[Any] = []
    for name in ("dashboard", "prometheus", *PANEL_SCHEMAS):
        values += _schema_values(
            schema(name), ("enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        )
    numbers = {v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return _ShapeKeys(strings=frozenset(v for v in values if isinstance(v, str)), bounds=tuple(sorted(numbers)))


_FREE_TEXT = object()  # a non-empty string outside every enum


def shape(value: Any, keys: _ShapeKeys | None = None) -> Hashable:
    """A fingerprint of value that the vendored schemas validate exactly as they validate value.

    The schemas constrain strings only by type, enum/const and minLength 1 (no pattern; formats are
    not checked), and numbers by type, enum/const and bounds: a string outside every enum becomes
    its emptiness, a number its integrality and its place among the bounds. Keys, list lengths,
    booleans and nulls stay as they are. Two dashboards the generator built from one preset differ
    in titles, queries and thresholds but share a shape, so the schema runs once per shape.
    """
    keys = keys or _shape_keys()
    strings, bounds = keys.strings, keys.bounds

    def walk(v: Any) -> Hashable:
        t = type(v)
        if t is str:
            return v if v in strings else (_FREE_TEXT if v else "")
        if t is dict:
            return ("{", tuple(v), tuple(map(walk, v.values())))
        if t is list:
            return ("[", tuple(map(walk, v)))
        if t is bool or v is None:
            return bool(v) if t is bool else None
        if t is int or t is float:
            i = bisect.bisect_left(bounds, v)
            return ("n", t is int or v.is_integer(), i, i < len(bounds) and bounds[i] == v)
        return ("?", repr(v))

    return walk(value)


def schema_strings() -> frozenset[str]:
    """Every enum/const string of the vendored schemas: the only strings they tell apart from free text."""
    return _shape_keys().strings


def string_shape(value: str) -> Hashable:
    """What a string contributes to shape(): itself when an enum/const of the schemas holds it, else its emptiness."""
    strings = _shape_keys().strings
    return value if value in strings else (_FREE_TEXT if value else "")
