"""A yes/no schema check for the common case, a document that is valid: compiled once per kind into closures.

jsonschema explains what is wrong with a document but costs ~0.7 ms per Service, and fastjsonschema's
compile is paid again on every run (150 ms for Service) and formats an exception for each alternative of
an `anyOf` it rejects. This answers only "surely valid" (True) or "let jsonschema look" (False), for the
keywords promspec's own schemas use, with jsonschema's Draft 2020-12 meaning (bool is not a number, 1.0
is an integer, `pattern` is re.search). Soundness is what matters: True must never be said of a document
jsonschema would reject; a False for a valid one only costs the slow path, which then finds no error.
So under `not` and `if`, where a wrong False would turn into a wrong True, only keywords that are answered
exactly are allowed; a schema with anything else is refused when compiled (the kind keeps jsonschema).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from numbers import Number
from typing import Any

Check = Callable[[Any], bool]

# Keywords that say nothing about validity.
_ANNOTATIONS = frozenset(("$schema", "$id", "$comment", "title", "description", "x-expected", "default", "examples"))
_SCALARS = (str, int, float, bool, type(None))


class Unsupported(Exception):
    """The schema uses something this check does not answer (safely): the kind stays with jsonschema."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# jsonschema's Draft 2020-12 types, with its isinstance tests (a subclass of dict is an object). Except
# that jsonschema counts any numbers.Number (Decimal, Fraction) as a number: no loader here makes one,
# and a False for it only takes the slow path, which is why "number" and "integer" are not exact.
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or v.is_integer()),
    "number": _is_number,
}
_EXACT_TYPES = frozenset(("object", "array", "string", "boolean", "null"))


def _scalar_equal(value: object, wanted: object) -> bool:
    """jsonschema's equal() when wanted is a scalar: True and 1 differ, 1 and 1.0 do not."""
    if isinstance(value, str) or isinstance(wanted, str):
        return value == wanted
    if isinstance(value, bool) or isinstance(wanted, bool):
        return value is wanted
    if wanted is None:
        return value is None
    return _is_number(value) and value == wanted


def compile_check(schema: object) -> Check:
    """The check of one schema; raises Unsupported for a keyword it does not know."""
    return _compile(schema, exact=False)


def _compile(schema: object, exact: bool) -> Check:
    """exact: every answer must be jsonschema's (under `not` or `if`), not only every True."""
    if schema is True:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, Mapping):
        raise Unsupported(f"schema {schema!r}")
    unknown = set(schema) - _ANNOTATIONS - (_EXACT if exact else _POSITIVE)
    if unknown:
        raise Unsupported(", ".join(sorted(unknown)))
    checks = [_keyword(key, schema[key], schema, exact) for key in schema if key not in _ANNOTATIONS]
    parts = [c for c in checks if c is not None]
    if not parts:
        return lambda v: True
    return _every(parts)


# Loops rather than all()/any() over a generator: a valid Service is checked through ~100 of these, and a
# generator per call was a third of validating 1,000 services.
def _every(checks: list[Check]) -> Check:
    """A value passes every check (in order, stopping at the first that fails)."""
    if len(checks) == 1:
        return checks[0]

    def check(v: Any) -> bool:
        for part in checks:  # noqa: SIM110 - no generator per call (see above)
            if not part(v):
                return False
        return True

    return check


def _some(checks: list[Check]) -> Check:
    """A value passes one of the checks (in order, stopping at the first that passes)."""
    if len(checks) == 1:
        return checks[0]

    def check(v: Any) -> bool:
        for part in checks:  # noqa: SIM110 - no generator per call (see above)
            if part(v):
                return True
        return False

    return check


def _keyword(key: str, arg: Any, schema: Mapping[str, Any], exact: bool) -> Check | None:
    if key == "type":
        names = arg if isinstance(arg, list) else [arg]
        if not all(isinstance(n, str) and n in (_EXACT_TYPES if exact else _TYPES) for n in names):
            raise Unsupported(f"type {arg!r}")
        return _some([_TYPES[n] for n in names])
    if key in ("properties", "additionalProperties"):
        # One pass over the mapping answers both: built once, under "properties" or, alone, here.
        if key == "additionalProperties" and "properties" in schema:
            return None
        return _object(schema, exact)
    if key == "required":
        required = tuple(arg)

        def has_required(v: Any) -> bool:
            if isinstance(v, dict):
                for n in required:
                    if n not in v:
                        return False
            return True

        return has_required
    if key in ("const", "enum"):
        wanted = [arg] if key == "const" else list(arg)
        if not all(isinstance(w, str) if exact else isinstance(w, _SCALARS) for w in wanted):
            raise Unsupported(f"{key} of a value other than a string or number")
        # A string equals only a string (_scalar_equal), so a set answers it; other values compare one by one.
        strings = frozenset(w for w in wanted if isinstance(w, str))
        return lambda v: v in strings if type(v) is str else any(_scalar_equal(v, w) for w in wanted)
    if key == "not":
        inner = _compile(arg, exact=True)
        return lambda v: not inner(v)
    if key == "if":
        test = _compile(arg, exact=True)
        then = _compile(schema.get("then", True), exact)
        other = _compile(schema.get("else", True), exact)
        return lambda v: then(v) if test(v) else other(v)
    if key in ("then", "else"):
        return None  # answered with "if"; without one they mean nothing, as in JSON Schema
    return _BUILDERS[key](arg)


def _object(schema: Mapping[str, Any], exact: bool) -> Check:
    props = {name: _compile(sub, exact) for name, sub in schema.get("properties", {}).items()}
    extra_schema = schema.get("additionalProperties", True)
    extra = None if extra_schema is True else _compile(extra_schema, exact)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for name, value in v.items():
            sub = props.get(name, extra)
            if sub is not None and not sub(value):
                return False
        return True

    return check


def _pattern(arg: str) -> Check:
    search = re.compile(arg).search
    return lambda v: not isinstance(v, str) or search(v) is not None


def _bound(test: Callable[[Any], bool]) -> Check:
    """A numeric bound, applied as jsonschema does: to numbers (not bools), failing on the comparison it
    names (so NaN passes). A number of another type (Decimal) is left to jsonschema."""

    def check(v: Any) -> bool:
        if type(v) is int or type(v) is float:
            return test(v)
        return isinstance(v, bool) or not isinstance(v, Number)

    return check


def _items(arg: object) -> Check:
    item = _compile(arg, exact=False)

    def check(v: Any) -> bool:
        if isinstance(v, list):
            for i in v:
                if not item(i):
                    return False
        return True

    return check


def _any_of(arg: object) -> Check:
    return _some(_list_of_schemas(arg))


def _all_of(arg: object) -> Check:
    return _every(_list_of_schemas(arg))


def _list_of_schemas(arg: object) -> list[Check]:
    if not isinstance(arg, list) or not arg:
        raise Unsupported("anyOf/allOf without a list of schemas")
    return [_compile(sub, exact=False) for sub in arg]


def _property_names(arg: object) -> Check:
    name = _compile(arg, exact=False)
    return lambda v: not isinstance(v, dict) or all(name(k) for k in v)


def _unique(arg: object) -> Check:
    if arg is not True:
        return lambda v: True
    # Lists of strings and whole numbers are answered (names, status codes); any other goes slow.
    return lambda v: not isinstance(v, list) or _distinct(v)


def _distinct(items: list[Any]) -> bool:
    keys = set()
    for item in items:
        if type(item) is not str and type(item) is not int:
            return False
        keys.add((type(item) is str, item))  # "1" and 1 differ, as in jsonschema
    return len(keys) == len(items)


# Keywords whose check is built from their value alone; allowed only in a positive place.
_BUILDERS: dict[str, Callable[[Any], Check]] = {
    "pattern": _pattern,
    "minLength": lambda a: lambda v: not isinstance(v, str) or len(v) >= a,
    "minItems": lambda a: lambda v: not isinstance(v, list) or len(v) >= a,
    "minProperties": lambda a: lambda v: not isinstance(v, dict) or len(v) >= a,
    "minimum": lambda a: _bound(lambda v: not v < a),
    "maximum": lambda a: _bound(lambda v: not v > a),
    "exclusiveMinimum": lambda a: _bound(lambda v: not v <= a),
    "exclusiveMaximum": lambda a: _bound(lambda v: not v >= a),
    "items": _items,
    "anyOf": _any_of,
    "allOf": _all_of,
    "propertyNames": _property_names,
    "uniqueItems": _unique,
}
# Keywords answered exactly for every value, so allowed under `not` and `if` (with string consts only).
_EXACT = frozenset(("type", "properties", "required", "const", "enum", "not"))
_POSITIVE = _EXACT | {"additionalProperties", "if", "then", "else"} | set(_BUILDERS)
