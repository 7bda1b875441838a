"""CRD validation of Kubernetes resources built in Python: no files, no promtool."""

from __future__ import annotations

from promspec.check.kubernetes_crds import validate_resource


def test_map_list_of_non_objects_is_a_type_error_not_a_crash():
    # spec.groups is a list-type map keyed by name; items that are not objects have no key to compare.
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "llm"},
        "spec": {"groups": ["a", "b"]},
    }
    assert validate_resource(rule) == [
        "spec.groups[0]: 'a' is not of type 'object'",
        "spec.groups[1]: 'b' is not of type 'object'",
    ]


def test_map_list_with_a_repeated_key_is_reported():
    group = {"name": "g", "rules": [{"record": "r", "expr": "1"}]}
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "llm"},
        "spec": {"groups": [group, dict(group)]},
    }
    assert validate_resource(rule) == ["spec.groups[1]: duplicate name g"]
