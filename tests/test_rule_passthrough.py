"""Plain Prometheus rule files and PrometheusRule manifests in specs/: passed through as written, checked.

Oracle for "unchanged": the input file itself, parsed with PyYAML, against the rendered rules file
parsed the same way; nothing of promspec's is used to compute the expectation.
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml
from click.testing import CliRunner

from promspec.cli import cli
from promspec.diagnostics import SpecError
from promspec.pipeline import load_project

from conftest import REPO, run_promspec

ADOPTED = os.path.join(REPO, "tests", "fixtures", "adopted")

CATALOG = """\
apiVersion: promspec/v1
kind: Catalog
metadata: {name: app}
spec:
  metrics:
    - {name: app_requests_total, type: counter, labels: [route, code]}
"""


def _specs(tmp_path, *names, extra: dict | None = None):
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(os.path.join(ADOPTED, name), specs / name)
    for name, text in (extra or {}).items():
        (specs / name).write_text(text)
    return specs


def _load(specs):
    return load_project([str(specs)], env={})


def _errors(specs) -> list[str]:
    with pytest.raises(SpecError) as exc:
        _load(specs)
    return [d.format() for d in exc.value.diagnostics]


def _yaml(path) -> list:
    with open(path, encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def test_groups_render_exactly_as_written(tmp_path):
    specs = _specs(tmp_path, "node.rules.yml", "operator.yaml")
    result = CliRunner().invoke(
        cli, ["generate", "-q", str(specs), "-o", str(tmp_path / "out")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    rules = tmp_path / "out" / "rules"
    (node,) = _yaml(os.path.join(ADOPTED, "node.rules.yml"))
    (operator,) = _yaml(os.path.join(ADOPTED, "operator.yaml"))
    assert _yaml(rules / "node.rules.yml") == [node]  # no severity added, `-` in a name kept, "true" a string
    assert _yaml(rules / "operator.yml") == [{"groups": operator["spec"]["groups"]}]


def test_uncatalogued_metrics_are_warnings_once_per_file_and_metric(tmp_path):
    specs = _specs(tmp_path, "node.rules.yml", "operator.yaml")
    project, report = _load(specs)
    warned = sorted(
        (w.pos.file.rsplit("/", 1)[-1], w.message.split("'")[1])
        for w in report.warnings
        if "is not in any Catalog" in w.message
    )
    # app_errors_total is read twice in operator.yaml, node_filesystem_avail_bytes twice in node.rules.yml:
    # one warning each. instance:node_cpu_busy:rate5m is recorded in the same file: no warning.
    assert warned == [
        ("node.rules.yml", "node_cpu_seconds_total"),
        ("node.rules.yml", "node_filesystem_avail_bytes"),
        ("node.rules.yml", "node_filesystem_size_bytes"),
        ("operator.yaml", "app_errors_total"),
        ("operator.yaml", "app_requests_total"),
    ]
    assert not report.errors
    assert sum(len(g.rules) for g in project.groups) == 6


def test_a_native_rule_reading_the_same_metric_still_errors(tmp_path):
    native = (
        "apiVersion: promspec/v1\nkind: AlertGroup\nmetadata: {name: mine}\nspec:\n  alerts:\n"
        "    - {name: Mine, expr: 'app_errors_total > 1', severity: warning}\n"
    )
    errors = _errors(_specs(tmp_path, "operator.yaml", extra={"mine.yml": native}))
    assert len(errors) == 1 and "mine.yml:6:" in errors[0] and "'app_errors_total' is not in any Catalog" in errors[0]


def test_catalogued_metrics_get_label_checks(tmp_path):
    text = (
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: A\n        expr: sum by (rout) (rate(app_requests_total[5m])) > 1\n"
    )
    errors = _errors(_specs(tmp_path, extra={"app.yml": CATALOG, "r.yml": text}))
    assert len(errors) == 1
    assert "r.yml:5:23: label 'rout' in by() is not a label of app_requests_total" in errors[0]


@pytest.mark.parametrize(
    "rule, message, where",
    [
        (
            "      - alert: A\n        expr: up == 0\n        fore: 5m\n",
            "field 'fore' is not a field of a alerting rule (did you mean 'for'?)",
            "6:9",
        ),
        ("      - alert: A\n        expr: up == 0\n        for: five\n", "for: 'five' is not a duration", "6:14"),
        ("      - record: 'a-b'\n        expr: up\n", "invalid recording rule name 'a-b'", "4:17"),
        (
            "      - record: a\n        alert: A\n        expr: up\n",
            "a rule has exactly one of record and alert",
            "4:9",
        ),
        (
            "      - alert: A\n        expr: up == 0\n        labels: {page: true}\n",
            "labels.page must be a string",
            "6:24",
        ),
        ("      - alert: A\n        expr: sum(rate(up[5m])\n", "PromQL parse error", "5:"),
        (
            "      - record: a\n        expr: up\n        for: 5m\n",
            "field 'for' is not a field of a recording rule",
            "6:9",
        ),
    ],
)
@pytest.mark.slow
def test_shape_errors_have_positions(tmp_path, rule, message, where):
    text = "groups:\n  - name: g\n    rules:\n" + rule
    errors = _errors(_specs(tmp_path, extra={"r.yml": text}))
    assert any(message in e and f"r.yml:{where}" in e for e in errors), errors


def test_duplicate_group_names_in_a_file_are_errors(tmp_path):
    text = (
        "groups:\n  - name: g\n    rules:\n      - {alert: A, expr: up == 0}\n"
        "  - name: g\n    rules:\n      - {record: r, expr: up}\n"
    )
    errors = _errors(_specs(tmp_path, extra={"r.yml": text}))
    assert len(errors) == 1 and "r.yml:5:11: duplicate rule group name 'g' in this file" in errors[0]


def test_duplicate_alerts_are_errors(tmp_path):
    text = "groups:\n  - name: g\n    rules:\n      - {alert: A, expr: up == 0}\n      - {alert: A, expr: up == 1}\n"
    errors = _errors(_specs(tmp_path, extra={"r.yml": text}))
    assert len(errors) == 1 and "r.yml:5:9: duplicate alert 'A'" in errors[0]


def test_validate_counts_adopted_groups(tmp_path):
    specs = _specs(tmp_path, "node.rules.yml", "operator.yaml")
    result = CliRunner().invoke(cli, ["validate", str(specs)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "3 rule groups, 6 rules" in result.output


@pytest.mark.slow
def test_promtool_accepts_the_output_and_diff_explains_a_change(tmp_path):
    specs = _specs(tmp_path, "node.rules.yml", "operator.yaml")
    run_promspec("generate", str(specs), "-o", str(tmp_path / "before"), check=0)
    run_promspec("check", str(tmp_path / "before"), check=0)
    path = specs / "operator.yaml"
    path.write_text(path.read_text().replace("> 0.05", "> 0.02"))
    run_promspec("generate", str(specs), "-o", str(tmp_path / "after"), check=0)
    proc = run_promspec("diff", str(tmp_path / "before"), str(tmp_path / "after"), check=0)
    assert "AppErrorRate" in proc.stdout and "0.02" in proc.stdout
