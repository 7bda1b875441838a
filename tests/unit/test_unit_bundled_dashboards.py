"""The static bundled dashboards (gen/promspec/data/dashboards/*.yml) are specs in the public Dashboard language:
each is schema-valid, says nothing the reader would not write back, and renders the committed Grafana JSON.

The oracle for the JSON is the committed dashboards/ tree (rendered before these were spec files, by the Python
builders they replaced, and kept byte-identical since by `promspec generate specs --check`).
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import yaml

from dashboard_helpers import compile_dashboard, dashboard_json
from promspec.compile.build import Build, compile_build
from promspec.compile.dashboards.bundled import BUNDLED_DIR, STATIC, bundled_dashboard, bundled_path
from promspec.compile.dashboards.plan import context_for
from promspec.compile.dashboards.presets import _catalog_ref
from promspec.compile.dashboards.to_spec import dashboard_document, eject
from promspec.diagnostics import Report
from promspec.model.dashboards import Dashboard, dashboard_from_document
from promspec.model.loader import parse_text
from promspec.model.project import Project, Ref
from promspec.model.validate import validate_documents
from promspec.pipeline import load_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = sorted(name[: -len(".yml")] for name in os.listdir(BUNDLED_DIR) if name.endswith(".yml"))
# Where each is written for the bundled specs (their folder is spec.folder).
COMMITTED = {
    "gpu-fleet": "dashboards/infrastructure/gpu-fleet.json",
    "host-overview": "dashboards/infrastructure/host-overview.json",
    "llm-performance": "dashboards/llm/llm-performance.json",
    "llm-errors": "dashboards/llm/llm-errors.json",
}


@pytest.fixture(scope="module")
def build() -> Build:
    # The model and its Build, without the output checks (the dashboards' JSON lint is not under test here).
    project, _report = load_model([os.path.join(REPO, "specs")], env={})
    return compile_build(project)


def _anchor_ref(project: Project, name: str) -> Ref:
    anchor = next(s.anchor for s in STATIC if name in s.names)
    ref = _catalog_ref(project, anchor)
    assert ref is not None
    return ref


def test_every_static_preset_has_a_file_and_every_file_is_a_preset() -> None:
    assert NAMES == sorted(n for s in STATIC for n in s.names) == sorted(COMMITTED)


@pytest.mark.parametrize("name", NAMES)
def test_a_bundled_file_is_a_schema_valid_spec_that_says_only_what_the_reader_reads(name: str) -> None:
    with open(bundled_path(name), encoding="utf-8") as f:
        text = f.read()
    report = Report()
    docs = validate_documents(parse_text(text, bundled_path(name), report), report)
    assert not report.errors and not report.warnings, [d.format() for d in report.items]
    (doc,) = docs
    dash = dashboard_from_document(doc)
    assert dash.name == dash.uid == name
    # Written back by to_spec (what `promspec dashboards eject` writes), the file's data comes out unchanged:
    # no field at its default, nothing the reader ignores.
    assert dashboard_document(dash) == yaml.safe_load(text)


@pytest.mark.parametrize("name", NAMES)
def test_a_bundled_file_renders_the_committed_dashboard_and_points_at_its_catalog(build: Build, name: str) -> None:
    project = build.project
    ref = _anchor_ref(project, name)
    dashes = [bundled_dashboard(n, _anchor_ref(project, n)) for n in NAMES]
    dash = next(d for d in dashes if d.name == name)
    data = compile_dashboard(context_for(project, dashes), dash)
    with open(os.path.join(REPO, COMMITTED[name]), "rb") as committed:
        assert dashboard_json(data) == committed.read()
    # Warnings about a panel, and the `source` header, name the catalog that made it, as before.
    assert dash.generated and dash.source == "specs/catalog/" + os.path.basename(ref.file)
    refs = [dash.ref, *(v.ref for v in dash.variables)]
    for row, panel in dash.panels():
        refs += [row.ref, panel.ref, *(q.ref for q in panel.queries)]
    assert all(r == ref for r in refs)


def test_a_second_read_is_the_cached_model_with_fresh_lists(build: Build) -> None:
    ref = _anchor_ref(build.project, "gpu-fleet")
    first, second = bundled_dashboard("gpu-fleet", ref), bundled_dashboard("gpu-fleet", ref)
    assert first == second and first.rows is not second.rows and first.links is not second.links


def _pinned(doc: dict[str, Any], ejected: dict[str, Any]) -> dict[str, Any]:
    """doc with each panel's id taken from the ejected document (eject pins the ids the compiler gives)."""
    for row, ejected_row in zip(doc["spec"]["rows"], ejected["spec"]["rows"], strict=True):
        for panel, ejected_panel in zip(row["panels"], ejected_row["panels"], strict=True):
            assert panel["title"] == ejected_panel["title"]
            panel["id"] = ejected_panel["id"]
    return doc


@pytest.mark.parametrize("name", NAMES)
def test_eject_writes_the_bundled_file_with_the_panel_ids_pinned(build: Build, name: str) -> None:
    ejected = yaml.safe_load(eject(build.dashboards, name, "specs"))
    with open(bundled_path(name), encoding="utf-8") as f:
        bundled = yaml.safe_load(f)
    assert _pinned(bundled, ejected) == ejected


def test_eject_of_a_project_with_part_of_the_catalog_is_the_bundled_file_without_what_is_pruned(
    build: Build,
) -> None:
    from dataclasses import replace

    from promspec.compile.dashboards.project import compile_dashboards

    # A GPU catalog without the memory temperature and NVLink receive counter: one panel goes, one loses a query.
    gone = {"promspec_gpu_memory_temperature_celsius", "promspec_gpu_nvlink_receive_bytes_total"}
    project = build.project
    catalogs = [replace(c, metrics=[m for m in c.metrics if m.name not in gone]) for c in project.catalogs]
    dashboards = compile_dashboards(replace(project, catalogs=catalogs), build.rule_groups)
    ejected = yaml.safe_load(eject(dashboards, "gpu-fleet", "specs"))
    with open(bundled_path("gpu-fleet"), encoding="utf-8") as f:
        expected = yaml.safe_load(f)
    for row in expected["spec"]["rows"]:
        for panel in row["panels"]:
            panel["queries"] = [q for q in panel.get("queries", []) if not any(n in q["expr"] for n in gone)]
        row["panels"] = [p for p in row["panels"] if p["queries"] or p.get("type") == "text"]
        for panel in row["panels"]:
            if not panel["queries"]:
                del panel["queries"]
    assert _pinned(expected, ejected) == ejected
    titles = [p["title"] for row in ejected["spec"]["rows"] for p in row["panels"]]
    assert "Memory temperature" not in titles and "NVLink throughput" in titles


# node_exporter families promspec-exporter's host collectors do not serve (docs/dashboards.md, "Host").
NODE_EXPORTER_ONLY = re.compile(
    r"\bnode_(time_seconds|boot_time_seconds|vmstat_oom_kill|filefd_\w+|nf_conntrack_\w+|timex_\w+|network_speed_bytes)\b"
)


def _exporter_source() -> str:
    root = os.path.join(REPO, "gen", "promspec", "exporter")
    text = []
    for folder, _dirs, files in os.walk(root):
        for file in files:
            if file.endswith(".py"):
                with open(os.path.join(folder, file), encoding="utf-8") as f:
                    text.append(f.read())
    return "\n".join(text)


def test_every_host_panel_on_a_node_exporter_only_family_says_so_in_its_description(build: Build) -> None:
    dash: Dashboard = bundled_dashboard("host-overview", _anchor_ref(build.project, "host-overview"))
    exporter = _exporter_source()
    marked = 0
    for _row, panel in dash.panels():
        families = sorted({m.group(0) for q in panel.queries for m in NODE_EXPORTER_ONLY.finditer(q.expr)})
        note = re.search(r"From node_exporter only \(promspec-exporter does not serve ([^)]*)\)\.", panel.description)
        assert bool(families) == bool(note), panel.title
        if note:
            named = note.group(1).split(", ")
            assert set(named) <= set(families) and named == sorted(named), panel.title
            assert not any(n in exporter for n in named), panel.title
            marked += 1
    assert marked == 8


def test_a_broken_bundled_file_raises_rather_than_drawing_a_partial_dashboard(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promspec.compile.dashboards import bundled
    from promspec.diagnostics import SpecError

    monkeypatch.setattr(bundled, "BUNDLED_DIR", str(tmp_path))
    (tmp_path / "broken.yml").write_text("apiVersion: promspec/v1\nkind: Dashboard\nmetadata: {name: [\n")
    with pytest.raises(SpecError):
        bundled.bundled_document("broken")
