"""promtool unit tests for alerts of a kind: each fires under its condition and stays quiet just short of it.

Input series are synthesised from the alert's selectors, so an alert whose metric is an expression
rather than a series selector gets no test (the file header lists it).
"""

from __future__ import annotations

import math
import re

from ..spec.model import Alert, Project, RuleGroup, format_duration, parse_duration
from .alert_kinds import WOW_OFFSET, for_seconds, number, selector
from .alertmanager import quote
from .rules import RuleFile, rule_file_name

BASELINE_POINTS = 60  # z-score baseline: alternating low/high samples, mean B and standard deviation s
WEEK_S = 7 * 86400


class Untestable(Exception):
    """An alert whose input series cannot be synthesised."""


def series_labels(expr: str) -> dict:
    """Labels (with __name__) of a series that the selector expr matches; Untestable when unsure."""
    import promql_parser as pp

    node = selector(expr)
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


def series_text(labels: dict) -> str:
    """promtool's series notation: name{a="b",...}."""
    inner = ",".join(f"{k}={quote(v)}" for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{inner}}}"


def _const(value: float, samples: int) -> str:
    return f"{number(value)}x{samples - 1}"


def _ramp(start: float, step: float, samples: int) -> str:
    return (
        f"{number(start)}+{number(step)}x{samples - 1}"
        if step >= 0
        else f"{number(start)}-{number(-step)}x{samples - 1}"
    )


class _Case:
    """One promtool test group: input series plus the ALERTS samples expected at given times."""

    def __init__(self, name: str, interval: float):
        self.name, self.interval = name, interval
        self.series: dict[str, str] = {}
        self.checks: list = []

    def add(self, labels: dict, values: str) -> None:
        """One input series; a second series with the same labels cannot be told apart."""
        key = series_text(labels)
        if key in self.series:
            raise Untestable("two of its conditions read the same series")
        self.series[key] = values

    def as_dict(self) -> dict:
        """The test group as promtool reads it."""
        return {
            "name": self.name,
            "interval": format_duration(self.interval),
            "input_series": [{"series": k, "values": v} for k, v in self.series.items()],
            "promql_expr_test": self.checks,
        }


class _Tester:
    """Builds the cases of one alert: expect(case, t, labels) asserts it is firing (labels) or not (None)."""

    def __init__(self, alert: Alert, spec: dict, interval: float, step: float | None = None):
        self.alert, self.spec, self.interval = alert, spec, interval
        self.step = step or interval  # spacing of input samples; interval is the rule evaluation interval
        self.for_s = for_seconds(alert.for_)
        # The first evaluation at which a condition true from t=0 has been true for `for`.
        self.fire_at = math.ceil(self.for_s / interval) * interval
        self.extra = {**{k: v for k, v in alert.labels.items() if k != "severity"}, "severity": alert.severity}
        if any("{{" in v for v in self.extra.values()):
            raise Untestable("its labels are templates")

    def case(self, name: str) -> _Case:
        """A new test group named after the alert."""
        return _Case(f"{self.alert.name} {name}", self.step)

    def points(self, until: float) -> int:
        """Input samples from 0 to until, and one more."""
        return int(until // self.step) + 2

    def expect(self, case: _Case, t: float, labels: dict | None) -> None:
        """At t the alert fires with these series labels, or (None) does not fire."""
        query = f'ALERTS{{alertname={quote(self.alert.name)},alertstate="firing"}}'
        samples = []
        if labels is not None:
            full = {k: v for k, v in labels.items() if k != "__name__"}
            full.update(self.extra)
            full.update({"alertname": self.alert.name, "alertstate": "firing", "__name__": "ALERTS"})
            samples = [{"labels": series_text(full), "value": 1}]
        case.checks.append({"expr": query, "eval_time": format_duration(t), "exp_samples": samples})

    def expect_after_for(self, case: _Case, labels: dict | None, start: float = 0.0) -> None:
        """Firing (or not) once `for` has passed since start; when firing, not yet one interval earlier."""
        t = start + self.fire_at
        self.expect(case, t, labels)
        if labels is not None and self.fire_at >= self.interval:
            self.expect(case, t - self.interval, None)


_FIRE_QUIET = {  # operator -> (value that satisfies it, value just short of it), around v with step d
    ">": lambda v, d: (v + d, v),
    ">=": lambda v, d: (v, v - d),
    "<": lambda v, d: (v - d, v),
    "<=": lambda v, d: (v, v + d),
    "==": lambda v, d: (v, v + d),
    "!=": lambda v, d: (v + d, v),
}


def _values(c: dict) -> tuple[float, float]:
    v = float(c["value"])
    return _FIRE_QUIET[c["operator"]](v, abs(v) or 1.0)


def _threshold(t: _Tester) -> list[_Case]:
    labels = series_labels(t.spec["metric"])
    fire, quiet = _values(t.spec)
    n = t.points(t.fire_at)
    out = []
    for name, value, expected in (
        (f"fires at {number(fire)}", fire, labels),
        (f"stays quiet at {number(quiet)}", quiet, None),
    ):
        case = t.case(name)
        case.add(labels, _const(value, n))
        t.expect_after_for(case, expected)
        out.append(case)
    return out


def _condition_labels(t: _Tester, conditions: list) -> list[dict]:
    found = [series_labels(c["metric"]) for c in conditions]
    shared: dict = {}
    keys = t.spec.get("on_labels") or sorted({k for f in found for k in f if k != "__name__"})
    for f in found:
        for k in keys:
            if k in f and shared.setdefault(k, f[k]) != f[k]:
                raise Untestable(f"its conditions need different values of {k!r}")
    return [{**{k: shared.get(k, "test") for k in keys}, **f} for f in found]


def _compound(t: _Tester) -> list[_Case]:
    mode = "all" if "all" in t.spec else "any"
    conditions = t.spec[mode]
    labels = _condition_labels(t, conditions)
    values = [_values(c) for c in conditions]
    n = t.points(t.fire_at)
    if mode == "all":  # all true fires; the last one just short keeps it quiet
        plans = [
            ("fires when all hold", [v[0] for v in values], True),
            ("stays quiet when one falls short", [v[0] for v in values[:-1]] + [values[-1][1]], False),
        ]
    else:  # the first alone fires; all just short stay quiet
        plans = [
            ("fires when one holds", [values[0][0]] + [v[1] for v in values[1:]], True),
            ("stays quiet when none holds", [v[1] for v in values], False),
        ]
    out = []
    for name, chosen, fires in plans:
        case = t.case(name)
        for lab, value in zip(labels, chosen, strict=True):
            case.add(lab, _const(value, n))
        t.expect_after_for(case, labels[0] if fires else None)
        out.append(case)
    return out


def _guarded_labels(t: _Tester) -> tuple[dict, float | None, dict | None]:
    """(metric labels, min_traffic value, labels of a separate traffic series, None when it is the metric)."""
    labels = series_labels(t.spec["metric"])
    guard = t.spec.get("min_traffic")
    if not guard:
        return labels, None, None
    if "metric" not in guard or guard["metric"].strip() == t.spec["metric"].strip():
        return labels, float(guard["value"]), None
    traffic = series_labels(guard["metric"])
    for k in t.spec.get("on_labels", []):  # the join labels get one value on both series
        if k in labels and k in traffic and labels[k] != traffic[k]:
            raise Untestable(f"its metric and min_traffic.metric fix different values of {k!r}")
        labels[k] = traffic[k] = labels.get(k) or traffic.get(k) or "test"
    return labels, float(guard["value"]), traffic


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


def _anomaly_cases(t: _Tester, builders) -> list[_Case]:
    """Fire, quiet just below, and (with min_traffic) quiet for lack of traffic."""
    labels, min_traffic, traffic_labels = _guarded_labels(t)
    base = max(100.0, 4 * min_traffic) if min_traffic else 100.0
    plans = [("fires on a deviation", base, True, True), ("stays quiet just below the threshold", base, False, True)]
    if min_traffic:
        plans.append(("stays quiet under min_traffic", min_traffic / 4, True, False))
    out = []
    for name, level, deviates, enough in plans:
        case = t.case(name)
        values, start, end = builders(level, deviates)
        case.add(labels, values)
        if traffic_labels is not None and min_traffic is not None:  # a traffic series implies a min_traffic
            case.add(traffic_labels, _const(2 * min_traffic + 1 if enough else min_traffic / 2, t.points(end)))
        t.expect_after_for(case, labels if deviates and enough else None, start)
        out.append(case)
    return out


def _zscore(t: _Tester) -> list[_Case]:
    threshold = float(t.spec["threshold"])
    if threshold <= 1.5:
        raise Untestable("a z-score threshold of 1.5 or less leaves no quiet baseline to test against")
    sign = -1 if t.spec.get("direction") == "down" else 1
    # The baseline must outweigh the samples taken while pending enough for z to stay past the
    # threshold (with a fraction f of new samples, z cannot exceed sqrt((1 - f) / f)).
    pending = int(t.fire_at // t.step) + 1
    points = max(2 * BASELINE_POINTS, math.ceil(1.5 * pending * (threshold + 1) ** 2))
    points = math.ceil(points * t.step / t.interval) * int(t.interval // t.step)  # start on an evaluation
    if 3 * (points + pending) > 9000:  # avg, stddev and the guard each read the window in one query
        raise Untestable("its threshold and for need more baseline samples than promtool allows in one query")

    def build(level: float, deviates: bool):
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
            + f" {_const(level, points - BASELINE_POINTS)} {_const(current, pending + 1)}"
        )
        start = points * t.step
        return values, start, start + t.fire_at

    return _anomaly_cases(t, build)


def _week_over_week(t: _Tester) -> list[_Case]:
    threshold = float(t.spec["threshold"])
    direction = t.spec.get("direction", "both")
    if direction == "down" and threshold >= 1:
        raise Untestable("a drop of 100% or more cannot happen to a non-negative series")
    # The change starts after one week and an hour, so every baseline window sees only the old level.
    start = WEEK_S - parse_duration(WOW_OFFSET) + WEEK_S + 3600
    start = math.ceil(start / t.interval) * t.interval
    before = int(start // t.step)

    def build(level: float, deviates: bool):
        if direction == "down":
            change = -(1 + threshold) / 2 if deviates else -threshold * 0.9
        else:
            change = 2 * threshold if deviates else threshold * 0.9
        current = level * (1 + change)
        values = f"{_const(level, before)} {_const(current, t.points(t.fire_at))}"
        return values, start, start + t.fire_at

    return _anomaly_cases(t, build)


def _absent(t: _Tester) -> list[_Case]:
    if "job" in t.spec:
        up = {"__name__": "up", "job": t.spec["job"], "instance": "target:9100"}
        n = t.points(t.fire_at)
        plans = [
            ("fires when a target is down", 0, up),
            ("stays quiet when the target is up", 1, None),
            ("fires when the job is gone", None, {"job": t.spec["job"]}),
        ]
    else:
        labels = series_labels(t.spec["metric"])
        n = t.points(t.fire_at)
        absent_labels = {k: v for k, v in labels.items() if k != "__name__"}
        import promql_parser as pp

        for m in selector(t.spec["metric"]).matchers.matchers:
            if m.op != pp.MatchOp.Equal:  # absent() keeps only equality matchers' labels
                absent_labels.pop(m.name, None)
        plans = [("fires when the series is gone", None, absent_labels), ("stays quiet while it exists", 1, None)]
        up = labels
    out = []
    for name, value, expected in plans:
        case = t.case(name)
        if value is not None:
            case.add(up, _const(value, n))
        t.expect_after_for(case, expected)
        out.append(case)
    return out


def _capacity(t: _Tester) -> list[_Case]:
    within = parse_duration(t.spec["within"])
    if t.for_s >= within:
        raise Untestable("its for is not shorter than within")
    # At the first evaluation after `for`, the fitted time until full is half the time left.
    # Two samples before the pending period starts; the linear fit of exact linear data needs no more.
    end = t.fire_at + t.interval
    fire_ttf = (within - t.for_s) / 2
    free = "free" in t.spec
    labels = series_labels(t.spec["free" if free else "used"])
    limit = t.spec.get("limit", 0)
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
            case.add(labels, _ramp(room + rate * end, -step, n))
        else:
            case.add(labels, _ramp(limit_value - room - rate * end, step, n))
        if limit_labels is not None:
            case.add(limit_labels, _const(limit_value, n))
        t.expect(case, end, limit_labels if (fires and limit_labels) else (labels if fires else None))
        out.append(case)
    return out


_BUILDERS = {"threshold": _threshold, "compound": _compound, "absent": _absent, "capacity": _capacity}


# Tests spanning hours or a week (anomaly baselines): coarse evaluation keeps promtool fast, and
# 5m samples keep a week under promtool's 10,000-sample query limit and within the 5m staleness window.
LONG_EVAL, LONG_STEP = 1800.0, 300.0


def alert_cases(alert: Alert, spec: dict, interval: float) -> tuple[list[dict], bool]:
    """(promtool test groups for one alert of a kind, whether they span hours).

    Raises Untestable when no series can be made to fire or spare the alert.
    """
    kind = spec["kind"]
    if kind == "anomaly":
        tester = _Tester(alert, spec, LONG_EVAL, LONG_STEP)
        cases = _zscore(tester) if spec["method"] == "zscore" else _week_over_week(tester)
        return [c.as_dict() for c in cases], True
    return [c.as_dict() for c in _BUILDERS[kind](_Tester(alert, spec, interval))], False


def alert_test_files(
    project: Project, groups: list[RuleGroup], rendered: dict[str, RuleFile]
) -> dict[str, tuple[str, dict, list[str]]]:
    """rules/tests/<spec>.test.yml (and <spec>.long.test.yml) -> (source spec, test file, alerts left untested);
    groups: every rule group, rendered: the rule files they make."""
    by_file: dict[str, tuple[str, list, list]] = {}
    default = parse_duration(project.settings.evaluation_interval)
    for group in groups:
        interval = parse_duration(group.interval) if group.interval else default
        for rule in group.rules:
            spec = rule.ref.node() if isinstance(rule, Alert) else None
            if not isinstance(spec, dict) or "kind" not in spec or "expr" in spec:
                continue
            source = rule.ref.doc.source or rule.ref.file
            entry = by_file.setdefault(rule_file_name(source), (source, [], []))
            entry[1].append((rule, spec))
            entry[2].append(interval)
    files: dict[str, tuple[str, dict, list[str]]] = {}
    for rule_path, (source, alerts, intervals) in sorted(by_file.items()):
        interval = min(intervals)
        tests: dict[bool, list] = {False: [], True: []}
        untested = []
        for alert, spec in alerts:
            try:
                cases, long = alert_cases(alert, spec, interval)
            except Untestable as why:
                untested.append(f"{alert.name}: {why}")
                continue
            tests[long].extend(cases)
        stem = rule_path[len("rules/") : -len(".yml")]
        rule_file = f"../{stem}.yml"
        injected = _injected_names(tests[False] + tests[True])
        rules = rendered[rule_path].content
        if injected & _recorded_names(rules):
            rule_file = f"{stem}.rules.yml"
            files[f"rules/tests/{rule_file}"] = (source, rules_without(rules, injected), [])
        for long, suffix, evaluation in ((False, "", interval), (True, ".long", LONG_EVAL)):
            if tests[long]:
                content = {
                    "rule_files": [rule_file],
                    "evaluation_interval": format_duration(evaluation),
                    "tests": tests[long],
                }
                files[f"rules/tests/{stem}{suffix}.test.yml"] = (source, content, untested)
                untested = []  # listed once, in the first file
    return files


def _injected_names(cases: list[dict]) -> set[str]:
    return {item["series"].split("{", 1)[0] for case in cases for item in case["input_series"]}


def _recorded_names(content: dict) -> set[str]:
    return {rule["record"] for group in content["groups"] for rule in group["rules"] if "record" in rule}


def rules_without(content: dict, injected: set[str]) -> dict:
    """A rule file's content without the recording rules of series the tests inject.

    A test that injects a series the file also records would get two samples per timestamp ("duplicate
    sample for timestamp") whenever the recording yields a value without input (`or on() vector(0)`);
    without the rule, the injected series stands in for it, as the real rule does when its input is missing.
    """
    groups = []
    for group in content["groups"]:
        rules = [r for r in group["rules"] if r.get("record") not in injected]
        if rules:
            groups.append({**group, "rules": rules})
    return {**content, "groups": groups}
