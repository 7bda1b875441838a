"""What `promspec top` and `promspec report` ask Prometheus, built from the model (never from rule text).

Each Service names a Backend; the Backend's adapter resolves canonical signals (requests, errors,
ttft, ...) to the metric names that engine version really exposes. The SLOs come from the same model,
and their live values from the recorded series of docs/SLO.md (slo_id labels).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..backends.adapter import Backend, Variant, underscored
from ..compile.promql import parse_duration, selector
from ..model.project import Project
from ..model.services import SLO, Service
from ..model.sli.base import SHORT_WINDOW
from .collect import _merge, _number, chunks
from .http import request_with_retries
from .status import StatusSLO, StatusTier

# promspec-exporter's GPU series (specs/catalog/exporter.yml); a GPU is keyed by instance and gpu.
GPU_METRICS = {
    "util": "promspec_gpu_utilization_ratio",
    "mem_used": "promspec_gpu_memory_used_bytes",
    "mem_total": "promspec_gpu_memory_total_bytes",
    "temp": "promspec_gpu_temperature_celsius",
    "power": "promspec_gpu_power_watts",
    "energy": "promspec_gpu_energy_joules_total",
    "throttle": "promspec_gpu_clock_event_active",
    "xid": "promspec_gpu_xid_errors_total",
}
# Clock events that are not throttling (NVML reports idle and application-clock settings as reasons too).
_NOT_THROTTLING = ("gpu_idle", "applications_clocks_setting", "none")
LATENCY_SIGNALS = ("ttft", "inter_token_latency", "e2e_latency")
_HOST = re.compile(r"^\[?([^\]]*?)\]?(?::\d+)?$")


@dataclass(frozen=True, kw_only=True)
class ServicePlan:
    """One Service as the live commands query it."""

    name: str
    engine: str
    model_label: str
    up_selector: str  # the selector without the model label, which `up` does not carry
    queries: dict[str, str]  # field -> PromQL (instant, at "now")
    histograms: dict[str, tuple[str, str, bool]]  # latency signal -> (bucket metric or native metric, selector, native)
    requests: str = ""  # the requests counter with its selector, for period totals
    errors: str = ""  # the errors counter with its selector
    slos: tuple[SLO, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One instant-query answer: the value, or None when the series is missing."""

    value: float | None
    labels: dict[str, str] = field(default_factory=dict)


def host_of(instance: str) -> str:
    """The host part of an instance label (10.0.0.1:8000 -> 10.0.0.1, [::1]:9400 -> ::1)."""
    m = _HOST.match(instance)
    return m.group(1) if m else instance


def _metric(variant: Variant, backend: Backend, rename: bool) -> str:
    return underscored(variant.metric, backend) if rename else variant.metric


def plan_service(service: Service, backends: Mapping[str, Backend]) -> ServicePlan | None:
    """The queries of one Service; None when it has no backend (nothing to resolve signals with)."""
    backend = backends.get(service.backend)
    if backend is None:
        return None
    version = service.backend_version
    rename = service.colons_as_underscores
    labels = service.selector_for(backend)
    up_labels = {k: v for k, v in labels.items() if k != backend.model_label}

    def var(signal: str) -> Variant | None:
        return backend.variant(signal, version)

    def sel(variant: Variant) -> str:
        return selector(labels, variant.matchers)

    queries: dict[str, str] = {
        "replicas_up": f"sum(up{selector(up_labels)})",
        "replicas": f"count(up{selector(up_labels)})",
    }
    requests_v, errors_v = var("requests"), var("errors")
    requests = errors = ""
    if requests_v:
        requests = _metric(requests_v, backend, rename) + sel(requests_v)
        queries["request_rate"] = f"sum(rate({requests}[{SHORT_WINDOW}]))"
        queries["models"] = f"count by ({backend.model_label}) ({requests})"
    if requests_v and errors_v:
        errors = _metric(errors_v, backend, rename) + sel(errors_v)
        queries["error_ratio"] = f"sum(rate({errors}[{SHORT_WINDOW}])) / sum(rate({requests}[{SHORT_WINDOW}]))"
    histograms: dict[str, tuple[str, str, bool]] = {}
    for signal in LATENCY_SIGNALS:
        v = var(signal)
        if v is None:
            continue
        metric = _metric(v, backend, rename)
        histograms[signal] = (metric, sel(v), v.native)
        queries[f"{signal}_p95"] = quantile_expr(0.95, metric, sel(v), v.native, SHORT_WINDOW)
    for name, signal, agg in (
        ("queue", "waiting", "sum"),
        ("running", "running", "sum"),
        ("kv_cache", "kv_cache_usage", "avg"),
    ):
        v = var(signal)
        if v is not None:
            queries[name] = f"{agg}({_metric(v, backend, rename)}{sel(v)})"
    return ServicePlan(
        name=service.name,
        engine=backend.name,
        model_label=backend.model_label,
        up_selector=selector(up_labels),
        queries=queries,
        histograms=histograms,
        requests=requests,
        errors=errors,
        slos=tuple(service.slos),
    )


def quantile_expr(q: float, metric: str, sel: str, native: bool, window: str) -> str:
    """The q-quantile of a latency histogram over a window (rate for live views, increase for periods)."""
    if native:
        return f"histogram_quantile({q!r}, sum(rate({metric}{sel}[{window}])))"
    return f"histogram_quantile({q!r}, sum by (le) (rate({metric}_bucket{sel}[{window}])))"


def plans(project: Project, services: tuple[str, ...] = ()) -> list[ServicePlan]:
    """Plans of the project's Services (only those named, when any), in name order."""
    out = []
    for service in sorted(project.services, key=lambda s: s.name):
        if services and service.name not in services:
            continue
        plan = plan_service(service, project.backends)
        if plan is not None:
            out.append(plan)
    return out


def status_slos(
    project: Project, services: tuple[str, ...] = (), own_series: bool = False
) -> tuple[list[StatusSLO], list[str]]:
    """The model's SLOs in `promspec status`'s shape, and the ratio windows their tiers read.

    own_series: only SLOs that record promspec's series (slo:info, slo:sli_error:ratio_rate<window>), not
    those kept in a foreign tool's conventions (Sloth's series), which status cannot query.
    """
    from ..compile.slo import _windows_needed

    out, windows = [], set()
    for service in sorted(project.services, key=lambda s: s.name):
        if services and service.name not in services:
            continue
        for slo in service.slos:
            if own_series and slo.conventions != "promspec":
                continue
            tiers = [
                StatusTier(name=t.name, severity=t.severity, long=t.long, short=t.short, factor=float(slo.factor(t)))
                for t in slo.tiers
                if t.enabled
            ]
            out.append(
                StatusSLO(
                    slo_id=slo.id,
                    service=slo.service,
                    slo=slo.name,
                    objective=slo.objective_text,
                    window=slo.window,
                    tiers=tiers,
                    budget=float(slo.budget),
                )
            )
            windows.update(_windows_needed(slo))
    return sorted(out, key=lambda s: (s.service, s.slo, s.slo_id)), sorted(windows, key=parse_duration)


# MIG instances repeat these series with gpu_instance/compute_instance labels: the GPU's own series has none.
WHOLE_GPU = '{gpu_instance=""}'


def gpu_queries() -> dict[str, str]:
    """Per GPU (instance, gpu): the GPU screen's fields. One row per GPU even when two jobs scrape the
    same exporter (their series differ only by job): max by (instance, gpu, name)."""
    m = GPU_METRICS
    not_throttling = "|".join(_NOT_THROTTLING)
    per_gpu = "max by (instance, gpu, name) "
    return {
        "util": f"{per_gpu}({m['util']}{WHOLE_GPU})",
        "mem_used": f"{per_gpu}({m['mem_used']}{WHOLE_GPU})",
        "mem_total": f"{per_gpu}({m['mem_total']}{WHOLE_GPU})",
        "temp": f"{per_gpu}({m['temp']})",
        "power": f"{per_gpu}({m['power']})",
        "throttle": f'{per_gpu}(sum without (reason) ({m["throttle"]}{{reason!~"{not_throttling}"}}))',
        "xid": f"{per_gpu}(sum without (xid) (increase({m['xid']}[1h])))",
    }


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def scalar(result: list[dict[str, Any]]) -> float | None:
    """The value of a one-series answer; None when the series is missing (or NaN: no events)."""
    if not result:
        return None
    return _float(result[0]["value"][1])


def range_query(
    server: str, expr: str, start: float, end: float, step: float, max_points: int = 10000
) -> list[dict[str, Any]]:
    """A range query in chunks of at most max_points steps (Prometheus refuses more than 11,000)."""
    parts = []
    for a, b in chunks(start, end, step, max_points):
        form = {"query": expr, "start": _number(a), "end": _number(b), "step": _number(step)}
        answer = request_with_retries("POST", f"{server}/api/v1/query_range", form=form)
        parts.append((answer or {}).get("data", {}).get("result", []))
    return sorted(_merge(parts), key=lambda s: sorted(s["metric"].items()))
