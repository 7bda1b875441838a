"""Adopted rule files: shape checks that report a malformed PrometheusRule instead of crashing."""

from __future__ import annotations

import pytest

from promspec.diagnostics import Report
from promspec.model.loader import parse_text
from promspec.model.rule_files import check_rule_document

_HEAD = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\n"


@pytest.mark.parametrize(
    ("tail", "where"),
    [
        ("spec: [1, 2]\n", "r.yml:4:7"),  # a list has no `groups` (was a TypeError)
        ("spec: {}\n", "r.yml:4:7"),  # no `groups` under spec
        ("other: 1\n", "r.yml:1:1"),  # no `spec` at all (was a KeyError)
    ],
)
def test_prometheus_rule_without_groups_is_an_error_at_its_place(tail: str, where: str) -> None:
    report = Report()
    (doc,) = parse_text(_HEAD + tail, "r.yml", report)
    assert not check_rule_document(doc, report)
    assert [(str(d.pos), d.message) for d in report.items] == [(where, "groups must be a list of rule groups")]
