"""Checks of alerts of a kind (each kind's rules live in its module), and where a rule's PromQL was written."""

from __future__ import annotations

from dataclasses import dataclass

from ..alert_kinds import check_kind, kind_fragments
from ..compile.promql import PromQLError, parse
from ..diagnostics import Report
from ..model.project import Alert, Project, RecordingRule

Rule = Alert | RecordingRule


@dataclass(frozen=True, kw_only=True)
class ExprSource:
    """A field of the spec that a rule's expression was built from: its full path and text."""

    path: tuple[str | int, ...]
    text: str


def expr_sources(rule: Rule, field: str = "expr") -> list[ExprSource]:
    """The PromQL a rule was built from: the fields of its alert kind, else its own expr field.

    A rule generated from something else (an SLI, a probe) has no expr field of its own: [].
    """
    kind = rule.kind if isinstance(rule, Alert) else None
    if kind is not None:
        return [ExprSource(path=rule.ref.path + f.path, text=f.text) for f in kind_fragments(kind)]
    # A rule written in a rule list (spec.rules, spec.alerts, an adopted file's groups[].rules) carries
    # its expr as written; a generated one points at what it was generated from (an SLO, a probe).
    if written_in_rule_list(rule):
        return [ExprSource(path=rule.ref.path + (field,), text=rule.expr)]
    return []


def written_in_rule_list(rule: Rule) -> bool:
    """Whether the rule is an item of a rules:/alerts: list in its document (else it was generated)."""
    path = rule.ref.path
    return len(path) >= 2 and path[-2] in ("rules", "alerts") and isinstance(path[-1], int)


def _parses_as_instant(text: str) -> bool:
    import promql_parser as pp

    try:
        node = parse(text)
    except PromQLError:
        return False
    return not isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr, pp.StringLiteral))


def parse_source(rule: Rule) -> ExprSource:
    """The field to blame when a rule's expression does not parse: the failing field of an alert kind."""
    for source in expr_sources(rule):
        if not _parses_as_instant(source.text):
            return source
    return ExprSource(path=rule.ref.path + ("expr",), text=rule.expr)


def check_alert_kinds(project: Project, report: Report) -> None:
    """Cross-field rules of alert kinds that JSON Schema cannot say clearly."""
    for group in project.groups:
        for rule in group.rules:
            if isinstance(rule, Alert) and rule.kind is not None:
                check_kind(rule, rule.kind, report)
