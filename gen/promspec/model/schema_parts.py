"""The fragments of promspec's JSON Schemas (names, durations, labels, PromQL, ...) and the kinds that need
nothing else; model/schemas.py assembles every kind from these and the feature schema modules."""

from __future__ import annotations

from typing import Any

from ..compile.promql import DURATION_PATTERN

API_VERSION = "promspec/v1"
SCHEMA_BASE = "https://promspec.dev/schemas/"

DURATION: dict[str, Any] = {
    "type": "string",
    "pattern": DURATION_PATTERN,
    "minLength": 2,
    "x-expected": "a Prometheus duration such as 30s, 5m, 1h30m or 30d",
}
METRIC_NAME = {
    "type": "string",
    "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
    "x-expected": "a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
}
LABEL_NAME = {
    "type": "string",
    "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$",
    "x-expected": "a label name ([a-zA-Z_][a-zA-Z0-9_]*)",
}
LABELS = {
    "type": "object",
    "propertyNames": {"pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"},
    "additionalProperties": {"type": "string", "x-expected": "a label value (a string; quote numbers)"},
    "x-expected": "a map of label names to string values",
}
PROMQL = {"type": "string", "minLength": 1, "x-expected": "a PromQL expression"}
NAME = {
    "type": "string",
    "pattern": r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$",
    "x-expected": "a name of letters, digits, '-', '_' and '.'",
}
HOSTPORT = {
    "type": "string",
    "pattern": r"^[^\s/]+:[0-9]{1,5}$",
    "x-expected": "host:port, e.g. localhost:9100",
}


# Positional-only, so that keywords such as **{"x-expected": ...} can never land in `required`.
def _object(properties: dict[str, Any], required: tuple[str, ...] = (), /, **extra: object) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
        **extra,
    }


METADATA = _object(
    {
        "name": NAME,
        "labels": LABELS,
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    ("name",),
)

METRIC = _object(
    {
        "name": METRIC_NAME,
        "type": {"enum": ["counter", "gauge", "histogram", "summary", "info", "stateset", "gaugehistogram", "unknown"]},
        "unit": {"type": "string"},
        "help": {"type": "string"},
        "labels": {"type": "array", "items": LABEL_NAME, "uniqueItems": True},
        "buckets": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 1,
            "x-expected": "the histogram's bucket upper bounds, without +Inf",
        },
    },
    ("name", "type"),
)

CATALOG = _object(
    {
        "metrics": {"type": "array", "items": METRIC},
        "external": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "x-expected": "metric names, or anchored regular expressions, read but not catalogued here",
        },
    }
)

RECORDING_RULE = _object(
    {
        "record": METRIC_NAME,
        "expr": PROMQL,
        "labels": LABELS,
    },
    ("record", "expr"),
)

RECORDING_GROUP = _object(
    {
        "interval": DURATION,
        "limit": {"type": "integer", "minimum": 0},
        "labels": LABELS,
        "rules": {"type": "array", "items": RECORDING_RULE, "minItems": 1},
    },
    ("rules",),
)

ALERT = _object(
    {
        "name": {
            "type": "string",
            "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$",
            "x-expected": "an alert name such as HighErrorRate ([a-zA-Z_][a-zA-Z0-9_]*)",
        },
        "expr": PROMQL,
        "for": DURATION,
        "keep_firing_for": DURATION,
        "severity": {
            "type": "string",
            "pattern": r"^[a-z][a-z0-9_-]*$",
            "x-expected": "a severity such as critical, warning, info, page or ticket",
        },
        "summary": {"type": "string"},
        "description": {"type": "string"},
        "runbook_url": {"type": "string", "pattern": r"^https?://", "x-expected": "an http(s) URL"},
        "labels": LABELS,
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    ("name", "expr"),
)

RELABEL = _object(
    {
        "source_labels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer", "minimum": 1},
        "target_label": {"type": "string"},
        "replacement": {"type": "string"},
        "action": {
            "enum": [
                "replace",
                "keep",
                "drop",
                "keepequal",
                "dropequal",
                "hashmod",
                "labelmap",
                "labeldrop",
                "labelkeep",
                "lowercase",
                "uppercase",
            ]
        },
    }
)

TARGET_GROUP = _object(
    {
        "targets": {"type": "array", "items": HOSTPORT, "minItems": 1},
        "labels": LABELS,
    },
    ("targets",),
)

SIGNALS = (
    "requests",
    "errors",
    "ttft",
    "inter_token_latency",
    "e2e_latency",
    "queue_time",
    "prompt_tokens",
    "generation_tokens",
    "running",
    "waiting",
    "kv_cache_usage",
    "preemptions",
)
VERSION = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)*$", "x-expected": "a dotted version such as 0.10 or 2.4.1"}

SIGNAL_VARIANT = _object(
    {
        "metric": METRIC_NAME,
        "type": {"enum": ["counter", "gauge", "histogram", "summary"]},
        "unit": {"type": "string"},
        "labels": {"type": "array", "items": LABEL_NAME, "uniqueItems": True},
        "buckets": {"type": "array", "items": {"type": "number"}, "minItems": 1},
        "native": {"type": "boolean", "x-expected": "true for a native histogram"},
        "matchers": {"type": "string", "x-expected": 'extra label matchers, e.g. finished_reason="error"'},
        "since": VERSION,
        "until": VERSION,
        "note": {"type": "string"},
        "help": {"type": "string"},
    },
    ("metric", "type"),
)

BACKEND = _object(
    {
        "description": {"type": "string"},
        "source": {"type": "string"},
        "model_label": LABEL_NAME,
        "colon_prefix": {
            "type": "string",
            "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*:$",
            "x-expected": "a prefix such as vllm:",
        },
        "default_version": VERSION,
        "signals": {
            "type": "object",
            "propertyNames": {"enum": list(SIGNALS)},
            "additionalProperties": {"type": "array", "items": SIGNAL_VARIANT, "minItems": 1},
            "x-expected": "canonical signals: " + ", ".join(SIGNALS),
        },
        "other": {"type": "array", "items": SIGNAL_VARIANT},
    },
    ("signals",),
)

OBJECTIVE = {
    "anyOf": [
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?%$"},
        {"type": "number", "exclusiveMinimum": 0},
    ],
    "x-expected": "an objective such as 99.9% or 0.999",
}
THRESHOLD = {
    "anyOf": [{"type": "number", "exclusiveMinimum": 0}, DURATION],
    "x-expected": "a latency such as 500ms or 0.5 (seconds)",
}
TIER = _object(
    {
        "enabled": {"type": "boolean"},
        "severity": ALERT["properties"]["severity"],
        "for": DURATION,
        "labels": LABELS,
        "burn_rate": {
            "type": "number",
            "exclusiveMinimum": 0,
            "x-expected": "a burn-rate threshold overriding the SRE Workbook factor",
        },
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    }
)
TIER_NAMES = ("page-fast", "page-slow", "ticket-fast", "ticket-slow")
ALERTING = _object(
    {
        "tiers": _object({name: TIER for name in TIER_NAMES}),
        "min_traffic": {
            "type": "number",
            "minimum": 0,
            "x-expected": "events per second below which burn alerts stay quiet",
        },
        "budget_exhausted": TIER,
        "labels": LABELS,
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        # Prometheus accepts '-' in alert names, and Sloth specs use it.
        "alert_name": {
            "type": "string",
            "pattern": r"^[a-zA-Z_][a-zA-Z0-9_-]*$",
            "x-expected": "an alert name such as HighErrorRate ([a-zA-Z_][a-zA-Z0-9_-]*)",
        },
        "runbook_url": ALERT["properties"]["runbook_url"],
    }
)
# Each SLI kind's properties come from its module (model/sli/), in the order of the SLI_KINDS table.
from .sli import sli_properties  # noqa: E402

SLI = _object(
    sli_properties(),
    minProperties=1,
    **{"x-expected": "one of signal, ratio or latency"},
)
SLO = _object(
    {
        "name": NAME,
        "description": {"type": "string"},
        "objective": OBJECTIVE,
        "window": DURATION,
        "labels": LABELS,
        "sli": SLI,
        "alerting": ALERTING,
    },
    ("name", "objective", "sli"),
)
CONVENTIONS = ("promspec", "sloth")
SERVICE = _object(
    {
        "conventions": {
            "enum": list(CONVENTIONS),
            "x-expected": "promspec (the default), or sloth: Sloth's alert names, labels and series",
        },
        "backend": NAME,
        "backend_version": VERSION,
        "colons_as_underscores": {"type": "boolean", "x-expected": "true when the scrape path rewrites vllm: to vllm_"},
        "selector": LABELS,
        "alerting": ALERTING,
        "slos": {"type": "array", "items": SLO, "minItems": 1},
    },
    ("slos",),
)
