"""Duplicate rules (check/semantic.py's _check_names): the key holds kind, name and every label, so rules
differing in only one of those are not duplicates (a key that forgot one would report them), and the same
rule twice is one duplicate."""

from __future__ import annotations

import pytest

from promspec.check import semantic
from promspec.diagnostics import Report
from promspec.model.loader import Document
from promspec.model.project import Alert, RecordingRule, Ref, Rule, RuleGroup


def _ref(i: int = 0) -> Ref:
    return Ref(doc=Document(file="r.yml", index=0, data={}), path=("spec", "rules", i))


@pytest.mark.parametrize(
    "other",
    [
        Alert(name="a", expr="1", ref=_ref(1), labels={"x": "1"}, sources=[]),  # kind
        RecordingRule(record="b", expr="1", ref=_ref(1), labels={"x": "1"}, sources=[]),  # name
        RecordingRule(record="a", expr="1", ref=_ref(1), labels={"x": "2"}, sources=[]),  # a label's value
        RecordingRule(record="a", expr="1", ref=_ref(1), labels={"y": "1"}, sources=[]),  # a label's name
        RecordingRule(record="a", expr="1", ref=_ref(1), labels={"x": "1", "y": "1"}, sources=[]),  # one more
    ],
)
def test_rules_one_key_part_apart_are_not_duplicates(other: Rule) -> None:
    first = RecordingRule(record="a", expr="1", ref=_ref(0), labels={"x": "1"}, sources=[])
    report = Report()
    semantic._check_names([RuleGroup(name="g", kind="RecordingGroup", ref=_ref(), rules=[first, other])], report)
    assert report.items == []
    # ...and the same rule twice is one.
    semantic._check_names([RuleGroup(name="g", kind="RecordingGroup", ref=_ref(), rules=[first, other, other])], report)
    assert len(report.errors) == 1
