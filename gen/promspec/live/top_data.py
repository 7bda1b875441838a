"""`promspec top`'s data: one snapshot of every service, SLO and GPU, fetched with instant queries.

No terminal code here: the Textual app (top.py) only draws what fetch() returns, so the numbers can
be checked without a screen. A missing series is None (drawn as "—"); an unreachable Prometheus or a
failed query is a line in `problems`, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .http import APIError, base_url, request
from .queries import ServicePlan, _float, gpu_queries, host_of, quantile_expr, range_query
from .status import StatusSLO, status

SPARK_SIGNALS = ("request_rate", "error_ratio", "ttft_p95", "inter_token_latency_p95", "queue", "kv_cache")
# The fields the services list shows: only their absence is worth a word on the status line.
SHOWN = ("replicas_up", "request_rate", "ttft_p95", "inter_token_latency_p95", "queue", "kv_cache")


@dataclass(frozen=True, kw_only=True)
class ServiceRow:
    name: str
    engine: str
    models: tuple[str, ...] = ()
    values: dict[str, float | None] = field(default_factory=dict)  # field -> value (see ServicePlan.queries)
    hosts: tuple[str, ...] = ()
    gpu_util: float | None = None
    gpu_mem: float | None = None  # used / total over the hosts' GPUs


@dataclass(frozen=True, kw_only=True)
class GpuRow:
    instance: str
    host: str
    gpu: str
    name: str
    values: dict[str, float | None] = field(
        default_factory=dict
    )  # util, mem_used, mem_total, temp, power, throttle, xid


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    prometheus: str
    services: tuple[ServiceRow, ...] = ()
    slos: tuple[dict[str, Any], ...] = ()  # `promspec status` rows
    gpus: tuple[GpuRow, ...] = ()
    alerts: tuple[dict[str, str], ...] = ()  # label dicts of firing alerts
    problems: tuple[str, ...] = ()  # sentences for the status line
    reachable: bool = True


class _Asker:
    """Instant queries that record their failures instead of raising (one bad query loses one cell)."""

    def __init__(self, server: str, at: float | None):
        self.server, self.at = server, at
        self.problems: list[str] = []
        self.unreachable = False

    def ask(self, expr: str) -> list[dict[str, Any]]:
        if self.unreachable:
            return []
        form = {"query": expr}
        if self.at is not None:
            form["time"] = repr(self.at)
        try:
            answer = request("POST", f"{self.server}/api/v1/query", form=form, timeout=10.0)
        except APIError as exc:
            if exc.status is None:  # no answer at all: stop asking, say it once
                self.unreachable = True
            self.problems.append(str(exc) if exc.status is None else f"{expr}: {exc}")
            return []
        result: list[dict[str, Any]] = (answer or {}).get("data", {}).get("result", [])
        return result


def _first(result: list[dict[str, Any]]) -> float | None:
    return _float(result[0]["value"][1]) if result else None


def fetch(
    url: str, plans: list[ServicePlan], slos: list[StatusSLO], windows: list[str], at: float | None = None
) -> Snapshot:
    """Everything the screens show, at `at` (now when None)."""
    server = base_url(url)
    asker = _Asker(server, at)
    gpus = _gpus(asker)
    rows = []
    missing = []
    for plan in plans:
        values, models = {}, ()
        for name, expr in plan.queries.items():
            result = asker.ask(expr)
            if name == "models":
                models = tuple(sorted(r["metric"].get(plan.model_label, "") for r in result))
                continue
            values[name] = _first(result)
        absent = [name for name in SHOWN if name in plan.queries and values.get(name) is None]
        if absent and not asker.unreachable:
            missing.append(
                f"{plan.name} (no series at all)"
                if len(absent) == len([n for n in SHOWN if n in plan.queries])
                else f"{plan.name} ({', '.join(absent)})"
            )
        hosts = tuple(sorted({host_of(r["metric"].get("instance", "")) for r in asker.ask(f"up{plan.up_selector}")}))
        mine = [g for g in gpus if g.host in hosts]
        util = [v for g in mine if (v := g.values.get("util")) is not None]
        used = [v for g in mine if (v := g.values.get("mem_used")) is not None]
        total = [v for g in mine if (v := g.values.get("mem_total")) is not None]
        rows.append(
            ServiceRow(
                name=plan.name,
                engine=plan.engine,
                models=models,
                values=values,
                hosts=hosts,
                gpu_util=sum(util) / len(util) if util else None,
                gpu_mem=sum(used) / sum(total) if used and total and sum(total) else None,
            )
        )
    slo_rows: list[Any] = []
    if slos and not asker.unreachable:
        try:
            slo_rows = status(server, slos, windows, at)["slos"]
        except APIError as exc:
            asker.problems.append(str(exc))
    alerts = tuple(
        sorted(
            (r["metric"] for r in asker.ask('ALERTS{alertstate="firing"}')),
            key=lambda m: (m.get("alertname", ""), sorted(m.items())),
        )
    )
    problems = list(dict.fromkeys(asker.problems))
    if missing and not asker.unreachable:
        problems.append("no data for " + "; ".join(missing))
    return Snapshot(
        prometheus=server,
        services=tuple(rows),
        slos=tuple(slo_rows),
        gpus=tuple(gpus),
        alerts=alerts,
        problems=tuple(problems),
        reachable=not asker.unreachable,
    )


def _gpus(asker: _Asker) -> list[GpuRow]:
    by_key: dict[tuple[str, str], dict[str, float | None]] = {}  # (instance, gpu) -> field -> value
    names: dict[tuple[str, str], str] = {}
    for field_name, expr in gpu_queries().items():
        for r in asker.ask(expr):
            labels = r["metric"]
            key = (labels.get("instance", ""), labels.get("gpu", ""))
            by_key.setdefault(key, {})[field_name] = _float(r["value"][1])
            if labels.get("name"):
                names[key] = labels["name"]
    return [
        GpuRow(instance=inst, host=host_of(inst), gpu=gpu, name=names.get((inst, gpu), ""), values=by_key[(inst, gpu)])
        for inst, gpu in sorted(by_key, key=lambda k: (k[0], _gpu_order(k[1])))
    ]


def _gpu_order(gpu: str) -> tuple[int, int, str]:
    return (0, int(gpu), "") if gpu.isdigit() else (1, 0, gpu)


def spark_queries(plan: ServicePlan) -> dict[str, Any]:
    """The per-service screen's sparkline series (the same queries as the services list)."""
    out = {name: plan.queries[name] for name in SPARK_SIGNALS if name in plan.queries}
    if "inter_token_latency_p95" not in out and "inter_token_latency" in plan.histograms:
        metric, sel, native = plan.histograms["inter_token_latency"]
        out["inter_token_latency_p95"] = quantile_expr(0.95, metric, sel, native, "5m")
    return out


def sparklines(url: str, plan: ServicePlan, end: float, minutes: int = 30, step: float = 30.0) -> dict[str, Any]:
    """{signal: [value or None per step]} over the last `minutes`; {} for a signal without data."""
    server = base_url(url)
    start = end - minutes * 60
    n = int(minutes * 60 // step) + 1
    out: dict[str, list[Any]] = {}
    for name, expr in spark_queries(plan).items():
        try:
            series = range_query(server, expr, start, start + (n - 1) * step, step)
        except APIError:
            out[name] = []
            continue
        points: list[Any] = [None] * n
        for ts, value in series[0]["values"] if series else []:
            i = round((float(ts) - start) / step)
            if 0 <= i < n:
                v = _float(value)
                points[i] = None if v is None or math.isinf(v) else v
        out[name] = points if any(p is not None for p in points) else []
    return out
