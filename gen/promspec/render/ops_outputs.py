"""Renderers of the operations features: alert-kind unit tests, alertmanager.yml, Kubernetes resources."""

from __future__ import annotations

from ..spec.model import Project
from .yamlout import dump_yaml, header


def render_alert_tests(project: Project) -> dict[str, bytes]:
    """rules/tests/<spec>.test.yml: promtool unit tests for the alerts of a kind in each spec file."""
    from ..compile.alert_tests import alert_test_files

    files = {}
    for path, (source, content, untested) in alert_test_files(project).items():
        extra = tuple(f"Not unit-tested: {line}" for line in untested)
        files[path] = dump_yaml(content, header(source, extra))
    return files


def render_alertmanager(project: Project) -> dict[str, bytes]:
    """alertmanager/alertmanager.yml from the Notifications document, if there is one."""
    from ..compile.alertmanager import alertmanager_config, notifications_of

    notifications = notifications_of(project)
    if notifications is None:
        return {}
    doc = notifications.doc
    extra = ("Start Alertmanager with --cluster.listen-address= (empty) unless it runs in a cluster.",)
    config = alertmanager_config(notifications)
    return {"alertmanager/alertmanager.yml": dump_yaml(config, header(doc.source or doc.file, extra))}


def render_kubernetes(project: Project) -> dict[str, bytes]:
    """kubernetes/: prometheus-operator resources and dashboard ConfigMaps, when Settings (or --format) asks."""
    if "kubernetes" not in project.settings.outputs:
        return {}
    from ..compile.kubernetes import kubernetes_resources
    from ..compile.rules import rule_files
    from .dashboards import render_dashboards

    groups = {
        path[len("rules/") : -len(".yml")]: (source, content["groups"])
        for path, (source, content) in rule_files(project).items()
    }
    dashboards = {p: data.decode("utf-8") for p, data in render_dashboards(project).items() if p.endswith(".json")}
    return {
        path: dump_yaml(resource, header(source))
        for path, (resource, source) in kubernetes_resources(project, groups, dashboards).items()
    }


OPS_RENDERERS = [render_alert_tests, render_alertmanager, render_kubernetes]
OPS_ROOTS = ["alertmanager", "kubernetes"]
