"""Preset content left out because a series it reads is in no catalog: a whole dashboard, a panel, or some
of a panel's queries. `generate` warns after a likely rename and stays quiet for a catalog that never
listed the series; `promspec diff` names each loss with its cause. Expected words are written by hand."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from promspec.check.vanished_panels import vanished_panels
from promspec.compile.dashboards.presets import _prune
from promspec.model.dashboards import Dashboard, DroppedDashboard, Panel, Query, Row
from promspec.pipeline import load_build, load_project

from conftest import REPO, run_promspec

BASE = os.path.join(REPO, "tests", "fixtures", "base")


def _gpu_catalog(*names: str) -> str:
    metrics = "".join(f"    - name: {n}\n      type: gauge\n      labels: [gpu]\n" for n in names)
    return f"apiVersion: promspec/v1\nkind: Catalog\nmetadata:\n  name: gpu\nspec:\n  metrics:\n{metrics}"


def _project(tmp_path, catalog: str):
    """tests/fixtures/base (LLM guide metrics, node_* external) plus a GPU catalog."""
    specs = tmp_path / "specs"
    shutil.copytree(BASE, specs)
    (specs / "gpu.yml").write_text(catalog)
    return specs


def _losses(report) -> list[str]:
    return [w.message for w in report.warnings if w.message.startswith("generated dashboard")]


def _line_of(path, needle: str) -> int:
    return next(i for i, x in enumerate(path.read_text().splitlines(), 1) if needle in x)


# ------------------------------------------------------------------------------ a whole dashboard


def test_a_preset_dashboard_whose_anchor_metric_was_renamed_is_a_warning_at_the_rename(tmp_path):
    specs = _project(tmp_path, _gpu_catalog("promspec_gpus_up", "promspec_gpu_temperature_celsius"))
    _, report = load_project([str(specs)], env={})
    (w,) = [w for w in report.warnings if w.message.startswith("generated dashboard")]
    assert w.message == (
        "generated dashboard 'GPU fleet' (gpu-fleet) is left out: it is generated for promspec_gpu_up, "
        "which no Catalog lists (did you mean 'promspec_gpus_up'?)"
    )
    assert (os.path.basename(w.pos.file), w.pos.line, w.pos.col) == ("gpu.yml", 7, 13)


def test_another_exporters_close_name_is_not_taken_for_a_rename(tmp_path):
    # A vLLM-only catalog: llm_request_total (the generic LLM dashboards' anchor) was never there, and
    # vllm_request_success_total, close in spelling, is vLLM's own metric: no warning (a false alarm before).
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "vllm.yml").write_text(
        "apiVersion: promspec/v1\nkind: Catalog\nmetadata:\n  name: vllm\nspec:\n  metrics:\n"
        "    - name: vllm_request_success_total\n      type: counter\n"
        "    - name: vllm_num_requests_running\n      type: gauge\n"
    )
    (specs / "targets.yml").write_text(
        "apiVersion: promspec/v1\nkind: Targets\nmetadata:\n  name: t\nspec:\n  jobs:\n"
        "    - name: vllm\n      targets: ['127.0.0.1:8000']\n"
    )
    _, report = load_project([str(specs)], env={})
    assert _losses(report) == []


def test_a_project_that_never_catalogued_a_presets_anchor_is_not_warned_about():
    build, report = load_build([BASE], env={})
    assert _losses(report) == []
    # ... though the loss is known, for `promspec diff`: the GPU fleet is not made without promspec_gpu_up.
    gone = [v for v in vanished_panels(build.project, [], build.dashboards.left_out) if v.part == "dashboard"]
    assert [(v.uid, v.reason, v.pos) for v in gone] == [
        ("gpu-fleet", "it is generated for promspec_gpu_up, which no Catalog lists", None)
    ]


def test_a_preset_dashboard_that_loses_every_query_is_left_out_whole_and_said_once():
    build, _report = load_build([BASE], env={})
    ref = build.project.catalogs[0].ref
    dash = Dashboard(
        name="made-up",
        ref=ref,
        title="Made up",
        uid="made-up",
        generated=True,
        rows=[
            Row(
                title="Only",
                ref=ref,
                panels=[
                    Panel(title="A", ref=ref, unit="short", queries=[Query(ref=ref, expr="sum(gone_a_total)")]),
                    Panel(title="B", ref=ref, unit="short", queries=[Query(ref=ref, expr="sum(gone_b)")]),
                    Panel(title="Note", ref=ref, type="text", content="text keeps nothing alive"),
                ],
            )
        ],
    )
    presets = _prune([dash], build.project, build.rule_groups)
    assert presets.dashboards == []
    assert presets.left_out == [
        DroppedDashboard(uid="made-up", title="Made up", metrics=("gone_a_total", "gone_b"), ref=ref)
    ]
    (v,) = vanished_panels(build.project, presets.dashboards, presets.left_out)
    assert (v.part, v.reason) == (
        "dashboard",
        "nothing it reads is catalogued: it reads gone_a_total, which no Catalog lists; gone_b, which no Catalog lists",
    )


# ------------------------------------------------------------------------------ some of a panel's queries


def _renamed_nvlink(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(os.path.join(REPO, "specs"), specs)
    catalog = specs / "catalog" / "exporter.yml"
    text = catalog.read_text()
    assert text.count("name: promspec_gpu_nvlink_receive_bytes_total\n") == 1
    catalog.write_text(
        text.replace(
            "name: promspec_gpu_nvlink_receive_bytes_total\n", "name: promspec_gpu_nvlink_received_bytes_total\n"
        )
    )
    return specs, _line_of(catalog, "promspec_gpu_nvlink_received_bytes_total")


NVLINK_REASON = (
    "it is drawn without its queries on promspec_gpu_nvlink_receive_bytes_total, which no Catalog lists "
    "(did you mean 'promspec_gpu_nvlink_received_bytes_total'?)"
)


def test_a_panel_that_loses_one_of_its_queries_after_a_rename_is_a_warning_naming_the_lost_series(tmp_path):
    specs, line = _renamed_nvlink(tmp_path)
    _, report = load_project([str(specs)])
    (w,) = [w for w in report.warnings if w.message.startswith("generated dashboard")]
    assert w.message == (
        "generated dashboard 'GPU fleet' (gpu-fleet), panel 'NVLink throughput' in row 'Interconnect': " + NVLINK_REASON
    )
    assert (os.path.basename(w.pos.file), w.pos.line, w.pos.col) == ("exporter.yml", line, 13)


def test_a_catalog_that_never_listed_one_of_a_panels_series_loses_that_query_quietly(tmp_path):
    # The transmit series is catalogued, the receive series never was: not a rename, though the names are
    # close (a name the presets still read cannot be what a lost one became).
    specs = _project(tmp_path, _gpu_catalog("promspec_gpu_up", "promspec_gpu_nvlink_transmit_bytes_total"))
    build, report = load_build([str(specs)], env={})
    assert _losses(report) == []
    dashes = [b.dashboard for b in build.dashboards.dashboards]
    lost = [(v.uid, v.panel, v.part, v.lost) for v in vanished_panels(build.project, dashes) if v.part == "queries"]
    assert lost == [("gpu-fleet", "NVLink throughput", "queries", ("promspec_gpu_nvlink_receive_bytes_total",))]


def test_bundled_specs_and_fixtures_lose_no_preset_content_with_a_warning():
    for specs in (os.path.join(REPO, "specs"), BASE):
        _, report = load_project([specs], env={})
        assert _losses(report) == [], specs


# ------------------------------------------------------------------------------ promspec diff


@pytest.mark.slow
def test_diff_names_a_lost_query_and_a_left_out_dashboard_with_their_causes(tmp_path):
    before = tmp_path / "before"
    shutil.copytree(os.path.join(REPO, "specs"), before / "specs")
    after = tmp_path / "after"
    specs, line = _renamed_nvlink(after)
    proc = run_promspec("diff", str(before), str(after), "--render", "--format", "json", check=0)
    (lost,) = [c for c in json.loads(proc.stdout)["changes"] if c["panel"] == "NVLink throughput"]
    assert (lost["uid"], lost["change"], lost["field"], lost["message"]) == (
        "gpu-fleet",
        "removed",
        "targets.B",
        "query B removed",
    )
    assert lost["cause"] == f"{NVLINK_REASON}, at {specs}/catalog/exporter.yml:{line}:13"

    gpu_before = _project(tmp_path / "gb", _gpu_catalog("promspec_gpu_up"))
    gpu_after = _project(tmp_path / "ga", _gpu_catalog("promspec_gpus_up"))
    proc = run_promspec("diff", str(gpu_before.parent), str(gpu_after.parent), "--render", "--format", "json", check=0)
    (gone,) = [c for c in json.loads(proc.stdout)["changes"] if c["uid"] == "gpu-fleet"]
    assert (gone["change"], gone["panel"]) == ("removed", None)
    assert gone["cause"] == (
        "it is generated for promspec_gpu_up, which no Catalog lists (did you mean 'promspec_gpus_up'?), "
        f"at {gpu_after}/gpu.yml:7:13"
    )
