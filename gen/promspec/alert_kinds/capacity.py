"""kind: capacity: a resource predicted full (used reaching limit, or free reaching 0) within a horizon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..compile.promql import format_duration, parse_duration
from .base import AlertKindDef, Defaults, Fragment, KindSchema, PromtoolCases, Spec, error, number, operand, range_of
from .promtool_cases import Tester, Untestable, const, for_seconds, groups, ramp, series_labels

if TYPE_CHECKING:
    from ..diagnostics import Report
    from ..model.project import Alert, Ref

DEFAULT_LOOKBACK = "1h"


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """used, limit and free as written: check() refuses the combinations that mean nothing."""

    kind: Literal["capacity"] = "capacity"
    used: str | None = None
    limit: int | float | str | None = None  # a number, or a PromQL expression
    free: str | None = None
    within: str
    lookback: str = DEFAULT_LOOKBACK
    ref: Ref


def schema() -> KindSchema:
    from ..model.schema_parts import DURATION, PROMQL

    return KindSchema(
        fields={
            "used": {**PROMQL, "x-expected": "the usage that grows towards limit, e.g. a memory-used gauge"},
            "limit": {
                "anyOf": [{"type": "number"}, PROMQL],
                "x-expected": "the usage at which the resource is full: a number or a PromQL expression",
            },
            "free": {**PROMQL, "x-expected": "free space that shrinks towards 0, e.g. node_filesystem_avail_bytes"},
            "within": {**DURATION, "x-expected": "how soon a predicted fill should alert, e.g. 4h"},
            "lookback": {**DURATION, "x-expected": "how much history the linear fit uses (default 1h)"},
        },
        required=("within",),
        one_of=("used", "free"),
    )


def build(spec: Spec, ref: Ref) -> Capacity:
    return Capacity(
        used=spec.get("used"),
        limit=spec.get("limit"),
        free=spec.get("free"),
        within=spec["within"],
        lookback=spec.get("lookback", DEFAULT_LOOKBACK),
        ref=ref,
    )


def check(alert: Alert, c: Capacity, report: Report) -> None:
    ref = c.ref
    if c.used is not None and c.free is not None:
        error(report, ref, ("free",), "a capacity alert takes used or free, not both", "either used: or free:")
    if c.used is not None and c.limit is None:
        error(report, ref, ("used",), "a capacity alert on used: needs limit:", "limit: the usage at which it is full")
    if c.free is not None and c.limit is not None:
        error(
            report,
            ref,
            ("limit",),
            "limit: has no meaning with free: (free space runs out at 0)",
            "no limit, or used: instead of free:",
        )
    within = parse_duration(c.within)
    if within <= 0:
        error(report, ref, ("within",), "within: must be longer than 0s", "a duration such as 4h")
    elif for_seconds(alert.for_) >= within:
        # Usage growing linearly reaches the limit before `for` has elapsed: the alert could never fire.
        error(
            report,
            ref,
            ("for",),
            f"for: {alert.for_} is not shorter than within: {c.within}, so the alert could never fire",
            "a for shorter than within",
        )


def time_to_full(c: Capacity) -> str:
    """The fitted time until full, in seconds, as PromQL."""
    if c.free is not None:
        window = range_of(c.free, c.lookback)
        return f"predict_linear({window}, 0) / -deriv({window})"
    window = range_of(c.used or "", c.lookback)
    limit = 0 if c.limit is None else c.limit  # a missing limit is reported by check()
    limit_text = number(limit) if isinstance(limit, (int, float)) else operand(limit)
    return f"({limit_text} - predict_linear({window}, 0)) / deriv({window})"


def defaults(c: Capacity) -> Defaults:
    # The value is the fitted time until full; it must be in [0, within) (a shrinking or flat usage
    # gives a negative, infinite or NaN time, which the comparison drops).
    return Defaults(
        expr=f"{time_to_full(c)} >= 0 < {number(parse_duration(c.within))}",
        summary=f"full in {{{{ $value | humanizeDuration }}}} at the trend of the last "
        f"{c.lookback} (alerting within {c.within})",
    )


def fragments(c: Capacity) -> list[Fragment]:
    out = []
    if c.used is not None:
        out.append(Fragment(path=("used",), text=c.used))
    if c.free is not None:
        out.append(Fragment(path=("free",), text=c.free))
    if isinstance(c.limit, str):
        out.append(Fragment(path=("limit",), text=c.limit))
    return out


def cases(alert: Alert, c: Capacity, interval: float) -> PromtoolCases:
    t = Tester(alert, interval)
    within = parse_duration(c.within)
    if t.for_s >= within:
        raise Untestable("its for is not shorter than within")
    # At the first evaluation after `for`, the fitted time until full is half the time left.
    # Two samples before the pending period starts; the linear fit of exact linear data needs no more.
    end = t.fire_at + t.interval
    fire_ttf = (within - t.for_s) / 2
    free = c.free is not None
    labels = series_labels((c.free if free else c.used) or "")
    limit = 0 if c.limit is None else c.limit
    limit_labels = None
    if isinstance(limit, str):
        limit_labels = series_labels(limit)
        common = {k: v for k, v in labels.items() if k != "__name__"}
        limit_labels = {
            **{k: v for k, v in limit_labels.items() if k == "__name__"},
            **common,
            **{k: v for k, v in limit_labels.items() if k != "__name__"},
        }
        labels = {**labels, **{k: v for k, v in limit_labels.items() if k != "__name__"}}
        limit_value = 1000.0
    else:
        limit_value = float(limit)
    room = max(abs(limit_value), 1.0) / 2  # distance to full at `end`
    out = []
    n = t.points(end)
    for name, ttf, fires in (
        (f"fires when full in {format_duration(fire_ttf)}", fire_ttf, True),
        (f"stays quiet when full in {format_duration(2 * within)}", 2 * within, False),
    ):
        case = t.case(name)
        rate = room / ttf  # per second
        step = rate * t.step
        if free:
            case.add(labels, ramp(room + rate * end, -step, n))
        else:
            case.add(labels, ramp(limit_value - room - rate * end, step, n))
        if limit_labels is not None:
            case.add(limit_labels, const(limit_value, n))
        t.expect(case, end, limit_labels if (fires and limit_labels) else (labels if fires else None))
        out.append(case)
    return groups(out)


KIND = AlertKindDef(
    name="capacity",
    record=Capacity,
    schema=schema,
    build=build,
    check=check,
    defaults=defaults,
    fragments=fragments,
    cases=cases,
)
