"""JSON Schema of every spec kind: the source of truth for editors and for validation.

Assembled here, once and explicitly, from the fragments (model/schema_parts.py) and the feature schema
modules (alert kinds, notifications and settings fields, dashboards, probes); nothing is patched later.
"""

from __future__ import annotations

from typing import Any

from ..fleet.schema import TOPOLOGY
from .dashboard_schema import DASHBOARD
from .ops_schema import ALERT_KINDS, NOTIFICATIONS, SCRAPE_JOB_FIELDS, SETTINGS_FIELDS
from .probe_schema import PROBE
from .schema_parts import (
    API_VERSION,
    BACKEND,
    CATALOG,
    DURATION,
    HOSTPORT,
    LABEL_NAME,
    LABELS,
    METADATA,
    RECORDING_GROUP,
    RELABEL,
    SCHEMA_BASE,
    SERVICE,
    SIGNALS,
    TARGET_GROUP,
    _object,
)

__all__ = ["API_VERSION", "DURATION", "HOSTPORT", "LABEL_NAME", "SIGNALS", "SPECS", "all_schemas", "envelope"]

ALERT_GROUP = _object(
    {
        "interval": DURATION,
        "limit": {"type": "integer", "minimum": 0},
        "labels": LABELS,
        "alerts": {"type": "array", "items": ALERT_KINDS, "minItems": 1},
    },
    ("alerts",),
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
        **SCRAPE_JOB_FIELDS,  # slurm and kubernetes (model/ops_schema.py)
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
        **SETTINGS_FIELDS,  # outputs, remote_write, kubernetes (model/ops_schema.py)
    }
)

SPECS = {
    "Catalog": CATALOG,
    "RecordingGroup": RECORDING_GROUP,
    "AlertGroup": ALERT_GROUP,
    "Targets": TARGETS,
    "Settings": SETTINGS,
    "Backend": BACKEND,
    "Service": SERVICE,
    "Dashboard": DASHBOARD,
    "Notifications": NOTIFICATIONS,
    "Probe": PROBE,
    "Topology": TOPOLOGY,  # fleet/ (issue 16): clusters and the global tier
}

DESCRIPTIONS = {
    "Catalog": "Metric families: name, type, unit, help and the labels they may carry.",
    "RecordingGroup": "A Prometheus recording-rule group.",
    "AlertGroup": "A Prometheus alerting-rule group.",
    "Targets": "Scrape jobs: static or file_sd targets, intervals, paths, relabelling.",
    "Settings": "Global settings; each can be overridden by a PROMSPEC_* environment variable.",
    "Backend": "An LLM engine adapter: canonical signals -> the engine's metric names, labels and buckets.",
    "Service": "A service and its SLOs: SLIs, objectives, windows and burn-rate alerting.",
    "Dashboard": "A Grafana dashboard: rows of panels whose queries are PromQL or canonical signals.",
    "Notifications": "Alertmanager receivers, routes, escalation and inhibition -> alertmanager.yml.",
    "Probe": "Synthetic checks run by blackbox_exporter (http, tcp, icmp, dns, grpc) from one or more locations.",
    "Topology": (
        "A fleet across clusters: each cluster's external labels and Targets, and the global tier "
        "(VictoriaMetrics, Mimir or Thanos) that sums their SLO events."
    ),
}


def envelope(kind: str) -> dict[str, Any]:
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


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every kind's schema, by kind name, in a stable order."""
    return {kind: envelope(kind) for kind in sorted(SPECS)}
