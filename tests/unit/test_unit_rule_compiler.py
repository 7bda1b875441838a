"""The rule compiler (model -> Prometheus rule-file data) on models built in Python: no YAML, no promtool."""

from __future__ import annotations

from promspec.compile.rules import alert_rule, group_dict, rule_file_name, rule_files
from promspec.model.loader import Document
from promspec.model.project import Alert, RecordingRule, Ref, RuleGroup


def _ref(source: str = "specs/llm.yml") -> Ref:
    return Ref(doc=Document(file=source, index=0, data={}, source=source), path=("spec",))


def test_alert_rule_omits_empty_durations_and_puts_severity_first():
    rule = alert_rule(
        Alert(name="HighErrors", expr="errors > 0.1", ref=_ref(), severity="page", labels={"team": "serving"})
    )
    assert rule == {"alert": "HighErrors", "expr": "errors > 0.1", "labels": {"severity": "page", "team": "serving"}}
    assert list(rule["labels"]) == ["severity", "team"]


def test_alert_rule_keeps_for_keep_firing_for_and_annotations():
    rule = alert_rule(
        Alert(name="A", expr="up == 0", ref=_ref(), for_="5m", keep_firing_for="10m", annotations={"summary": "down"})
    )
    assert rule["for"] == "5m" and rule["keep_firing_for"] == "10m"
    assert rule["annotations"] == {"summary": "down"}
    assert rule["labels"] == {"severity": "warning"}  # the model's default severity


def test_the_alerts_severity_field_wins_over_a_severity_label():
    rule = alert_rule(Alert(name="A", expr="up == 0", ref=_ref(), severity="page", labels={"severity": "info"}))
    assert rule["labels"] == {"severity": "page"}


def test_group_dict_writes_interval_and_limit_only_when_set_and_copies_labels():
    labels = {"slo_id": "x"}
    group = RuleGroup(
        name="g",
        kind="RecordingGroup",
        ref=_ref(),
        interval="30s",
        limit=0,
        rules=[
            RecordingRule(record="job:up:sum", expr="sum(up)", ref=_ref(), labels=labels),
            RecordingRule(record="job:down:sum", expr="sum(1 - up)", ref=_ref()),
        ],
    )
    out = group_dict(group)
    assert out == {
        "name": "g",
        "interval": "30s",
        "limit": 0,
        "rules": [
            {"record": "job:up:sum", "expr": "sum(up)", "labels": {"slo_id": "x"}},
            {"record": "job:down:sum", "expr": "sum(1 - up)"},
        ],
    }
    out["rules"][0]["labels"]["slo_id"] = "changed"
    assert labels == {"slo_id": "x"}  # the output never aliases the model
    assert group_dict(RuleGroup(name="h", kind="AlertGroup", ref=_ref())) == {"name": "h", "rules": []}


def test_rule_file_names_follow_the_spec_path_below_its_root():
    assert rule_file_name("specs/llm.yml") == "rules/llm.yml"
    assert rule_file_name("specs/teams/chat/api.yaml") == "rules/teams-chat-api.yml"
    assert rule_file_name("specs\\teams\\gpu.yml") == "rules/teams-gpu.yml"
    assert rule_file_name("alone.yml") == "rules/alone.yml"


def test_rule_files_group_by_spec_file_in_spec_order_and_sort_files():
    b1 = RuleGroup(name="b1", kind="AlertGroup", ref=_ref("specs/b.yml"))
    a1 = RuleGroup(name="a1", kind="AlertGroup", ref=_ref("specs/a.yml"))
    b2 = RuleGroup(name="b2", kind="AlertGroup", ref=_ref("specs/b.yml"))
    files = rule_files([b1, a1, b2])
    assert list(files) == ["rules/a.yml", "rules/b.yml"]
    assert files["rules/b.yml"].source == "specs/b.yml"
    assert [g["name"] for g in files["rules/b.yml"].content["groups"]] == ["b1", "b2"]
