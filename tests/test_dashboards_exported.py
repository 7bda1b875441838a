"""Dashboards exported from the Grafana UI: `promspec check --lenient --dashboard A B C` accepts real shapes.

The fixtures (tests/fixtures/exported/) are written for this project in the shapes the UI exports:
`__inputs`/`__requires`, `${DS_PROMETHEUS}` datasources, null members, old panel types (graph,
singlestat), options cut down to what the user touched, no fieldConfig, rows with collapsed panels,
legacy keys of older Grafana versions (style, numeric gnetId, refresh: false, tag variables).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from promspec.check.dashboards import check_dashboard_dir, check_file
from promspec.cli import cli
from promspec.diagnostics import SpecError
from promspec.pipeline import load_project

from conftest import REPO

EXPORTED = os.path.join(REPO, "tests", "fixtures", "exported")
FILES = [os.path.join(EXPORTED, f) for f in ("node.json", "vllm.json", "dcgm.json")]


def _check(*args):
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


@pytest.mark.parametrize("form", ["--dashboard A B C", "--dashboard A --dashboard B --dashboard C"])
def test_lenient_passes_several_real_shaped_exports_in_one_run(form):
    args = ["--dashboard", *FILES] if form == "--dashboard A B C" else [a for f in FILES for a in ("--dashboard", f)]
    result = _check("--lenient", *args)
    assert result.exit_code == 0, result.output
    assert "ok: 3 checks passed" in result.output
    # What it could not check is said, once per legacy panel type and file, at the panel's type.
    assert "dcgm.json:180:15: warning: panel type 'singlestat' has no vendored schema" in result.output
    assert "node.json:192:15: warning: panel type 'graph'" in result.output


@pytest.mark.parametrize("path", FILES)
def test_strict_mode_still_rejects_exports(path):
    assert any(f.severity == "error" for f in check_file(path, lenient=False))


def test_dashboard_files_and_a_directory_do_not_mix(tmp_path):
    result = _check("--dashboard", FILES[0], str(tmp_path))
    assert result.exit_code == 2 and "is a directory: --dashboard takes JSON files" in result.output


def _edited(tmp_path, name, edit):
    with open(os.path.join(EXPORTED, name), encoding="utf-8") as fh:
        data = json.load(fh)
    edit(data)
    out = tmp_path / name
    out.write_text(json.dumps(data, indent=2))
    return str(out)


def test_lenient_still_rejects_wrong_types(tmp_path):
    def edit(d):
        d["panels"][0]["options"]["legend"] = "bottom"

    errors = [f for f in check_file(_edited(tmp_path, "vllm.json", edit), lenient=True) if f.severity == "error"]
    assert [(f.path, f.rule) for f in errors] == [("panels[0].options.legend", "schema")]
    assert "'bottom' is not of type 'object'" in errors[0].message


def test_lenient_still_rejects_bad_promql_with_its_position(tmp_path):
    def edit(d):
        d["panels"][2]["targets"][0]["expr"] = "sum(rate(node_cpu_seconds_total[$__rate_interval])"

    errors = [f for f in check_file(_edited(tmp_path, "node.json", edit), lenient=True) if f.severity == "error"]
    assert [(f.path, f.rule) for f in errors] == [("panels[2].targets[0].expr", "target-promql")]
    assert errors[0].line > 1


def test_lenient_checks_the_common_fields_of_legacy_panels(tmp_path):
    def edit(d):
        d["panels"][1]["gridPos"] = {"h": "eight", "w": 6, "x": 12, "y": 0}

    errors = [f for f in check_file(_edited(tmp_path, "dcgm.json", edit), lenient=True) if f.severity == "error"]
    assert errors and all(f.path.startswith("panels[1]") for f in errors)


# ---------------------------------------------------------------- Dashboard specs referencing an export

REFERENCES = """\
apiVersion: promspec/v1
kind: Dashboard
metadata: {name: node}
spec: {file: exported/node.json}
---
apiVersion: promspec/v1
kind: Dashboard
metadata: {name: vllm, labels: {team: llm}}
spec:
  file: exported/vllm.json
"""


def _specs(tmp_path, text=REFERENCES, exports=("node.json", "vllm.json")):
    specs = tmp_path / "specs"
    (specs / "exported").mkdir(parents=True)
    for name in exports:
        shutil.copy(os.path.join(EXPORTED, name), specs / "exported" / name)
    (specs / "dashboards.yml").write_text(text)
    return specs


def _generate(specs, out):
    result = CliRunner().invoke(cli, ["generate", "-q", str(specs), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_dashboard_spec_renders_a_referenced_export_as_it_is(tmp_path):
    _generate(_specs(tmp_path), tmp_path / "out")
    dashboards = tmp_path / "out" / "dashboards"
    for rendered, name in (
        (dashboards / "general" / "node-exported.json", "node.json"),
        (dashboards / "llm" / "b281712d-8bff-41ef-9f3f-71ad43c05e9b.json", "vllm.json"),
    ):
        with open(os.path.join(EXPORTED, name), encoding="utf-8") as fh:
            assert json.loads(rendered.read_text()) == json.load(fh)  # every key, uid included
    provisioning = (dashboards / "provisioning.yml").read_text()
    assert "general/node-exported.json: specs/dashboards.yml (Grafana export, as it is)" in provisioning
    # `promspec check` on the output checks exports leniently, generated dashboards strictly.
    assert all(r.ok for r in check_dashboard_dir(str(tmp_path / "out")))


@pytest.mark.slow
def test_an_export_change_shows_in_promspec_diff(tmp_path):
    from promspec.diff.compare import compare
    from promspec.diff.report import markdown
    from promspec.diff.sources import read_side

    specs = _specs(tmp_path)
    _generate(specs, tmp_path / "before")
    path = specs / "exported" / "node.json"
    data = json.loads(path.read_text())
    data["panels"][1]["targets"][0]["expr"] = data["panels"][1]["targets"][0]["expr"].replace("idle", "iowait")
    path.write_text(json.dumps(data, indent=2))
    _generate(specs, tmp_path / "after")
    text = markdown(
        compare(read_side(str(tmp_path / "before"), ""), read_side(str(tmp_path / "after"), "")), "before", "after"
    )
    assert "CPU Busy" in text and "iowait" in text


def test_fields_beside_file_are_errors(tmp_path):
    specs = _specs(
        tmp_path, REFERENCES.replace("  file: exported/vllm.json\n", "  file: exported/vllm.json\n  title: Mine\n")
    )
    with pytest.raises(SpecError) as exc:
        load_project([str(specs)], env={})
    (d,) = exc.value.diagnostics
    assert d.format().startswith(f"{specs}/dashboards.yml:11:3: 'title' cannot be set with 'file'")


def test_a_missing_export_is_an_error_at_spec_file(tmp_path):
    specs = _specs(tmp_path, REFERENCES.replace("exported/node.json", "exported/nope.json"), exports=("vllm.json",))
    with pytest.raises(SpecError) as exc:
        load_project([str(specs)], env={})
    (d,) = exc.value.diagnostics
    assert d.format().startswith(f"{specs}/dashboards.yml:4:14: cannot read")


def test_an_unreferenced_export_in_specs_says_how_to_adopt_it(tmp_path):
    specs = _specs(tmp_path, REFERENCES, exports=("node.json", "vllm.json", "dcgm.json"))
    with pytest.raises(SpecError) as exc:
        load_project([str(specs)], env={})
    (d,) = exc.value.diagnostics
    assert "dcgm.json:1:1: a Grafana dashboard export, which no Dashboard spec references" in d.format()


def test_an_export_without_uid_is_an_error(tmp_path):
    specs = _specs(tmp_path)
    path = specs / "exported" / "node.json"
    data = json.loads(path.read_text())
    del data["uid"]
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(SpecError) as exc:
        load_project([str(specs)], env={})
    assert "exported/node.json has no uid" in exc.value.diagnostics[0].format()


def test_an_import_input_provisioning_cannot_fill_is_a_warning(tmp_path):
    specs = _specs(tmp_path)
    path = specs / "exported" / "vllm.json"
    data = json.loads(path.read_text())
    data["templating"]["list"][0]["name"] = "datasource"  # ${DS_PROMETHEUS} is now no variable
    path.write_text(json.dumps(data, indent=2))
    _project, report = load_project([str(specs)], env={})
    assert any("reads ${DS_PROMETHEUS}, an import-time input" in w.format() for w in report.warnings)
