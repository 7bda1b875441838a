"""Dashboards: the Dashboard kind, generated presets, offline validation, stable identity, diff, preview."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess

import pytest

from promspec.check.dashboards import check_file, validate_dashboard
from promspec.compile.dashboards.grafana_vars import substitute
from promspec.compile.promql import parse
from promspec.diagnostics import SpecError
from promspec.pipeline import load_project
from promspec.render.outputs import render_project

from conftest import REPO, run_promspec, snapshot

VLLM_DASHBOARD = """\
apiVersion: promspec/v1
kind: Dashboard
metadata:
  name: chat-latency
  labels: {team: inference}
spec:
  title: Chat latency
  service: chat-vllm
  variables: [datasource, job, instance, model]
  links: [{dashboard: gpu-fleet}]
  rows:
    - title: Latency
      panels:
        - title: TTFT p95
          unit: s
          queries:
            - {signal: ttft, quantile: 0.95, by: [model]}
        - title: Queue
          unit: s
          queries:
            - expr: histogram_quantile(0.9, sum by (le) (rate(vllm:request_queue_time_seconds_bucket{job=~"$job"}[$__rate_interval])))
              legend: p90
        - title: Errors
          unit: percentunit
          thresholds: [{value: 0.01, color: orange}, {value: 0.05, color: red}]
          queries: [{signal: errors, ratio: true}]
    - title: Load
      panels:
        - {title: Running, type: stat, unit: short, queries: [{signal: running}]}
        - {title: KV cache, type: gauge, unit: percentunit, min: 0, max: 1, queries: [{signal: kv_cache_usage}]}
        - {title: Notes, type: text, content: "Owned by **inference**."}
"""  # noqa: E501 - the edits below give positions (line:col) in this layout


@pytest.fixture(scope="module")
def bundled():
    """The bundled specs rendered in-process: {path: bytes}."""
    project, _report = load_project([os.path.join(REPO, "specs")])
    return render_project(project)


def _dashboards(files: dict) -> dict:
    return {p: json.loads(b) for p, b in files.items() if p.startswith("dashboards/") and p.endswith(".json")}


def _specs_with(tmp_path, text: str, name: str = "dash.yml"):
    specs = tmp_path / "specs"
    if not specs.exists():
        shutil.copytree(os.path.join(REPO, "specs"), specs)
    (specs / name).write_text(text)
    return specs


def _all_panels(dash: dict) -> list:
    return [p for p in dash["panels"]] + [q for p in dash["panels"] for q in p.get("panels", [])]


# ------------------------------------------------------------------------------ generated dashboards


def test_generated_dashboards_validate_and_parse(bundled):
    dashes = _dashboards(bundled)
    uids = {d["uid"] for d in dashes.values()}
    # LLM serving per engine and per service, the LLM guide's two, GPU fleet, host, SLO overview + details.
    assert {
        "llm-engine-vllm",
        "llm-engine-sglang",
        "llm-service-chat-vllm",
        "llm-performance",
        "llm-errors",
        "gpu-fleet",
        "host-overview",
        "slo-overview",
        "slo-chat-vllm-ttft",
    } <= uids
    for path, dash in dashes.items():
        assert dash["schemaVersion"] == 42, path
        assert validate_dashboard(dash) == [], path
        for panel in _all_panels(dash):
            for target in panel.get("targets", []):
                parse(substitute(target["expr"]))  # raises on a parse error
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            if panel["type"] == "timeseries":
                assert panel["options"]["legend"]["showLegend"] is True  # the SDK hides legends by default
                assert panel["options"]["tooltip"]["sort"] == "desc"


def test_llm_serving_charts_every_signal_of_vllms_example_dashboard(bundled):
    # Panels of vLLM's example Grafana dashboard (examples/online_serving/prometheus_grafana/grafana.json):
    # E2E latency, token throughput, inter-token latency, scheduler state, TTFT, cache utilisation,
    # finish reason, queue time; and for vLLM: prompt/generation length, prefill/decode time, max tokens.
    example_signals = (
        "e2e_latency",
        "prompt_tokens",
        "generation_tokens",
        "inter_token_latency",
        "running",
        "waiting",
        "ttft",
        "kv_cache_usage",
        "queue_time",
        "requests",
    )
    project, _ = load_project([os.path.join(REPO, "specs")])
    dashes = {d["uid"]: d for d in _dashboards(bundled).values()}
    for name, backend in project.backends.items():
        exprs = "\n".join(t["expr"] for p in _all_panels(dashes[f"llm-engine-{name}"]) for t in p.get("targets", []))
        for signal in example_signals:
            variant = backend.variant(signal)
            if variant is not None:
                assert variant.metric in exprs, f"{name}: {signal} ({variant.metric}) not charted"
        for signal in ("ttft", "inter_token_latency", "e2e_latency"):
            variant = backend.variant(signal)
            if variant is not None and variant.type == "histogram":
                for q in ("0.5", "0.95", "0.99"):
                    assert f"histogram_quantile({q}, sum by (le) (rate({variant.metric}_bucket" in exprs
    vllm = "\n".join(t["expr"] for p in _all_panels(dashes["llm-engine-vllm"]) for t in p.get("targets", []))
    for metric in (
        "vllm:request_prompt_tokens_bucket",
        "vllm:request_generation_tokens_bucket",
        "vllm:request_prefill_time_seconds_sum",
        "vllm:request_decode_time_seconds_sum",
        "vllm:request_max_num_generation_tokens_sum",
        "sum by (finished_reason)",
    ):
        assert metric in vllm
    heatmaps = [p for p in _all_panels(dashes["llm-engine-vllm"]) if p["type"] == "heatmap"]
    assert any("vllm:time_to_first_token_seconds_bucket" in p["targets"][0]["expr"] for p in heatmaps)


def test_variables_chain_and_provisioning_has_a_folder_per_team(bundled):
    dash = _dashboards(bundled)["dashboards/llm/llm-engine-vllm.json"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["instance"]["query"] == 'label_values(vllm:request_success_total{job=~"$job"}, instance)'
    assert (
        variables["model"]["query"]
        == 'label_values(vllm:request_success_total{job=~"$job", instance=~"$instance"}, model_name)'
    )
    gpu = {v["name"]: v for v in _dashboards(bundled)["dashboards/infrastructure/gpu-fleet.json"]["templating"]["list"]}
    assert gpu["gpu"]["query"] == 'label_values(promspec_gpu_up{job=~"$job", instance=~"$instance"}, gpu)'
    import yaml

    providers = yaml.safe_load(bundled["dashboards/provisioning.yml"])["providers"]
    folders = {os.path.dirname(p)[len("dashboards/") :] for p in _dashboards(bundled)}
    assert {p["options"]["path"].rsplit("/", 1)[1] for p in providers} == folders
    assert {"inference", "infrastructure", "llm", "slo"} <= folders


# ------------------------------------------------------------------------------ the Dashboard kind


@pytest.mark.slow
def test_spec_dashboard_resolves_signals_through_the_service_backend(tmp_path):
    specs = _specs_with(tmp_path, VLLM_DASHBOARD)
    out = tmp_path / "out"
    run_promspec("generate", str(specs), "-o", str(out), check=0)
    dash = json.loads((out / "dashboards" / "inference" / "chat-latency.json").read_text())
    assert dash["uid"] == "chat-latency" and dash["title"] == "Chat latency"
    panels = {p["title"]: p for p in _all_panels(dash)}
    assert panels["TTFT p95"]["targets"][0]["expr"] == (
        "histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket"
        '{job="vllm", instance=~"$instance", model_name=~"$model"}[$__rate_interval])))'
    )
    assert panels["TTFT p95"]["targets"][0]["legendFormat"] == "{{model_name}} p95"
    assert 'finished_reason="error"' in panels["Errors"]["targets"][0]["expr"]
    assert [s["value"] for s in panels["Errors"]["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [
        None,
        0.01,
        0.05,
    ]
    # Layout from spec order: a row bar, then panels flowing left to right and wrapping.
    grid = [(p["title"], p["gridPos"]["x"], p["gridPos"]["y"], p["gridPos"]["w"]) for p in dash["panels"]]
    assert grid[:4] == [("Latency", 0, 0, 24), ("TTFT p95", 0, 1, 12), ("Queue", 12, 1, 12), ("Errors", 0, 9, 12)]
    # Only the data source travels: job/instance/model name other series on the GPU fleet.
    assert dash["links"][0]["url"] == "/d/gpu-fleet?${datasource:queryparam}"
    ids = [p["id"] for p in _all_panels(dash)]
    assert len(set(ids)) == len(ids) and all(isinstance(i, int) and i > 0 for i in ids)
    assert check_file(str(out / "dashboards" / "inference" / "chat-latency.json")) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit, where, message",
    [
        (
            ("{signal: ttft, quantile: 0.95, by: [model]}", "{signal: ttft, by: [model]}"),
            "17:24",
            "latency signal 'ttft' needs one of quantile, mean or a heatmap panel",
        ),
        (
            ("{signal: running}", "{signal: running, quantile: 0.5}"),
            "29:72",
            "signal 'running' is a gauge of vllm:num_requests_running: it has no quantiles or heatmap",
        ),
        (
            ("vllm:request_queue_time_seconds_bucket", "vllm:request_queue_seconds_bucket"),
            "21:63",
            "metric 'vllm:request_queue_seconds_bucket' is neither catalogued nor recorded",
        ),
        (('{job=~"$job"}', '{job=~"$team"}'), "21:108", "$team is not a variable of this dashboard"),
        (("[$__rate_interval])))", "[$__rate_interval]))"), "21:21", "PromQL parse error"),
        (("- title: Queue", "- title: TTFT p95"), "18:18", "two panels titled 'TTFT p95' in row 'Latency'"),
        (
            ("{dashboard: gpu-fleet}", "{dashboard: gpu-flet}"),
            "10:10",
            "link to unknown dashboard 'gpu-flet' (did you mean 'gpu-fleet'?)",
        ),
        (("service: chat-vllm", "service: chat"), "8:12", "unknown service 'chat' (did you mean 'chat-vllm'?)"),
        (("unit: percentunit\n          thresholds", "thresholds"), "23:18", "panel 'Errors' sets no unit"),
        (("quantile: 0.95", "quantile: 1.5"), "17:40", "spec.rows[0].panels[0].queries[0].quantile"),
        (("[$__rate_interval])))\n", "[5m])))\n"), "21:21", "rate() over 5m: use [$__rate_interval]"),
    ],
)
def test_bad_dashboard_specs_fail_with_a_position_and_write_nothing(tmp_path, edit, where, message):
    old, new = edit
    assert old in VLLM_DASHBOARD
    specs = _specs_with(tmp_path, VLLM_DASHBOARD.replace(old, new, 1))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous output")
    proc = run_promspec("generate", str(specs), "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"dash.yml:{where}" in proc.stderr, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert snapshot(str(out)) == {"keep.txt": b"previous output"}


@pytest.mark.slow
def test_generate_applies_the_lint_rules_that_check_applies(tmp_path):
    specs = _specs_with(
        tmp_path,
        """\
apiVersion: promspec/v1
kind: Dashboard
metadata: {name: lint-me}
spec:
  variables: [datasource]
  panels:
    - title: Rate
      unit: reqps
      queries:
        - expr: sum(rate(llm_request_total[5m]))
""",
    )
    proc = run_promspec("generate", str(specs), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1 and not (tmp_path / "out").exists()
    assert "dash.yml:5:14: no 'job' variable" in proc.stderr and "[template-job]" in proc.stderr
    assert "dash.yml:5:14: no 'instance' variable" in proc.stderr
    assert "dash.yml:10:17: rate() over 5m: use [$__rate_interval]" in proc.stderr


def test_a_spec_dashboard_overrides_the_preset_with_its_uid(tmp_path):
    specs = _specs_with(
        tmp_path,
        VLLM_DASHBOARD.replace("name: chat-latency", "name: gpu-fleet")
        .replace("title: Chat latency", "title: Our GPUs")
        .replace("[{dashboard: gpu-fleet}]", "[]"),
    )
    project, _ = load_project([str(specs)])
    dashes = _dashboards(render_project(project))
    fleet = [d for d in dashes.values() if d["uid"] == "gpu-fleet"]
    assert [d["title"] for d in fleet] == ["Our GPUs"]


# ------------------------------------------------------------------------------ stable identity and diff


@pytest.mark.slow
def test_one_panel_change_changes_only_that_panels_lines_and_diff_says_so(tmp_path):
    specs = _specs_with(tmp_path, VLLM_DASHBOARD)
    before, after = tmp_path / "before", tmp_path / "after"
    run_promspec("generate", str(specs), "-o", str(before), check=0)
    (specs / "dash.yml").write_text(
        VLLM_DASHBOARD.replace(
            'rate(vllm:request_queue_time_seconds_bucket{job=~"$job"}',
            'rate(vllm:request_queue_time_seconds_bucket{job=~"$job", instance=~"$instance"}',
        )
    )
    run_promspec("generate", str(specs), "-o", str(after), check=0)
    a, b = snapshot(str(before / "dashboards")), snapshot(str(after / "dashboards"))
    changed = sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))
    assert changed == [os.path.join("inference", "chat-latency.json")]
    old, new = json.loads(a[changed[0]]), json.loads(b[changed[0]])
    queue = next(i for i, p in enumerate(new["panels"]) if p.get("title") == "Queue")
    # Everything but that panel is byte-identical, and the panel differs in its expression only.
    for d in (old, new):
        d["panels"][queue] = None
    assert json.dumps(old, indent=2) == json.dumps(new, indent=2)
    lines_a, lines_b = a[changed[0]].decode().splitlines(), b[changed[0]].decode().splitlines()
    assert len(lines_a) == len(lines_b)
    assert [i for i, (x, y) in enumerate(zip(lines_a, lines_b, strict=True)) if x != y] == [
        next(i for i, line in enumerate(lines_b) if "request_queue_time_seconds_bucket" in line)
    ]

    proc = run_promspec("diff", str(before), str(after), "--format", "json", check=0)
    changes = json.loads(proc.stdout)["changes"]
    queue_id = json.loads(b[changed[0]])["panels"][queue]["id"]
    assert changes == [
        {
            "section": "Dashboards",
            "file": "dashboards/inference/chat-latency.json",
            "change": "changed",
            "subject": "dashboard 'Chat latency', panel 'Queue'",
            "uid": "chat-latency",
            "panel_id": queue_id,
            "panel": "Queue",
            "rule": None,
            "slo": None,
            "field": "targets.A.expr",
            "message": "query A: expression changed: "
            'vllm:request_queue_time_seconds_bucket: matcher instance=~"$instance" added',
            "before": 'histogram_quantile(0.9, sum by (le) (rate(vllm:request_queue_time_seconds_bucket{job=~"$job"}'
            "[$__rate_interval])))",
            "after": 'histogram_quantile(0.9, sum by (le) (rate(vllm:request_queue_time_seconds_bucket{job=~"$job", '
            'instance=~"$instance"}[$__rate_interval])))',
            "cause": None,
            "image_before": None,
            "image_after": None,
        }
    ]
    md = run_promspec("diff", str(before), str(after), check=0).stdout
    assert "- dashboard **Chat latency**, panel 'Queue': query A: expression changed" in md
    assert (
        '  + histogram_quantile(0.9, sum by (le) (rate(vllm:request_queue_time_seconds_bucket{job=~"$job", '
        'instance=~"$instance"}' in md
    )


@pytest.mark.slow
def test_panel_ids_survive_unrelated_edits_and_moves_are_reported(tmp_path):
    specs = _specs_with(tmp_path, VLLM_DASHBOARD)
    project, _ = load_project([str(specs)])
    first = _dashboards(render_project(project))["dashboards/inference/chat-latency.json"]
    edited = VLLM_DASHBOARD.replace(
        "    - title: Load\n      panels:\n",
        "    - title: Load\n      panels:\n        - {title: Waiting, unit: short, queries: [{signal: waiting}]}\n",
    )
    edited = edited.replace("        - title: Errors\n", "        - title: Errors\n          width: 24\n")
    (specs / "dash.yml").write_text(edited)
    project, _ = load_project([str(specs)])
    second = _dashboards(render_project(project))["dashboards/inference/chat-latency.json"]
    ids_a = {p["title"]: p["id"] for p in _all_panels(first)}
    ids_b = {p["title"]: p["id"] for p in _all_panels(second)}
    assert {t: ids_b[t] for t in ids_a} == ids_a
    before, after = tmp_path / "a", tmp_path / "b"
    for d, dash in ((before, first), (after, second)):
        (d / "dashboards").mkdir(parents=True)
        (d / "dashboards" / "x.json").write_text(json.dumps(dash))
    md = run_promspec("diff", str(before), str(after), check=0).stdout
    assert "panel 'Waiting': added to row 'Load'" in md
    assert "panel 'Errors': size 12x8 -> 24x8" in md
    assert "panel 'Running': moved" not in md  # shifted down by the new panel, not moved


@pytest.mark.slow
def test_diff_reads_git_revisions_and_explains_rule_and_slo_changes(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(os.path.join(REPO, "specs"), repo / "specs")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]

    def commit(message):
        run_promspec("generate", "specs", "-o", ".", cwd=str(repo), check=0)
        subprocess.run(git + ["add", "-A"], cwd=repo, check=True, capture_output=True)
        subprocess.run(git + ["commit", "-qm", message], cwd=repo, check=True, capture_output=True)

    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    commit("base")
    subprocess.run(git + ["checkout", "-qb", "change"], cwd=repo, check=True)
    llm = repo / "specs" / "llm.yml"
    llm.write_text(llm.read_text().replace("for: 5m", "for: 10m", 1))
    svc = repo / "specs" / "services" / "vllm.yml"
    svc.write_text(svc.read_text().replace("objective: 99%", "objective: 99.5%", 1))
    commit("change")
    md = run_promspec("diff", cwd=str(repo), check=0).stdout  # merge base with main .. work tree
    assert "- alert `HighErrorRate`: for 5m -> 10m" in md
    assert "- SLO `chat-vllm-ttft`: objective 99% -> 99.5%" in md
    assert md == run_promspec("diff", "main", "change", cwd=str(repo), check=0).stdout.replace(
        "`main` → `change`", f"`{md.split('`')[1]}` → `work tree`"
    )
    rendered = run_promspec("diff", "main", "change", "--render", cwd=str(repo), check=0).stdout
    assert "- alert `HighErrorRate`: for 5m -> 10m" in rendered
    bad = run_promspec("diff", "no-such-rev", cwd=str(repo))
    assert bad.returncode == 1 and "neither a directory nor a git revision" in bad.stderr


# ------------------------------------------------------------------------------ offline validation


@pytest.fixture(scope="module")
def clean_vllm(bundled):
    """The bundled vLLM engine dashboard, linted clean once for the module (the cases below break copies of it)."""
    dash = json.loads(bundled["dashboards/llm/llm-engine-vllm.json"])
    assert _rules(dash) == set()
    return dash


@pytest.fixture()
def good(clean_vllm):
    return copy.deepcopy(clean_vllm)


def _rules(dash, lenient=False) -> set:
    return {rule for _path, rule, _msg, _sev in validate_dashboard(dash, lenient)}


def _first(dash, kind="timeseries"):
    return next(p for p in dash["panels"] if p["type"] == kind)


@pytest.mark.parametrize(
    "breakage, rule",
    [
        (lambda d: _first(d)["fieldConfig"]["defaults"].pop("unit"), "panel-units"),
        (lambda d: _first(d).update(datasource={"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}), "panel-datasource"),
        (
            lambda d: _first(d)["targets"][0].update(expr="sum(rate(vllm:request_success_total[5m]))"),
            "target-rate-interval",
        ),
        (
            lambda d: _first(d)["targets"][0].update(expr="sum(rate(vllm:request_success_total[$__rate_interval])"),
            "target-promql",
        ),
        (
            lambda d: _first(d).update(
                title=next(p for p in d["panels"] if p["type"] == "timeseries" and p is not _first(d))["title"]
            ),
            "panel-title-unique",
        ),
        (lambda d: d["templating"]["list"].pop(1), "template-job"),
        (lambda d: d["templating"]["list"].pop(2), "template-instance"),
        (lambda d: d["templating"]["list"].pop(0), "template-datasource"),
        (lambda d: _first(d)["gridPos"].update(x="left"), "schema"),
        (lambda d: _first(d)["options"]["legend"].update(placement="top"), "schema"),
        (lambda d: _first(d).pop("id"), "panel-id"),
    ],
)
def test_lint_rules_catch_what_they_are_for(good, breakage, rule):
    # good is a copy of a dashboard clean_vllm found clean: the rule is the breakage's doing.
    breakage(good)
    assert rule in _rules(good)


UI_EXPORT = {
    "__inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}],
    "__requires": [{"type": "grafana", "id": "grafana", "version": "11.2.0"}],
    "annotations": {
        "list": [
            {
                "builtIn": 1,
                "datasource": "-- Grafana --",
                "enable": True,
                "hide": True,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            }
        ]
    },
    "editable": True,
    "id": 17,
    "iteration": 1700000000000,
    "version": 8,
    "schemaVersion": 39,
    "title": "Exported",
    "uid": "exported",
    "templating": {
        "list": [
            {
                "name": "datasource",
                "type": "datasource",
                "query": "prometheus",
                "current": {"text": "prom", "value": "x"},
            },
            {
                "name": "job",
                "type": "query",
                "datasource": "$datasource",
                "refresh": 1,
                "query": {"query": "label_values(up, job)", "refId": "StandardVariableQuery", "qryType": 1},
            },
            {"name": "instance", "type": "query", "datasource": "${datasource}", "query": "label_values(up, instance)"},
        ]
    },
    "panels": [
        {
            "id": 2,
            "type": "timeseries",
            "title": "Requests",
            "datasource": "$datasource",
            "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
            "targets": [
                {"refId": "A", "datasource": "$datasource", "expr": 'sum(rate(http_requests_total{job=~"$job"}[5m]))'}
            ],
        },
        {
            "id": 3,
            "type": "graph",
            "title": "Legacy",
            "datasource": "$datasource",
            "gridPos": {"h": 8, "w": 12, "x": 12, "y": 0},
            "targets": [],
        },
    ],
}


@pytest.mark.slow
def test_lenient_mode_accepts_a_grafana_ui_export_with_warnings(tmp_path):
    path = tmp_path / "exported.json"
    path.write_text(json.dumps(UI_EXPORT, indent=2))
    lenient = run_promspec("check", "--lenient", "--dashboard", str(path))
    assert lenient.returncode == 0, lenient.stderr
    assert "warning: panel 'Requests' sets no unit" in lenient.stderr
    assert "warning: rate() over 5m" in lenient.stderr
    strict = run_promspec("check", "--dashboard", str(path))
    assert strict.returncode == 1
    assert "panel type 'graph' has no vendored schema" in strict.stderr
    assert "('__inputs', '__requires', 'iteration' were unexpected)" in strict.stderr  # an export's bookkeeping
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"title": "Requests"' in text)
    assert any(f"{path}:{n}:" in strict.stderr for n in range(line - 12, line + 12))


@pytest.mark.slow
def test_check_validates_rendered_dashboards_and_points_at_the_line(tmp_path, bundled):
    # Only dashboards/ is written: promtool's rule tests (slow) are other tests' business.
    out = tmp_path / "out"
    for path, data in bundled.items():
        if path.startswith("dashboards/"):
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_bytes(data)
    ok = run_promspec("check", str(out))
    assert ok.returncode == 0, ok.stderr
    assert "dashboards: " in ok.stderr
    path = out / "dashboards" / "infrastructure" / "gpu-fleet.json"
    text = path.read_text()
    path.write_text(text.replace('"unit": "watt"', '"unit": ""', 1))
    proc = run_promspec("check", str(out))
    assert proc.returncode == 1
    line = text[: text.index('"unit": "watt"')].count("\n") + 1
    assert f"gpu-fleet.json:{line}:" in proc.stderr or "sets no unit" in proc.stderr
    assert "[panel-units]" in proc.stderr
    path.write_text(text[:100])
    proc = run_promspec("check", str(out))
    assert proc.returncode == 1 and "not JSON" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------ preview


@pytest.mark.slow
def test_preview_html_shows_rows_panels_and_queries(tmp_path):
    out = tmp_path / "p.html"
    run_promspec("preview", "llm-engine-vllm", "-o", str(out), "--specs", os.path.join(REPO, "specs"), check=0)
    html = out.read_text()
    for needle in (
        "LLM serving: vllm",
        "Time to first token",
        "heatmap",
        "Scheduler and KV cache",
        "vllm:time_to_first_token_seconds_bucket",
        "layout only",
    ):
        assert needle in html
    again = tmp_path / "q.html"
    run_promspec("preview", "llm-engine-vllm", "-o", str(again), "--specs", os.path.join(REPO, "specs"), check=0)
    assert again.read_bytes() == out.read_bytes()
    missing = run_promspec(
        "preview", "llm-engine-vlm", "-o", str(tmp_path / "x.html"), "--specs", os.path.join(REPO, "specs")
    )
    assert missing.returncode == 1 and "did you mean 'llm-engine-vllm'" in missing.stderr
    assert not (tmp_path / "x.html").exists()


def test_an_unknown_dashboard_service_leaves_each_promql_query_checked_at_its_own_line(tmp_path):
    # With the dashboard's service unknown, its signal queries resolve to nothing; the PromQL query after one
    # must still be checked as itself, not paired with the signal query before it.
    text = (
        VLLM_DASHBOARD.replace("service: chat-vllm", "service: chat", 1)
        .replace(
            "          queries:\n            - expr: histogram_quantile(0.9",
            "          queries:\n            - {signal: ttft, quantile: 0.9}\n"
            "            - expr: histogram_quantile(0.9",
            1,
        )
        .replace('{job=~"$job"}', '{job=~"$team"}', 1)
    )
    specs = _specs_with(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_project([str(specs)], env={})
    found = [d.format() for d in caught.value.diagnostics]
    team = [line for line in found if "$team" in line]
    assert len(team) == 1 and "dash.yml:22:108:" in team[0], found
