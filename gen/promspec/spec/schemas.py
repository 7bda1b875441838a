"""JSON Schema of every spec kind: the source of truth for editors and for validation."""

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
def _object(properties: dict, required: tuple = (), /, **extra: object) -> dict:
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

ALERT_GROUP = _object(
    {
        "interval": DURATION,
        "limit": {"type": "integer", "minimum": 0},
        "labels": LABELS,
        "alerts": {"type": "array", "items": ALERT, "minItems": 1},
    },
    ("alerts",),
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

SCRAPE_JOB = _object(
    {
        "name": {"type": "string", "pattern": r"^[a-zA-Z0-9_.-]+$", "x-expected": "a job name"},
        "targets": {"type": "array", "items": HOSTPORT},
        "target_groups": {"type": "array", "items": TARGET_GROUP},
        "labels": LABELS,
        "file_sd": {
            "type": "boolean",
            "x-expected": "true to write targets to prometheus/targets/<job>.json (file_sd)",
        },
        "file_sd_refresh": DURATION,
        "interval": DURATION,
        "timeout": DURATION,
        "metrics_path": {"type": "string", "pattern": "^/", "x-expected": "a path starting with /"},
        "scheme": {"enum": ["http", "https"]},
        "params": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "honor_labels": {"type": "boolean"},
        "strip_port": {"type": "boolean", "x-expected": "true to drop the :port from the instance label"},
        "relabel": {"type": "array", "items": RELABEL},
        "metric_relabel": {"type": "array", "items": RELABEL},
        "sample_limit": {"type": "integer", "minimum": 0},
    },
    ("name",),
)

TARGETS = _object({"jobs": {"type": "array", "items": SCRAPE_JOB, "minItems": 1}}, ("jobs",))

SETTINGS = _object(
    {
        "scrape_interval": DURATION,
        "scrape_timeout": DURATION,
        "evaluation_interval": DURATION,
        "retention": DURATION,
        "external_labels": LABELS,
        "alertmanagers": {"type": "array", "items": HOSTPORT},
    }
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
# Each SLI kind's properties come from its module (spec/sli/), in the order of the SLI_KINDS table.
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

SPECS = {
    "Catalog": CATALOG,
    "RecordingGroup": RECORDING_GROUP,
    "AlertGroup": ALERT_GROUP,
    "Targets": TARGETS,
    "Settings": SETTINGS,
    "Backend": BACKEND,
    "Service": SERVICE,
}

DESCRIPTIONS = {
    "Catalog": "Metric families: name, type, unit, help and the labels they may carry.",
    "RecordingGroup": "A Prometheus recording-rule group.",
    "AlertGroup": "A Prometheus alerting-rule group.",
    "Targets": "Scrape jobs: static or file_sd targets, intervals, paths, relabelling.",
    "Settings": "Global settings; each can be overridden by a PROMSPEC_* environment variable.",
    "Backend": "An LLM engine adapter: canonical signals -> the engine's metric names, labels and buckets.",
    "Service": "A service and its SLOs: SLIs, objectives, windows and burn-rate alerting.",
}

# The Dashboard schema lives in its own module; it reuses the fragments above, so it is imported last.
from .dashboard_schema import DASHBOARD  # noqa: E402

SPECS["Dashboard"] = DASHBOARD
DESCRIPTIONS["Dashboard"] = "A Grafana dashboard: rows of panels whose queries are PromQL or canonical signals."

# Alert kinds, Notifications and the remote_write/Kubernetes/Slurm fields live in their own module,
# which reuses the fragments above.
from .ops_schema import ALERT_KINDS, NOTIFICATIONS, SCRAPE_JOB_FIELDS, SETTINGS_FIELDS  # noqa: E402

ALERT_GROUP["properties"]["alerts"]["items"] = ALERT_KINDS
SETTINGS["properties"].update(SETTINGS_FIELDS)
SCRAPE_JOB["properties"].update(SCRAPE_JOB_FIELDS)
SPECS["Notifications"] = NOTIFICATIONS
DESCRIPTIONS["Notifications"] = "Alertmanager receivers, routes, escalation and inhibition -> alertmanager.yml."


# Synthetic probes (spec/probe_schema.py) reuse the fragments above.
from .probe_schema import PROBE  # noqa: E402

SPECS["Probe"] = PROBE
DESCRIPTIONS["Probe"] = (
    "Synthetic checks run by blackbox_exporter (http, tcp, icmp, dns, grpc) from one or more locations."
)

# --- fleet (issue 16): kind Topology, clusters and the global tier (gen/promspec/fleet/schema.py).
from ..fleet.schema import TOPOLOGY  # noqa: E402

SPECS["Topology"] = TOPOLOGY
DESCRIPTIONS["Topology"] = (
    "A fleet across clusters: each cluster's external labels and Targets, and the global tier "
    "(VictoriaMetrics, Mimir or Thanos) that sums their SLO events."
)


def envelope(kind: str) -> dict:
    """The whole-document schema for one kind."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{kind}.json",
        "title": f"promspec {kind}",
        "description": DESCRIPTIONS.get(kind, ""),
        **_object(
            {
                "apiVersion": {"const": API_VERSION, "x-expected": f"apiVersion: {API_VERSION}"},
                "kind": {"const": kind},
                "metadata": METADATA,
                "spec": SPECS[kind],
            },
            ("apiVersion", "kind", "metadata", "spec"),
        ),
    }


def all_schemas() -> dict[str, dict]:
    """Every kind's schema, by kind name, in a stable order."""
    return {kind: envelope(kind) for kind in sorted(SPECS)}
