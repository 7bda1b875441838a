"""The report's HTML page, with its charts as PNG images drawn by matplotlib (Agg, deterministic bytes)."""

from __future__ import annotations

import base64
import datetime
import html
import io
from typing import Any

from .top_view import MISSING

_SIGNAL_TITLES = {
    "ttft": "Time to first token",
    "inter_token_latency": "Inter-token latency",
    "e2e_latency": "End-to-end latency",
}
CSS = """
body { font-family: 'DejaVu Sans', sans-serif; font-size: 11pt; margin: 24px; color: #1d1d1f; }
h1 { font-size: 18pt; margin-bottom: 2px; } h2 { font-size: 14pt; border-bottom: 1px solid #ccc; margin-top: 22px; }
h3 { font-size: 12pt; margin: 14px 0 4px; }
table { border-collapse: collapse; margin: 6px 0 10px; } th, td { padding: 3px 8px; border-bottom: 1px solid #e4e4e4;
text-align: right; } th:first-child, td:first-child { text-align: left; } th { background: #f3f3f3; }
.met { color: #1a7f37; font-weight: bold; } .missed { color: #cf222e; font-weight: bold; }
table.text td, table.text th { text-align: left; } .meta { color: #666; } img { max-width: 100%; }
.slo { page-break-inside: avoid; }
"""


def _pct(v: float | None, digits: int = 3) -> str:
    return MISSING if v is None else f"{v * 100:.{digits}f}%"


def _num(v: float | None, digits: int = 0) -> str:
    return MISSING if v is None else f"{v:,.{digits}f}"


def _ms(v: float | None) -> str:
    return MISSING if v is None else f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _change(v: float | None) -> str:
    return MISSING if v is None else f"{v * 100:+.1f}%"


def _e(text: object) -> str:
    return html.escape(str(text))


def _chart(
    series: list[tuple[str, list[Any]]], title: str, ylabel: str, percent: bool = False, line: float | None = None
) -> str:
    """A PNG line chart as a data: URL; same data, same bytes (no timestamps or software tag)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.dates import DateFormatter

    with matplotlib.rc_context(
        {
            "font.family": "DejaVu Sans",
            "font.size": 9,
            "svg.hashsalt": "promspec",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        fig, ax = plt.subplots(figsize=(7.2, 2.4), dpi=110)
        for label, points in series:
            xs = [datetime.datetime.fromtimestamp(t, datetime.UTC) for t, v in points if v is not None]
            ys = [v * 100 if percent else v for _t, v in points if v is not None]
            ax.plot(xs, ys, linewidth=1.4, label=label)  # type: ignore[arg-type]  # matplotlib plots datetimes
        if line is not None:
            ax.axhline(line * 100 if percent else line, color="#cf222e", linewidth=0.8, linestyle="--")
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(True, linewidth=0.3)
        ax.xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M", tz=datetime.UTC))  # type: ignore[no-untyped-call]
        if len(series) > 1:
            ax.legend(fontsize=8, frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _slo(s: dict[str, Any]) -> str:
    verdict = (
        MISSING
        if s["met"] is None
        else ('<span class="met">met</span>' if s["met"] else '<span class="missed">missed</span>')
    )
    parts = [
        f'<div class="slo"><h3>{_e(s["service"])} / {_e(s["slo"])}</h3>',
        f'<p class="meta">{_e(s["description"])}</p>' if s["description"] else "",
        (
            "<table><tr><th>objective</th><th>attainment</th><th>verdict</th><th>budget consumed</th>"
            "<th>events</th><th>bad events</th></tr>"
        ),
        (
            f"<tr><td>{_e(s['objective'])}</td><td>{_pct(s['attainment'])}</td><td>{verdict}</td>"
            f"<td>{_pct(s['budget_consumed'], 1)}</td><td>{_num(s['events'])}</td><td>{_num(s['bad_events'])}</td>"
            "</tr></table>"
        ),
    ]
    if s["events"]:
        chart = _chart([("budget left", s["burn_down"])], "Error budget left", "%", True, 0.0)
        parts.append(f'<img alt="burn-down" src="{chart}">')
    if s["worst_windows"]:
        parts.append("<table><tr><th>worst hours</th><th>error ratio</th><th>bad events</th><th>budget spent</th></tr>")
        for w in s["worst_windows"]:
            parts.append(
                f"<tr><td>{_e(w['start'])} \N{EN DASH} {_e(w['end'][11:])}</td><td>{_pct(w['error_ratio'])}</td>"
                f"<td>{_num(w['bad_events'])}</td><td>{_pct(w['budget_consumed'], 1)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)


def _service(s: dict[str, Any]) -> str:
    parts = [
        f"<h3>{_e(s['service'])} <span class='meta'>({_e(s['engine'])})</span></h3>",
        "<table><tr><th></th><th>this period</th><th>week before</th><th>change</th></tr>",
    ]
    if "requests" in s:
        r, rate = s["requests"], s["request_rate"]
        parts.append(
            f"<tr><td>requests</td><td>{_num(r['value'])}</td><td>{_num(r['week_before'])}</td>"
            f"<td>{_change(r['change'])}</td></tr>"
        )
        parts.append(
            f"<tr><td>requests/s</td><td>{_num(rate['value'], 2)}</td><td>{_num(rate['week_before'], 2)}</td>"
            f"<td>{_change(rate['change'])}</td></tr>"
        )
    if "error_ratio" in s:
        e = s["error_ratio"]
        parts.append(
            f"<tr><td>error ratio</td><td>{_pct(e['value'])}</td><td>{_pct(e['week_before'])}</td>"
            f"<td>{_change(e['change'])}</td></tr>"
        )
    silent = [
        signal
        for signal, qs in s["latency_seconds"].items()
        if all(v[k] is None for v in qs.values() for k in ("value", "week_before"))
    ]
    for signal, qs in s["latency_seconds"].items():
        if signal in silent:
            continue
        for q, v in qs.items():
            parts.append(
                f"<tr><td>{_e(_SIGNAL_TITLES.get(signal, signal))} {q}</td><td>{_ms(v['value'])}</td>"
                f"<td>{_ms(v['week_before'])}</td><td>{_change(v['change'])}</td></tr>"
            )
    parts.append("</table>")
    if silent:
        names = ", ".join(_SIGNAL_TITLES.get(signal, signal).lower() for signal in silent)
        parts.append(f"<p class='meta'>No data in either week for {_e(names)}.</p>")
    if s.get("traffic") and any(v for _t, v in s["traffic"]):
        parts.append(f'<img alt="traffic" src="{_chart([("requests/s", s["traffic"])], "Traffic", "requests/s")}">')
    return "".join(parts)


def _alerts(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "<p>No alert fired in the period.</p>"
    rows = [
        (
            "<table class='text'><tr><th>alert</th><th>severity</th><th>labels</th><th>times fired</th>"
            "<th>firing for</th><th>first</th><th>last</th><th>active since</th></tr>"
        )
    ]
    for a in alerts:
        labels = ", ".join(f"{k}={v}" for k, v in a["labels"].items() if k not in ("alertname", "severity"))
        rows.append(
            f"<tr><td>{_e(a['alertname'])}</td><td>{_e(a['severity'])}</td><td>{_e(labels)}</td>"
            f"<td>{a['episodes']}</td><td>{_e(a['firing'])}</td><td>{_e(a['first'])}</td>"
            f"<td>{_e(a['last'])}</td><td>{_e(a['active_since'] or MISSING)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _gpus(g: dict[str, Any]) -> str:
    if not g["gpus"]:
        return "<p>No GPU series (promspec_gpu_*) in the period.</p>"
    rows = [
        f"<p>Mean utilisation {_pct(g['mean_utilisation'], 1)}; energy {_num(g['energy_kwh'], 2)} kWh.</p>",
        "<table><tr><th>host</th><th>GPU</th><th>name</th><th>utilisation</th><th>energy (kWh)</th></tr>",
    ]
    for r in g["gpus"]:
        kwh = None if r["energy_joules"] is None else r["energy_joules"] / 3.6e6
        rows.append(
            f"<tr><td>{_e(r['instance'])}</td><td>{_e(r['gpu'])}</td><td>{_e(r['name'])}</td>"
            f"<td>{_pct(r['utilisation'], 1)}</td><td>{_num(kwh, 3)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def html_report(data: dict[str, Any]) -> str:
    """The whole page; a pure function of the report data."""
    scope = ", ".join(data["services_selected"]) or "all services"
    met = [s for s in data["slos"] if s["met"]]
    body = [
        (
            f"<h1>SLO report</h1><p class='meta'>{_e(data['from'])} to {_e(data['to'])} · {_e(scope)} · "
            f"{_e(data['prometheus'])}</p>"
        ),
        f"<p>{len(met)} of {len(data['slos'])} SLOs met their objective over the period.</p>",
        "<h2>SLOs</h2>",
        "".join(_slo(s) for s in data["slos"]) or "<p>No SLOs.</p>",
        "<h2>Services</h2>",
        "".join(_service(s) for s in data["services"]) or "<p>No services.</p>",
        "<h2>Alerts that fired</h2>",
        _alerts(data["alerts"]),
        "<h2>GPUs</h2>",
        _gpus(data["gpu"]),
    ]
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>SLO report</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
