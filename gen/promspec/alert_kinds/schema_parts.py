"""JSON Schema fragments the alert kinds share; imported only from the kinds' schema() functions.

model/schemas.py assembles the alert schema from the kinds table while it is being imported, so this
module reads its fragments from there lazily rather than at the kinds' import.
"""

from __future__ import annotations

from typing import Any

from ..model.schema_parts import PROMQL, _object

OPERATOR: dict[str, Any] = {
    "enum": [">", ">=", "<", "<=", "==", "!="],
    "x-expected": "one of >, >=, <, <=, ==, !=",
}
NUMBER: dict[str, Any] = {"type": "number", "x-expected": "a number"}
METRIC: dict[str, Any] = {**PROMQL, "x-expected": "a PromQL expression (a recorded series is best)"}


def label_list(expected: str) -> dict[str, Any]:
    """A list of label names (PromQL on(...))."""
    from ..model.schema_parts import LABEL_NAME

    return {"type": "array", "items": LABEL_NAME, "minItems": 1, "uniqueItems": True, "x-expected": expected}


CONDITION: dict[str, Any] = _object(
    {"metric": METRIC, "operator": OPERATOR, "value": NUMBER}, ("metric", "operator", "value")
)
