"""Check documents against their kind's JSON Schema, reporting every problem with its position."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import TYPE_CHECKING, Any

from ..diagnostics import Report, did_you_mean
from .loader import Document, dotted
from .schema_check import Check, Unsupported, compile_check
from .schemas import API_VERSION, SPECS, all_schemas

if TYPE_CHECKING:  # jsonschema explains the documents the quick checks refuse; most runs never import it
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError


def _strict_patterns(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each pattern's final `$` made `\\Z`.

    Python's `$` also matches before a final newline, so "chat\\n" would pass `^[a-z-]+$` and an
    SLO name ending in a newline would reach the output. The published schemas keep `$` (other
    validators, like Go's and JavaScript's, read it as the end of the text).
    """
    out = {k: _strict_value(v) for k, v in schema.items()}
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern.endswith("$") and not pattern.endswith("\\$"):
        out["pattern"] = pattern[:-1] + "\\Z"
    return out


def _strict_value(value: object) -> object:
    if isinstance(value, dict):
        return _strict_patterns(value)
    if isinstance(value, list):
        return [_strict_value(v) for v in value]
    return value


@cache
def _validators() -> dict[str, Draft202012Validator]:
    from jsonschema import Draft202012Validator

    return {kind: Draft202012Validator(_strict_patterns(schema)) for kind, schema in all_schemas().items()}


def known_kinds() -> list[str]:
    return sorted(SPECS)


_SHOWN = 80  # characters of a rejected string that a message quotes


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if value is None:
        return "empty"
    if isinstance(value, str):
        if len(value) > _SHOWN:  # a whole evaluated program in one line helps nobody
            return f"the string {value[:_SHOWN]!r}... ({len(value):,} characters)"
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


_TYPE_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
}


def _expected(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "x-expected" in schema:
        return str(schema["x-expected"])
    if error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return " or ".join(_TYPE_WORDS.get(t, str(t)) for t in types)
    if error.validator == "enum":
        return (
            "one of " + ", ".join(str(v) for v in error.validator_value)
            if error.validator_value
            else "no value here (nothing is allowed)"
        )
    if error.validator == "const":
        return repr(error.validator_value)
    if error.validator == "minItems":
        return f"at least {error.validator_value} item(s)"
    if error.validator in ("minimum", "exclusiveMinimum"):
        return f"a value >= {error.validator_value}"
    return ""


def _report_error(doc: Document, error: ValidationError, report: Report) -> None:
    path = tuple(error.absolute_path)
    where = dotted(path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        for key in extra:
            hint = did_you_mean(key, allowed)
            report.error(
                doc.pos(path + (key,), key=True),
                f"unknown field {key!r}{hint}",
                dotted(path + (key,)),
                "one of: " + ", ".join(allowed) if allowed else "no fields here",
            )
        return
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        report.error(
            doc.pos(path),
            f"missing required field {missing!r}",
            where,
            f"{missing}: {_hint_for(error.schema, missing)}",
        )
        return
    if error.validator in ("anyOf", "oneOf") and "x-expected" in error.schema:
        report.error(doc.pos(path), f"invalid value: {_describe(error.instance)}", where, error.schema["x-expected"])
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
        _report_error(doc, best, report)
        return
    if "propertyNames" in error.schema_path:
        report.error(
            doc.pos(path + (error.instance,), key=True),
            f"invalid name {error.instance!r}",
            dotted(path + (error.instance,)),
            "a label name ([a-zA-Z_][a-zA-Z0-9_]*)",
        )
        return
    if error.validator == "minItems" and isinstance(error.instance, list) and not error.instance:
        report.error(doc.pos(path), "empty list", where, _expected(error))
        return
    if error.validator == "uniqueItems":
        report.error(doc.pos(path), "duplicate items in list", where, "each item once")
        return
    report.error(doc.pos(path), f"invalid value: {_describe(error.instance)}", where, _expected(error))


def _hint_for(schema: dict[str, Any], field: str) -> str:
    sub = schema.get("properties", {}).get(field, {})
    return str(sub.get("x-expected") or _TYPE_WORDS.get(sub.get("type", ""), "a value"))


@cache
def _quick_checks() -> dict[str, Check]:
    """Each kind's yes/no check (model/schema_check.py), for the schemas it can answer: a few ms for all.

    A document it passes is valid; any other is explained by jsonschema, so messages are the same either way.
    """
    checks: dict[str, Check] = {}
    for kind, schema in all_schemas().items():
        try:
            checks[kind] = compile_check(_strict_patterns(schema))
        except Unsupported:
            continue
    return checks


def validate_documents(
    docs: list[Document], report: Report, extra_kinds: Collection[tuple[str, str]] = ()
) -> list[Document]:
    """Return the documents that pass their schema; report problems with the others.

    extra_kinds: (apiVersion, kind) pairs that pass without a schema check.
    """
    kinds = known_kinds()  # _validators()'s keys, without building a validator that no document needs
    quick = _quick_checks()
    good: list[Document] = []
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict):
            report.error(
                doc.pos(()),
                f"a spec document must be a mapping, not {_describe(data)}",
                "",
                "apiVersion, kind, metadata and spec",
            )
            continue
        api = data.get("apiVersion")
        kind = data.get("kind")
        if not isinstance(kind, (str, type(None))) or not isinstance(api, (str, type(None))):
            # A mapping or list here is unhashable: say what it is instead of looking it up.
            which = "kind" if not isinstance(kind, (str, type(None))) else "apiVersion"
            value = data[which]
            report.error(
                doc.pos((which,)),
                f"invalid {which}: {_describe(value)}",
                which,
                "one of " + ", ".join(kinds) if which == "kind" else f"apiVersion: {API_VERSION}",
            )
            continue
        if api != API_VERSION and (api, kind) not in extra_kinds:
            if "apiVersion" not in data:
                report.error(
                    doc.pos(()), "missing required field 'apiVersion'", "apiVersion", f"apiVersion: {API_VERSION}"
                )
            else:
                report.error(
                    doc.pos(("apiVersion",)),
                    f"unsupported apiVersion {api!r}",
                    "apiVersion",
                    f"apiVersion: {API_VERSION}",
                )
            continue
        if (api, kind) in extra_kinds:
            good.append(doc)
            continue
        if kind not in kinds:
            hint = did_you_mean(str(kind), kinds)
            report.error(doc.pos(("kind",)), f"unknown kind {kind!r}{hint}", "kind", "one of " + ", ".join(kinds))
            continue
        if kind in quick and quick[kind](data):
            good.append(doc)
            continue
        errors = sorted(_validators()[kind].iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            _report_error(doc, error, report)
        if not errors:
            good.append(doc)
    return good
