"""Alert kinds -> plain PromQL: threshold, compound, anomaly, absent and capacity (pure functions)."""

from __future__ import annotations

from ..spec.model import parse_duration
from .promql import PromQLError, parse
from .promql import selector as label_selector

WEEK = "1w"
# "The same hour last week": a 1h window centred on this moment one week ago.
WOW_WINDOW, WOW_OFFSET = "1h", "6d23h30m"
SUBQUERY_STEP = "5m"  # resolution of subqueries over expressions that are not plain series
DEFAULT_ABSENT_FOR = "10m"  # grace period: a deploy that restarts a target should not page
DEFAULT_LOOKBACK = "1h"


def number(value) -> str:
    """A spec number as PromQL text: integers without a decimal point, floats as short as they round-trip."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def selector(expr: str):
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
    if selector(expr) is not None:
        return f"{expr.strip()}[{window}]{tail}"
    return f"({expr.strip()})[{window}:{SUBQUERY_STEP}]{tail}"


def _join(op: str, spec: dict) -> str:
    """A set operator with the spec's on(...) labels, spaced for joining operands."""
    return f" {op} on({', '.join(spec['on_labels'])}) " if spec.get("on_labels") else f" {op} "


def condition(c: dict) -> str:
    """One comparison: metric operator value."""
    return f"{operand(c['metric'])} {c['operator']} {number(c['value'])}"


def _threshold(spec: dict) -> dict:
    metric = " ".join(spec["metric"].split())
    return {
        "expr": condition(spec),
        "summary": f"{metric} is {{{{ $value | humanize }}}} ({spec['operator']} {number(spec['value'])})",
    }


def _compound(spec: dict) -> dict:
    mode = "all" if "all" in spec else "any"
    expr = _join("and" if mode == "all" else "or", spec).join(f"({condition(c)})" for c in spec[mode])
    return {"expr": expr, "summary": f"{mode} of {len(spec[mode])} conditions hold"}


def anomaly_parts(spec: dict) -> tuple[str, str, str]:
    """(deviation expression, comparison, guard expression or '') of an anomaly alert."""
    metric = spec["metric"].strip()
    t = number(spec["threshold"])
    if spec["method"] == "zscore":
        avg = f"avg_over_time({range_of(metric, WEEK)})"
        deviation = f"({operand(metric)} - {avg}) / stddev_over_time({range_of(metric, WEEK)})"
    else:
        avg = f"avg_over_time({range_of(metric, WOW_WINDOW, WOW_OFFSET)})"
        deviation = f"({operand(metric)} - {avg}) / {avg}"
    direction = spec.get("direction", "both")
    compare = {"up": f"> {t}", "down": f"< -{t}", "both": f"> {t}"}[direction]
    if direction == "both":
        deviation = f"abs({deviation})"
    guard = ""
    if "min_traffic" in spec:
        # Guard on what the traffic normally is (its baseline), so a drop to zero still alerts.
        traffic = spec["min_traffic"].get("metric", metric).strip()
        window = range_of(traffic, WEEK) if spec["method"] == "zscore" else range_of(traffic, WOW_WINDOW, WOW_OFFSET)
        guard = f"avg_over_time({window}) >= {number(spec['min_traffic']['value'])}"
    return deviation, compare, guard


def _anomaly(spec: dict) -> dict:
    deviation, compare, guard = anomaly_parts(spec)
    expr = f"{deviation} {compare}"
    if guard:
        expr = f"({expr}){_join('and', spec)}({guard})"
    if spec["method"] == "zscore":
        summary = f"z-score {{{{ $value | humanize }}}} against the last week (threshold {number(spec['threshold'])})"
    else:
        summary = (
            "{{ $value | humanizePercentage }} change against the same hour last week "
            f"(threshold {number(spec['threshold'])})"
        )
    return {"expr": expr, "summary": summary}


def absent_job_selector(job: str) -> str:
    """The up series of a scrape job."""
    return "up" + label_selector({"job": job})


def _absent(spec: dict) -> dict:
    out = {"for": DEFAULT_ABSENT_FOR}
    if "job" in spec:
        up = absent_job_selector(spec["job"])
        # A failing scrape (up == 0) and a job whose targets vanished from discovery (no up at all).
        out["expr"] = f"{up} == 0 or absent({up})"
        out["summary"] = f"a target of job {spec['job']} is down or gone"
    else:
        out["expr"] = f"absent({spec['metric'].strip()})"
        out["summary"] = f"no series match {spec['metric'].strip()}"
    return out


def capacity_seconds(spec: dict) -> tuple[str, float]:
    """(time-until-full expression in seconds, alert horizon in seconds) of a capacity alert."""
    lookback = spec.get("lookback", DEFAULT_LOOKBACK)
    if "free" in spec:
        window = range_of(spec["free"], lookback)
        ttf = f"predict_linear({window}, 0) / -deriv({window})"
    else:
        window = range_of(spec["used"], lookback)
        limit = spec.get("limit", 0)  # a missing limit is reported by check/alert_kinds.py
        limit_text = number(limit) if isinstance(limit, (int, float)) else operand(limit)
        ttf = f"({limit_text} - predict_linear({window}, 0)) / deriv({window})"
    return ttf, parse_duration(spec["within"])


def _capacity(spec: dict) -> dict:
    ttf, within = capacity_seconds(spec)
    # The value is the fitted time until full; it must be in [0, within) (a shrinking or flat usage
    # gives a negative, infinite or NaN time, which the comparison drops).
    return {
        "expr": f"{ttf} >= 0 < {number(within)}",
        "summary": f"full in {{{{ $value | humanizeDuration }}}} at the trend of the last "
        f"{spec.get('lookback', DEFAULT_LOOKBACK)} (alerting within {spec['within']})",
    }


_COMPILERS = {
    "threshold": _threshold,
    "compound": _compound,
    "anomaly": _anomaly,
    "absent": _absent,
    "capacity": _capacity,
}


def compile_alert(spec: dict) -> dict:
    """Defaults (expr, and for/summary where the kind has one) for an alert of a kind; the spec's own fields win."""
    return _COMPILERS[spec["kind"]](spec)


def fragments(spec: dict) -> list[tuple[tuple, str]]:
    """The PromQL-bearing fields of an alert of a kind: (path below the alert, text)."""
    out: list[tuple[tuple, str]] = []
    for key in ("metric", "used", "free"):
        if isinstance(spec.get(key), str):
            out.append(((key,), spec[key]))
    if isinstance(spec.get("limit"), str):
        out.append((("limit",), spec["limit"]))
    for mode in ("all", "any"):
        for i, c in enumerate(spec.get(mode, [])):
            out.append(((mode, i, "metric"), c["metric"]))
    if isinstance(spec.get("min_traffic", {}).get("metric"), str):
        out.append((("min_traffic", "metric"), spec["min_traffic"]["metric"]))
    return out


def for_seconds(text: str) -> float:
    """Seconds of an alert's `for` (0 when unset)."""
    return parse_duration(text) if text else 0.0
