"""`repeat` on a row of a written Dashboard: schema, model, compile, checks, and `promspec diff` in words.
Expected JSON and words are written by hand."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from promspec.diagnostics import SpecError
from promspec.diff.dashboards import compare_dashboards
from promspec.pipeline import load_build
from promspec.render.outputs import render_build

from conftest import REPO

BASE = os.path.join(REPO, "tests", "fixtures", "base")

DASHBOARD = """\
apiVersion: promspec/v1
kind: Dashboard
metadata:
  name: per-instance
spec:
  title: Per instance
  variables: [datasource, job, instance]
  rows:
    - title: Instance $instance
      repeat: {repeat}
      panels:
        - title: Requests
          unit: reqps
          queries:
            - expr: sum(rate(llm_request_total{{job=~"$job", {matcher}}}[$__rate_interval]))
"""


def _specs(tmp_path, repeat: str, matcher: str = 'instance=~"$instance"'):
    specs = tmp_path / "specs"
    shutil.copytree(BASE, specs)
    (specs / "dash.yml").write_text(DASHBOARD.format(repeat=repeat, matcher=matcher))
    return specs


def test_a_written_row_repeats_by_a_variable_of_its_dashboard(tmp_path):
    build, report = load_build([str(_specs(tmp_path, "instance"))], env={})
    assert [w.message for w in report.warnings if "repeat" in w.message] == []
    data = json.loads(render_build(build)["dashboards/general/per-instance.json"])
    (row,) = [p for p in data["panels"] if p["type"] == "row"]
    assert (row["title"], row["repeat"], row["collapsed"]) == ("Instance $instance", "instance", False)
    # Grafana repeats the panels that follow the row up to the next row: the panel sits right below it.
    (panel,) = [p for p in data["panels"] if p["type"] != "row"]
    assert panel["gridPos"]["y"] == row["gridPos"]["y"] + 1


def test_a_row_without_repeat_writes_no_repeat(tmp_path):
    specs = _specs(tmp_path, "instance")
    (specs / "dash.yml").write_text((specs / "dash.yml").read_text().replace("      repeat: instance\n", ""))
    build, _report = load_build([str(specs)], env={})
    data = json.loads(render_build(build)["dashboards/general/per-instance.json"])
    (row,) = [p for p in data["panels"] if p["type"] == "row"]
    assert "repeat" not in row


def test_a_repeat_by_an_undefined_variable_is_an_error_at_its_position(tmp_path):
    with pytest.raises(SpecError) as exc:
        load_build([str(_specs(tmp_path, "instanse"))], env={})
    (d,) = [d for d in exc.value.diagnostics if "repeats" in d.message]
    assert (os.path.basename(d.pos.file), d.pos.line, d.pos.col) == ("dash.yml", 10, 15)
    assert d.message == (
        "row 'Instance $instance' repeats by $instanse, which is not a variable of this dashboard "
        "(did you mean 'instance'?)"
    )
    assert d.path == "spec.rows[0].repeat"
    assert d.expected == "one of: datasource, job, instance"


def test_a_repeat_that_is_not_a_variable_name_is_a_schema_error(tmp_path):
    with pytest.raises(SpecError) as exc:
        load_build([str(_specs(tmp_path, '"$instance"'))], env={})
    (d,) = exc.value.diagnostics
    assert (os.path.basename(d.pos.file), d.pos.line) == ("dash.yml", 10)
    assert "without $" in d.expected


def test_a_repeat_by_a_variable_no_query_of_the_row_reads_is_a_warning(tmp_path):
    # Every copy of the row would draw the same series: the queries do not filter on $instance.
    build, report = load_build([str(_specs(tmp_path, "instance", matcher='model!=""'))], env={})
    (w,) = [w for w in report.warnings if "repeat" in w.message]
    assert (os.path.basename(w.pos.file), w.pos.line, w.pos.col) == ("dash.yml", 10, 15)
    assert w.message == (
        "row 'Instance $instance' repeats by $instance, but no query of the row reads $instance: "
        "every copy of the row would show the same series"
    )
    assert "dashboards/general/per-instance.json" in render_build(build)  # a warning: still written


# ------------------------------------------------------------------------------ promspec diff


def _dash(rows: list[dict]) -> dict[str, bytes]:
    panels = []
    for i, row in enumerate(rows):
        panels.append({"id": 100 + i, "type": "row", "title": row["title"], "gridPos": {"y": i * 9}, **row["extra"]})
        panels.append({"id": 200 + i, "type": "timeseries", "title": "Up", "targets": [{"refId": "A", "expr": "up"}]})
    data = {"uid": "d1", "title": "Hosts", "panels": panels, "templating": {"list": []}}
    return {"dashboards/general/d1.json": json.dumps(data).encode()}


def _said(base: list[dict], head: list[dict]) -> list[tuple]:
    return [
        (c.subject, c.change, c.message, c.field, c.before, c.after, c.panel_id, c.panel)
        for c in compare_dashboards(_dash(base), _dash(head))
    ]


def test_diff_says_a_rows_repeat_change_in_words():
    plain = {"title": "Host $instance", "extra": {}}
    per_host = {"title": "Host $instance", "extra": {"repeat": "instance"}}
    per_gpu = {"title": "Host $instance", "extra": {"repeat": "gpu"}}
    row = "dashboard 'Hosts', row 'Host $instance'"
    assert _said([plain], [per_host]) == [
        (row, "changed", "drawn once per value of $instance (was once)", "repeat", "", "instance", 100, None)
    ]
    assert _said([per_host], [plain]) == [
        (row, "changed", "drawn once (was once per value of $instance)", "repeat", "instance", "", 100, None)
    ]
    assert _said([per_host], [per_gpu]) == [
        (
            row,
            "changed",
            "drawn once per value of $gpu (was once per value of $instance)",
            "repeat",
            "instance",
            "gpu",
            100,
            None,
        )
    ]
    assert _said([per_host], [per_host]) == []


def test_diff_names_a_repeated_row_added_or_removed_and_pairs_a_renamed_row_by_its_id():
    first = {"title": "Fleet", "extra": {}}
    per_host = {"title": "Host $instance", "extra": {"repeat": "instance"}}
    added = _said([first], [first, per_host])
    assert [a[:6] for a in added if a[3] == "repeat"] == [
        (
            "dashboard 'Hosts', row 'Host $instance'",
            "added",
            "added, drawn once per value of $instance",
            "repeat",
            "",
            "instance",
        )
    ]
    removed = _said([first, per_host], [first])
    assert [r[:6] for r in removed if r[3] == "repeat"] == [
        (
            "dashboard 'Hosts', row 'Host $instance'",
            "removed",
            "removed (it was drawn once per value of $instance)",
            "repeat",
            "instance",
            "",
        )
    ]
    # Renamed in Grafana (the row keeps its id) with the same repeat: nothing about the repeat to say.
    renamed = {"title": "Per host", "extra": {"repeat": "instance"}}
    assert [r for r in _said([per_host], [renamed]) if r[3] == "repeat"] == []
