"""kind: threshold: metric operator value, e.g. an error ratio above 5%."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .base import (
    AlertKindDef,
    Condition,
    Defaults,
    Fragment,
    KindSchema,
    PromtoolCases,
    Spec,
    comparison,
    no_check,
    number,
)
from .base import condition as build_condition
from .promtool_cases import Tester, const, fire_and_quiet, groups, series_labels

if TYPE_CHECKING:
    from ..model.project import Alert, Ref


@dataclass(frozen=True, kw_only=True)
class Threshold:
    kind: Literal["threshold"] = "threshold"
    condition: Condition
    ref: Ref


def schema() -> KindSchema:
    from .schema_parts import METRIC, NUMBER, OPERATOR

    return KindSchema(
        fields={"metric": METRIC, "operator": OPERATOR, "value": NUMBER}, required=("metric", "operator", "value")
    )


def build(spec: Spec, ref: Ref) -> Threshold:
    return Threshold(condition=build_condition(spec, ref), ref=ref)


def defaults(t: Threshold) -> Defaults:
    c = t.condition
    metric = " ".join(c.metric.split())
    return Defaults(
        expr=comparison(c),
        summary=f"{metric} is {{{{ $value | humanize }}}} ({c.operator} {number(c.value)})",
    )


def fragments(t: Threshold) -> list[Fragment]:
    return [Fragment(path=("metric",), text=t.condition.metric)]


def cases(alert: Alert, t: Threshold, interval: float) -> PromtoolCases:
    tester = Tester(alert, interval)
    labels = series_labels(t.condition.metric)
    fire, quiet = fire_and_quiet(t.condition)
    n = tester.points(tester.fire_at)
    out = []
    for name, value, expected in (
        (f"fires at {number(fire)}", fire, labels),
        (f"stays quiet at {number(quiet)}", quiet, None),
    ):
        case = tester.case(name)
        case.add(labels, const(value, n))
        tester.expect_after_for(case, expected)
        out.append(case)
    return groups(out)


KIND = AlertKindDef(
    name="threshold",
    record=Threshold,
    schema=schema,
    build=build,
    check=no_check,
    defaults=defaults,
    fragments=fragments,
    cases=cases,
)
