"""Generated dashboards: LLM serving per service and engine; which of the bundled spec files (the LLM guide's
two, GPU fleet, host: bundled.py) a project gets; and the SLO ones, templated bundled specs (slo_dashboards.py).

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
from .bundled import STATIC, bundled_dashboard, bundled_title
from .signals import Scope, anchor_metric, service_scope, signal_query
from .slo_dashboards import slo_dashboards
from .slo_thresholds import Thresholds

if TYPE_CHECKING:
    from ...model.project import Project
    from ...model.services import SLO


QUANTILES = ("0.5", "0.9", "0.95", "0.99")  # vLLM's example dashboard charts P50, P90, P95, P99 and the mean
LLM_FOLDER = "llm"
GPU_UID, HOST_UID, SLO_UID = "gpu-fleet", "host-overview", "slo-overview"
RATE = "$__rate_interval"
WORST_REPLICAS = 5  # "worst replicas" panels: few enough lines that the sick one stands out

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
        DroppedDashboard(uid=name, title=bundled_title(name), metrics=(static.anchor,), anchored=True)
        for static in STATIC
        if _catalog_ref(project, static.anchor) is None
        for name in static.names
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
    # The static bundled dashboards: spec files, made when their anchor is catalogued; their links to one
    # another name every bundled one, and the pruning drops those not made.
    for static in STATIC:
        anchor_ref = _catalog_ref(project, static.anchor)
        if anchor_ref is not None:
            out.extend(bundled_dashboard(name, anchor_ref) for name in static.names)
    out += slo_dashboards(services, groups, serving_uid)  # templated bundled specs: data/dashboards/templates/
    if getattr(project, "probes", None) or getattr(project, "llm_probe_targets", None):
        from .probes import probe_dashboards  # synthetic probes: only when the specs declare them

        out = probe_dashboards(project, out)
    presets = _prune(out, project, groups)
    return replace(presets, left_out=_unanchored(project) + presets.left_out)
