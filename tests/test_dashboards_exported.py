"""Dashboards exported from the Grafana UI: `promspec check --lenient --dashboard A B C` accepts real shapes.

The fixtures (tests/fixtures/exported/) are written for this project in the shapes the UI exports:
`__inputs`/`__requires`, `${DS_PROMETHEUS}` datasources, null members, old panel types (graph,
singlestat), options cut down to what the user touched, no fieldConfig, rows with collapsed panels,
legacy keys of older Grafana versions (style, numeric gnetId, refresh: false, tag variables).
"""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from conftest import REPO
from promspec.check.dashboards import check_file
from promspec.cli import cli

EXPORTED = os.path.join(REPO, "tests", "fixtures", "exported")
FILES = [os.path.join(EXPORTED, f) for f in ("node.json", "vllm.json", "dcgm.json")]


def _check(*args):
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def test_lenient_passes_several_real_shaped_exports_in_one_run():
    args = [a for f in FILES for a in ("--dashboard", f)]
    result = _check("--lenient", *args)
    assert result.exit_code == 0, result.output
    assert "ok: 3 checks passed" in result.output
    # What it could not check is said, once per legacy panel type and file, at the panel's type.
    assert "dcgm.json:180:15: warning: panel type 'singlestat' has no vendored schema" in result.output
    assert "node.json:192:15: warning: panel type 'graph'" in result.output


@pytest.mark.parametrize("path", FILES)
def test_strict_mode_still_rejects_exports(path):
    assert any(f.severity == "error" for f in check_file(path, lenient=False))


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
