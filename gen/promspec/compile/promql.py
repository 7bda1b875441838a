"""PromQL analysis: which series an expression reads and which labels it groups by."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import promql_parser as pp


@dataclass
class Grouping:
    """One by()/without()/on()/ignoring() clause and the metric names read beneath it."""

    clause: str  # "by", "without", "on", "ignoring", "group_left", "group_right"
    labels: tuple
    metrics: frozenset


@dataclass
class Analysis:
    metrics: list = field(default_factory=list)  # metric names read, in order of appearance
    name_regexes: list = field(default_factory=list)  # selectors matching __name__ by regex
    groupings: list = field(default_factory=list)
    produced_labels: set = field(default_factory=set)  # labels created by label_replace/label_join


class PromQLError(ValueError):
    """An expression that does not parse."""


@lru_cache(maxsize=65536)
def parse(expr: str):
    """Parse an expression (cached: the same expression appears in many specs)."""
    try:
        return pp.parse(expr)
    except ValueError as exc:
        raise PromQLError(str(exc)) from None


def _selector_name(vs) -> tuple[str | None, str | None]:
    if vs.name:
        return vs.name, None
    for m in vs.matchers.matchers:
        if m.name == "__name__":
            if m.op == pp.MatchOp.Equal:
                return m.value, None
            return None, m.value
    return None, None


def _metrics_under(node) -> frozenset:
    names = set()

    def visit(n):
        if isinstance(n, pp.VectorSelector):
            name, _ = _selector_name(n)
            if name:
                names.add(name)

    pp.walk(node, visit, None)
    return frozenset(names)


def analyse(expr: str) -> Analysis:
    """Selectors, grouping clauses and produced labels of an expression."""
    tree = parse(expr)
    out = Analysis()

    def visit(n):
        if isinstance(n, pp.VectorSelector):
            name, regex = _selector_name(n)
            if name:
                out.metrics.append(name)
            elif regex:
                out.name_regexes.append(regex)
        elif isinstance(n, pp.AggregateExpr) and n.modifier is not None:
            clause = "by" if n.modifier.type == pp.AggModifierType.By else "without"
            out.groupings.append(Grouping(clause, tuple(n.modifier.labels), _metrics_under(n.expr)))
        elif isinstance(n, pp.BinaryExpr) and n.modifier is not None:
            matching = n.modifier.matching
            if matching is not None and matching.labels:
                clause = "on" if matching.type == pp.LabelModifierType.Include else "ignoring"
                out.groupings.append(Grouping(clause, tuple(matching.labels), _metrics_under(n)))
        elif isinstance(n, pp.Call) and n.func.name in ("label_replace", "label_join"):
            args = list(n.args)
            if len(args) > 1 and isinstance(args[1], pp.StringLiteral):
                out.produced_labels.add(args[1].val)

    pp.walk(tree, visit, None)
    return out
