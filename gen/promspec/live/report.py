"""`promspec report`: how each SLO, service, alert and GPU did over a period, as JSON, HTML or PDF.

Every number comes from queries built from the model (the SLIs' own error/total expressions, the
backends' metric names), evaluated over [from, to]:
- SLO attainment: the SLI's 5m error and total rates at 5m steps aligned on `from`, turned into event
  counts (rate x 300 s) and summed; the same steps give the burn-down and the worst hours.
- Traffic, error ratio, latency percentiles: increase() over the whole period at `to`, and the same
  one week earlier for the week-over-week change.
- Alerts: the raw ALERTS{alertstate="firing"} samples in the period (no lookback smearing): a gap
  longer than twice the evaluation interval ends an episode.
- GPUs: avg_over_time of utilisation and increase() of the energy counter per GPU.
The JSON is the source of the HTML and PDF, so they carry the same numbers.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..compile.promql import format_duration
from .http import base_url, request
from .queries import (
    GPU_METRICS,
    LATENCY_SIGNALS,
    WHOLE_GPU,
    ServicePlan,
    _float,
    host_of,
    range_query,
)
from .times import rfc3339

if TYPE_CHECKING:
    from ..model.services import SLO

STEP = 300  # the SLIs' rate window: one step = one window, no event counted twice or skipped
WEEK = 7 * 86400
QUANTILES = (0.5, 0.95, 0.99)
WORST = 5


class ReportError(Exception):
    """Why no report was written."""


def _instant(server: str, expr: str, at: float) -> list[dict[str, Any]]:
    answer = request("POST", f"{server}/api/v1/query", form={"query": expr, "time": repr(float(at))})
    result: list[dict[str, Any]] = (answer or {}).get("data", {}).get("result", [])
    return result


def _value(server: str, expr: str, at: float) -> float | None:
    result = _instant(server, expr, at)
    value = _float(result[0]["value"][1]) if result else None
    return None if value is None or math.isinf(value) else value  # +Inf: a quantile beyond the top bucket


def _per_step(series: list[dict[str, Any]], points: list[float]) -> list[float]:
    """A one-series range answer as a value per step (missing steps and NaN: 0 events)."""
    index = {p: i for i, p in enumerate(points)}
    out = [0.0] * len(points)
    for s in series[:1]:
        for ts, value in s["values"]:
            i = index.get(float(ts))
            v = _float(value)
            if i is not None and v is not None and not math.isinf(v):
                out[i] = v
    return out


def slo_section(server: str, slo: SLO, points: list[float]) -> dict[str, Any]:
    """Attainment, budget consumed, burn-down and worst hours of one SLO (spec.services.SLO)."""
    errors = _per_step(range_query(server, slo.errors_expr, points[0], points[-1], STEP), points)
    totals = _per_step(range_query(server, slo.total_expr, points[0], points[-1], STEP), points)
    bad = [max(e, 0.0) * STEP for e in errors]  # a latency SLI's count-minus-bucket can dip below 0 by rounding
    events = [t * STEP for t in totals]
    n_bad, n_all = sum(bad), sum(events)
    budget = float(slo.budget)
    objective = float(slo.objective)
    ratio = n_bad / n_all if n_all else None
    burn_down = []
    spent = 0.0
    for ts, b in zip(points, bad, strict=True):
        spent += b
        burn_down.append([ts, 1 - spent / (budget * n_all) if n_all else None])
    per_hour = 3600 // STEP
    windows: list[dict[str, Any]] = []
    for i in range(0, len(points), per_hour):
        b, n = sum(bad[i : i + per_hour]), sum(events[i : i + per_hour])
        if n and b:
            windows.append(
                {
                    "start": rfc3339(points[i] - STEP),
                    "end": rfc3339(points[min(i + per_hour, len(points)) - 1]),
                    "error_ratio": b / n,
                    "bad_events": b,
                    "events": n,
                    "budget_consumed": b / (budget * n_all),
                }
            )
    windows.sort(key=lambda w: (-w["error_ratio"], w["start"]))
    return {
        "slo_id": slo.id,
        "service": slo.service,
        "slo": slo.name,
        "description": slo.description,
        "objective": slo.objective_text,
        "objective_ratio": objective,
        "window": slo.window,
        "events": n_all,
        "bad_events": n_bad,
        "attainment": None if ratio is None else 1 - ratio,
        "met": None if ratio is None else 1 - ratio >= objective,
        "budget_consumed": None if ratio is None else ratio / budget,
        "burn_down": burn_down,
        "worst_windows": windows[:WORST],
    }


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return (now - before) / before


def _both(server: str, expr: str, t1: float) -> dict[str, Any]:
    now, before = _value(server, expr, t1), _value(server, expr, t1 - WEEK)
    return {"value": now, "week_before": before, "change": _change(now, before)}


def service_section(server: str, plan: ServicePlan, t0: float, t1: float, points: list[float]) -> dict[str, Any]:
    span = f"{int(t1 - t0)}s"
    out: dict[str, Any] = {"service": plan.name, "engine": plan.engine}
    if plan.requests:
        out["requests"] = _both(server, f"sum(increase({plan.requests}[{span}]))", t1)
        req = out["requests"]
        out["request_rate"] = {k: (None if v is None or k == "change" else v / (t1 - t0)) for k, v in req.items()}
        out["request_rate"]["change"] = req["change"]
        rate = range_query(server, f"sum(rate({plan.requests}[5m]))", points[0], points[-1], STEP)
        out["traffic"] = [[p, v] for p, v in zip(points, _per_step(rate, points), strict=True)]
    if plan.requests and plan.errors:
        out["error_ratio"] = _both(
            server, f"sum(increase({plan.errors}[{span}])) / sum(increase({plan.requests}[{span}]))", t1
        )
    latency: dict[str, dict[str, Any]] = {}
    for signal in LATENCY_SIGNALS:
        if signal not in plan.histograms:
            continue
        metric, sel, native = plan.histograms[signal]
        latency[signal] = {}
        for q in QUANTILES:
            inner = (
                f"sum(increase({metric}{sel}[{span}]))"
                if native
                else f"sum by (le) (increase({metric}_bucket{sel}[{span}]))"
            )
            latency[signal][f"p{q * 100:g}"] = _both(server, f"histogram_quantile({q!r}, {inner})", t1)
    out["latency_seconds"] = latency
    return out


def episodes(times: list[float]) -> tuple[list[tuple[float, float]], float]:
    """(runs as (first, last sample), seconds firing) of an alert's ALERTS sample times.

    Samples come every evaluation interval (their median gap) while it fires; a gap over twice that
    ends a run, and each run lasts from its first sample to one interval past its last.
    """
    times = sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    interval = statistics.median(gaps) if gaps else 60.0  # one sample: assume Prometheus' default 1m
    runs, start = [], times[0]
    for a, b in itertools.pairwise(times):
        if b - a > 2 * interval:
            runs.append((start, a))
            start = b
    runs.append((start, times[-1]))
    return runs, sum(b - a + interval for a, b in runs)


def alerts_section(server: str, t0: float, t1: float, keep: Callable[[dict[str, str]], bool]) -> list[dict[str, Any]]:
    """Each firing alert (its labels) with how often and how long it fired in [t0, t1].

    ALERTS_FOR_STATE (alerts with a `for`) holds when each episode became active: the earliest in the
    period says since when an alert already firing at the start had been active ("active_since").
    """
    span = f"{int(t1 - t0)}s"
    result = _instant(server, f'ALERTS{{alertstate="firing"}}[{span}]', t1)
    since: dict[tuple[tuple[str, str], ...], float] = {}  # an alert's labels -> when it first became active
    for s in _instant(server, f"ALERTS_FOR_STATE[{span}]", t1):
        key = tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__"))
        since[key] = min(float(v) for _ts, v in s["values"])
    out = []
    for s in result:
        labels = {k: v for k, v in s["metric"].items() if k not in ("__name__", "alertstate")}
        if not keep(labels):
            continue
        runs, seconds = episodes([float(ts) for ts, _v in s["values"]])
        active = since.get(tuple(sorted(labels.items())))
        out.append(
            {
                "alertname": labels.get("alertname", ""),
                "severity": labels.get("severity", ""),
                "labels": dict(sorted(labels.items())),
                "episodes": len(runs),
                "firing_seconds": seconds,
                "firing": format_duration(round(seconds)) if seconds >= 1 else "0s",
                "first": rfc3339(runs[0][0]),
                "last": rfc3339(runs[-1][1]),
                "active_since": None if active is None else rfc3339(active),
            }
        )
    out.sort(key=lambda a: (-a["firing_seconds"], a["alertname"], sorted(a["labels"].items())))
    return out


def gpu_section(server: str, t0: float, t1: float, hosts: set[str] | None) -> dict[str, Any]:
    span = f"{int(t1 - t0)}s"
    util = _instant(server, f"avg_over_time({GPU_METRICS['util']}{WHOLE_GPU}[{span}])", t1)
    energy = _instant(server, f"increase({GPU_METRICS['energy']}[{span}])", t1)
    gpus: dict[tuple[str, str], dict[str, Any]] = {}  # (instance, gpu) -> its row
    for field_name, result in (("utilisation", util), ("energy_joules", energy)):
        for r in result:
            inst, gpu = r["metric"].get("instance", ""), r["metric"].get("gpu", "")
            if hosts is not None and host_of(inst) not in hosts:
                continue
            row = gpus.setdefault(
                (inst, gpu),
                {
                    "instance": inst,
                    "host": host_of(inst),
                    "gpu": gpu,
                    "name": r["metric"].get("name", ""),
                    "utilisation": None,
                    "energy_joules": None,
                },
            )
            row[field_name] = _float(r["value"][1])
    rows = [gpus[k] for k in sorted(gpus, key=lambda k: (k[0], int(k[1]) if k[1].isdigit() else 0, k[1]))]
    utils = [r["utilisation"] for r in rows if r["utilisation"] is not None]
    joules = [r["energy_joules"] for r in rows if r["energy_joules"] is not None]
    return {
        "gpus": rows,
        "mean_utilisation": sum(utils) / len(utils) if utils else None,
        "energy_joules": sum(joules) if joules else None,
        "energy_kwh": sum(joules) / 3.6e6 if joules else None,
    }


def build_report(
    url: str, plans: list[ServicePlan], slos: list[SLO], t0: float, t1: float, only_services: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The report's data. slos: spec.services.SLO objects. Steps are aligned on t0 (deterministic)."""
    server = base_url(url)
    n = int((t1 - t0) // STEP)
    if n < 1:
        raise ReportError(f"the period is shorter than one {STEP // 60}m step: nothing to report")
    points = [t0 + STEP * (i + 1) for i in range(n)]
    end = points[-1]
    selected = {p.name for p in plans}
    jobs = {part[5:-1] for p in plans for part in p.up_selector.strip("{}").split(",") if part.startswith('job="')}

    def keep(labels: dict[str, Any]) -> bool:
        if not only_services:
            return True
        return labels.get("slo_service") in selected or labels.get("service") in selected or labels.get("job") in jobs

    hosts = None
    if only_services:
        hosts = {
            host_of(r["metric"].get("instance", "")) for p in plans for r in _instant(server, f"up{p.up_selector}", end)
        }
    return {
        "prometheus": server,
        "from": rfc3339(t0),
        "to": rfc3339(end),
        "requested_to": rfc3339(t1),
        "step_seconds": STEP,
        "services_selected": list(only_services),
        "slos": [slo_section(server, s, points) for s in sorted(slos, key=lambda s: s.id)],
        "services": [service_section(server, p, t0, end, points) for p in plans],
        "alerts": alerts_section(server, t0, end, keep),
        "gpu": gpu_section(server, t0, end, hosts),
    }


def to_json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def write_report(data: dict[str, Any], output: str, fmt: str) -> None:
    """Write the report whole or not at all."""
    from ..preview.render import PreviewError, _atomic_write

    if fmt == "json":
        _atomic_write(output, to_json(data))
        return
    from .report_html import html_report

    page = html_report(data)
    if fmt == "html":
        _atomic_write(output, page.encode())
        return
    import datetime

    from .report_pdf import print_pdf

    end = datetime.datetime.fromisoformat(data["to"].replace("Z", "+00:00"))
    try:
        _atomic_write(output, print_pdf(page, when=end))
    except PreviewError as exc:
        raise ReportError(str(exc)) from None
