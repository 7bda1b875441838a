"""JSON Schema of the Dashboard kind: rows of panels whose queries are PromQL or canonical signals."""

from __future__ import annotations

from typing import Any

from .schema_parts import LABEL_NAME, NAME, PROMQL, SIGNALS, _object

PANEL_TYPES = ("timeseries", "stat", "gauge", "bargauge", "heatmap", "table", "text")
VARIABLES = ("datasource", "job", "instance", "model", "gpu")
LEGEND_CALCS = ("mean", "max", "min", "last", "lastNotNull", "sum", "count", "range", "delta")

COLOR = {"type": "string", "minLength": 1, "x-expected": "a colour name such as green, orange, red or a #rrggbb value"}
GRAFANA_DURATION = {
    "type": "string",
    "pattern": r"^[0-9]+(ms|s|m|h|d|w|y)$",
    "x-expected": "a Grafana duration such as 30s, 5m or 1h",
}
TIME = {
    "type": "string",
    "pattern": r"^(now(-[0-9]+[smhdwMy](/[smhdwMy])?)?|now/[smhdwMy])$",
    "x-expected": "a relative time such as now, now-6h or now/d",
}

QUERY = _object(
    {
        "expr": {
            **PROMQL,
            "x-expected": "a PromQL expression (Grafana variables such as $job and $__rate_interval allowed)",
        },
        "signal": {"enum": list(SIGNALS), "x-expected": "a canonical signal: " + ", ".join(SIGNALS)},
        "quantile": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 1,
            "x-expected": "a quantile between 0 and 1, such as 0.95",
        },
        "mean": {"type": "boolean", "x-expected": "true for the mean of a latency signal (sum / count)"},
        "ratio": {"type": "boolean", "x-expected": "true for errors as a share of requests"},
        "by": {
            "type": "array",
            "items": LABEL_NAME,
            "uniqueItems": True,
            "x-expected": "labels to keep, e.g. [model]; `model` means the engine's model label",
        },
        "service": NAME,
        "legend": {"type": "string", "x-expected": "a legend template such as {{model}} p95"},
        "ref": {"type": "string", "pattern": "^[A-Z]{1,3}$", "x-expected": "a query id such as A, B or C"},
        "instant": {"type": "boolean"},
        "format": {"enum": ["time_series", "table", "heatmap"]},
        "hide": {"type": "boolean"},
    }
)

THRESHOLD = _object(
    {
        "value": {
            "type": "number",
            "x-expected": "the value the colour starts at; leave it out on the first step to set the base colour "
            "(green otherwise)",
        },
        "color": COLOR,
    },
    ("color",),
)

# Grafana's own option names: a transformation's options and an override's properties are passed through
# as written (the bundled dashboards' tables use them), so only their outer shape is checked here.
TRANSFORMATION = _object(
    {
        "id": {
            "type": "string",
            "pattern": r"^[a-zA-Z][a-zA-Z0-9_-]*$",
            "x-expected": "a Grafana transformation id such as organize, merge or filterFieldsByName",
        },
        "options": {"type": "object", "x-expected": "the transformation's options, as Grafana names them"},
    },
    ("id",),
)

OVERRIDE = _object(
    {
        "field": {"type": "string", "minLength": 1, "x-expected": "the name of the field (column or series)"},
        "properties": {
            "type": "object",
            "minProperties": 1,
            "x-expected": "field config properties by Grafana id, such as {unit: percentunit, decimals: 2}",
        },
    },
    ("field", "properties"),
)

LINK = _object(
    {
        "title": {"type": "string", "minLength": 1},
        "dashboard": {**NAME, "x-expected": "the metadata.name of another Dashboard (or a generated one's uid)"},
        "url": {"type": "string", "pattern": r"^(https?://|/)", "x-expected": "an http(s) URL or a path"},
    }
)

PANEL = _object(
    {
        "title": {"type": "string", "minLength": 1},
        "type": {"enum": list(PANEL_TYPES), "x-expected": "a panel type: " + ", ".join(PANEL_TYPES)},
        "id": {
            "type": "integer",
            "minimum": 1,
            "maximum": 2147483647,
            "x-expected": "a panel id that stays the same when the title changes",
        },
        "description": {"type": "string"},
        "width": {"type": "integer", "minimum": 1, "maximum": 24, "x-expected": "a width of 1-24 grid columns"},
        "height": {"type": "integer", "minimum": 1, "maximum": 50, "x-expected": "a height of 1-50 grid rows"},
        "unit": {"type": "string", "minLength": 1, "x-expected": "a Grafana unit such as s, reqps, percentunit, bytes"},
        "decimals": {"type": "integer", "minimum": 0, "maximum": 10},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "thresholds": {
            "type": "array",
            "items": THRESHOLD,
            "x-expected": "steps such as [{value: 0.8, color: orange}, {value: 0.95, color: red}]",
        },
        "legend": _object(
            {
                "show": {"type": "boolean"},
                "placement": {"enum": ["bottom", "right"]},
                "mode": {"enum": ["list", "table"]},
                "calcs": {"type": "array", "items": {"enum": list(LEGEND_CALCS)}, "uniqueItems": True},
            }
        ),
        "stack": {"type": "boolean"},
        "fill": {"type": "integer", "minimum": 0, "maximum": 100, "x-expected": "a fill opacity of 0-100"},
        "content": {"type": "string", "x-expected": "Markdown shown by a text panel"},
        "links": {"type": "array", "items": LINK},
        "queries": {"type": "array", "items": QUERY},
        "transformations": {
            "type": "array",
            "items": TRANSFORMATION,
            "x-expected": "Grafana transformations in order, such as [{id: organize, options: {...}}]",
        },
        "overrides": {
            "type": "array",
            "items": OVERRIDE,
            "x-expected": "per-field settings such as [{field: burn rate, properties: {unit: 'suffix:x'}}]",
        },
    }
)

ROW = _object(
    {
        "title": {"type": "string", "minLength": 1},
        "collapsed": {"type": "boolean"},
        "repeat": {
            "type": "string",
            "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$",
            "x-expected": "the name of a variable of this dashboard (without $): Grafana draws the row once per "
            "selected value",
        },
        "panels": {"type": "array", "items": PANEL},
    },
    ("title",),
)

VARIABLE = {
    "anyOf": [
        {"enum": list(VARIABLES)},
        _object(
            {
                "name": {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"},
                "label": {"type": "string"},
                "metric": {
                    "type": "string",
                    "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
                    "x-expected": "the metric whose label values fill the variable",
                },
                "values": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "x-expected": "fixed values (a custom variable)",
                },
                "multi": {"type": "boolean"},
                "include_all": {"type": "boolean"},
            },
            ("name",),
        ),
    ],
    "x-expected": "one of " + ", ".join(VARIABLES) + ", or {name, metric} / {name, values}",
}

DASHBOARD: dict[str, Any] = _object(
    {
        "file": {
            "type": "string",
            "pattern": r"\.json$",
            "x-expected": "a dashboard JSON file exported from Grafana, relative to this spec file "
            "(rendered as it is, uid kept; only folder may be set beside it)",
        },
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "uid": {
            "type": "string",
            "pattern": r"^[a-zA-Z0-9_-]{1,40}$",
            "x-expected": "1-40 letters, digits, '-' or '_' (default: derived from metadata.name)",
        },
        "folder": {
            "type": "string",
            "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9 _.-]*$",
            "x-expected": "a folder name (default: metadata.labels.team, else general)",
        },
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
        "service": {**NAME, "x-expected": "the Service whose backend resolves `signal:` queries"},
        "backend": {
            **NAME,
            "x-expected": "a Backend (engine) that resolves `signal:` queries when no service is named",
        },
        "time": _object({"from": TIME, "to": TIME}),
        "refresh": GRAFANA_DURATION,
        "variables": {"type": "array", "items": VARIABLE},
        "links": {"type": "array", "items": LINK},
        "panels": {"type": "array", "items": PANEL, "x-expected": "panels shown above the first row"},
        "rows": {"type": "array", "items": ROW},
    },
    (),
    minProperties=1,
)
