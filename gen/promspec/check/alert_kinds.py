"""Checks of alerts of a kind (threshold, compound, anomaly, absent, capacity), and where their PromQL came from."""

from __future__ import annotations

from ..compile.alert_kinds import for_seconds, fragments
from ..compile.promql import PromQLError, parse
from ..diagnostics import Report
from ..spec.loader import dotted
from ..spec.model import Alert, Project, Ref, parse_duration


def expr_sources(ref: Ref, field: str = "expr") -> list[tuple[tuple, str]]:
    """(path, text) of the PromQL a rule was built from: its expr field, or the fields of an alert kind."""
    node = ref.node()
    if not isinstance(node, dict):
        return []
    if isinstance(node.get(field), str):
        return [(ref.path + (field,), node[field])]
    if "kind" in node:
        return [(ref.path + sub, text) for sub, text in fragments(node)]
    return []


def _parses_as_instant(text: str) -> bool:
    import promql_parser as pp

    try:
        node = parse(text)
    except PromQLError:
        return False
    return not isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr, pp.StringLiteral))


def parse_source(rule) -> tuple[tuple, str]:
    """(path, text) to blame when a rule's expression does not parse: the failing field of an alert kind."""
    sources = expr_sources(rule.ref)
    for path, text in sources:
        if not _parses_as_instant(text):
            return path, text
    return rule.ref.path + ("expr",), rule.expr


def _error(report: Report, ref: Ref, sub: tuple, message: str, expected: str) -> None:
    report.error(ref.pos(*sub), message, dotted(ref.path + sub), expected)


_EXCLUSIVE = {"compound": ("all", "any"), "absent": ("metric", "job"), "capacity": ("used", "free")}


def _check_alert(alert: Alert, spec: dict, report: Report) -> None:
    kind = spec["kind"]
    ref = alert.ref
    pair = _EXCLUSIVE.get(kind)
    if pair and all(name in spec for name in pair):
        _error(
            report,
            ref,
            (pair[1],),
            f"a {kind} alert takes {pair[0]} or {pair[1]}, not both",
            f"either {pair[0]}: or {pair[1]}:",
        )
    if kind == "capacity":
        if "used" in spec and "limit" not in spec:
            _error(
                report, ref, ("used",), "a capacity alert on used: needs limit:", "limit: the usage at which it is full"
            )
        if "free" in spec and "limit" in spec:
            _error(
                report,
                ref,
                ("limit",),
                "limit: has no meaning with free: (free space runs out at 0)",
                "no limit, or used: instead of free:",
            )
        within = parse_duration(spec["within"])
        if within <= 0:
            _error(report, ref, ("within",), "within: must be longer than 0s", "a duration such as 4h")
        elif for_seconds(alert.for_) >= within:
            # Usage growing linearly reaches the limit before `for` has elapsed: the alert could never fire.
            _error(
                report,
                ref,
                ("for",),
                f"for: {alert.for_} is not shorter than within: {spec['within']}, so the alert could never fire",
                "a for shorter than within",
            )
    if kind == "anomaly" and "on_labels" in spec and "metric" not in spec.get("min_traffic", {}):
        _error(
            report,
            ref,
            ("on_labels",),
            "on_labels: joins the alert's metric with min_traffic.metric, which is not set",
            "min_traffic: {metric: ..., value: ...}, or no on_labels",
        )


def check_alert_kinds(project: Project, report: Report) -> None:
    """Cross-field rules of alert kinds that JSON Schema cannot say clearly."""
    for group in project.groups:
        for rule in group.rules:
            if not isinstance(rule, Alert):
                continue
            spec = rule.ref.node()
            if isinstance(spec, dict) and "kind" in spec and "expr" not in spec:
                _check_alert(rule, spec, report)
