"""Renderers of the operations features: alert-kind unit tests, alertmanager.yml, Kubernetes resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .yamlout import dump_yaml, header

if TYPE_CHECKING:
    from ..compile.build import Build


def render_alert_tests(build: Build) -> dict[str, bytes]:
    """rules/tests/<spec>.test.yml: promtool unit tests for the alerts of a kind in each spec file."""
    from ..compile.alert_tests import alert_test_files

    files = {}
    for path, (source, content, untested) in alert_test_files(
        build.project, build.rule_groups, build.rule_files
    ).items():
        extra = tuple(f"Not unit-tested: {line}" for line in untested)
        files[path] = dump_yaml(content, header(source, extra))
    return files


def render_alertmanager(build: Build) -> dict[str, bytes]:
    """alertmanager/alertmanager.yml from the Notifications document, if there is one."""
    from ..compile.alertmanager import alertmanager_config, notifications_of

    notifications = notifications_of(build.project)
    if notifications is None:
        return {}
    doc = notifications.doc
    extra = ("Start Alertmanager with --cluster.listen-address= (empty) unless it runs in a cluster.",)
    config = alertmanager_config(notifications)
    return {"alertmanager/alertmanager.yml": dump_yaml(config, header(doc.source or doc.file, extra))}


def render_kubernetes(build: Build) -> dict[str, bytes]:
    """kubernetes/: prometheus-operator resources and dashboard ConfigMaps, when Settings (or --format) asks."""
    project = build.project
    if "kubernetes" not in project.settings.outputs:
        return {}
    from ..compile.kubernetes import kubernetes_resources
    from .dashboards import dashboard_texts

    groups = {
        path[len("rules/") : -len(".yml")]: (f.source, f.content["groups"]) for path, f in build.rule_files.items()
    }
    dashboards = {path: text for path, (_dash, text) in dashboard_texts(build).items()}
    return {
        path: dump_yaml(resource, header(source))
        for path, (resource, source) in kubernetes_resources(project, groups, dashboards).items()
    }
