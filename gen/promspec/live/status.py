"""`promspec status`: every SLO of the specs with its live SLI, budget, burn rates and firing tiers.

The SLOs come from the model (live/queries.py status_slos: Service documents and SLOs imported from Sloth
or OpenSLO that record promspec's series, docs/SLO.md); the values come from instant queries against
Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..compile.promql import format_duration
from .http import base_url, query_result, request


@dataclass(frozen=True, kw_only=True)
class StatusTier:
    """A burn-rate alert tier of an SLO, as its rule says."""

    name: str
    severity: str
    long: str = ""
    short: str = ""
    factor: float | None = None


@dataclass(frozen=True, kw_only=True)
class StatusSLO:
    """An SLO as `promspec status` queries it: built from the model's SLO (live/queries.py status_slos)."""

    slo_id: str
    service: str
    slo: str
    objective: str = ""
    window: str = ""
    tiers: list[StatusTier] = field(default_factory=list)
    budget: float | None = None  # the error budget the burn alerts divide by


def _instant(server: str, expr: str, at: float | None) -> list[dict[str, Any]]:
    form = {"query": expr}
    if at is not None:
        form["time"] = repr(at)
    answer = request("POST", f"{server}/api/v1/query", form=form)
    return query_result(answer, server, "vector")


def _by_slo(results: list[dict[str, Any]]) -> dict[str, float]:
    out = {}
    for r in results:
        slo_id = r["metric"].get("slo_id")
        if slo_id is not None and slo_id not in out:
            out[slo_id] = float(r["value"][1])
    return out


def queries(windows: list[str]) -> dict[str, str]:
    """The PromQL status asks, by field (docs/SLO.md series)."""
    out = {
        "error_ratio": "slo:sli_error:ratio_period",
        "objective_ratio": "slo:objective:ratio",
        "error_budget_remaining": "slo:period_error_budget_remaining:ratio",
        "time_to_exhaustion_seconds": "slo:time_to_exhaustion:seconds",
        "error_budget": "slo:error_budget:ratio",
    }
    for w in windows:
        out[f"ratio:{w}"] = f"slo:sli_error:ratio_rate{w}"
    return out


def _burn_rate(ratio: float | None, budget: float | None) -> float | None:
    if ratio is None or not budget:
        return None
    return ratio / budget


def status(url: str, slos: list[StatusSLO], windows: list[str], at: float | None = None) -> dict[str, Any]:
    """Live values of every SLO: {prometheus, time, slos: [...]}; a missing series is None."""
    server = base_url(url)
    values = {name: _by_slo(_instant(server, expr, at)) for name, expr in queries(windows).items()}
    firing: dict[str, set[str]] = {}
    for r in _instant(server, 'ALERTS{alertstate="firing",slo_id!=""}', at):
        labels = r["metric"]
        alertname = labels.get("alertname", "")
        name = labels.get("burn_tier") or ("exhausted" if alertname.endswith("ErrorBudgetExhausted") else alertname)
        firing.setdefault(labels.get("slo_id", ""), set()).add(name)
    rows = []
    for s in slos:
        error_ratio = values["error_ratio"].get(s.slo_id)
        fired = sorted(firing.get(s.slo_id, ()))
        rows.append(
            {
                "slo_id": s.slo_id,
                "service": s.service,
                "slo": s.slo,
                "objective": s.objective,
                "window": s.window,
                "objective_ratio": values["objective_ratio"].get(s.slo_id),
                "sli": None if error_ratio is None else 1 - error_ratio,
                "error_ratio": error_ratio,
                "error_budget_remaining": values["error_budget_remaining"].get(s.slo_id),
                "time_to_exhaustion_seconds": values["time_to_exhaustion_seconds"].get(s.slo_id),
                # As the burn alerts compute it: the window's error ratio over the budget written in them
                # (the recorded budget series, evaluated every 5m, may not exist yet after a restart).
                "burn_rates": {
                    w: _burn_rate(values[f"ratio:{w}"].get(s.slo_id), s.budget or values["error_budget"].get(s.slo_id))
                    for w in windows
                },
                "tiers": [
                    {
                        "name": t.name,
                        "severity": t.severity,
                        "long_window": t.long,
                        "short_window": t.short,
                        "factor": t.factor,
                        "firing": t.name in fired,
                    }
                    for t in s.tiers
                ],
                "firing": fired,
            }
        )
    return {"prometheus": server, "time": at, "slos": rows}


def _pct(value: float | None, digits: int = 3) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 100:.{digits}f}%"


def _burn(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return "inf" if math.isinf(value) else f"{value:.2f}x"


def _tte(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value) or value > 10 * 365 * 86400:
        return "never"
    return format_duration(round(value / 60) * 60) if value >= 60 else format_duration(round(value))


def table(report: dict[str, Any], windows: list[str], style: Callable[..., str] = lambda text, **kw: text) -> str:
    """The terminal table; style(text, fg=..., bold=...) colours a cell (click.style, or identity)."""
    head = ["SERVICE", "SLO", "OBJECTIVE", "WINDOW", "SLI", "BUDGET LEFT"] + [f"BURN {w}" for w in windows]
    head += ["EXHAUSTED IN", "FIRING"]
    rows = []
    for r in report["slos"]:
        firing = ", ".join(r["firing"]) or "-"
        cells = [
            r["service"],
            r["slo"],
            r["objective"],
            r["window"],
            _pct(r["sli"]),
            _pct(r["error_budget_remaining"], 1),
        ] + [_burn(r["burn_rates"][w]) for w in windows]
        cells += [_tte(r["time_to_exhaustion_seconds"]), firing]
        colours: list[str | None] = [None] * len(cells)
        budget = r["error_budget_remaining"]
        if budget is not None:
            colours[5] = "red" if budget <= 0 else "yellow" if budget < 0.25 else "green"
        thresholds = {t["long_window"]: t["factor"] for t in r["tiers"] if t["factor"]}
        for i, w in enumerate(windows):
            value, limit = r["burn_rates"][w], thresholds.get(w)
            if value is not None and limit is not None and value > limit:
                colours[6 + i] = "red"
        if r["firing"]:
            pages = any(t["firing"] and t["severity"] == "page" for t in r["tiers"])
            colours[-1] = "red" if pages else "yellow"
        rows.append((cells, colours))
    widths = [max([len(h)] + [len(c[i]) for c, _ in rows]) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    for cells, colours in rows:
        parts = [
            style(c.ljust(w), fg=col, bold=col == "red") if col else c.ljust(w)
            for c, w, col in zip(cells, widths, colours, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"
