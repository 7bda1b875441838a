"""Which compiled dashboards lint alike: lint_key, the key under which a generated dashboard's rendered-JSON
check (dashboards.validate_compiled) is run once per shape instead of once per dashboard.

Dashboards written in specs are never keyed: they are validated in full (dashboard_specs.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from ..compile.promql import PromQLError
from .grafana_schemas import schema_strings
from .panel_queries import panel_query, shaped_queries

if TYPE_CHECKING:
    from ..compile.dashboards.compiler import CompiledDashboard, Filled, JsonTemplate
    from .dashboards import JsonPath

# Bounded like the compiler's own template caches.
_TEMPLATE_KINDS_MAX = 8192

# What validate_dashboard reads of a hole's value (see lint_key), by where the hole is. A hole it reads only
# through the schema fingerprints as string_shape(value); one it reads otherwise, as what it reads there; a hole
# of any other place (one the compiler may add later) as the value itself, which shares less but stays exact.
_SCHEMA_ONLY = "schema"  # title, uid, description, tags, a variable's definition, a link's title and URL
_VARIABLE_QUERY = "query"  # a variable's query: also compared with "prometheus" (the datasource variable)
_EXPR = "expr"  # a target's PromQL: also read by panel_query (variables, rate ranges, metric names)
_AS_IS = "as is"

# Each template's hole kinds, by template identity (a template is never changed, see JsonTemplate).
_HOLE_KINDS: dict[JsonTemplate, tuple[str, ...]] = {}


def _outer_hole(path: JsonPath) -> str:
    n = len(path)
    if n == 1 and path[0] in ("title", "uid", "description"):
        return _SCHEMA_ONLY
    if n == 2 and path[0] == "tags" and type(path[1]) is int:
        return _SCHEMA_ONLY
    if n == 3 and path[0] == "links" and type(path[1]) is int and path[2] in ("title", "url"):
        return _SCHEMA_ONLY
    if n == 4 and path[:2] == ("templating", "list") and type(path[2]) is int:
        return {"definition": _SCHEMA_ONLY, "query": _VARIABLE_QUERY}.get(str(path[3]), _AS_IS)
    return _AS_IS


def _panel_hole(path: JsonPath) -> str:
    return _EXPR if len(path) == 3 and path[0] == "targets" and type(path[1]) is int and path[2] == "expr" else _AS_IS


def _hole_kinds(template: JsonTemplate, where: Callable[[JsonPath], str]) -> tuple[str, ...]:
    kinds = _HOLE_KINDS.get(template)
    if kinds is None:
        if len(_HOLE_KINDS) >= _TEMPLATE_KINDS_MAX:
            _HOLE_KINDS.clear()
        kinds = _HOLE_KINDS[template] = tuple(map(where, template.holes))
    return kinds


def _filled_key(filled: Filled, where: Callable[[JsonPath], str], strings: frozenset[str]) -> Hashable | None:
    """The template and what validate_dashboard reads of each of its values; None for a value it would
    report on (an empty or unparsable query), whose findings are then made in full."""
    kinds = _hole_kinds(filled.template, where)
    read: list[Hashable] = []
    for kind, value in zip(kinds, filled.values, strict=True):
        if type(value) is not str:
            return None
        if kind is _EXPR:
            if not value.strip():
                return None
            try:
                query = panel_query(value)  # cached by expression: the spec checks read it just before
            except PromQLError:
                return None
            read.append((query, value if value in strings else bool(value)))
        elif kind is _SCHEMA_ONLY:
            read.append(value if value in strings else bool(value))
        elif kind is _VARIABLE_QUERY:
            read.append((value if value in strings else bool(value), value == "prometheus"))
        else:
            read.append(value)
    return (filled.template, tuple(read))


def lint_key(compiled: CompiledDashboard) -> Hashable | None:
    """A key that decides whether validate_compiled(compiled) finds anything: dashboards of one key are
    alike clean or alike not (the wording of a finding may still differ: it can quote a value).

    validate_compiled reads a compiled dashboard's templates (the key holds them, by identity: a template
    never changes) and, of the values in their holes, what _filled_key keeps: each value's string_shape
    (all the schemas can tell of a string), a variable query's equality with "prometheus", and a query's
    panel_query reading (its variables, off-interval rate ranges and metric names: all the lint reads of
    it). Services' copies of a generated dashboard differ in their selectors only, so they share a key.
    None when some value would be reported on its own (an empty or unparsable query).
    """
    from ..compile.dashboards.compiler import Filled

    strings = schema_strings()
    outer = _filled_key(compiled.outer, _outer_hole, strings)
    if outer is None:
        return None
    shaped = _shaped_panels_key(compiled, strings)
    if shaped is not None:
        return (outer, shaped)
    panels: list[Hashable] = []
    for entry in compiled.panels:
        if isinstance(entry, Filled):
            key = _filled_key(entry, _panel_hole, strings)
        else:
            inner = [_filled_key(p, _panel_hole, strings) for p in entry.panels]
            key = None if None in inner else ("row", entry.row, tuple(inner))
        if key is None:
            return None
        panels.append(key)
    return (outer, tuple(panels))


def _shaped_panels_key(compiled: CompiledDashboard, strings: frozenset[str]) -> Hashable | None:
    """The panels' part of lint_key in one piece, when each of their holes is a query: their templates and
    the shaped_queries text of all their queries, one split for them all instead of one panel_query each.

    It decides what the part by part key does: a query reads as its shape does, since each shape parses
    (shaped_queries); a shape is empty or blank exactly when its query is; and a query is one of the
    schemas' strings exactly when its shape is, as a shape differs from its query only inside quotes and
    no schema string holds a quote (else None: the part by part key). A "shaped" tuple is never one of
    the part by part key's panel tuples, whose items are tuples.
    """
    from ..compile.dashboards.compiler import Filled

    if _quoted_strings(strings):
        return None
    templates: list[Hashable] = []
    values: list[str] = []
    for entry in compiled.panels:
        if isinstance(entry, Filled):
            filled: tuple[Filled, ...] = (entry,)
            templates.append(entry.template)
        else:
            filled = entry.panels
            templates.append((entry.row, tuple(p.template for p in filled)))
        for p in filled:
            if _AS_IS in _hole_kinds(p.template, _panel_hole):  # a panel hole not _AS_IS is a query's
                return None
            values += p.values
    text = shaped_queries(values)
    return None if text is None else ("shaped", tuple(templates), text)


@functools.cache
def _quoted_strings(strings: frozenset[str]) -> bool:
    return any('"' in s for s in strings)
