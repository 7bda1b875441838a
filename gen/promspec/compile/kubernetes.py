"""Kubernetes output (prometheus-operator): PrometheusRule, ServiceMonitor/PodMonitor, dashboard ConfigMaps."""

from __future__ import annotations

import re
from typing import Any

from ..model.project import Labels, Project, RelabelRule, ScrapeJob
from .scrape import PORT_STRIP

# A Kubernetes manifest (or part of one) as plain YAML data: its key order is the output's.
Resource = dict[str, Any]

API = "monitoring.coreos.com/v1"
MANAGED = {"app.kubernetes.io/managed-by": "promspec"}
FOLDER_ANNOTATION = "k8s-sidecar-target-directory"  # kiwigrid k8s-sidecar: the sub-directory (Grafana folder)
_RELABEL_KEYS = {
    "source_labels": "sourceLabels",
    "separator": "separator",
    "regex": "regex",
    "modulus": "modulus",
    "target_label": "targetLabel",
    "replacement": "replacement",
    "action": "action",
}


def dns_name(*parts: str) -> str:
    """A DNS-1123 name (lowercase letters, digits, '-' and '.') from parts, at most 253 characters."""
    text = "-".join(parts).lower()
    text = re.sub(r"[^a-z0-9.-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    return text[:253].rstrip("-.") or "promspec"


def _metadata(
    project: Project, name: str, labels: Labels | None = None, annotations: dict[str, str] | None = None
) -> Resource:
    k8s = project.settings.kubernetes
    meta: Resource = {"name": name}
    if k8s.namespace:
        meta["namespace"] = k8s.namespace
    meta["labels"] = {**MANAGED, **k8s.labels, **(labels or {})}
    if annotations:
        meta["annotations"] = annotations
    return meta


def prometheus_rule(project: Project, stem: str, groups: list[dict[str, Any]]) -> Resource:
    """One PrometheusRule holding the groups of one rendered rule file."""
    return {
        "apiVersion": API,
        "kind": "PrometheusRule",
        "metadata": _metadata(project, dns_name("promspec", stem)),
        "spec": {"groups": groups},
    }


def relabelings(rules: list[RelabelRule]) -> list[Resource]:
    """Prometheus relabel_configs in the operator's camelCase form."""
    return [{_RELABEL_KEYS[k]: v for k, v in rule.items() if k in _RELABEL_KEYS} for rule in rules]


def monitor(project: Project, job: ScrapeJob) -> Resource:
    """A ServiceMonitor (or PodMonitor) for a scrape job, keeping the spec's job name as the job label."""
    spec_k8s = job.kubernetes
    kind = spec_k8s.monitor
    endpoint: Resource = {"port": spec_k8s.port}
    for key, value in (
        ("path", job.metrics_path),
        ("interval", job.interval),
        ("scrapeTimeout", job.timeout),
        ("scheme", job.scheme),
    ):
        if value:
            endpoint[key] = value
    if job.params:
        endpoint["params"] = {k: list(v) for k, v in job.params.items()}
    if job.honor_labels is not None:
        endpoint["honorLabels"] = job.honor_labels
    # The operator names the job after the Service; the spec's alerts and dashboards use the job name.
    rules: list[RelabelRule] = [{"target_label": "job", "replacement": job.name}]
    common = job.target_groups[0].labels if len(job.target_groups) == 1 else {}
    rules += [{"target_label": k, "replacement": v} for k, v in sorted(common.items())]
    rules += ([PORT_STRIP] if job.strip_port else []) + [dict(r) for r in job.relabel]
    endpoint["relabelings"] = relabelings(rules)
    if job.metric_relabel:
        endpoint["metricRelabelings"] = relabelings(job.metric_relabel)
    spec: Resource = {"selector": {"matchLabels": dict(spec_k8s.selector or {"app.kubernetes.io/name": job.name})}}
    if spec_k8s.namespaces:
        spec["namespaceSelector"] = {"matchNames": list(spec_k8s.namespaces)}
    spec["podMetricsEndpoints" if kind == "PodMonitor" else "endpoints"] = [endpoint]
    if job.sample_limit is not None:
        spec["sampleLimit"] = job.sample_limit
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": _metadata(project, dns_name("promspec", job.name)),
        "spec": spec,
    }


def dashboard_configmap(project: Project, path: str, text: str) -> Resource:
    """A ConfigMap the Grafana sidecar picks up: dashboards/<folder>/<uid>.json -> folder <folder>."""
    parts = path.split("/")[1:]
    folder = "/".join(parts[:-1])
    label = project.settings.kubernetes.dashboard_label
    name = dns_name("promspec-dashboard", *[p.rsplit(".", 1)[0] for p in parts])
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(project, name, {label: "1"}, {FOLDER_ANNOTATION: folder} if folder else None),
        "data": {parts[-1]: text},
    }


def kubernetes_resources(
    project: Project, rule_groups: dict[str, tuple[str, list[dict[str, Any]]]], dashboards: dict[str, str]
) -> dict[str, tuple[Resource, str]]:
    """kubernetes/<kind>/<name>.yaml -> (resource, its source) for rule files, scrape jobs and dashboards."""
    # rule_groups: rule file stem -> (source spec, groups); dashboards: rendered path -> JSON text.
    out: dict[str, tuple[Resource, str]] = {}
    for stem, (source, groups) in sorted(rule_groups.items()):
        out[f"kubernetes/prometheusrules/{dns_name(stem)}.yaml"] = (prometheus_rule(project, stem, groups), source)
    for job in project.jobs:
        resource = monitor(project, job)
        folder = "podmonitors" if resource["kind"] == "PodMonitor" else "servicemonitors"
        out[f"kubernetes/{folder}/{dns_name(job.name)}.yaml"] = (resource, job.ref.doc.source or job.ref.file)
    for path, text in sorted(dashboards.items()):
        resource = dashboard_configmap(project, path, text)
        out[f"kubernetes/dashboards/{resource['metadata']['name']}.yaml"] = (resource, path)
    if out:
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(p[len("kubernetes/") :] for p in out),
        }
        out["kubernetes/kustomization.yaml"] = (kustomization, "the resources listed in it")
    return out
