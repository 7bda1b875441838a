"""What the dashboard checks read from a panel's PromQL: its metric names, rate ranges and Grafana variables.

One parse and one walk per query shape (panel_query), shared by the spec checks (dashboard_specs.py), the
rendered-JSON lint (dashboards.py), the preset pruning and the vanished-panel check of `promspec diff`.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..compile.dashboards.grafana_vars import MARKERS, substitute, variables_used
from ..compile.promql import JOINED_BY, PromQLError, joined_shape, parse, shape

RATE_FUNCS = ("rate", "irate", "increase")


@dataclass(frozen=True, kw_only=True)
class PanelQuery:
    """What the dashboard checks read from one panel query, in one walk of its syntax tree."""

    metrics: tuple[str, ...]  # metric names read, in order of appearance
    bad_rates: tuple[tuple[str, str], ...]  # (function, range) of rate/irate/increase off $__rate_interval
    variables: tuple[str, ...]  # the Grafana variables it reads (variables_used), builtins left out


def query_shape(expr: str) -> str:
    """expr with the plain values of its `=` and `!=` label matchers replaced by one placeholder.

    What panel_query returns does not depend on those values, so two services' copies of a generated
    query (which differ only in their selectors) share one parse and one walk:
    - metric names come from the selectors' names or from __name__ matchers, which are kept;
    - rate ranges are durations, outside strings;
    - a plain value holds no $ or [[ and the name before it is kept, so the same variables are read;
    - whether the query parses: a plain value has no escape to get wrong and no regex to compile
      (=~ and !~ are kept), and the placeholder is non-empty like the value, so a selector still
      matches the empty string exactly when it did.
    panel_query parses the query as written whenever the placeholder form does not parse, so an error
    is always the query's own. tests/unit/test_unit_dashboard_shapes.py checks the equality.
    """
    return shape(expr, plain_values_only=True)


# Large enough for every distinct query of 1,000 generated services (~117 each): the spec checks, the
# lint and the pruning each read them all in turn, and a smaller LRU would drop each before the next pass.
@lru_cache(maxsize=1 << 18)
def panel_query(expr: str) -> PanelQuery:
    """Metric names and off-interval rate ranges of a panel query (Grafana variables substituted).

    Cached by the query's shape (query_shape), and one walk for both: the spec checks, the
    rendered-JSON lint and the preset pruning read every query of every dashboard, and walking a tree
    costs more than parsing it. PromQLError when the query does not parse."""
    try:
        return _shape_query(shape(expr, True))  # query_shape(expr), one call less per distinct query
    except PromQLError:
        return _panel_query(expr)  # the error (if any) of the query as written, with its own message


@lru_cache(maxsize=16384)
def _shape_query(shaped: str) -> PanelQuery:
    return _panel_query(shaped)


def shaped_queries(exprs: Sequence[str]) -> str | None:
    """The queries' shapes in one text (promql.joined_shape) when each of them parses: then every list of
    queries of that text reads, query by query, what shape_readings(text) gives, since panel_query reads a
    query through its shape whenever that parses. None otherwise (the queries are then read one by one).

    A generated dashboard's queries, services' copies alike, share one such text: what depends on their
    readings alone (the spec checks' verdict, the lint's key) is decided once per text, not once per query.
    """
    key = tuple(exprs)
    if key in _LAST:
        return _LAST[key]
    text = joined_shape(key)
    if text is not None and text not in _PARSED:
        try:
            shape_readings(text)
        except PromQLError:
            text = None
        else:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED.add(text)
    _LAST.clear()
    _LAST[key] = text
    return text


# shaped_queries' texts whose every query shape parses. Bounded like _shape_query.
_PARSED: set[str] = set()
_PARSED_MAX = 16384
# The last queries shaped_queries read, and its answer: the spec checks and then the lint of one dashboard
# read the same queries (its targets, then its compiled JSON's), one right after the other.
_LAST: dict[tuple[str, ...], str | None] = {}


def shape_readings(text: str) -> list[PanelQuery]:
    """panel_query of each query whose shape is a piece of text (see shaped_queries), in order."""
    return [_shape_query(shaped) for shaped in text.split(JOINED_BY)]


def _panel_query(expr: str) -> PanelQuery:
    import promql_parser as pp

    from ..compile.promql import _selector_name

    tree = parse(substitute(expr))
    markers = {int(v[:-1]): k for k, v in MARKERS.items()}
    metrics: list[str] = []
    bad: list[tuple[str, str]] = []

    def visit(node: Any) -> None:
        if isinstance(node, pp.VectorSelector):
            name, _regex = _selector_name(node)
            if name:
                metrics.append(name)
        elif isinstance(node, pp.Call) and node.func.name in RATE_FUNCS and node.args:
            arg = node.args[0]
            seconds = int(arg.range.total_seconds()) if isinstance(arg, pp.MatrixSelector) else None
            which = markers.get(seconds) if seconds is not None else None
            if which == "__rate_interval" or (which == "__range" and node.func.name == "increase"):
                return
            bad.append((node.func.name, f"${which}" if which else _duration(arg)))

    pp.walk(tree, visit, None)
    return PanelQuery(metrics=tuple(metrics), bad_rates=tuple(bad), variables=tuple(variables_used(expr)))


def rate_ranges(expr: str) -> list[tuple[str, str]]:
    """(function, range) of every rate/irate/increase whose range is not $__rate_interval ($__range for increase)."""
    return list(panel_query(expr).bad_rates)


def _duration(arg: Any) -> str:
    r = getattr(arg, "range", None)
    if isinstance(r, datetime.timedelta):
        from ..compile.promql import format_duration

        return format_duration(r.total_seconds())
    return "a subquery"
