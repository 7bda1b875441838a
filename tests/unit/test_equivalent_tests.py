"""Unit-test files that are the same test up to names form one class; anything else stays apart."""

from __future__ import annotations

from pathlib import Path

from promspec.check.equivalent_tests import equivalence_classes

RULES = """\
groups:
- name: slo-{id}-short
  interval: 30s
  rules:
  - record: slo:sli_error:ratio_rate5m
    expr: slo:sli_errors:rate5m{{slo_id="{id}"}} / slo:sli_total:rate5m{{slo_id="{id}"}}
    labels: {{slo_id: {id}, slo: {name}}}
  - record: slo:info
    expr: vector(1)
    labels: {{slo_id: {id}, signal: {signal}, objective: "99%"}}
- name: slo-{id}-alerts
  rules:
  - alert: {alert}
    expr: slo:sli_error:ratio_rate5m{{slo_id="{id}"}} > {threshold}
    for: 2m
    labels: {{severity: page, slo_id: {id}}}
    annotations: {{summary: "{name} burns its budget"}}
"""

TEST = """\
rule_files:
- {id}.rules.yml
evaluation_interval: 1m
group_eval_order: [slo-{id}-short, slo-{id}-alerts]
tests:
- name: '{id} fires'
  interval: 1m
  input_series:
  - series: slo:sli_errors:rate5m{{slo_id="{id}"}}
    values: 1x10
  - series: slo:sli_total:rate5m{{slo_id="{id}"}}
    values: 10x10
  promql_expr_test:
  - expr: ALERTS{{alertname="{alert}",alertstate="firing"}}
    eval_time: 5m
    exp_samples:
    - labels: ALERTS{{alertname="{alert}",alertstate="firing",severity="page",slo_id="{id}"}}
      value: 1
"""


def _write(tmp: Path, **names: str) -> str:
    values = {"threshold": "0.05", "signal": names["name"], **names}
    (tmp / f"{names['id']}.rules.yml").write_text(RULES.format(**values))
    path = tmp / f"{names['id']}.test.yml"
    path.write_text(TEST.format(**values))
    return str(path)


def _classes(*paths: str) -> list[list[str]]:
    return [[Path(p).stem for p in members] for members in equivalence_classes(list(paths))]


def test_renamed_slos_are_one_class(tmp_path):
    a = _write(tmp_path, id="chat-ttft", name="ttft", alert="ChatTtftBurn")
    b = _write(tmp_path, id="chat-itl", name="itl", alert="ChatItlBurn", signal="inter_token_latency")
    assert _classes(a, b) == [["chat-ttft.test", "chat-itl.test"]]


def test_a_different_number_is_a_different_test(tmp_path):
    a = _write(tmp_path, id="a-x", name="x", alert="AX")
    b = _write(tmp_path, id="b-x", name="x", alert="BX", threshold="0.06")
    assert _classes(a, b) == [["a-x.test"], ["b-x.test"]]


def test_names_that_coincide_in_one_file_only_are_not_a_renaming(tmp_path):
    # In a, the SLO name equals the alert's severity; in b it does not: not one-to-one, so both run.
    a = _write(tmp_path, id="a-page", name="page", alert="APage")
    b = _write(tmp_path, id="b-x", name="x", alert="BX")
    assert _classes(a, b) == [["a-page.test"], ["b-x.test"]]


def test_regex_matchers_and_label_functions_make_a_class_of_their_own(tmp_path):
    a = _write(tmp_path, id="a-x", name="x", alert="AX")
    b = _write(tmp_path, id="b-x", name="x", alert="BX")
    rules = tmp_path / "b-x.rules.yml"
    rules.write_text(rules.read_text().replace('{slo_id="b-x"} >', '{slo_id=~"b-x"} >'))
    c = _write(tmp_path, id="c-x", name="x", alert="CX")
    rules = tmp_path / "c-x.rules.yml"
    rules.write_text(rules.read_text().replace("expr: vector(1)", 'expr: label_replace(vector(1), "a", "b", "", "")'))
    assert _classes(a, b, c) == [["a-x.test"], ["b-x.test"], ["c-x.test"]]


def test_an_alert_name_prometheus_would_refuse_is_not_renamed_into(tmp_path):
    a = _write(tmp_path, id="a-x", name="x", alert="AX")
    b = _write(tmp_path, id="b-x", name="x", alert="B-X")
    assert _classes(a, b) == [["a-x.test"], ["b-x.test"]]


def test_unknown_keys_and_missing_rule_files_run_alone(tmp_path):
    a = _write(tmp_path, id="a-x", name="x", alert="AX")
    b = _write(tmp_path, id="b-x", name="x", alert="BX")
    Path(b).write_text(Path(b).read_text() + "external_labels: {region: eu}\n")
    c = _write(tmp_path, id="c-x", name="x", alert="CX")
    (tmp_path / "c-x.rules.yml").unlink()
    d = _write(tmp_path, id="d-x", name="x", alert="DX")
    assert _classes(a, b, c, d) == [["a-x.test", "d-x.test"], ["b-x.test"], ["c-x.test"]]


def test_a_series_some_rule_reads_keeps_its_label_values(tmp_path):
    # slo:info is read here, so its labels count: a's signal equals its SLO name, b's does not.
    a = _write(tmp_path, id="a-x", name="x", alert="AX")
    b = _write(tmp_path, id="b-x", name="x", alert="BX", signal="other")
    for path in (tmp_path / "a-x.rules.yml", tmp_path / "b-x.rules.yml"):
        path.write_text(path.read_text().replace("> 0.05", "> 0.05 and on() slo:info"))
    assert _classes(a, b) == [["a-x.test"], ["b-x.test"]]
