"""A Grafana dashboard as one static HTML page: rows, panel boxes with titles, types and queries, and
(when data is given) the panels' series drawn as inline SVG. No scripts, no network: the page is
the same bytes for the same dashboard and data."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

# A JSON object as Grafana or Prometheus writes it: a dashboard, a panel, a series' labels.
JSON = dict[str, Any]
Series = JSON  # one series of a query_range answer: {"metric": {...}, "values": [(t, v), ...]}
# What a panel draws: refId -> its series, or the error Prometheus answered.
PanelData = dict[str, list[Series] | str]
# Every panel's data, by panel id as the dashboard JSON writes it (an int, or absent: None).
DashboardData = dict[Any, PanelData]

GRID_COLUMNS = 24
ROW_PX = 30  # Grafana's grid row height
GAP = 8
PALETTE = (
    "#7eb26d",
    "#eab839",
    "#6ed0e0",
    "#ef843c",
    "#e24d42",
    "#1f78c1",
    "#ba43a9",
    "#705da0",
    "#508642",
    "#cca300",
    "#447ebc",
    "#c15c17",
    "#890f02",
    "#0a437c",
    "#6d1f62",
    "#584477",
)
THRESHOLD_COLORS = {
    "green": "#73bf69",
    "orange": "#ff9830",
    "red": "#f2495c",
    "yellow": "#fade2a",
    "blue": "#5794f2",
    "purple": "#b877d9",
}
CSS = """
body{margin:0;background:#111217;color:#ccccdc;font:13px 'DejaVu Sans',Arial,sans-serif}
.head{padding:12px 16px;border-bottom:1px solid #2c2d33}
.head h1{margin:0 0 4px;font-size:20px;color:#fff;font-weight:500}
.meta{color:#8e8e9e;font-size:12px}.meta span{margin-right:14px}
.vars span{display:inline-block;background:#22252b;border:1px solid #34373f;border-radius:2px;padding:2px 6px;
margin:6px 6px 0 0;font-size:12px}
.grid{position:relative;margin:8px}
.row{position:absolute;color:#fff;font-size:15px;font-weight:500;border-bottom:1px solid #2c2d33;line-height:28px}
.row small{color:#8e8e9e;font-weight:400;margin-left:8px}
.panel{position:absolute;background:#181b1f;border:1px solid #2c2d33;border-radius:2px;overflow:hidden}
.ptitle{display:flex;justify-content:space-between;padding:4px 8px;color:#fff;font-size:13px;font-weight:500;
white-space:nowrap;overflow:hidden}
.ptype{color:#8e8e9e;font-size:11px;font-weight:400;margin-left:8px}
.q{font:11px 'DejaVu Sans Mono',monospace;color:#9fa7b3;padding:0 8px;white-space:pre-wrap;word-break:break-all;
margin:2px 0}.q b{color:#6ed0e0;font-weight:400}
.err{color:#f2495c;font-size:11px;padding:0 8px}.nodata{color:#8e8e9e;font-size:12px;padding:2px 8px}
.text{padding:4px 10px;font-size:12px;line-height:1.5}
.legend{font-size:10px;padding:0 8px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.legend i{display:inline-block;width:10px;height:3px;margin:0 4px 2px 0}
"""


# ------------------------------------------------------------------------------ values and units


def format_value(value: float | None, unit: str = "", decimals: int | None = None) -> str:
    """A number the way Grafana would roughly show it in a unit (s, percentunit, bytes, reqps, ...)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no value"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    d = decimals
    if unit == "percentunit":
        return f"{value * 100:.{2 if d is None else d}f}%"
    if unit == "percent":
        return f"{value:.{1 if d is None else d}f}%"
    if unit in ("s", "ms"):
        seconds = value / 1000 if unit == "ms" else value
        if seconds == 0:
            return "0 s"
        for size, suffix in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if abs(seconds) >= size or size == 1e-6:
                return f"{_num(seconds / size, d)} {suffix}"
    suffix = {
        "reqps": " req/s",
        "cps": "/s",
        "ops": " ops/s",
        "pps": " p/s",
        "watt": " W",
        "celsius": " °C",
        "joule": " J",
        "hertz": " Hz",
        "Bps": " B/s",
        "bytes": " B",
    }.get(unit, "")
    if unit.startswith("suffix:"):
        suffix = " " + unit[len("suffix:") :].strip()
    if unit in ("bytes", "Bps"):
        for size, prefix in ((1 << 40, "Ti"), (1 << 30, "Gi"), (1 << 20, "Mi"), (1 << 10, "Ki")):
            if abs(value) >= size:
                return f"{_num(value / size, d)} {prefix}{suffix.strip()}"
        return f"{_num(value, d)}{suffix}"
    for size, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size and unit not in ("none",):
            return f"{_num(value / size, d)} {prefix}{suffix.strip()}".rstrip()
    return f"{_num(value, d)}{suffix}"


def _num(value: float, decimals: int | None = None) -> str:
    if decimals is not None:
        return f"{value:.{int(decimals)}f}"
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{min(digits, 4)}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def _color(name: str) -> str:
    return THRESHOLD_COLORS.get(name, name if name.startswith("#") else "#73bf69")


def _threshold_color(panel: JSON, value: float | None) -> str:
    steps = ((((panel.get("fieldConfig") or {}).get("defaults") or {}).get("thresholds") or {}).get("steps")) or []
    color = "#73bf69"
    for step in steps:
        if step.get("value") is None or (value is not None and value >= step["value"]):
            color = _color(step.get("color", "green"))
    return color


# ------------------------------------------------------------------------------ charts (SVG)


def _series_label(metric: JSON, legend: str) -> str:
    if legend and legend != "__auto":
        out = legend
        for key, value in metric.items():
            out = out.replace("{{" + key + "}}", value).replace("{{ " + key + " }}", value)
        return out
    return ", ".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__") or "value"


def drawn_thresholds(panel: JSON) -> list[tuple[float, str]]:
    """(value, colour) of the threshold lines Grafana draws on a time series: none unless
    custom.thresholdsStyle asks for them, and never the base step (it has no value)."""
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    mode = ((defaults.get("custom") or {}).get("thresholdsStyle") or {}).get("mode", "off")
    if mode == "off":
        return []
    steps = (defaults.get("thresholds") or {}).get("steps") or []
    return [
        (float(st["value"]), _color(st.get("color", "green")))
        for st in steps
        if isinstance(st, dict) and isinstance(st.get("value"), (int, float))
    ]


TICKS = (0.0, 0.5, 1.0)  # the y-axis labels: bottom, middle, top of the value range
MAX_TICK_DECIMALS = 6


def axis_labels(lo: float, hi: float, unit: str, decimals: int | None) -> list[str] | None:
    """The y-axis labels of a range, with the fewest decimals (from the panel's own, or the unit's default)
    that tell them apart: a nearly flat series must not read "-566.67%" three times. None when no
    precision up to MAX_TICK_DECIMALS does."""
    values = [lo + (hi - lo) * frac for frac in TICKS]
    start = 0 if decimals is None else int(decimals) + 1
    for d in [decimals, *range(start, MAX_TICK_DECIMALS + 1)]:
        labels = [format_value(v, unit, d) for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return None


def _timeseries_svg(
    series: list[Series], w: int, h: int, unit: str, decimals: int | None, thresholds: Sequence[tuple[float, str]] = ()
) -> str:
    points = [(t, v) for s in series for t, v in s["values"] if v is not None and math.isfinite(v)]
    if not points:
        return ""
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    lo, hi = min(0.0, min(p[1] for p in points)), max(p[1] for p in points)
    if hi == lo:
        hi = lo + 1
    labels = axis_labels(lo, hi, unit, decimals)
    if labels is None:  # flat to every precision a label can show: widen the axis around the series
        mid = (lo + hi) / 2
        pad = abs(mid) * 0.05 or 1.0
        lo, hi = mid - pad, mid + pad
        labels = axis_labels(lo, hi, unit, decimals) or [format_value(lo + (hi - lo) * f, unit) for f in TICKS]
    left, bottom = 58, 14
    pw, ph = w - left - 6, h - bottom - 6
    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for frac, label in zip(TICKS, labels, strict=True):
        y = 6 + ph * (1 - frac)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 6}" y2="{y:.1f}" stroke="#2c2d33"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 3:.1f}" fill="#8e8e9e" font-size="10" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
    for i, s in enumerate(series):
        pts = [
            (left + (t - t0) / ((t1 - t0) or 1) * pw, 6 + ph * (1 - (v - lo) / (hi - lo)))
            for t, v in s["values"]
            if v is not None and math.isfinite(v)
        ]
        if not pts:
            continue
        color = PALETTE[i % len(PALETTE)]
        if len(pts) == 1:
            parts.append(f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="2" fill="{color}"/>')
        else:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    for value, color in thresholds:
        if lo <= value <= hi:  # like Grafana, a threshold does not stretch the axis
            y = 6 + ph * (1 - (value - lo) / (hi - lo))
            parts.append(
                f'<line class="threshold" x1="{left}" y1="{y:.1f}" x2="{w - 6}" y2="{y:.1f}" '
                f'stroke="{color}" stroke-dasharray="4 3"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _heatmap_svg(series: list[Series], w: int, h: int) -> str:
    def le(s: Series) -> float:
        try:
            return float(s["metric"].get("le", "inf"))
        except ValueError:
            return math.inf

    rows = sorted(series, key=le)
    times = sorted({t for s in rows for t, _v in s["values"]})
    if not rows or not times:
        return ""
    # Prometheus buckets are cumulative; a heatmap cell is the count inside one bucket.
    previous: dict[float, float] = {}
    cells = []
    for s in rows:
        values = []
        for t, v in s["values"]:
            below = previous.get(t, 0.0)
            values.append((t, None if v is None else max(0.0, v - below)))
            if v is not None:
                previous[t] = v
        cells.append({"values": values})
    rows = cells
    vmax = max((v for s in rows for _t, v in s["values"] if v is not None and math.isfinite(v)), default=0) or 1
    cw, ch = (w - 6) / len(times), (h - 6) / len(rows)
    index = {t: i for i, t in enumerate(times)}
    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for r, s in enumerate(rows):
        for t, v in s["values"]:
            if v is None or not math.isfinite(v) or v <= 0:
                continue
            a = 0.15 + 0.85 * math.sqrt(v / vmax)
            parts.append(
                f'<rect x="{3 + index[t] * cw:.1f}" y="{3 + (len(rows) - 1 - r) * ch:.1f}" '
                f'width="{max(cw - 0.5, 0.5):.1f}" height="{max(ch - 0.5, 0.5):.1f}" '
                f'fill="#ef843c" fill-opacity="{a:.2f}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _last(series: list[Series]) -> float | None:
    for s in series:
        for _t, v in reversed(s["values"]):
            if v is not None:
                last: float = v
                return last
    return None


def _gauge_svg(value: float | None, panel: JSON, w: int, h: int, unit: str, decimals: int | None) -> str:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    lo, hi = (
        defaults.get("min", 0),
        defaults.get("max", 100 if unit == "percent" else 1 if unit == "percentunit" else None),
    )
    if hi is None:
        hi = max(value or 1, 1)
    frac = 0 if value is None else max(0.0, min(1.0, (value - lo) / ((hi - lo) or 1)))
    r = max(10, min(w / 2 - 10, h - 30))
    cx, cy = w / 2, h - 16
    end = math.pi * (1 - frac)
    x2, y2 = cx + r * math.cos(end), cy - r * math.sin(end)
    color = _threshold_color(panel, value)
    return (
        f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
        f'<path d="M {cx - r:.1f} {cy:.1f} A {r:.1f} {r:.1f} 0 0 1 {cx + r:.1f} {cy:.1f}" stroke="#2c2d33" '
        f'stroke-width="10" fill="none"/>'
        f'<path d="M {cx - r:.1f} {cy:.1f} A {r:.1f} {r:.1f} 0 0 1 {x2:.1f} {y2:.1f}" stroke="{color}" '
        f'stroke-width="10" fill="none"/>'
        f'<text x="{cx:.1f}" y="{cy - 4:.1f}" fill="{color}" font-size="{max(12, min(26, r / 2.5)):.0f}" '
        f'text-anchor="middle">{html.escape(format_value(value, unit, decimals))}</text></svg>'
    )


# ------------------------------------------------------------------------------ page


def _shorten(text: str, limit: int) -> str:
    """At most limit characters, an ellipsis marking the cut: cut before escaping, so no entity is split."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _markdown(text: str) -> str:
    out = []
    for line in text.splitlines():
        line = html.escape(line)
        if line.startswith("- "):
            line = "• " + line[2:]
        out.append(line)
    return "<br>".join(out)


def _panel_body(panel: JSON, data: PanelData | None, w: int, h: int) -> str:
    ptype = panel.get("type", "")
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit, decimals = defaults.get("unit", ""), defaults.get("decimals")
    if ptype == "text":
        return f'<div class="text">{_markdown((panel.get("options") or {}).get("content", ""))}</div>'
    targets = [t for t in panel.get("targets") or [] if isinstance(t, dict)]
    queries = "".join(
        f'<div class="q"><b>{html.escape(str(t.get("refId", "")))}</b> {html.escape(str(t.get("expr", "")))}</div>'
        for t in targets
    )
    if data is None:
        return queries
    series, errors = [], []
    for t in targets:
        result = data.get(str(t.get("refId", "")))
        if result is None:
            continue
        if isinstance(result, str):
            errors.append(f"{t.get('refId')}: {result}")
            continue
        for s in result:
            series.append({**s, "label": _series_label(s["metric"], t.get("legendFormat", ""))})
    chart_h = max(20, h - 40 - (14 if ptype == "timeseries" else 0))
    body = "".join(f'<div class="err">{html.escape(e)}</div>' for e in errors)
    if not series:
        return body + '<div class="nodata">no data</div>' + queries
    if ptype == "heatmap":
        body += _heatmap_svg(series, w - 2, chart_h)
    elif ptype == "stat":
        value = _last(series)
        size = max(14, min(40, chart_h * 0.55))
        body += (
            f'<div style="text-align:center;font-size:{size:.0f}px;line-height:{chart_h}px;'
            f'color:{_threshold_color(panel, value)}">{html.escape(format_value(value, unit, decimals))}</div>'
        )
    elif ptype == "gauge":
        body += _gauge_svg(_last(series), panel, w - 2, chart_h, unit, decimals)
    elif ptype in ("bargauge", "table"):
        rows = [(s["label"], _last([s])) for s in series][: max(1, int(chart_h // 16))]
        body += "".join(
            f'<div class="q" style="color:#ccccdc">{html.escape(label[:60])}: '
            f'<span style="color:{_threshold_color(panel, v)}">'
            f"{html.escape(format_value(v, unit, decimals))}</span></div>"
            for label, v in rows
        )
    else:
        body += _timeseries_svg(series, w - 2, chart_h, unit, decimals, drawn_thresholds(panel))
        body += (
            '<div class="legend">'
            + " ".join(
                f'<i style="background:{PALETTE[i % len(PALETTE)]}"></i>{html.escape(s["label"])}'
                for i, s in enumerate(series[:8])
            )
            + "</div>"
        )
    return body


def page(dash: JSON, data: DashboardData | None = None, width: int = 1600, note: str = "") -> tuple[str, int]:
    """(HTML, page height in pixels) for a dashboard; data maps panel id -> refId -> series or error."""
    col = (width - 16) / GRID_COLUMNS
    items = []
    bottom = 0
    for p in dash.get("panels") or []:
        if not isinstance(p, dict):
            continue
        g = p.get("gridPos") or {}
        x, y, w, h = g.get("x", 0), g.get("y", 0), g.get("w", 12), g.get("h", 8)
        left, top, pw, ph = x * col, y * ROW_PX, w * col - GAP, h * ROW_PX - GAP
        bottom = max(bottom, top + ph)
        if p.get("type") == "row":
            hidden = f"<small>collapsed, {len(p.get('panels') or [])} panels</small>" if p.get("collapsed") else ""
            items.append(
                f'<div class="row" style="left:{left:.0f}px;top:{top:.0f}px;width:{pw:.0f}px">'
                f"{html.escape(p.get('title', ''))}{hidden}</div>"
            )
            continue
        unit = ((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit", "")
        kind = p.get("type", "") + (f" · {unit}" if unit else "")
        panel_data = None if data is None else data.get(p.get("id"), {})
        items.append(
            f'<div class="panel" style="left:{left:.0f}px;top:{top:.0f}px;width:{pw:.0f}px;'
            f'height:{ph:.0f}px"><div class="ptitle"><span>{html.escape(p.get("title", ""))}</span>'
            f'<span class="ptype">{html.escape(kind)}</span></div>'
            f"{_panel_body(p, panel_data, int(pw), int(ph))}</div>"
        )
    variables = "".join(
        f"<span>${html.escape(str(v.get('name', '')))} = "
        f"{html.escape(_shorten(str(v.get('definition') or v.get('query') or ''), 90))}</span>"
        for v in (dash.get("templating") or {}).get("list") or []
        if isinstance(v, dict)
    )
    time = dash.get("time") or {}
    meta = [
        f"uid {dash.get('uid', '')}",
        f"time {time.get('from', '')} to {time.get('to', '')}",
        f"refresh {dash.get('refresh', '')}",
        "tags " + ", ".join(dash.get("tags") or []),
    ]
    if note:
        meta.append(note)
    head_h = 96
    height = int(head_h + bottom + 24)
    doc = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(dash.get("title", ""))}</title>'
        f'<style>{CSS}</style></head><body style="width:{width}px">'
        f'<div class="head"><h1>{html.escape(dash.get("title", ""))}</h1><div class="meta">'
        + "".join(f"<span>{html.escape(m)}</span>" for m in meta)
        + f'</div><div class="vars">{variables}</div></div>'
        f'<div class="grid" style="height:{bottom:.0f}px">{"".join(items)}</div></body></html>\n'
    )
    return doc, height
