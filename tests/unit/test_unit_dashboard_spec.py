"""A `kind: Dashboard` spec says everything the dashboard model holds, and the bundled dashboards written as
specs (to_spec.py, `promspec dashboards eject`) read back to the same Grafana JSON, byte for byte.

The oracle is the JSON the presets build for the project (compile/dashboards/presets.py through the
compiler), which never passes through a spec document.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
import yaml

from bench_trees import write_bench_services
from dashboard_helpers import compile_dashboard, dashboard_json
from promspec.compile.dashboards.plan import Context
from promspec.compile.dashboards.project import DashboardBuild
from promspec.compile.dashboards.to_spec import dashboard_document, dashboard_yaml
from promspec.diagnostics import Report
from promspec.model.dashboards import Dashboard, dashboard_from_document
from promspec.model.loader import parse_text
from promspec.model.validate import validate_documents
from promspec.pipeline import load_build

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where a record came from and how it was made are not what it says: left out of the comparison.
NOT_CONTENT = {"ref", "source", "generated", "dropped"}


@pytest.fixture(scope="module")
def bundled() -> DashboardBuild:
    build, _report = load_build([os.path.join(REPO, "specs")], env={})
    return build.dashboards


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> DashboardBuild:
    """bench/generate.py's tree with a few services, one per bundled engine it cycles through."""
    root = write_bench_services(str(tmp_path_factory.mktemp("bench")), 5)
    build, _report = load_build([root], env={})
    return build.dashboards


def _read_back(text: str, file: str = "ejected.yml") -> Dashboard:
    report = Report()
    docs = validate_documents(parse_text(text, file, report), report)
    assert not report.errors, [d.format() for d in report.errors]
    (doc,) = docs
    return dashboard_from_document(doc)


def _content(value: Any) -> Any:
    """A record's fields as plain data, where it came from left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _content(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in NOT_CONTENT
        }
    if isinstance(value, (list, tuple)):
        return [_content(v) for v in value]
    return value


def _assert_round_trip(dashboards: DashboardBuild) -> int:
    checked = 0
    for built in dashboards.dashboards:
        dash = built.dashboard
        assert dash.generated and built.data is not None
        again = _read_back(dashboard_yaml(dash).decode(), f"{dash.uid}.yml")
        assert _content(again) == _content(dash), dash.uid
        assert dashboard_json(compile_dashboard(dashboards.ctx, again)) == dashboard_json(built.data), dash.uid
        checked += 1
    return checked


def test_every_bundled_dashboard_of_specs_reads_back_to_the_same_json(bundled: DashboardBuild) -> None:
    assert _assert_round_trip(bundled) == 22


def test_every_bundled_dashboard_of_the_bench_tree_reads_back_to_the_same_json(bench: DashboardBuild) -> None:
    # 5 services over the bench's engines: engine, service and SLO dashboards of each, plus the shared ones.
    assert _assert_round_trip(bench) >= 5 * 4


def test_the_spec_omits_the_readers_defaults_and_is_the_same_bytes_twice(bundled: DashboardBuild) -> None:
    dash = next(b.dashboard for b in bundled.dashboards if b.dashboard.uid == "slo-overview")
    first, second = dashboard_yaml(dash), dashboard_yaml(dash)
    assert first == second
    doc = yaml.safe_load(first)
    assert doc["metadata"] == {"name": "slo-overview"}
    assert "uid" not in doc["spec"] and "refresh" not in doc["spec"] and "time" not in doc["spec"]
    panels = [p for row in doc["spec"]["rows"] for p in row["panels"]]
    assert all(p.get("type") != "timeseries" and "stack" not in p for p in panels)
    # The table's Grafana options and the base colour of its budget gauge are said in the spec.
    table = next(p for p in panels if p["title"] == "SLOs")
    assert table["overrides"] == [{"field": "burn rate (1h)", "properties": {"unit": "suffix:x", "decimals": 2}}]
    assert [t["id"] for t in table["transformations"]] == ["merge", "organize"]
    budget = next(p for p in panels if p["title"] == "Error budget remaining")
    assert budget["thresholds"][0] == {"color": "red"}


SPEC = """\
apiVersion: promspec/v1
kind: Dashboard
metadata: {name: fleet}
spec:
  variables: [datasource, {name: tier, values: [a, b], multi: false, include_all: false}]
  rows:
    - title: Jobs
      repeat: tier
      collapsed: true
      panels:
        - title: Up
          type: table
          unit: short
          thresholds: [{color: red}, {value: 1, color: green}]
          queries: [{expr: 'up{tier="$tier"}', ref: B, instant: true, hide: false, format: table}]
          transformations: [{id: organize, options: {excludeByName: {Time: true}}}, {id: merge}]
          overrides: [{field: Value, properties: {unit: percentunit, decimals: 1}}]
        - title: Latency
          queries: [{signal: ttft, quantile: 0.990, by: [model], service: chat}]
"""


def test_a_written_spec_says_overrides_transformations_base_colour_and_reads_back_as_written() -> None:
    dash = _read_back(SPEC)
    table = dash.rows[0].panels[0]
    assert table.thresholds == [(None, "red"), (1, "green")]
    assert table.transformations == [("organize", {"excludeByName": {"Time": True}}), ("merge", {})]
    assert table.overrides == [("Value", {"unit": "percentunit", "decimals": 1})]
    data = compile_dashboard(Context(), dash)  # the signal query does not resolve here: no service
    built = data["panels"][0]["panels"][0]  # a collapsed row holds its panels
    # Grafana's JSON, written out by hand: the base step has no value, the override matches by name.
    assert built["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "red", "value": None},
        {"color": "green", "value": 1},
    ]
    assert built["fieldConfig"]["overrides"] == [
        {
            "matcher": {"id": "byName", "options": "Value"},
            "properties": [{"id": "decimals", "value": 1}, {"id": "unit", "value": "percentunit"}],
        }
    ]
    assert built["transformations"] == [
        {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        {"id": "merge", "options": {}},
    ]
    # The quantile keeps the text it was written with, through the model and back into a spec.
    again = _read_back(dashboard_yaml(dash).decode())
    assert again.rows[0].panels[1].queries[0].quantile_text == "0.990"
    assert _content(again) == _content(dash)
    assert dashboard_document(again)["spec"]["variables"][1] == {
        "name": "tier",
        "values": ["a", "b"],
        "multi": False,
        "include_all": False,
    }
