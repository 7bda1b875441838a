"""What `promspec top` draws, as plain text cells: formatting, filtering and sorting (no Textual here)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .top_data import GpuRow, ServiceRow, Snapshot

MISSING = "—"


@dataclass(frozen=True, kw_only=True)
class Column:
    key: str
    title: str


SERVICE_COLUMNS = (
    Column(key="name", title="SERVICE"),
    Column(key="engine", title="ENGINE"),
    Column(key="models", title="MODEL"),
    Column(key="replicas_up", title="UP"),
    Column(key="request_rate", title="REQ/S"),
    Column(key="error_ratio", title="ERRORS"),
    Column(key="ttft_p95", title="TTFT p95"),
    Column(key="inter_token_latency_p95", title="ITL p95"),
    Column(key="queue", title="QUEUE"),
    Column(key="kv_cache", title="KV CACHE"),
    Column(key="gpu_util", title="GPU UTIL"),
    Column(key="gpu_mem", title="GPU MEM"),
)
SLO_COLUMNS = (
    Column(key="service", title="SERVICE"),
    Column(key="slo", title="SLO"),
    Column(key="objective", title="OBJECTIVE"),
    Column(key="window", title="WINDOW"),
    Column(key="sli", title="SLI"),
    Column(key="error_budget_remaining", title="BUDGET LEFT"),
    Column(key="firing", title="FIRING"),
)
GPU_COLUMNS = (
    Column(key="host", title="HOST"),
    Column(key="instance", title="INSTANCE"),
    Column(key="gpu", title="GPU"),
    Column(key="name", title="NAME"),
    Column(key="util", title="UTIL"),
    Column(key="mem", title="MEMORY"),
    Column(key="temp", title="TEMP"),
    Column(key="power", title="POWER"),
    Column(key="throttle", title="THROTTLED"),
    Column(key="xid", title="XID 1h"),
)


def _bad(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None, digits: int = 1) -> str:
    return MISSING if value is None or math.isnan(value) else f"{value * 100:.{digits}f}%"


def rate(value: float | None) -> str:
    return MISSING if value is None or math.isnan(value) else f"{value:.2f}/s"


def seconds(value: float | None) -> str:
    """Latencies: milliseconds below 1 s, seconds above (a +Inf quantile means the top bucket)."""
    if value is None or math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "> top bucket"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def number(value: float | None, digits: int = 0) -> str:
    return MISSING if value is None or math.isnan(value) else f"{value:.{digits}f}"


def gib(value: float | None) -> str:
    return MISSING if value is None or math.isnan(value) else f"{value / 2**30:.1f}"


def service_cells(row: ServiceRow) -> dict[str, Any]:
    v = row.values
    up, total = v.get("replicas_up"), v.get("replicas")
    return {
        "name": row.name,
        "engine": row.engine,
        "models": ", ".join(row.models) or MISSING,
        "replicas_up": MISSING if _bad(up) else f"{up:.0f}/{total:.0f}" if not _bad(total) else f"{up:.0f}",
        "request_rate": rate(v.get("request_rate")),
        "error_ratio": pct(v.get("error_ratio"), 2),
        "ttft_p95": seconds(v.get("ttft_p95")),
        "inter_token_latency_p95": seconds(v.get("inter_token_latency_p95")),
        "queue": number(v.get("queue")),
        "kv_cache": pct(v.get("kv_cache")),
        "gpu_util": pct(row.gpu_util),
        "gpu_mem": pct(row.gpu_mem),
    }


def _tier_state(row: dict[str, Any]) -> str:
    """'page', 'ticket' or 'ok': the worst severity firing for an SLO (drives the colour)."""
    firing = set(row["firing"])
    severities = {t["severity"] for t in row["tiers"] if t["name"] in firing}
    if "page" in severities:
        return "page"
    return "ticket" if firing else "ok"


def slo_cells(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": row["service"],
        "slo": row["slo"],
        "objective": row["objective"],
        "window": row["window"],
        "sli": pct(row["sli"], 3),
        "error_budget_remaining": pct(row["error_budget_remaining"]),
        "firing": ", ".join(row["firing"]) or "ok",
        "state": _tier_state(row),
        "budget": row["error_budget_remaining"],
    }


def gpu_cells(row: GpuRow) -> dict[str, Any]:
    v = row.values
    used, total = v.get("mem_used"), v.get("mem_total")
    mem = MISSING if _bad(used) else f"{gib(used)}/{gib(total)} GiB" if not _bad(total) else f"{gib(used)} GiB"
    throttle = v.get("throttle")
    return {
        "host": row.host,
        "instance": row.instance,
        "gpu": row.gpu,
        "name": row.name or MISSING,
        "util": pct(v.get("util")),
        "mem": mem,
        "temp": MISSING if _bad(v.get("temp")) else f"{v['temp']:.0f}°C",
        "power": MISSING if _bad(v.get("power")) else f"{v['power']:.0f} W",
        "throttle": MISSING if throttle is None or math.isnan(throttle) else "yes" if throttle > 0 else "no",
        "xid": number(v.get("xid")),
    }


def _sort_value(raw: object) -> tuple[int, float, str]:
    """Numbers by value, text by itself; missing values sort last whichever the direction."""
    if _bad(raw):
        return (1, 0.0, "")
    if isinstance(raw, (int, float)):
        return (0, float(raw), "")
    return (0, 0.0, str(raw))


def _matches(cells: dict[str, Any], text: str) -> bool:
    needle = text.strip().lower()
    return not needle or any(needle in str(c).lower() for c in cells.values())


def service_table(
    snapshot: Snapshot, filter_text: str = "", sort_key: str = "name", reverse: bool = False
) -> list[dict[str, Any]]:
    """Rows of the services list, filtered (substring of any cell) and sorted by a column's raw value."""
    raw = {}
    for row in snapshot.services:
        raw[row.name] = {
            **row.values,
            "name": row.name,
            "engine": row.engine,
            "models": ", ".join(row.models),
            "gpu_util": row.gpu_util,
            "gpu_mem": row.gpu_mem,
        }
    rows = [service_cells(r) for r in snapshot.services]
    rows = [r for r in rows if _matches(r, filter_text)]
    return _sorted(rows, lambda r: raw[r["name"]].get(sort_key), reverse)


def _sorted(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], object], reverse: bool) -> list[dict[str, Any]]:
    present = [r for r in rows if not _bad(key(r))]
    absent = [r for r in rows if _bad(key(r))]
    return sorted(present, key=lambda r: _sort_value(key(r)), reverse=reverse) + absent


def slo_table(snapshot: Snapshot, filter_text: str = "") -> list[dict[str, Any]]:
    rows = [slo_cells(r) for r in snapshot.slos]
    return [r for r in rows if _matches(r, filter_text)]


def gpu_table(
    snapshot: Snapshot, filter_text: str = "", sort_key: str = "host", reverse: bool = False
) -> list[dict[str, Any]]:
    raw = {
        (g.instance, g.gpu): {
            **g.values,
            "host": g.host,
            "instance": g.instance,
            "gpu": g.gpu,
            "name": g.name,
            "mem": g.values.get("mem_used"),
        }
        for g in snapshot.gpus
    }
    rows = [gpu_cells(g) for g in snapshot.gpus]
    rows = [r for r in rows if _matches(r, filter_text)]
    return _sorted(rows, lambda r: raw[(r["instance"], r["gpu"])].get(sort_key), reverse)


def status_line(snapshot: Snapshot | None, updated: str) -> str:
    if snapshot is None:
        return "connecting…"
    if not snapshot.reachable:
        return (
            f"{snapshot.problems[0] if snapshot.problems else 'Prometheus is unreachable'} (at {updated}); "
            "values shown as — until it answers"
        )
    head = (
        f"{snapshot.prometheus} · updated {updated} · {len(snapshot.services)} services · "
        f"{len(snapshot.slos)} SLOs · {len(snapshot.gpus)} GPUs · {len(snapshot.alerts)} alerts firing"
    )
    return head + ("" if not snapshot.problems else " · " + "; ".join(snapshot.problems))


def service_alerts(snapshot: Snapshot, service: str, job: str = "") -> list[dict[str, Any]]:
    """Firing alerts of one service: by its SLO labels, a service label, or its job."""
    out = []
    for labels in snapshot.alerts:
        if service in (labels.get("slo_service"), labels.get("service")) or (job and labels.get("job") == job):
            out.append(labels)
    return out
