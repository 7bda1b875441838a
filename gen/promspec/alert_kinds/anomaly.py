"""kind: anomaly: a metric far from its own past (z-score over a week, or the same hour last week)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..compile.promql import parse_duration
from .base import (
    AlertKindDef,
    Defaults,
    Fragment,
    KindSchema,
    PromtoolCases,
    Spec,
    error,
    join,
    number,
    operand,
    range_of,
)
from .promtool_cases import LONG_EVAL, LONG_STEP, Case, Labels, Tester, Untestable, const, groups, series_labels

if TYPE_CHECKING:
    from ..diagnostics import Report
    from ..model.project import Alert, Ref

WEEK = "1w"
# "The same hour last week": a 1h window centred on this moment one week ago.
WOW_WINDOW, WOW_OFFSET = "1h", "6d23h30m"

BASELINE_POINTS = 60  # z-score baseline: alternating low/high samples, mean B and standard deviation s
WEEK_S = 7 * 86400


@dataclass(frozen=True, kw_only=True)
class MinTraffic:
    """Alert only where the traffic (the alert's metric unless metric is set) is normally at least value."""

    metric: str | None = None
    value: int | float


@dataclass(frozen=True, kw_only=True)
class Anomaly:
    kind: Literal["anomaly"] = "anomaly"
    metric: str
    method: Literal["week_over_week", "zscore"]
    threshold: int | float
    direction: Literal["up", "down", "both"] = "both"
    min_traffic: MinTraffic | None = None
    on_labels: tuple[str, ...] = ()
    ref: Ref


def schema() -> KindSchema:
    from ..model.schema_parts import PROMQL, _object
    from .schema_parts import METRIC, label_list

    return KindSchema(
        fields={
            "metric": METRIC,
            "method": {
                "enum": ["week_over_week", "zscore"],
                "x-expected": "week_over_week (against the same hour last week) or zscore (against 1 week)",
            },
            "threshold": {
                "type": "number",
                "exclusiveMinimum": 0,
                "x-expected": "a relative change (0.5 = 50%) for week_over_week, a z-score (e.g. 3) for zscore",
            },
            "direction": {"enum": ["up", "down", "both"], "x-expected": "up, down or both (default)"},
            "min_traffic": _object(
                {
                    "metric": {**PROMQL, "x-expected": "the traffic to guard on (default: the alert's metric)"},
                    "value": {"type": "number", "minimum": 0, "x-expected": "the least traffic worth alerting on"},
                },
                ("value",),
            ),
            "on_labels": label_list("the labels the metric and min_traffic.metric share (PromQL on(...))"),
        },
        required=("metric", "method", "threshold"),
    )


def build(spec: Spec, ref: Ref) -> Anomaly:
    guard = spec.get("min_traffic")
    return Anomaly(
        metric=spec["metric"],
        method=spec["method"],
        threshold=spec["threshold"],
        direction=spec.get("direction", "both"),
        min_traffic=None if guard is None else MinTraffic(metric=guard.get("metric"), value=guard["value"]),
        on_labels=tuple(spec.get("on_labels") or ()),
        ref=ref,
    )


def check(alert: Alert, a: Anomaly, report: Report) -> None:
    if a.on_labels and (a.min_traffic is None or a.min_traffic.metric is None):
        error(
            report,
            a.ref,
            ("on_labels",),
            "on_labels: joins the alert's metric with min_traffic.metric, which is not set",
            "min_traffic: {metric: ..., value: ...}, or no on_labels",
        )


@dataclass(frozen=True, kw_only=True)
class Parts:
    """The pieces of an anomaly alert's expression: deviation compare, and guard ("" without min_traffic)."""

    deviation: str
    compare: str
    guard: str


def parts(a: Anomaly) -> Parts:
    metric = a.metric.strip()
    t = number(a.threshold)
    if a.method == "zscore":
        avg = f"avg_over_time({range_of(metric, WEEK)})"
        deviation = f"({operand(metric)} - {avg}) / stddev_over_time({range_of(metric, WEEK)})"
    else:
        avg = f"avg_over_time({range_of(metric, WOW_WINDOW, WOW_OFFSET)})"
        deviation = f"({operand(metric)} - {avg}) / {avg}"
    compare = {"up": f"> {t}", "down": f"< -{t}", "both": f"> {t}"}[a.direction]
    if a.direction == "both":
        deviation = f"abs({deviation})"
    guard = ""
    if a.min_traffic is not None:
        # Guard on what the traffic normally is (its baseline), so a drop to zero still alerts.
        traffic = (a.min_traffic.metric if a.min_traffic.metric is not None else metric).strip()
        window = range_of(traffic, WEEK) if a.method == "zscore" else range_of(traffic, WOW_WINDOW, WOW_OFFSET)
        guard = f"avg_over_time({window}) >= {number(a.min_traffic.value)}"
    return Parts(deviation=deviation, compare=compare, guard=guard)


def defaults(a: Anomaly) -> Defaults:
    p = parts(a)
    expr = f"{p.deviation} {p.compare}"
    if p.guard:
        expr = f"({expr}){join('and', a.on_labels)}({p.guard})"
    if a.method == "zscore":
        summary = f"z-score {{{{ $value | humanize }}}} against the last week (threshold {number(a.threshold)})"
    else:
        summary = (
            "{{ $value | humanizePercentage }} change against the same hour last week "
            f"(threshold {number(a.threshold)})"
        )
    return Defaults(expr=expr, summary=summary)


def fragments(a: Anomaly) -> list[Fragment]:
    out = [Fragment(path=("metric",), text=a.metric)]
    if a.min_traffic is not None and a.min_traffic.metric is not None:
        out.append(Fragment(path=("min_traffic", "metric"), text=a.min_traffic.metric))
    return out


# --- promtool cases ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Guarded:
    """The metric's labels, min_traffic's value, and the labels of a separate traffic series (None: the metric)."""

    labels: Labels
    min_traffic: float | None
    traffic: Labels | None


@dataclass(frozen=True, kw_only=True)
class _Series:
    """One plan's input values for the metric, when the change starts and when the alert is expected."""

    values: str
    start: float
    end: float


def _guarded_labels(a: Anomaly) -> _Guarded:
    labels = series_labels(a.metric)
    guard = a.min_traffic
    if guard is None:
        return _Guarded(labels=labels, min_traffic=None, traffic=None)
    if guard.metric is None or guard.metric.strip() == a.metric.strip():
        return _Guarded(labels=labels, min_traffic=float(guard.value), traffic=None)
    traffic = series_labels(guard.metric)
    for k in a.on_labels:  # the join labels get one value on both series
        if k in labels and k in traffic and labels[k] != traffic[k]:
            raise Untestable(f"its metric and min_traffic.metric fix different values of {k!r}")
        labels[k] = traffic[k] = labels.get(k) or traffic.get(k) or "test"
    return _Guarded(labels=labels, min_traffic=float(guard.value), traffic=traffic)


def _zscores(samples: list[float], first: int) -> list[float]:
    """z of the newest sample against all samples so far (population stddev, as Prometheus), from index first on."""
    total = sum(samples[:first])
    squares = sum(v * v for v in samples[:first])
    out = []
    for i in range(first, len(samples)):
        total += samples[i]
        squares += samples[i] * samples[i]
        n = i + 1
        mean = total / n
        sd = math.sqrt(max(squares / n - mean * mean, 0.0))
        out.append((samples[i] - mean) / sd if sd else math.nan)
    return out


def _anomaly_cases(t: Tester, a: Anomaly, build_series: Callable[[float, bool], _Series]) -> list[Case]:
    """Fire, quiet just below, and (with min_traffic) quiet for lack of traffic."""
    g = _guarded_labels(a)
    min_traffic = g.min_traffic
    base = max(100.0, 4 * min_traffic) if min_traffic else 100.0
    plans = [("fires on a deviation", base, True, True), ("stays quiet just below the threshold", base, False, True)]
    if min_traffic:
        plans.append(("stays quiet under min_traffic", min_traffic / 4, True, False))
    out = []
    for name, level, deviates, enough in plans:
        case = t.case(name)
        s = build_series(level, deviates)
        case.add(g.labels, s.values)
        if g.traffic is not None and min_traffic is not None:  # a traffic series implies a min_traffic
            case.add(g.traffic, const(2 * min_traffic + 1 if enough else min_traffic / 2, t.points(s.end)))
        t.expect_after_for(case, g.labels if deviates and enough else None, s.start)
        out.append(case)
    return out


def _zscore(t: Tester, a: Anomaly) -> list[Case]:
    threshold = float(a.threshold)
    if threshold <= 1.5:
        raise Untestable("a z-score threshold of 1.5 or less leaves no quiet baseline to test against")
    sign = -1 if a.direction == "down" else 1
    # The baseline must outweigh the samples taken while pending enough for z to stay past the
    # threshold (with a fraction f of new samples, z cannot exceed sqrt((1 - f) / f)).
    pending = int(t.fire_at // t.step) + 1
    points = max(2 * BASELINE_POINTS, math.ceil(1.5 * pending * (threshold + 1) ** 2))
    points = math.ceil(points * t.step / t.interval) * int(t.interval // t.step)  # start on an evaluation
    if 3 * (points + pending) > 9000:  # avg, stddev and the guard each read the window in one query
        raise Untestable("its threshold and for need more baseline samples than promtool allows in one query")

    def build_series(level: float, deviates: bool) -> _Series:
        spread = level / 10
        baseline = [level - spread if i % 2 == 0 else level + spread for i in range(BASELINE_POINTS)]
        baseline += [level] * (points - BASELINE_POINTS)
        sd = math.sqrt(sum((v - level) ** 2 for v in baseline) / points)  # the baseline's mean is level
        k = threshold + 1 if deviates else threshold * 0.9
        for _ in range(100):  # move k until every evaluation while pending is clearly past (or short of) it
            current = level + sign * k * sd
            z = [abs(v) for v in _zscores(baseline + [current] * pending, points)]
            if deviates and min(z) >= threshold + 0.5:
                break
            if not deviates and max(z) <= threshold * 0.95:
                break
            k = k * 1.25 if deviates else k * 0.9
        else:
            raise Untestable("no deviation of its metric crosses the threshold for all of its for")
        values = (
            " ".join(number(v) for v in baseline[:BASELINE_POINTS])
            + f" {const(level, points - BASELINE_POINTS)} {const(current, pending + 1)}"
        )
        start = points * t.step
        return _Series(values=values, start=start, end=start + t.fire_at)

    return _anomaly_cases(t, a, build_series)


def _week_over_week(t: Tester, a: Anomaly) -> list[Case]:
    threshold = float(a.threshold)
    if a.direction == "down" and threshold >= 1:
        raise Untestable("a drop of 100% or more cannot happen to a non-negative series")
    # The change starts after one week and an hour, so every baseline window sees only the old level.
    start = WEEK_S - parse_duration(WOW_OFFSET) + WEEK_S + 3600
    start = math.ceil(start / t.interval) * t.interval
    before = int(start // t.step)

    def build_series(level: float, deviates: bool) -> _Series:
        if a.direction == "down":
            change = -(1 + threshold) / 2 if deviates else -threshold * 0.9
        else:
            change = 2 * threshold if deviates else threshold * 0.9
        current = level * (1 + change)
        values = f"{const(level, before)} {const(current, t.points(t.fire_at))}"
        return _Series(values=values, start=start, end=start + t.fire_at)

    return _anomaly_cases(t, a, build_series)


def cases(alert: Alert, a: Anomaly, interval: float) -> PromtoolCases:
    # A week of baseline: the kind's own evaluation interval and sample step, whatever the group's.
    tester = Tester(alert, LONG_EVAL, LONG_STEP)
    return groups(_zscore(tester, a) if a.method == "zscore" else _week_over_week(tester, a), long=True)


KIND = AlertKindDef(
    name="anomaly",
    record=Anomaly,
    schema=schema,
    build=build,
    check=check,
    defaults=defaults,
    fragments=fragments,
    cases=cases,
)
