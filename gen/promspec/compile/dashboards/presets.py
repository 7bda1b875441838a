"""Generated dashboards: LLM serving per service and engine, the LLM guide's two, GPU fleet, host, SLOs
(the SLO ones are templated bundled specs, instantiated by templated.py).

Each preset returns the same model a Dashboard document produces, so one compiler, one checker and
one layout serve both. A preset only charts what the project knows: signals its backend exposes,
metrics its catalogs list, series its rules record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ...backends.adapter import Backend, Variant
from ...model.dashboards import Dashboard, DroppedDashboard, DroppedPanel, Link, Panel, Query, Row, Variable
from ...model.project import Project, RecordingRule, Ref, RuleGroup
from .signals import Scope, anchor_metric, service_scope, signal_query
from .templated import slo_dashboards

if TYPE_CHECKING:
    from ...model.project import Project
    from ...model.services import SLO

Thresholds = list[tuple[float | None, str]]  # (value, colour) steps, as Panel.thresholds holds them

QUANTILES = ("0.5", "0.9", "0.95", "0.99")  # vLLM's example dashboard charts P50, P90, P95, P99 and the mean
INFRA_FOLDER = "infrastructure"
LLM_FOLDER = "llm"
GPU_UID, HOST_UID, SLO_UID = "gpu-fleet", "host-overview", "slo-overview"
GPU_TITLE, HOST_TITLE = "GPU fleet", "Host overview"
GUIDE = (("llm-performance", "LLM Performance"), ("llm-errors", "LLM Errors"))
# The metric whose catalogue entry makes a preset: without it the preset is left out (quietly when no
# catalog ever listed it, with a warning after a likely rename). (anchor, ((uid, title), ...))
ANCHORS = (
    ("llm_request_total", GUIDE),
    ("promspec_gpu_up", ((GPU_UID, GPU_TITLE),)),
    ("node_cpu_seconds_total", ((HOST_UID, HOST_TITLE),)),
)
RATE = "$__rate_interval"
WORST_REPLICAS = 5  # "worst replicas" panels: few enough lines that the sick one stands out
HOTSPOTS = 10  # GPU hotspot panels: the N worst GPUs of the fleet instead of one line per GPU

# Panels of vLLM's example Grafana dashboard that read engine metrics outside the canonical signals
# (examples/online_serving/prometheus_grafana/grafana.json): (key, title, unit, metrics by engine).
# SGLang exposes the same request-length histograms under its own names.
REQUEST_SHAPE = (
    (
        "prompt_length",
        "Request prompt length",
        "none",
        ("vllm:request_prompt_tokens", "sglang:prompt_tokens_histogram"),
    ),
    (
        "generation_length",
        "Request generation length",
        "none",
        ("vllm:request_generation_tokens", "sglang:generation_tokens_histogram"),
    ),
    ("prefill_time", "Prefill time per request", "s", ("vllm:request_prefill_time_seconds",)),
    ("decode_time", "Decode time per request", "s", ("vllm:request_decode_time_seconds",)),
    ("max_generation_tokens", "Max generation tokens per request", "none", ("vllm:request_max_num_generation_tokens",)),
)


class _Make:
    """Short constructors for model objects that all point at one source document."""

    def __init__(self, ref: Ref):
        self.ref = ref

    def q(self, expr: str, legend: str = "", **kw: Any) -> Query:
        return Query(ref=self.ref, expr=expr, legend=legend, **kw)

    def s(self, signal: str, legend: str = "", quantile: str = "", **kw: Any) -> Query:
        return Query(
            ref=self.ref,
            signal=signal,
            legend=legend,
            quantile=float(quantile) if quantile else None,
            quantile_text=quantile,
            **kw,
        )

    def panel(self, title: str, queries: Iterable[Query], type: str = "timeseries", **kw: Any) -> Panel:
        return Panel(title=title, ref=self.ref, type=type, queries=list(queries), **kw)

    def row(self, title: str, panels: Iterable[Panel | None]) -> Row | None:
        row = Row(title=title, ref=self.ref, panels=[p for p in panels if p is not None])
        return row if row.panels else None

    def dashboard(
        self,
        name: str,
        title: str,
        folder: str,
        rows: Iterable[Row | None],
        variables: Iterable[str | Variable],
        **kw: Any,
    ) -> Dashboard:
        return Dashboard(
            name=name,
            ref=self.ref,
            title=title,
            uid=name,
            folder=folder,
            tags=tuple(kw.pop("tags", ())),
            variables=[Variable(name=v, ref=self.ref) if isinstance(v, str) else v for v in variables],
            rows=[r for r in rows if r is not None],
            source=self.ref.doc.source or self.ref.doc.file,
            generated=True,
            **kw,
        )


def _catalogued(project: Project, name: str) -> bool:
    for catalog in project.catalogs:
        if any(m.name == name for m in catalog.metrics):
            return True
        if any(re.fullmatch(p, name) for p in catalog.external):
            return True
    return False


def _catalog_ref(project: Project, name: str) -> Ref | None:
    for catalog in project.catalogs:
        for m in catalog.metrics:
            if m.name == name:
                return catalog.ref
        if any(re.fullmatch(p, name) for p in catalog.external):
            return catalog.ref
    return None


# ------------------------------------------------------------------------------------ LLM serving


def _latency_panel(m: _Make, scope: Scope, signal: str, title: str) -> Panel | None:
    if scope.variant(signal) is None:
        return None
    queries = [m.s(signal, f"p{_pct(q)}", quantile=q) for q in QUANTILES] + [m.s(signal, "mean", mean=True)]
    return m.panel(title, queries, unit="s")


def _pct(q: str) -> str:
    return format(float(q) * 100, "g")


def _has(scope: Scope, *signals: str) -> bool:
    return all(scope.variant(s) is not None for s in signals)


def _other(scope: Scope, names: tuple[str, ...]) -> Variant | None:
    """The first of an engine's extra histograms (from its Backend's `other` list) that it exposes."""
    found = {v.metric: v for v in scope.backend.other if v.type == "histogram"}
    for name in names:
        if name in found:
            return found[name]
    return None


def _shape_panels(m: _Make, scope: Scope) -> list[Panel]:
    panels = []
    for key, title, unit, names in REQUEST_SHAPE:
        variant = _other(scope, names)
        if variant is None:
            continue
        metric = scope.metric(variant)
        sel = scope.selector_text(variant.matchers)
        if key in ("prompt_length", "generation_length"):
            panels.append(
                m.panel(
                    title,
                    [m.q(f"sum by (le) (increase({metric}_bucket{sel}[{RATE}]))", "{{le}}", format="heatmap")],
                    type="heatmap",
                    unit=unit,
                )
            )
        else:
            panels.append(
                m.panel(
                    title,
                    [m.q(f"sum(rate({metric}_sum{sel}[{RATE}]))\n/\nsum(rate({metric}_count{sel}[{RATE}]))", "mean")],
                    unit=unit,
                )
            )
    return panels


def _ttft_thresholds(slos: tuple[SLO, ...]) -> Thresholds:
    """The TTFT stat's colours: red at the service's TTFT SLO threshold when it has one, else 1 s / 5 s."""
    from ..promql import parse_duration

    def seconds(text: str) -> float:  # a threshold written as a bare number is in seconds, as the SLO reads it
        try:
            return float(text)
        except ValueError:
            return parse_duration(text)

    limits = sorted(seconds(slo.threshold) for slo in slos if slo.signal == "ttft" and slo.threshold)
    if limits:
        return [(limits[0], "red")]
    return [(1, "orange"), (5, "red")]


def llm_serving(
    m: _Make,
    scope: Scope,
    name: str,
    title: str,
    folder: str,
    description: str,
    service: str = "",
    backend: str = "",
    links: tuple[str, ...] = (),  # uids of the dashboards to link to
    slos: tuple[SLO, ...] = (),
) -> Dashboard:
    """The LLM serving overview: traffic, errors, latency, tokens, scheduler and KV cache of one engine."""
    v = scope.variant
    requests = v("requests")
    outcome = next(
        (label for label in ("finished_reason", "status", "code") if requests and label in requests.labels), ""
    )
    overview = m.row(
        "Overview",
        [
            m.panel("Request rate", [m.s("requests", "requests/s")], "stat", unit="reqps", width=4)
            if _has(scope, "requests")
            else None,
            m.panel(
                "Error ratio",
                [m.s("errors", "error ratio", ratio=True)],
                "stat",
                unit="percentunit",
                decimals=2,
                width=4,
                thresholds=[(0.01, "orange"), (0.05, "red")],
            )
            if _has(scope, "errors", "requests")
            else None,
            m.panel(
                "TTFT p95",
                [m.s("ttft", "p95", quantile="0.95")],
                "stat",
                unit="s",
                width=4,
                thresholds=_ttft_thresholds(slos),
            )
            if _has(scope, "ttft")
            else None,
            m.panel("Running requests", [m.s("running", "running")], "stat", unit="short", width=4)
            if _has(scope, "running")
            else None,
            m.panel(
                "Waiting requests",
                [m.s("waiting", "waiting")],
                "stat",
                unit="short",
                width=4,
                thresholds=[(1, "orange"), (50, "red")],
            )
            if _has(scope, "waiting")
            else None,
            m.panel(
                "KV-cache usage",
                [m.s("kv_cache_usage", "KV cache")],
                "gauge",
                unit="percentunit",
                width=4,
                min=0,
                max=1,
                thresholds=[(0.8, "orange"), (0.95, "red")],
            )
            if _has(scope, "kv_cache_usage")
            else None,
        ],
    )
    traffic = m.row(
        "Traffic and errors",
        [
            m.panel("Request rate by model", [m.s("requests", by=("model",))], unit="reqps")
            if _has(scope, "requests")
            else None,
            m.panel(
                "Error ratio by model",
                [m.s("errors", ratio=True, by=("model",))],
                unit="percentunit",
                thresholds=[(0.01, "orange"), (0.05, "red")],
            )
            if _has(scope, "errors", "requests")
            else None,
            _errors_by(m, scope) if _has(scope, "errors") else None,
            m.panel("Finish reason", [m.s("requests", by=(outcome,))], unit="reqps", stack=True) if outcome else None,
        ],
    )
    latency = m.row(
        "Latency",
        [
            _latency_panel(m, scope, "ttft", "Time to first token"),
            m.panel("Time to first token (heatmap)", [m.s("ttft")], "heatmap", unit="s")
            if _has(scope, "ttft")
            else None,
            _latency_panel(m, scope, "inter_token_latency", "Inter-token latency"),
            _latency_panel(m, scope, "e2e_latency", "End-to-end request latency"),
            _latency_panel(m, scope, "queue_time", "Queue time"),
        ],
    )
    tokens = m.row(
        "Tokens",
        [
            m.panel(
                "Token throughput",
                [m.s(s, s.replace("_", " ") + "/s") for s in ("prompt_tokens", "generation_tokens") if _has(scope, s)],
                unit="suffix: tok/s",
            )
            if _has(scope, "prompt_tokens") or _has(scope, "generation_tokens")
            else None,
            m.panel("Generation tokens/s by model", [m.s("generation_tokens", by=("model",))], unit="suffix: tok/s")
            if _has(scope, "generation_tokens")
            else None,
        ],
    )
    scheduler = m.row(
        "Scheduler and KV cache",
        [
            m.panel("Scheduler state", [m.s(s, s) for s in ("running", "waiting") if _has(scope, s)], unit="short")
            if _has(scope, "running") or _has(scope, "waiting")
            else None,
            m.panel(
                "KV-cache usage by instance",
                [m.s("kv_cache_usage", by=("instance", "model"))],
                unit="percentunit",
                min=0,
                max=1,
                thresholds=[(0.8, "orange"), (0.95, "red")],
            )
            if _has(scope, "kv_cache_usage")
            else None,
            m.panel("Preemptions", [m.s("preemptions", "preemptions/s")], unit="cps")
            if _has(scope, "preemptions")
            else None,
        ],
    )
    shape = m.row("Request shape", _shape_panels(m, scope))
    replicas = m.row("Replicas", _replica_panels(m, scope))
    variables: list[str | Variable] = ["datasource", "job", "instance", "model"]
    return m.dashboard(
        name,
        title,
        folder,
        [overview, replicas, traffic, latency, tokens, scheduler, shape, *_coverage().engine_rows(m, scope)],
        variables,
        description=description,
        service=service,
        backend=backend,
        tags=("llm", scope.backend.name),
        links=[Link(dashboard=uid) for uid in links],
    )


def _coverage() -> ModuleType:
    """The LLM engines' coverage rows; imported late, it imports us."""
    from . import coverage

    return coverage


def _coverage_infra() -> ModuleType:
    """The GPU fleet's and host's coverage rows; imported late, it imports us."""
    from . import coverage_infra

    return coverage_infra


def _engine_targets(scope: Scope) -> str:
    """`up` of the scrape targets in the jobs that serve this engine.

    `$job` at All is `.*`, which would count every target Prometheus scrapes; the jobs are those that
    expose the engine's anchor series, so a dead replica (whose own series are gone) still counts in
    its job. Only the job and instance variables apply: `up` has no model label."""
    pinned = {k: v for k, v in scope.selector.items() if k in ("job", "instance")}
    sel = replace(scope, selector=pinned, variables=tuple(v for v in scope.variables if v != "model"))
    # Jobs, not instances: a chosen dead instance has no engine series left to match.
    jobs = replace(scope, variables=("job",))
    anchor = anchor_metric(scope)
    # Parenthesised: a comparison after it binds tighter than `and`.
    return f"(\n  up{sel.selector_text()}\nand on (job)\n  group by (job) ({anchor}{jobs.selector_text()})\n)"


def _worst(scope: Scope, signal: str, **kw: Any) -> str:
    """The WORST_REPLICAS highest series of a signal taken by instance."""
    expr, _legend, _format = signal_query(scope, signal, by=("instance",), **kw)
    return f"topk({WORST_REPLICAS},\n{expr}\n)"


def _replica_panels(m: _Make, scope: Scope) -> list[Panel | None]:
    """Replicas up, and each replica's latency, queue and errors as its worst few: the sick one stands out."""
    targets = _engine_targets(scope)
    panels: list[Panel | None] = [
        m.panel(
            "Replicas up",
            [m.q(f"count({targets} == 1) or vector(0)", "up"), m.q(f"count{targets}", "total")],
            "stat",
            unit="none",
            width=6,
            description="Scrape targets of the engine's jobs that answer (`up == 1`), and all of them.",
        ),
        m.panel(
            "Replicas down",
            [m.q(f"count({targets} == 0) or vector(0)", "down")],
            "stat",
            unit="none",
            width=6,
            thresholds=[(1, "red")],
            description="Targets of the engine's jobs whose last scrape failed: red when fewer than all are up.",
        ),
    ]
    if _has(scope, "ttft"):
        panels.append(
            m.panel(
                f"TTFT p95: worst {WORST_REPLICAS} replicas",
                [m.q(_worst(scope, "ttft", quantile=0.95, quantile_written="0.95"), "{{instance}}")],
                unit="s",
            )
        )
    if _has(scope, "waiting"):
        panels.append(
            m.panel(
                f"Waiting requests: worst {WORST_REPLICAS} replicas",
                [m.q(_worst(scope, "waiting"), "{{instance}}")],
                unit="short",
            )
        )
    if _has(scope, "errors", "requests"):
        panels.append(
            m.panel(
                f"Error ratio: worst {WORST_REPLICAS} replicas",
                [m.q(_worst(scope, "errors", ratio=True), "{{instance}}")],
                unit="percentunit",
                thresholds=[(0.01, "orange"), (0.05, "red")],
            )
        )
    return panels


def _errors_by(m: _Make, scope: Scope) -> Panel:
    errors = scope.variant("errors")
    kinds = tuple(label for label in ("type", "error_type") if errors and label in errors.labels)
    title = "Errors by type" if kinds else "Errors by model"
    return m.panel(title, [m.s("errors", by=kinds or ("model",))], unit="cps")


def _engine_title(backend: Backend) -> str:
    return backend.title


# ------------------------------------------------------------------------------------ LLM guide


def llm_guide(m: _Make, links: tuple[str, ...]) -> list[Dashboard]:
    """The LLM monitoring guide's "LLM Performance" and "LLM Errors" dashboards, on the generic llm_* metrics."""
    sel = '{job=~"$job", instance=~"$instance", model=~"$model"}'
    variables: list[str | Variable] = ["datasource"] + [
        Variable(name=v, ref=m.ref, metric="llm_request_total") for v in ("job", "instance", "model")
    ]
    perf = m.dashboard(
        *GUIDE[0],
        LLM_FOLDER,
        [
            m.row(
                "Requests",
                [
                    m.panel(
                        "Request rate",
                        [m.q(f"sum by (model) (rate(llm_request_total{sel}[{RATE}]))", "{{model}}")],
                        unit="reqps",
                    ),
                    m.panel(
                        "Response time",
                        [
                            m.q(
                                f"sum by (le) (increase(llm_request_duration_seconds_bucket{sel}[{RATE}]))",
                                "{{le}}",
                                format="heatmap",
                            )
                        ],
                        "heatmap",
                        unit="s",
                    ),
                    m.panel(
                        "Response time p50 / p95 / p99",
                        [
                            m.q(
                                f"histogram_quantile({q}, sum by (le, model) "
                                f"(rate(llm_request_duration_seconds_bucket{sel}[{RATE}])))",
                                f"{{{{model}}}} p{_pct(q)}",
                            )
                            for q in ("0.5", "0.95", "0.99")
                        ],
                        unit="s",
                    ),
                    m.panel(
                        "Requests by operation",
                        [m.q(f"sum by (operation) (rate(llm_request_total{sel}[{RATE}]))", "{{operation}}")],
                        unit="reqps",
                        stack=True,
                    ),
                ],
            ),
            m.row(
                "Tokens",
                [
                    m.panel(
                        "Token usage",
                        [m.q(f"sum by (model) (rate(llm_tokens_total{sel}[{RATE}]))", "{{model}}")],
                        unit="suffix: tok/s",
                    ),
                    m.panel(
                        "Tokens per request",
                        [
                            m.q(
                                f"sum by (model) (rate(llm_tokens_total{sel}[{RATE}]))\n/\n"
                                f"sum by (model) (rate(llm_request_total{sel}[{RATE}]))",
                                "{{model}}",
                            )
                        ],
                        unit="none",
                        decimals=0,
                    ),
                ],
            ),
        ],
        variables,
        description="Request rate, response time and token usage of applications instrumented with "
        "the generic llm_* metrics.",
        tags=("llm",),
        links=[Link(dashboard=u) for u in links],
    )
    errors = m.dashboard(
        *GUIDE[1],
        LLM_FOLDER,
        [
            m.row(
                "Errors",
                [
                    m.panel(
                        "Error rate by type",
                        [m.q(f"sum by (type) (rate(llm_error_total{sel}[{RATE}]))", "{{type}}")],
                        unit="cps",
                        stack=True,
                    ),
                    m.panel(
                        "Error ratio by model",
                        [
                            m.q(
                                f"sum by (model) (rate(llm_error_total{sel}[{RATE}]))\n/\n"
                                f"sum by (model) (rate(llm_request_total{sel}[{RATE}]))",
                                "{{model}}",
                            )
                        ],
                        unit="percentunit",
                        thresholds=[(0.01, "orange"), (0.05, "red")],
                    ),
                    m.panel(
                        "Fallback rate",
                        [
                            m.q(
                                f"sum by (model) (rate(llm_fallback_total{sel}[{RATE}]))\n/\n"
                                f"sum by (model) (rate(llm_request_total{sel}[{RATE}]))",
                                "{{model}}",
                            )
                        ],
                        unit="percentunit",
                    ),
                    m.panel(
                        "Rate-limited requests",
                        [m.q(f"sum by (model) (rate(llm_rate_limit_exceeded_total{sel}[{RATE}]))", "{{model}}")],
                        unit="reqps",
                    ),
                ],
            ),
        ],
        variables,
        description="Error rate by type, error ratio, fallbacks and rate limiting of applications "
        "instrumented with the generic llm_* metrics.",
        tags=("llm",),
        links=[Link(dashboard=u) for u in links],
    )
    return [perf, errors]


# ------------------------------------------------------------------------------------ GPU fleet


def born_counter_increase(metric: str, sel: str, window: str) -> str:
    """Errors counted in a window by a counter whose series appears at its first error (born at 1, not 0).

    increase() sees no rise in a series whose first sample is already 1, so a GPU's first XID reads 0 while
    the GPUXidErrors alert fires; a series absent a window ago adds its first value (min_over_time of a
    counter), the way that alert adds the series born in its window. `offset` by a range variable is
    interpolated by Grafana like the range itself."""
    series = f"{metric}{sel}"
    born = f"(min_over_time({series}[{window}]) unless {series} offset {window})"
    # A series with a single sample in the window has no increase(): the born term alone counts it.
    return f"(increase({series}[{window}]) + {born})\nor {born}\nor increase({series}[{window}])"


def gpu_fleet(m: _Make, project: Project) -> Dashboard:
    """GPU fleet: utilisation, memory, power, thermals, clocks, throttling, XID/ECC errors, per host and GPU."""
    sel = '{job=~"$job", instance=~"$instance", gpu=~"$gpu"}'
    xid = "promspec_gpu_xid_errors_total"

    def opt(name: str, panel: Panel) -> Panel | None:
        return panel  # _prune leaves it out, with a warning, when `name` is in no catalog

    rows = [
        m.row(
            "Fleet",
            [
                m.panel("GPUs up", [m.q(f"sum(promspec_gpu_up{sel})", "up")], "stat", unit="none", width=3),
                m.panel(
                    "GPUs lost",
                    [m.q(f"count(promspec_gpu_up{sel} == 0) or vector(0)", "lost")],
                    "stat",
                    unit="none",
                    width=3,
                    thresholds=[(1, "red")],
                ),
                m.panel(
                    "Exporters lost",
                    [
                        m.q(
                            'count(up{job=~"$job", instance=~"$instance"} == 0\nand on (job)\n'
                            'group by (job) (last_over_time(promspec_gpu_up{job=~"$job"}[1d]))) or vector(0)',
                            "lost",
                        )
                    ],
                    "stat",
                    unit="none",
                    width=3,
                    thresholds=[(1, "red")],
                    description="Exporter targets whose last scrape failed (`up == 0`) in jobs that served GPU "
                    "series in the last day: a dead host or exporter, whose GPUs no longer report at all (a job "
                    "whose every exporter died still counts).",
                ),
                m.panel(
                    "Mean utilisation",
                    [m.q(f"avg(promspec_gpu_utilization_ratio{sel})", "utilisation")],
                    "gauge",
                    unit="percentunit",
                    min=0,
                    max=1,
                    width=4,
                ),
                m.panel(
                    "Memory used",
                    [
                        m.q(
                            f"sum(promspec_gpu_memory_used_bytes{sel})\n/\nsum(promspec_gpu_memory_total_bytes{sel})",
                            "memory",
                        )
                    ],
                    "gauge",
                    unit="percentunit",
                    min=0,
                    max=1,
                    width=4,
                    thresholds=[(0.9, "orange"), (0.98, "red")],
                ),
                m.panel(
                    "Power draw", [m.q(f"sum(promspec_gpu_power_watts{sel})", "power")], "stat", unit="watt", width=4
                ),
                m.panel(
                    "XID errors (range)",
                    [m.q(f"sum({born_counter_increase(xid, sel, '$__range')}) or vector(0)", "XID")],
                    "stat",
                    unit="none",
                    width=3,
                    thresholds=[(1, "red")],
                ),
            ],
        ),
        m.row(
            "Utilisation and memory",
            [
                m.panel(
                    "GPU utilisation",
                    [m.q(f"avg by (instance, gpu) (promspec_gpu_utilization_ratio{sel})", "{{instance}} GPU {{gpu}}")],
                    unit="percentunit",
                    min=0,
                    max=1,
                ),
                m.panel(
                    "Memory bandwidth utilisation",
                    [
                        m.q(
                            f"avg by (instance, gpu) (promspec_gpu_memory_utilization_ratio{sel})",
                            "{{instance}} GPU {{gpu}}",
                        )
                    ],
                    unit="percentunit",
                    min=0,
                    max=1,
                ),
                m.panel(
                    "Memory used",
                    [m.q(f"sum by (instance, gpu) (promspec_gpu_memory_used_bytes{sel})", "{{instance}} GPU {{gpu}}")],
                    unit="bytes",
                ),
                m.panel(
                    f"Memory used share: top {HOTSPOTS} GPUs",
                    [
                        m.q(
                            f"topk({HOTSPOTS},\nsum by (instance, gpu) (promspec_gpu_memory_used_bytes{sel})\n/\n"
                            f"sum by (instance, gpu) (promspec_gpu_memory_total_bytes{sel})\n)",
                            "{{instance}} GPU {{gpu}}",
                        )
                    ],
                    unit="percentunit",
                    min=0,
                    max=1,
                    thresholds=[(0.9, "orange"), (0.98, "red")],
                ),
            ],
        ),
        m.row(
            "Power and thermals",
            [
                m.panel("Power draw", [m.q(f"promspec_gpu_power_watts{sel}", "{{instance}} GPU {{gpu}}")], unit="watt"),
                m.panel(
                    "Power draw / limit",
                    [
                        m.q(
                            f"promspec_gpu_power_watts{sel}\n/\npromspec_gpu_power_limit_watts{sel}",
                            "{{instance}} GPU {{gpu}}",
                        )
                    ],
                    unit="percentunit",
                    min=0,
                    thresholds=[(0.95, "orange")],
                ),
                m.panel(
                    f"Temperature: hottest {HOTSPOTS} GPUs",
                    [
                        m.q(
                            f"topk({HOTSPOTS}, max by (instance, gpu) (promspec_gpu_temperature_celsius{sel}))",
                            "{{instance}} GPU {{gpu}}",
                        )
                    ],
                    unit="celsius",
                    thresholds=[(80, "orange"), (90, "red")],
                ),
                m.panel(
                    "Headroom to slowdown temperature",
                    [
                        m.q(
                            'promspec_gpu_temperature_threshold_celsius{job=~"$job", instance=~"$instance", '
                            'gpu=~"$gpu", threshold="slowdown"}\n- ignoring(threshold)\n'
                            f"promspec_gpu_temperature_celsius{sel}",
                            "{{instance}} GPU {{gpu}}",
                        )
                    ],
                    unit="celsius",
                    thresholds=[(0, "red"), (5, "orange"), (10, "green")],
                ),
                opt(
                    "promspec_gpu_memory_temperature_celsius",
                    m.panel(
                        "Memory temperature",
                        [m.q(f"promspec_gpu_memory_temperature_celsius{sel}", "{{instance}} GPU {{gpu}}")],
                        unit="celsius",
                    ),
                ),
                opt(
                    "promspec_gpu_energy_joules_total",
                    m.panel(
                        "Energy",
                        [
                            m.q(
                                f"sum by (instance) (increase(promspec_gpu_energy_joules_total{sel}[$__range]))",
                                "{{instance}}",
                            )
                        ],
                        "bargauge",
                        unit="joule",
                    ),
                ),
            ],
        ),
        m.row(
            "Clocks and throttling",
            [
                m.panel(
                    "Clocks",
                    [m.q(f"promspec_gpu_clock_hertz{sel}", "{{instance}} GPU {{gpu}} {{clock}}")],
                    unit="hertz",
                ),
                m.panel(
                    "GPUs throttled now",
                    [
                        m.q(
                            "max by (instance, gpu, reason) (promspec_gpu_clock_event_active"
                            '{job=~"$job", instance=~"$instance", gpu=~"$gpu", reason!="gpu_idle"}) == 1',
                            instant=True,
                            format="table",
                        )
                    ],
                    "table",
                    unit="none",
                    transformations=[("organize", {"excludeByName": {"Time": True, "Value": True}})],
                    description="One row per GPU and NVML clock event reason holding its clocks down now; "
                    "gpu_idle (low clocks with no work) is left out. Empty: nothing throttled.",
                ),
            ],
        ),
        m.row(
            "Errors",
            [
                m.panel(
                    f"Most XID errors (range): top {HOTSPOTS} GPUs",
                    [
                        m.q(
                            f"topk({HOTSPOTS}, sum by (instance, gpu) ("
                            f"{born_counter_increase(xid, sel, '$__range')}) > 0)",
                            "{{instance}} GPU {{gpu}}",
                            instant=True,
                        )
                    ],
                    "bargauge",
                    unit="none",
                    min=0,
                    thresholds=[(1, "red")],
                ),
                m.panel(
                    f"Most ECC errors (range): top {HOTSPOTS} GPUs",
                    [
                        m.q(
                            f"topk({HOTSPOTS}, sum by (instance, gpu) ("
                            f"{born_counter_increase('promspec_gpu_ecc_errors_total', sel, '$__range')}) > 0)",
                            "{{instance}} GPU {{gpu}}",
                            instant=True,
                        )
                    ],
                    "bargauge",
                    unit="none",
                    min=0,
                    thresholds=[(1, "red")],
                ),
                m.panel(
                    "XID errors",
                    [
                        m.q(
                            f"sum by (instance, gpu, xid) ({born_counter_increase(xid, sel, RATE)})",
                            "{{instance}} GPU {{gpu}} XID {{xid}}",
                        )
                    ],
                    unit="none",
                    thresholds=[(1, "red")],
                ),
                m.panel(
                    "ECC errors",
                    [
                        m.q(
                            f"sum by (instance, gpu, type) ("
                            f"{born_counter_increase('promspec_gpu_ecc_errors_total', sel, RATE)})",
                            "{{instance}} GPU {{gpu}} {{type}}",
                        )
                    ],
                    unit="none",
                ),
                opt(
                    "promspec_gpu_retired_pages",
                    m.panel(
                        "Retired pages",
                        [
                            m.q(
                                f"sum by (instance, gpu, cause) (promspec_gpu_retired_pages{sel})",
                                "{{instance}} GPU {{gpu}} {{cause}}",
                            )
                        ],
                        unit="none",
                    ),
                ),
                opt(
                    "promspec_gpu_remapped_rows",
                    m.panel(
                        "Remapped rows",
                        [
                            m.q(
                                f"sum by (instance, gpu, state) (promspec_gpu_remapped_rows{sel})",
                                "{{instance}} GPU {{gpu}} {{state}}",
                            )
                        ],
                        unit="none",
                    ),
                ),
                opt(
                    "promspec_gpu_pcie_replays_total",
                    m.panel(
                        "PCIe replays",
                        [
                            m.q(
                                f"sum by (instance, gpu) (rate(promspec_gpu_pcie_replays_total{sel}[{RATE}]))",
                                "{{instance}} GPU {{gpu}}",
                            )
                        ],
                        unit="cps",
                    ),
                ),
            ],
        ),
        m.row(
            "Per host",
            [
                m.panel(
                    "Utilisation by host",
                    [m.q(f"avg by (instance) (promspec_gpu_utilization_ratio{sel})", "{{instance}}")],
                    "bargauge",
                    unit="percentunit",
                    min=0,
                    max=1,
                ),
                m.panel(
                    "GPU inventory",
                    [m.q(f"promspec_gpu_info{sel}", instant=True, format="table")],
                    "table",
                    unit="none",
                    transformations=[("organize", {"excludeByName": {"Time": True, "Value": True, "__name__": True}})],
                ),
            ],
        ),
    ]
    variables: list[str | Variable] = [
        "datasource",
        Variable(name="job", ref=m.ref, metric="promspec_gpu_up"),
        Variable(name="instance", ref=m.ref, metric="promspec_gpu_up"),
        Variable(name="gpu", ref=m.ref, metric="promspec_gpu_up"),
    ]
    rows += _coverage_infra().gpu_rows(m)
    return m.dashboard(
        GPU_UID,
        GPU_TITLE,
        INFRA_FOLDER,
        rows,
        variables,
        tags=("gpu",),
        description="GPUs served by promspec-exporter: pick a host and a GPU to drill down.",
        links=[Link(dashboard=HOST_UID)],
    )


# ------------------------------------------------------------------------------------ host


def host_overview(m: _Make, project: Project, links: tuple[str, ...]) -> Dashboard:
    """Host overview: CPU, memory, pressure, disk and network from node_exporter-compatible metrics."""
    sel = '{job=~"$job", instance=~"$instance"}'
    fs = '{job=~"$job", instance=~"$instance", fstype!~"tmpfs|overlay|squashfs"}'

    def opt(name: str, panel: Panel) -> Panel | None:
        return panel  # _prune leaves it out, with a warning, when `name` is in no catalog

    rows = [
        m.row(
            "CPU",
            [
                m.panel(
                    "CPU utilisation",
                    [
                        m.q(
                            f'1 - avg by (instance) (rate(node_cpu_seconds_total{{job=~"$job", '
                            f'instance=~"$instance", mode="idle"}}[{RATE}]))',
                            "{{instance}}",
                        )
                    ],
                    unit="percentunit",
                    min=0,
                    max=1,
                ),
                m.panel(
                    "CPU by mode",
                    [
                        m.q(
                            f'avg by (instance, mode) (rate(node_cpu_seconds_total{{job=~"$job", '
                            f'instance=~"$instance", mode!="idle"}}[{RATE}]))',
                            "{{instance}} {{mode}}",
                        )
                    ],
                    unit="percentunit",
                    min=0,
                    description="Share of each host's CPUs busy in each mode (the "
                    "modes of one host stack up to its utilisation).",
                ),
                opt(
                    "node_load1",
                    m.panel(
                        "Load average",
                        [m.q(f"node_load{n}{sel}", f"{{{{instance}}}} {n}m") for n in (1, 5, 15)],
                        unit="short",
                    ),
                ),
            ],
        ),
        m.row(
            "Memory",
            [
                m.panel(
                    "Memory used",
                    [
                        m.q(
                            f"1 - node_memory_MemAvailable_bytes{sel}\n/\nnode_memory_MemTotal_bytes{sel}",
                            "{{instance}}",
                        )
                    ],
                    unit="percentunit",
                    min=0,
                    max=1,
                    thresholds=[(0.9, "orange"), (0.95, "red")],
                ),
                m.panel(
                    "Memory available", [m.q(f"node_memory_MemAvailable_bytes{sel}", "{{instance}}")], unit="bytes"
                ),
            ],
        ),
        m.row(
            "Pressure (PSI)",
            [
                m.panel(
                    "CPU waiting",
                    [m.q(f"rate(node_pressure_cpu_waiting_seconds_total{sel}[{RATE}])", "{{instance}}")],
                    unit="percentunit",
                ),
                m.panel(
                    "Memory waiting",
                    [m.q(f"rate(node_pressure_memory_waiting_seconds_total{sel}[{RATE}])", "{{instance}}")],
                    unit="percentunit",
                ),
                m.panel(
                    "I/O waiting",
                    [m.q(f"rate(node_pressure_io_waiting_seconds_total{sel}[{RATE}])", "{{instance}}")],
                    unit="percentunit",
                ),
            ],
        ),
        m.row(
            "Disk",
            [
                m.panel(
                    "Filesystem used",
                    [
                        m.q(
                            f"1 - node_filesystem_avail_bytes{fs}\n/\nnode_filesystem_size_bytes{fs}",
                            "{{instance}} {{mountpoint}}",
                        )
                    ],
                    unit="percentunit",
                    min=0,
                    max=1,
                    thresholds=[(0.8, "orange"), (0.9, "red")],
                ),
                m.panel(
                    "Disk throughput",
                    [
                        m.q(f"sum by (instance) (rate(node_disk_read_bytes_total{sel}[{RATE}]))", "{{instance}} read"),
                        m.q(
                            f"sum by (instance) (rate(node_disk_written_bytes_total{sel}[{RATE}]))",
                            "{{instance}} written",
                        ),
                    ],
                    unit="Bps",
                ),
                m.panel(
                    "Disk busy",
                    [m.q(f"rate(node_disk_io_time_seconds_total{sel}[{RATE}])", "{{instance}} {{device}}")],
                    unit="percentunit",
                    min=0,
                    max=1,
                ),
            ],
        ),
        m.row(
            "Network",
            [
                m.panel(
                    "Network throughput",
                    [
                        m.q(
                            "sum by (instance) (rate(node_network_receive_bytes_total"
                            f'{{job=~"$job", instance=~"$instance", device!="lo"}}[{RATE}]))',
                            "{{instance}} received",
                        ),
                        m.q(
                            "sum by (instance) (rate(node_network_transmit_bytes_total"
                            f'{{job=~"$job", instance=~"$instance", device!="lo"}}[{RATE}]))',
                            "{{instance}} sent",
                        ),
                    ],
                    unit="Bps",
                ),
                m.panel(
                    "Network errors and drops",
                    [
                        m.q(
                            f"sum by (instance) (rate(node_network_receive_errs_total{sel}[{RATE}]) + "
                            f"rate(node_network_transmit_errs_total{sel}[{RATE}]))",
                            "{{instance}} errors",
                        ),
                        m.q(
                            f"sum by (instance) (rate(node_network_receive_drop_total{sel}[{RATE}]) + "
                            f"rate(node_network_transmit_drop_total{sel}[{RATE}]))",
                            "{{instance}} drops",
                        ),
                    ],
                    unit="pps",
                ),
            ],
        ),
    ]
    rows += _coverage_infra().host_rows(m)
    # One job at a time: node_exporter and promspec-exporter on the same host both export node_* series,
    # under two instances (ports); "All" would draw each host twice.
    variables: list[str | Variable] = [
        "datasource",
        Variable(name="job", ref=m.ref, metric="node_cpu_seconds_total", multi=False, include_all=False),
        Variable(name="instance", ref=m.ref, metric="node_cpu_seconds_total"),
    ]
    return m.dashboard(
        HOST_UID,
        HOST_TITLE,
        INFRA_FOLDER,
        rows,
        variables,
        tags=("host",),
        description="CPU, memory, pressure, disk and network of the hosts (node_exporter-compatible "
        "metrics, from promspec-exporter or node_exporter).",
        links=[Link(dashboard=u) for u in links],
    )


# ------------------------------------------------------------------------------------ all


@dataclass(frozen=True, kw_only=True)
class Presets:
    """The generated dashboards of a project, and those left out because nothing they read is catalogued."""

    dashboards: list[Dashboard]
    left_out: list[DroppedDashboard]


def _prune(dashes: list[Dashboard], project: Project, groups: list[RuleGroup]) -> Presets:
    """Drop PromQL queries that read series the project neither catalogues nor records, then empty panels
    and rows: a project with part of a catalog (or none of the exporter's optional metrics) gets the rest.
    What is dropped is recorded (dash.dropped, Presets.left_out) for the warnings and `promspec diff`."""
    from ...check.panel_queries import panel_query
    from ...check.semantic import Universe

    universe = Universe(project)
    recorded = {r.record for g in groups for r in g.rules if isinstance(r, RecordingRule)}

    def unknown(query: Query) -> list[str]:
        # signals resolve to their backend's metrics, which the backend catalogues
        names = panel_query(query.expr).metrics if query.expr else ()
        return [n for n in names if n not in recorded and not universe.known(n)]

    out = []
    left_out = []
    for dash in dashes:
        dropped = list(dash.dropped)
        rows = []
        for row in dash.rows:
            panels = []
            for panel in row.panels:
                lost = [unknown(q) for q in panel.queries]
                queries = [q for q, names in zip(panel.queries, lost, strict=True) if not names]
                metrics = tuple(sorted({n for names in lost for n in names}))
                if metrics and panel.type != "text":
                    dropped.append(
                        DroppedPanel(row=row.title, title=panel.title, metrics=metrics, partial=bool(queries))
                    )
                if queries or panel.type == "text":
                    panels.append(panel if len(queries) == len(panel.queries) else replace(panel, queries=queries))
            if panels:
                rows.append(replace(row, panels=panels))
        pruned = replace(dash, rows=rows, dropped=dropped)
        if any(p.queries for _r, p in pruned.panels()):
            out.append(pruned)
        else:
            metrics = tuple(sorted({n for d in dropped for n in d.metrics}))
            left_out.append(DroppedDashboard(uid=dash.uid, title=dash.title, metrics=metrics, ref=dash.ref))
    kept = {d.uid for d in out}
    return Presets(
        dashboards=[
            replace(dash, links=[link for link in dash.links if not link.dashboard or link.dashboard in kept])
            for dash in out
        ],
        left_out=left_out,
    )


def _unanchored(project: Project) -> list[DroppedDashboard]:
    """The presets not made at all because their anchor metric is in no catalog."""
    return [
        DroppedDashboard(uid=uid, title=title, metrics=(anchor,), anchored=True)
        for anchor, made in ANCHORS
        if _catalog_ref(project, anchor) is None
        for uid, title in made
    ]


def preset_dashboards(project: Project, groups: list[RuleGroup]) -> Presets:
    """Every generated dashboard for a project, in a stable order, and the presets left out; groups: all its
    rule groups (spec and generated), whose recorded series the SLO dashboards chart and the pruning keeps."""
    out: list[Dashboard] = []
    services = list(getattr(project, "services", []) or [])
    backends = dict(getattr(project, "backends", {}) or {})
    # SLOs kept in a foreign tool's conventions (Sloth) record that tool's series; its own dashboard reads them.
    slos = [slo for s in services for slo in s.slos if slo.conventions == "promspec"]
    gpu_ref = _catalog_ref(project, "promspec_gpu_up")
    host_ref = _catalog_ref(project, "node_cpu_seconds_total")
    infra = tuple(u for u, ref in ((GPU_UID, gpu_ref), (HOST_UID, host_ref)) if ref is not None)
    slo_link = (SLO_UID,) if slos else ()
    for name in sorted(backends):
        backend = backends[name]
        m = _Make(backend.ref)
        out.append(
            llm_serving(
                m,
                Scope(backend=backend, variables=("job", "instance", "model")),
                f"llm-engine-{name}",
                f"LLM serving: {name}",
                LLM_FOLDER,
                f"Every {_engine_title(backend)} replica Prometheus scrapes.",
                backend=name,
                links=infra + slo_link,
            )
        )
    serving_uid = {}
    for service in sorted(services, key=lambda s: s.name):
        backend = backends.get(service.backend)
        if backend is None:
            continue
        m = _Make(service.ref)
        uid = f"llm-service-{service.name}"
        serving_uid[service.name] = uid
        scope = service_scope(service, backend, ("job", "instance", "model"))
        out.append(
            llm_serving(
                m,
                scope,
                uid,
                f"LLM serving: {service.name}",
                service.labels.get("team", LLM_FOLDER),
                f"Service {service.name} on {backend.name}.",
                service=service.name,
                links=infra + slo_link,
                slos=tuple(service.slos),
            )
        )
    guide_ref = _catalog_ref(project, "llm_request_total")
    if guide_ref is not None:
        out.extend(llm_guide(_Make(guide_ref), infra))
    if gpu_ref is not None:
        out.append(gpu_fleet(_Make(gpu_ref), project))
    if host_ref is not None:
        out.append(host_overview(_Make(host_ref), project, tuple(u for u in infra if u != HOST_UID)))
    out += slo_dashboards(services, groups, serving_uid)  # templated bundled specs: data/dashboards/slo-*.yml
    if getattr(project, "probes", None) or getattr(project, "llm_probe_targets", None):
        from .probes import probe_dashboards  # synthetic probes: only when the specs declare them

        out = probe_dashboards(project, out)
    presets = _prune(out, project, groups)
    return replace(presets, left_out=_unanchored(project) + presets.left_out)
