"""Issue 9.1: an alert's severity is the one its spec says; never silently demoted to the default."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from promspec.diagnostics import SpecError
from promspec.pipeline import load_project
from promspec.render.outputs import render_project

BASE = "tests/fixtures/base"


def _rendered_alerts(tmp_path, text: str) -> list[tuple[str, str]]:
    (tmp_path / "a.yml").write_text(textwrap.dedent(text))
    project, _report = load_project([BASE, str(tmp_path / "a.yml")], env={})
    files = render_project(project)
    ours = [data for path, data in files.items() if path.startswith("rules/") and path.endswith("a.yml")]
    assert len(ours) == 1, sorted(files)
    rules = yaml.safe_load(ours[0])
    return [(r["alert"], r["labels"]["severity"]) for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_explicit_label_severity_is_kept(tmp_path):
    assert _rendered_alerts(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: node}
        spec:
          alerts:
            - {name: DiskFull, expr: up == 0, labels: {severity: critical}}
        """,
    ) == [("DiskFull", "critical")]


def test_group_label_severity_is_the_default_of_its_alerts(tmp_path):
    assert _rendered_alerts(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: node}
        spec:
          labels: {severity: critical, team: infra}
          alerts:
            - {name: FromGroup, expr: up == 0}
            - {name: OwnField, expr: up == 0, severity: info}
            - {name: OwnLabel, expr: up == 0, labels: {severity: page}}
        """,
    ) == [("FromGroup", "critical"), ("OwnField", "info"), ("OwnLabel", "page")]


def test_alert_kind_keeps_its_label_severity(tmp_path):
    assert _rendered_alerts(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: node}
        spec:
          alerts:
            - {name: NoTargets, kind: absent, job: node, labels: {severity: critical}}
        """,
    ) == [("NoTargets", "critical")]


def test_same_name_at_two_severities_is_not_a_duplicate(tmp_path):
    # The mixin pattern: one alert name at warning and at critical, with different thresholds.
    assert _rendered_alerts(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: node}
        spec:
          alerts:
            - {name: NodeFilesystemSpaceFillingUp, expr: up == 0, severity: warning}
            - {name: NodeFilesystemSpaceFillingUp, expr: up == 1, severity: critical}
            - {name: NodeFilesystemAlmostOutOfSpace, expr: up == 0, labels: {severity: warning}}
            - {name: NodeFilesystemAlmostOutOfSpace, expr: up == 1, labels: {severity: critical}}
        """,
    ) == [
        ("NodeFilesystemSpaceFillingUp", "warning"),
        ("NodeFilesystemSpaceFillingUp", "critical"),
        ("NodeFilesystemAlmostOutOfSpace", "warning"),
        ("NodeFilesystemAlmostOutOfSpace", "critical"),
    ]


def _errors(tmp_path, text: str) -> list[str]:
    (tmp_path / "a.yml").write_text(textwrap.dedent(text))
    with pytest.raises(SpecError) as info:
        load_project([BASE, str(tmp_path / "a.yml")], env={})
    return [d.format() for d in info.value.diagnostics]


def test_same_name_and_severity_is_still_a_duplicate(tmp_path):
    errors = _errors(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: node}
        spec:
          alerts:
            - {name: Twin, expr: up == 0, severity: critical}
            - {name: Twin, expr: up == 1, labels: {severity: critical}}
        """,
    )
    assert len(errors) == 1 and ":7:14: duplicate alert 'Twin'" in errors[0]


def test_field_and_label_that_disagree_is_an_error_at_the_label(tmp_path):
    errors = _errors(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: node}
        spec:
          alerts:
            - name: Conflict
              expr: up == 0
              severity: warning
              labels: {severity: critical}
        """,
    )
    assert len(errors) == 1
    assert "a.yml:9:26: labels.severity 'critical' contradicts severity 'warning'" in errors[0]
