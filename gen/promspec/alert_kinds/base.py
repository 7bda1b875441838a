"""What every alert kind shares: the records its module fills in, and the PromQL text helpers.

This package is a feature slice: it imports the PromQL module, the loader's path helpers and the
diagnostics, never the model (model/project.py imports it to build an alert's kind) nor compile/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..compile.promql import PromQLError, parse
from ..model.loader import dotted

if TYPE_CHECKING:
    from ..diagnostics import Report
    from ..model.project import Alert, Ref

Path = tuple[str | int, ...]  # a field path below an alert: ("all", 0, "metric")
Spec = Mapping[str, Any]  # one alert as the schema validated it

SUBQUERY_STEP = "5m"  # resolution of subqueries over expressions that are not plain series


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One comparison of a threshold alert or of a compound alert's list: metric operator value."""

    metric: str
    operator: str
    value: int | float
    ref: Ref  # where the comparison was written (the alert itself for a threshold alert)


@dataclass(frozen=True, kw_only=True)
class Defaults:
    """What a kind contributes to its alert; the alert's own `for` and summary win over these."""

    expr: str
    summary: str
    for_: str = ""  # "" when the kind has no default of its own


@dataclass(frozen=True, kw_only=True)
class Fragment:
    """A PromQL-bearing field of an alert of a kind: where it is below the alert, and its text."""

    path: Path
    text: str


@dataclass(frozen=True, kw_only=True)
class KindSchema:
    """The JSON Schema fields of a kind (besides those every alert has), and which are required.

    one_of: fields of which the alert needs at least one (schema: "missing", with the hint); the
    kind's check reports the case of both with a clear sentence.
    """

    fields: dict[str, Any]
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PromtoolCases:
    """The promtool test groups of one alert, and whether they span hours (they go to a .long file)."""

    groups: list[dict[str, Any]]
    long: bool = False


R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class AlertKindDef(Generic[R]):
    """The interface every alert kind module exposes as KIND, registered in alert_kinds.KINDS.

    schema: its fields (a function: the shared fragments live in model/schemas.py, which assembles
    the alert schema from this table while it is itself being imported).
    build: the typed record from the validated spec (no checks, nothing reported).
    check: cross-field rules JSON Schema cannot say clearly (pure; errors go to report).
    defaults: the expression, summary and `for` the alert gets (pure text building).
    fragments: the PromQL fields, so errors in the expression point into the spec.
    cases: promtool test groups at an evaluation interval (seconds); raises promtool_cases.Untestable
    when no input series can be made up.
    """

    name: str
    record: type[R]
    schema: Callable[[], KindSchema]
    build: Callable[[Spec, Ref], R]
    check: Callable[[Alert, R, Report], None]
    defaults: Callable[[R], Defaults]
    fragments: Callable[[R], list[Fragment]]
    cases: Callable[[Alert, R, float], PromtoolCases]


def no_check(alert: Alert, record: object, report: Report) -> None:
    """A kind whose schema says everything."""


def error(report: Report, ref: Ref, sub: Path, message: str, expected: str) -> None:
    """An error at a field below an alert."""
    report.error(ref.pos(*sub), message, dotted(ref.path + sub), expected)


def condition(spec: Spec, ref: Ref) -> Condition:
    return Condition(metric=spec["metric"], operator=spec["operator"], value=spec["value"], ref=ref)


# --- PromQL text ---------------------------------------------------------------------------------


def number(value: object) -> str:
    """A spec number as PromQL text: integers without a decimal point, floats as short as they round-trip."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def series_selector(expr: str) -> Any:
    """The VectorSelector node when expr is a plain series selector (no offset/@), else None."""
    import promql_parser as pp

    try:
        node = parse(expr.strip())
    except PromQLError:
        return None
    if isinstance(node, pp.VectorSelector) and node.offset is None and node.at is None:
        return node
    return None


def operand(expr: str) -> str:
    """expr ready to be an operand of a binary operator: parenthesised unless it is atomic."""
    import promql_parser as pp

    text = expr.strip()
    try:
        node = parse(text)
    except PromQLError:
        return f"({text})"
    atomic = (pp.VectorSelector, pp.NumberLiteral, pp.Call, pp.AggregateExpr, pp.ParenExpr)
    return text if isinstance(node, atomic) else f"({text})"


def range_of(expr: str, window: str, offset: str = "") -> str:
    """A range vector over expr: a plain range selector for a series, a subquery for an expression."""
    tail = f" offset {offset}" if offset else ""
    if series_selector(expr) is not None:
        return f"{expr.strip()}[{window}]{tail}"
    return f"({expr.strip()})[{window}:{SUBQUERY_STEP}]{tail}"


def join(op: str, on_labels: tuple[str, ...]) -> str:
    """A set operator with the spec's on(...) labels, spaced for joining operands."""
    return f" {op} on({', '.join(on_labels)}) " if on_labels else f" {op} "


def comparison(c: Condition) -> str:
    """One comparison: metric operator value."""
    return f"{operand(c.metric)} {c.operator} {number(c.value)}"
