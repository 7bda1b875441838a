"""promtool test groups for alerts of a kind: the input series and expectations every kind builds on.

Input series are synthesised from the alert's selectors, so an alert whose metric is an expression
rather than a series selector gets no test (the test file's header lists it).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from ..compile.promql import format_duration, parse_duration, quote
from .base import Condition, PromtoolCases, number, series_selector

if TYPE_CHECKING:
    from ..model.project import Alert

Labels = dict[str, str]

# Tests spanning hours or a week (anomaly baselines): coarse evaluation keeps promtool fast, and
# 5m samples keep a week under promtool's 10,000-sample query limit and within the 5m staleness window.
# Such tests go to their own .long.test.yml file, evaluated every LONG_EVAL.
LONG_EVAL, LONG_STEP = 1800.0, 300.0


class Untestable(Exception):
    """An alert whose input series cannot be synthesised."""


def series_labels(expr: str) -> Labels:
    """Labels (with __name__) of a series that the selector expr matches; Untestable when unsure."""
    import promql_parser as pp

    node = series_selector(expr)
    if node is None:
        raise Untestable("its metric is an expression, not a series selector")
    labels = {"__name__": node.name} if node.name else {}
    for m in node.matchers.matchers:
        if m.op == pp.MatchOp.Equal:
            labels[m.name] = m.value
        elif m.op == pp.MatchOp.NotEqual and m.value == "":
            labels[m.name] = "x"
        elif m.op == pp.MatchOp.Re and not re.fullmatch(m.value, ""):
            first = m.value.split("|")[0]
            if not re.fullmatch(r"[\w.:/-]+", first) or not re.fullmatch(m.value, first):
                raise Untestable(f"no simple value matches {m.name}=~{m.value!r}")
            labels[m.name] = first
        elif m.op == pp.MatchOp.NotRe and re.fullmatch(m.value, ""):
            value = next((v for v in ("x", "promspec", "value-1") if not re.fullmatch(m.value, v)), None)
            if value is None:
                raise Untestable(f"no simple value avoids {m.name}!~{m.value!r}")
            labels[m.name] = value
    if "__name__" not in labels:
        raise Untestable("its selector has no metric name")
    return labels


def series_text(labels: Labels) -> str:
    """promtool's series notation: name{a="b",...}."""
    inner = ",".join(f"{k}={quote(v)}" for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{inner}}}"


def const(value: float, samples: int) -> str:
    """promtool's notation for samples of one value."""
    return f"{number(value)}x{samples - 1}"


def ramp(start: float, step: float, samples: int) -> str:
    """promtool's notation for samples growing (or shrinking) by step."""
    return (
        f"{number(start)}+{number(step)}x{samples - 1}"
        if step >= 0
        else f"{number(start)}-{number(-step)}x{samples - 1}"
    )


class Case:
    """One promtool test group: input series plus the ALERTS samples expected at given times."""

    def __init__(self, name: str, interval: float):
        self.name, self.interval = name, interval
        self.series: dict[str, str] = {}
        self.checks: list[dict[str, Any]] = []

    def add(self, labels: Labels, values: str) -> None:
        """One input series; a second series with the same labels cannot be told apart."""
        key = series_text(labels)
        if key in self.series:
            raise Untestable("two of its conditions read the same series")
        self.series[key] = values

    def as_dict(self) -> dict[str, Any]:
        """The test group as promtool reads it."""
        return {
            "name": self.name,
            "interval": format_duration(self.interval),
            "input_series": [{"series": k, "values": v} for k, v in self.series.items()],
            "promql_expr_test": self.checks,
        }


def for_seconds(text: str) -> float:
    """Seconds of an alert's `for` (0 when unset)."""
    return parse_duration(text) if text else 0.0


class Tester:
    """Builds the cases of one alert: expect(case, t, labels) asserts it is firing (labels) or not (None)."""

    def __init__(self, alert: Alert, interval: float, step: float | None = None):
        self.alert, self.interval = alert, interval
        self.step = step or interval  # spacing of input samples; interval is the rule evaluation interval
        self.for_s = for_seconds(alert.for_)
        # The first evaluation at which a condition true from t=0 has been true for `for`.
        self.fire_at = math.ceil(self.for_s / interval) * interval
        self.extra = {**{k: v for k, v in alert.labels.items() if k != "severity"}, "severity": alert.severity}
        if any("{{" in v for v in self.extra.values()):
            raise Untestable("its labels are templates")

    def case(self, name: str) -> Case:
        """A new test group named after the alert."""
        return Case(f"{self.alert.name} {name}", self.step)

    def points(self, until: float) -> int:
        """Input samples from 0 to until, and one more."""
        return int(until // self.step) + 2

    def expect(self, case: Case, t: float, labels: Labels | None) -> None:
        """At t the alert fires with these series labels, or (None) does not fire."""
        query = f'ALERTS{{alertname={quote(self.alert.name)},alertstate="firing"}}'
        samples = []
        if labels is not None:
            full = {k: v for k, v in labels.items() if k != "__name__"}
            full.update(self.extra)
            full.update({"alertname": self.alert.name, "alertstate": "firing", "__name__": "ALERTS"})
            samples = [{"labels": series_text(full), "value": 1}]
        case.checks.append({"expr": query, "eval_time": format_duration(t), "exp_samples": samples})

    def expect_after_for(self, case: Case, labels: Labels | None, start: float = 0.0) -> None:
        """Firing (or not) once `for` has passed since start; when firing, not yet one interval earlier."""
        t = start + self.fire_at
        self.expect(case, t, labels)
        if labels is not None and self.fire_at >= self.interval:
            self.expect(case, t - self.interval, None)


def fire_and_quiet(c: Condition) -> tuple[float, float]:
    """(a value that satisfies the comparison, a value just short of it), a step of |value| (or 1) apart."""
    v = float(c.value)
    d = abs(v) or 1.0
    return {
        ">": (v + d, v),
        ">=": (v, v - d),
        "<": (v - d, v),
        "<=": (v, v + d),
        "==": (v, v + d),
        "!=": (v + d, v),
    }[c.operator]


def groups(cases: list[Case], long: bool = False) -> PromtoolCases:
    """The cases as promtool test groups."""
    return PromtoolCases(groups=[c.as_dict() for c in cases], long=long)
