"""Pyrra pyrra.dev/v1alpha1 ServiceLevelObjective -> the rule groups Pyrra generates, as promspec groups.

Identity is kept: the `<metric>:burnrate<window>` and `<metric>:increase<window>` series, the alert name
(alerting.name, ErrorBudgetBurn by default), its labels (slo, short, long, severity, exhaustion and the
selector's equality matchers) and the absent alerts are Pyrra's, so Pyrra's UI, routes and silences keep
working. Facts about Pyrra's output (windows, factors, names, labels) were studied from its documentation
and sources; the rendering here is promspec's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from ..compile.promql import parse_duration
from ..model.loader import Document
from .common import API, Conversion, Draft, Importer, Note, Path, labels_text

API_VERSION = "pyrra.dev/v1alpha1"
KIND = "ServiceLevelObjective"
PROPAGATE = "pyrra.dev/"  # metadata labels and annotations with this prefix reach the rules
NS_PER_S = 10**9
MINUTE_NS = 60 * NS_PER_S
INDICATORS = ("ratio", "latency", "latencyNative", "boolGauge")


def is_pyrra(data: Any) -> bool:
    return isinstance(data, dict) and data.get("apiVersion") == API_VERSION and data.get("kind") == KIND


@dataclass(frozen=True, kw_only=True)
class Window:
    """One multiwindow alert of Pyrra's, scaled from its 28-day table to the SLO's window."""

    severity: str
    for_ns: int
    long_ns: int
    short_ns: int
    factor: int


def _round_minute(ns: int) -> int:
    # Go's Duration.Round: halves away from zero.
    return (ns + MINUTE_NS // 2) // MINUTE_NS * MINUTE_NS


def windows(window_ns: int) -> list[Window]:
    day = 28 * 24
    return [
        Window(
            severity="critical",
            for_ns=_round_minute(window_ns // (day * 30)),
            long_ns=_round_minute(window_ns // day),
            short_ns=_round_minute(window_ns // (day * 12)),
            factor=14,
        ),
        Window(
            severity="critical",
            for_ns=_round_minute(window_ns // (day * 4)),
            long_ns=_round_minute(window_ns // (28 * 4)),
            short_ns=_round_minute(window_ns // (day * 2)),
            factor=7,
        ),
        Window(
            severity="warning",
            for_ns=_round_minute(window_ns // day),
            long_ns=_round_minute(window_ns // 28),
            short_ns=_round_minute(window_ns // (28 * 12)),
            factor=2,
        ),
        Window(
            severity="warning",
            for_ns=_round_minute(window_ns // (28 * 8)),
            long_ns=_round_minute(window_ns // 7),
            short_ns=_round_minute(window_ns // (28 * 4)),
            factor=1,
        ),
    ]


def prom_duration(ns: int) -> str:
    """A duration as Prometheus prints it: weeks and years only when exact (28d -> 4w, 30d -> 30d)."""
    ms = ns // 1_000_000
    if ms == 0:
        return "0s"
    out = ""
    for unit, size, exact in (
        ("y", 31_536_000_000, True),
        ("w", 604_800_000, True),
        ("d", 86_400_000, False),
        ("h", 3_600_000, False),
        ("m", 60_000, False),
        ("s", 1000, False),
        ("ms", 1, False),
    ):
        if exact and ms % size:
            continue
        if ms // size:
            out += f"{ms // size}{unit}"
            ms -= ms // size * size
    return out


@dataclass(frozen=True, kw_only=True)
class Selector:
    name: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)

    def text(self, extra: tuple[tuple[str, str, str], ...] = ()) -> str:
        parts = [f'{label}{op}"{_escape(value)}"' for label, op, value in self.matchers + extra]
        return self.name + ("{" + ",".join(parts) + "}" if parts else "")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _op(op: Any) -> str:  # a promql_parser MatchOp
    # MatchOp values are not hashable: compare them one by one.
    for known, text in (
        (pp.MatchOp.Equal, "="),
        (pp.MatchOp.NotEqual, "!="),
        (pp.MatchOp.Re, "=~"),
        (pp.MatchOp.NotRe, "!~"),
    ):
        if op == known:
            return text
    raise ValueError(f"unknown matcher {op!r}")


def selector(text: object) -> Selector | None:
    """A Pyrra `metric:` value (a series selector) parsed, or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        node = pp.parse(text)
    except ValueError:
        return None
    if not isinstance(node, pp.VectorSelector):
        return None
    matchers = tuple((m.name, _op(m.op), m.value) for m in node.matchers.matchers if m.name != "__name__")
    name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), "")
    return Selector(name=name, matchers=matchers) if name else None


def _strip(metric: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        metric = metric.removesuffix(suffix)
    return metric


def _sum(grouping: list[str]) -> str:
    """The opening of a sum, grouped as Pyrra groups it: `sum by (a, b) (` or `sum(`."""
    return f"sum by ({', '.join(grouping)}) (" if grouping else "sum("


class _Slo:
    """One Pyrra objective being converted: its fields, where they are, and notes."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.notes: list[Note] = []
        meta = doc.data.get("metadata") or {}
        self.name = str(meta.get("name") or "")
        self.spec = doc.data.get("spec") or {}
        self.labels = {
            k[len(PROPAGATE) :]: v
            for k, v in labels_text(doc, ("metadata", "labels"), meta.get("labels")).items()
            if k.startswith(PROPAGATE)
        }
        self.annotations = {
            k[len(PROPAGATE) :]: v
            for k, v in labels_text(doc, ("metadata", "annotations"), meta.get("annotations")).items()
            if k.startswith(PROPAGATE)
        }

    def error(self, path: Path, message: str, expected: str) -> None:
        self.notes.append(Note(self.doc, path, message, True, expected))

    def common_labels(self) -> dict[str, Any]:
        return {"slo": self.name, **self.labels}


def _target(s: _Slo) -> str | None:
    raw = s.spec.get("target")
    try:
        value = float(str(raw))
    except ValueError:
        value = -1.0
    if isinstance(raw, bool) or not 0 < value < 100:
        s.error(("spec", "target"), f"target {raw!r} is not a percentage below 100", 'a string such as "99.5"')
        return None
    return repr(value / 100)  # Pyrra prints the ratio as Go's shortest float


# Fields promspec reads; any other is a warning at its position.
KNOWN = {
    ("spec",): {"target", "window", "description", "indicator", "alerting"},
    ("spec", "alerting"): {"name", "disabled", "burnrates", "absent", "absentName"},
}


def _unknown_fields(s: _Slo) -> None:
    for path, known in KNOWN.items():
        node = s.doc.data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        for key in node if isinstance(node, dict) else ():
            if key not in known:
                s.notes.append(
                    Note(
                        s.doc,
                        path + (key,),
                        f"Pyrra field {key!r} is not implemented by promspec: what it changes is not generated",
                    )
                )


def convert(doc: Document) -> tuple[list[Document], list[Note]]:
    """One Pyrra objective -> RecordingGroup and AlertGroup documents, and notes."""
    s = _Slo(doc)
    _unknown_fields(s)
    target = _target(s)
    try:
        window_ns = int(parse_duration(str(s.spec.get("window", "")))) * NS_PER_S
    except ValueError:
        s.error(("spec", "window"), f"window {s.spec.get('window')!r} is not a duration", "a window such as 4w or 30d")
        window_ns = 0
    indicator = s.spec.get("indicator") or {}
    kinds = [k for k in INDICATORS if k in indicator]
    if len(kinds) != 1:
        s.error(
            ("spec", "indicator"),
            f"an indicator needs exactly one of {', '.join(INDICATORS)} (found {', '.join(kinds) or 'none'})",
            "ratio, latency, latencyNative or boolGauge",
        )
    if any(n.error for n in s.notes) or not s.name:
        if not s.name:
            s.error(("metadata",), "the objective has no metadata.name", "metadata.name: the SLO's name")
        return [], s.notes
    kind = kinds[0]
    body = indicator[kind] or {}
    at = ("spec", "indicator", kind)
    built = _indicator(s, kind, body, at)
    if built is None:
        return [], s.notes
    return _documents(s, kind, built, at, target or "", window_ns), s.notes


@dataclass(frozen=True, kw_only=True)
class _Built:
    total: Selector
    errors: Selector | None  # ratio errors, latency success
    grouping: list[str]
    burnrate_metric: str
    latency_seconds: str = ""


def _side(s: _Slo, body: dict[str, Any], key: str, at: Path) -> Selector | None:
    side: dict[str, Any] = body[key] if isinstance(body.get(key), dict) else {}
    found = selector(side.get("metric"))
    if found is None:
        s.error(
            at + (key, "metric"),
            f"{key}.metric {side.get('metric')!r} is not a series selector",
            'a selector such as http_requests_total{job="api"}',
        )
    return found


def _indicator(s: _Slo, kind: str, body: dict[str, Any], at: Path) -> _Built | None:
    grouping = sorted({str(g) for g in body.get("grouping") or []})
    if kind == "boolGauge":
        metric = selector(body.get("metric"))
        if metric is None:
            s.error(
                at + ("metric",),
                f"metric {body.get('metric')!r} is not a series selector",
                'a selector such as probe_success{job="blackbox"}',
            )
            return None
        return _Built(total=metric, errors=None, grouping=grouping, burnrate_metric=metric.name)
    total = _side(s, body, "total", at)
    if kind == "latencyNative":
        try:
            seconds = parse_duration(str(body.get("latency", "")))
        except ValueError:
            s.error(at + ("latency",), f"latency {body.get('latency')!r} is not a duration", "a latency such as 1s")
            return None
        if total is None:
            return None
        return _Built(
            total=total,
            errors=None,
            grouping=grouping,
            burnrate_metric=total.name,
            latency_seconds=repr(seconds).removesuffix(".0"),
        )
    other = _side(s, body, "errors" if kind == "ratio" else "success", at)
    if total is None or other is None:
        return None
    return _Built(
        total=total, errors=other, grouping=grouping, burnrate_metric=_strip(total.name, ("_total", "_count"))
    )


def _burnrate_expr(kind: str, b: _Built, window: str) -> str:
    by = _sum(b.grouping)
    total = f"{by}rate({b.total.text()}[{window}]))"
    if kind == "ratio":
        assert b.errors is not None
        return f"{by}rate({b.errors.text()}[{window}])) / {total}"
    if kind == "latency":
        assert b.errors is not None
        return f"(\n  {total}\n  -\n  {by}rate({b.errors.text()}[{window}]))\n)\n/\n{total}"
    if kind == "latencyNative":
        return f"1 - histogram_fraction(0, {b.latency_seconds}, {total})"
    count = f"{by}count_over_time({b.total.text()}[{window}]))"
    return f"(\n  {count}\n  -\n  {by}sum_over_time({b.total.text()}[{window}]))\n)\n/\n{count}"


def _increase_interval(window_ns: int) -> str:
    days = window_ns // (86400 * NS_PER_S)
    for limit, seconds in ((7, 30), (14, 60), (21, 90), (28, 120), (35, 150), (42, 180), (49, 210)):
        if days < limit:
            return prom_duration(seconds * NS_PER_S)
    return "4m"


def _documents(s: _Slo, kind: str, b: _Built, at: Path, target: str, window_ns: int) -> list[Document]:
    window = prom_duration(window_ns)
    ws = windows(window_ns)
    equal = {label: value for label, op, value in b.total.matchers if op == "="}
    rule_labels = {k: v for k, v in {**s.common_labels(), **equal}.items() if k not in b.grouping}
    burnrates = sorted({w.short_ns for w in ws} | {w.long_ns for w in ws})
    records = [
        {
            "record": f"{b.burnrate_metric}:burnrate{prom_duration(ns)}",
            "expr": _burnrate_expr(kind, b, prom_duration(ns)),
            "labels": dict(rule_labels),
        }
        for ns in burnrates
    ]
    docs = [_group(s, "RecordingGroup", s.name, "30s", records, at)]
    increase = _increase(s, kind, b, window, rule_labels, at)
    if increase is not None:
        docs.insert(0, increase)
    alerting = s.spec.get("alerting") or {}
    if alerting.get("disabled"):
        return docs
    if alerting.get("burnrates", True):
        matchers = sorted(
            [
                f'{label}{op}"{_escape(value)}"'
                for label, op, value in b.total.matchers
                if label in b.grouping or op in ("=", "!=")
            ]
            + [f'slo="{_escape(s.name)}"']
        )
        sel = "{" + ",".join(matchers) + "}"
        name = str(alerting.get("name") or "ErrorBudgetBurn")
        alerts = []
        for w in ws:
            short, long = prom_duration(w.short_ns), prom_duration(w.long_ns)
            labels = {
                **s.common_labels(),
                **{k: v for k, v in equal.items() if k not in b.grouping},
                "short": short,
                "long": long,
                "exhaustion": prom_duration(window_ns // w.factor),
            }
            alert = {
                "name": name,
                "expr": f"{b.burnrate_metric}:burnrate{short}{sel} > ({w.factor} * (1-{target})) and "
                f"{b.burnrate_metric}:burnrate{long}{sel} > ({w.factor} * (1-{target}))",
                "for": prom_duration(w.for_ns),
                "severity": w.severity,
                "labels": labels,
            }
            if s.annotations:
                alert["annotations"] = dict(s.annotations)
            alerts.append(alert)
        docs.append(_group(s, "AlertGroup", f"{s.name}-alerts", "30s", alerts, at))
    if alerting.get("absent", True) and kind in ("ratio", "latency"):
        docs.append(_absent(s, b, window_ns, rule_labels, alerting, at))
    return docs


def _increase(s: _Slo, kind: str, b: _Built, window: str, rule_labels: dict[str, Any], at: Path) -> Document | None:
    if kind not in ("ratio", "latency"):
        return None  # Pyrra records the other kinds' totals differently; their alerts do not read them
    assert b.errors is not None
    extra = {label for label, _op, _v in b.errors.matchers} - {label for label, _op, _v in b.total.matchers}
    regex = {label for label, op, _v in b.total.matchers if op in ("=~", "!~")}
    grouping = sorted(set(b.grouping) | extra | regex)
    labels = {k: v for k, v in rule_labels.items() if k not in grouping}
    by = _sum(grouping)
    suffixes = ("_total", "_count", "_bucket")
    rules = [
        {
            "record": f"{_strip(b.total.name, suffixes)}:increase{window}",
            "expr": f"{by}increase({b.total.text()}[{window}]))",
            "labels": dict(labels),
        }
    ]
    if kind == "latency":
        le = next((v for label, _op, v in b.errors.matchers if label == "le"), "")
        rules.append(
            {
                "record": f"{_strip(b.errors.name, suffixes)}:increase{window}",
                "expr": f"{by}increase({b.errors.text()}[{window}]))",
                "labels": {"le": le, **labels},
            }
        )
    elif b.errors.name != b.total.name:
        rules.append(
            {
                "record": f"{_strip(b.errors.name, suffixes)}:increase{window}",
                "expr": f"{by}increase({b.errors.text()}[{window}]))",
                "labels": dict(labels),
            }
        )
    return _group(
        s, "RecordingGroup", f"{s.name}-increase", _increase_interval(int(parse_duration(window)) * NS_PER_S), rules, at
    )


def _absent(
    s: _Slo, b: _Built, window_ns: int, rule_labels: dict[str, Any], alerting: dict[str, Any], at: Path
) -> Document:
    name = str(alerting.get("absentName") or "SLOMetricAbsent")
    selectors = [b.total] + ([b.errors] if b.errors is not None and b.errors.name != b.total.name else [])
    alerts = [
        {
            "name": name,
            "expr": f"absent({sel.text()}) == 1",
            "for": prom_duration(_round_minute(window_ns // (28 * 24 * 30))),
            "severity": "critical",
            "labels": dict(rule_labels),
        }
        for sel in selectors
    ]
    # Pyrra evaluates these with the increase rules (every 2m30s for 4w), under their `for: 2m`; promspec
    # refuses a `for` shorter than the interval, so they run every 30s and fire within that interval.
    return _group(s, "AlertGroup", f"{s.name}-increase-alerts", "30s", alerts, at)


def _group(s: _Slo, kind: str, name: str, interval: str, rules: list[dict[str, Any]], at: Path) -> Document:
    draft = Draft(s.doc, {"apiVersion": API, "kind": kind})
    draft.put(("metadata", "name"), name, ("metadata", "name"))
    draft.put(("spec", "interval"), interval)
    key = "rules" if kind == "RecordingGroup" else "alerts"
    for i, rule in enumerate(rules):
        draft.put(("spec", key, i), rule, at)
        draft.origins[("spec", key, i, "expr")] = (s.doc, at)
    return draft.document()


def convert_documents(docs: list[Document]) -> Conversion:
    """Each Pyrra objective on its own."""
    out: list[Document] = []
    notes: list[Note] = []
    for doc in docs:
        converted, found = convert(doc)
        out += converted
        notes += found
    return Conversion(documents=out, notes=notes)


IMPORTER = Importer(
    name="pyrra",
    expected="a `pyrra.dev/v1alpha1` ServiceLevelObjective",
    detect=is_pyrra,
    convert=convert_documents,
)
