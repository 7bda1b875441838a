"""`promspec diff` on hand-written before/after trees: the exact words and JSON keys a reviewer and a tool read."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml
from tests.test_cli import REPO, run_promspec

from promspec.diff.compare import compare
from promspec.diff.model import JSON_KEYS
from promspec.diff.report import as_json, markdown
from promspec.pipeline import load_project


def _y(doc) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


def _rules(expr_errors: str) -> bytes:
    labels = {"slo_id": "chat-errors", "slo_service": "chat", "slo": "errors"}
    return _y(
        {
            "groups": [
                {
                    "name": "slo-chat-errors",
                    "rules": [
                        {"record": "slo:sli_errors:rate5m", "expr": expr_errors, "labels": labels},
                        {
                            "record": "slo:sli_total:rate5m",
                            "expr": 'sum(rate(x_total{job="vllm"}[5m]))',
                            "labels": labels,
                        },
                        {
                            "record": "slo:info",
                            "expr": "vector(1)",
                            "labels": {**labels, "objective": "99%", "window": "30d", "sli": "ratio"},
                        },
                    ],
                }
            ]
        }
    )


def _dash(panels: list) -> bytes:
    return json.dumps({"uid": "d1", "title": "Chat", "panels": panels, "templating": {"list": []}}).encode()


def _panel(pid: int, title: str, expr: str, y: int = 0, **kw) -> dict:
    return {
        "id": pid,
        "title": title,
        "type": "timeseries",
        "gridPos": {"x": 0, "y": y, "w": 12, "h": 8},
        "targets": [{"refId": "A", "expr": expr}],
        **kw,
    }


def _text(pid: int, content: str) -> dict:
    return {
        "id": pid,
        "title": "Notes",
        "type": "text",
        "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8},
        "options": {"content": content},
    }


PROM_A = {
    "global": {"scrape_interval": "15s"},
    "rule_files": ["../rules/a.yml"],
    "scrape_configs": [
        {"job_name": "node", "static_configs": [{"targets": ["127.0.0.1:9100"]}]},
        {"job_name": "vllm", "scrape_interval": "15s", "static_configs": [{"targets": ["127.0.0.1:8000"]}]},
    ],
}
PROM_B = {
    "global": {"scrape_interval": "30s"},
    "rule_files": ["../rules/a.yml", "../rules/b.yml"],
    "scrape_configs": [
        {"job_name": "node", "static_configs": [{"targets": ["127.0.0.1:9100", "127.0.0.2:9100"]}]},
        {"job_name": "vllm", "scrape_interval": "5s", "static_configs": [{"targets": ["127.0.0.1:8000"]}]},
        {"job_name": "sglang", "static_configs": [{"targets": ["127.0.0.1:30000"]}]},
    ],
}
AM_A = {
    "route": {
        "receiver": "default",
        "routes": [
            {"receiver": "pager", "matchers": ['severity="page"'], "group_wait": "10s"},
            {"receiver": "slack", "matchers": ['team="inference"']},
        ],
    },
    "receivers": [
        {"name": "default"},
        {"name": "pager", "pagerduty_configs": [{"routing_key_file": "/etc/pd", "routing_key": "s3cret-a"}]},
        {"name": "slack", "slack_configs": [{"channel": "#inf"}]},
    ],
    "inhibit_rules": [
        {"source_matchers": ['severity="page"'], "target_matchers": ['severity="ticket"'], "equal": ["slo_id"]}
    ],
}
AM_B = {
    "route": {
        "receiver": "default",
        "routes": [
            {"receiver": "slack", "matchers": ['team="inference"']},
            {"receiver": "pager", "matchers": ['severity="page"'], "group_wait": "30s"},
        ],
    },
    "receivers": [
        {"name": "default"},
        {"name": "pager", "pagerduty_configs": [{"routing_key_file": "/etc/pd", "routing_key": "s3cret-b"}]},
        {"name": "slack", "slack_configs": [{"channel": "#inference"}]},
        {"name": "mail", "email_configs": [{"to": "oncall@example.com"}]},
    ],
    "inhibit_rules": [],
}
TEXT_A = "# Runbook\n\nOwned by **inference**.\n\nPage: #oncall.\n"
TEXT_B = "# Runbook\n\nOwned by **inference**.\n\nPage: #oncall-inference.\n"
BASE = {
    "rules/services.yml": _rules('sum(rate(x_total{job="vllm",finished_reason="error"}[5m]))'),
    "rules/tests/services-slo-chat-errors-page.test.yml": b"tests: []\n",
    "dashboards/chat/d1.json": _dash([_panel(11, "Queue", "sum(rate(q_total[5m]))"), _text(12, TEXT_A)]),
    "dashboards/provisioning.yml": b"# from a.yml\napiVersion: 1\n",
    "prometheus/prometheus.yml": _y(PROM_A),
    "prometheus/targets/exporter.json": json.dumps([{"targets": ["127.0.0.1:9400"], "labels": {"env": "a"}}]).encode(),
    "alertmanager/alertmanager.yml": _y(AM_A),
    "kubernetes/rules.yaml": _y({"kind": "PrometheusRule", "metadata": {"name": "r"}, "spec": {"groups": []}}),
    "blackbox/blackbox.yml": _y({"modules": {"http_2xx": {"prober": "http", "timeout": "5s"}}}),
}
HEAD = {
    **BASE,
    "rules/services.yml": _rules('sum(rate(x_total{job="vllm",finished_reason="abort"}[5m]))'),
    "rules/tests/services-slo-chat-errors-page.test.yml": b"tests:\n- interval: 1m\n",
    # Panel 11 renamed: ids hash titles, so the id changes too; its query and place stay.
    "dashboards/chat/d1.json": _dash([_panel(77, "Queue time", "sum(rate(q_total[5m]))"), _text(12, TEXT_B)]),
    "dashboards/provisioning.yml": b"# from a.yml, b.yml\napiVersion: 1\n",
    "prometheus/prometheus.yml": _y(PROM_B),
    "prometheus/targets/exporter.json": json.dumps([{"targets": ["127.0.0.1:9400"], "labels": {"env": "b"}}]).encode(),
    "alertmanager/alertmanager.yml": _y(AM_B),
    "kubernetes/rules.yaml": _y(
        {"kind": "PrometheusRule", "metadata": {"name": "r"}, "spec": {"groups": [{"name": "g"}]}}
    ),
    "blackbox/blackbox.yml": _y({"modules": {"http_2xx": {"prober": "http", "timeout": "10s"}}}),
}


@pytest.fixture(scope="module")
def changes():
    return compare(BASE, HEAD)


def _said(changes) -> list[str]:
    return [f"{c.section} | {c.subject} | {c.message}" for c in changes]


def test_every_file_kind_generate_writes_is_explained(changes):
    assert _said(changes) == [
        "SLOs | SLO chat-errors | SLI query slo:sli_errors:rate5m changed: "
        'x_total: finished_reason="error" -> finished_reason="abort"',
        "Rule tests | rules/tests/services-slo-chat-errors-page.test.yml | changed (+2 -1 lines)",
        "Dashboards | dashboard 'Chat', panel 'Queue time' | renamed from 'Queue'",
        "Dashboards | dashboard 'Chat', panel 'Notes' | text changed",
        "Dashboards | dashboards/provisioning.yml | changed in comments or layout only (+1 -1 lines)",
        "Scrape config | prometheus/prometheus.yml | global.scrape_interval 15s -> 30s",
        "Scrape config | prometheus/prometheus.yml | rule file ../rules/b.yml added",
        "Scrape config | scrape job node | target 127.0.0.2:9100 added",
        "Scrape config | scrape job sglang | added",
        "Scrape config | scrape job vllm | scrape_interval 15s -> 5s",
        'Scrape config | prometheus/targets/exporter.json | target 127.0.0.1:9400: labels {env="a"} -> {env="b"}',
        "Alertmanager | route | child routes reordered (the first matching route wins unless continue: true)",
        'Alertmanager | route -> pager {severity="page"} | group_wait 10s -> 30s',
        "Alertmanager | receiver mail | added",
        "Alertmanager | receiver pager | pagerduty_configs changed (secret values not shown)",
        'Alertmanager | receiver slack | slack_configs [{"channel": "#inf"}] -> [{"channel": "#inference"}]',
        'Alertmanager | inhibit rule | removed: {severity="page"} mutes {severity="ticket"} when equal in slo_id',
        'Kubernetes | kubernetes/rules.yaml PrometheusRule/r | spec.groups [] -> [{"name": "g"}]',
        "Blackbox | blackbox/blackbox.yml | modules.http_2xx.timeout 5s -> 10s",
    ]


def test_sli_change_shows_the_queries_before_and_after(changes):
    (sli,) = [c for c in changes if c.section == "SLOs"]
    assert (sli.slo, sli.rule, sli.field) == ("chat-errors", "slo:sli_errors:rate5m", "expr")
    assert sli.before == 'sum(rate(x_total{job="vllm",finished_reason="error"}[5m]))'
    assert sli.after == 'sum(rate(x_total{job="vllm",finished_reason="abort"}[5m]))'


def test_text_panel_change_is_a_line_diff_not_one_json_line(changes):
    md = markdown(changes, "a", "b")
    assert (
        "- dashboard **Chat**, panel 'Notes': text changed\n"
        "  ```diff\n"
        "    \n"
        "    Owned by **inference**.\n"
        "    \n"
        "  - Page: #oncall.\n"
        "  + Page: #oncall-inference.\n"
        "  ```\n"
    ) in md


def test_rename_is_one_change_with_the_old_and_new_title(changes):
    renamed = [c for c in changes if c.panel in ("Queue", "Queue time")]
    assert [(c.change, c.panel_id, c.field, c.before, c.after) for c in renamed] == [
        ("renamed", 77, "title", "Queue", "Queue time")
    ]


def test_secrets_are_named_never_shown(changes):
    text = as_json(changes, "a", "b") + markdown(changes, "a", "b")
    assert "s3cret" not in text


def test_json_keys_are_stable_complete_and_plain(changes):
    doc = json.loads(as_json(changes, "a", "b"))
    assert list(doc) == ["base", "head", "changes"]
    for c in doc["changes"]:
        assert list(c) == list(JSON_KEYS)
        assert c["file"] and c["change"] in ("added", "removed", "changed", "renamed", "moved")
        assert "**" not in c["subject"] + c["message"] and "`" not in c["subject"] + c["message"]
    panel = next(c for c in doc["changes"] if c["change"] == "renamed")
    assert {k: panel[k] for k in ("file", "uid", "panel_id", "panel", "field", "before", "after")} == {
        "file": "dashboards/chat/d1.json",
        "uid": "d1",
        "panel_id": 77,
        "panel": "Queue time",
        "field": "title",
        "before": "Queue",
        "after": "Queue time",
    }
    rule = next(c for c in doc["changes"] if c["section"] == "SLOs")
    assert (rule["file"], rule["rule"], rule["slo"]) == ("rules/services.yml", "slo:sli_errors:rate5m", "chat-errors")


def test_no_change_says_so():
    assert compare(BASE, dict(BASE)) == []
    assert "No changes to the rendered output." in markdown([], "a", "b")


# ------------------------------------------------------------------------------ vanished preset panels


def _renamed_energy(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(os.path.join(REPO, "specs"), specs)
    catalog = specs / "catalog" / "exporter.yml"
    text = catalog.read_text()
    assert text.count("name: promspec_gpu_energy_joules_total") == 1
    catalog.write_text(text.replace("name: promspec_gpu_energy_joules_total", "name: promspec_gpu_energy_total"))
    line = next(i for i, x in enumerate(catalog.read_text().splitlines(), 1) if "promspec_gpu_energy_total" in x)
    return specs, line


def test_a_preset_panel_whose_metric_was_renamed_is_a_warning_at_the_rename(tmp_path):
    specs, line = _renamed_energy(tmp_path)
    _project, report = load_project([str(specs)])
    (w,) = [w for w in report.warnings if "leaves out panel" in w.message]
    assert (os.path.basename(w.pos.file), w.pos.line) == ("exporter.yml", line)
    assert w.message == (
        "generated dashboard 'GPU fleet' (gpu-fleet) leaves out panel 'Energy' in row 'Power and thermals': "
        "it reads promspec_gpu_energy_joules_total, which no Catalog lists "
        "(did you mean 'promspec_gpu_energy_total'?)"
    )


def test_bundled_specs_leave_no_preset_panel_out():
    _project, report = load_project([os.path.join(REPO, "specs")])
    assert [w for w in report.warnings if "leaves out panel" in w.message] == []


@pytest.mark.slow
def test_diff_names_a_vanished_panel_with_its_cause(tmp_path):
    before = tmp_path / "before"
    shutil.copytree(os.path.join(REPO, "specs"), before / "specs")
    after = tmp_path / "after"
    specs, line = _renamed_energy(after)
    proc = run_promspec("diff", str(before), str(after), "--render", "--format", "json", check=0)
    (gone,) = [c for c in json.loads(proc.stdout)["changes"] if c["change"] == "removed"]
    assert (gone["uid"], gone["panel"]) == ("gpu-fleet", "Energy")
    assert gone["cause"] == (
        "it reads promspec_gpu_energy_joules_total, which no Catalog lists "
        "(did you mean 'promspec_gpu_energy_total'?), "
        f"at {specs}/catalog/exporter.yml:{line}:13"
    )


@pytest.mark.slow
def test_images_draw_each_changed_panel_before_and_after_and_the_report_links_them(tmp_path):
    pytest.importorskip("promspec.preview.render").find_chromium()
    for side, files in (("a", BASE), ("b", HEAD)):
        for path, data in files.items():
            target = tmp_path / side / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    report = tmp_path / "out" / "diff.md"
    report.parent.mkdir()
    run_promspec(
        "diff",
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        "--images",
        str(tmp_path / "out" / "img"),
        "-o",
        str(report),
        check=0,
    )
    pngs = sorted(os.listdir(tmp_path / "out" / "img"))
    assert pngs == ["d1-12-after.png", "d1-12-before.png", "d1-77-after.png", "d1-77-before.png"]
    for name in pngs:
        assert (tmp_path / "out" / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = report.read_text()
    assert "  ![before](img/d1-77-before.png) ![after](img/d1-77-after.png)\n" in md


def test_a_catalog_that_never_listed_a_preset_metric_is_not_warned_about():
    # tests/fixtures/base catalogues three llm_* metrics: the LLM guide's other panels are left out quietly.
    _project, report = load_project([os.path.join(REPO, "tests", "fixtures", "base")], env={})
    assert [w for w in report.warnings if "leaves out panel" in w.message] == []


def _stat(red_at: float) -> dict:
    return {
        "id": 5,
        "title": "Answer",
        "type": "stat",
        "gridPos": {"x": 0, "y": 0, "w": 6, "h": 5},
        "fieldConfig": {
            "defaults": {
                "unit": "none",
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "red", "value": red_at}],
                },
            }
        },
        "targets": [{"refId": "A", "expr": "answer", "instant": True}],
    }


# Not serial: nothing here is timed (the wait polls up to 30 s, the CLI has 120 s) and test_report prints PDFs
# through Chromium in the parallel part already.
@pytest.mark.slow
def test_images_draw_live_data_from_prometheus(tmp_path, prometheus_factory):
    pytest.importorskip("promspec.preview.render").find_chromium()
    from promspec.preview.render import fetch_data

    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n- name: g\n  interval: 1s\n  rules:\n  - record: answer\n    expr: vector(42)\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global: {{evaluation_interval: 1s}}\nrule_files: [{rules}]\n")
    prom = prometheus_factory(str(config))
    deadline = time.monotonic() + 30
    # The preview queries at a whole second: wait until the series is older than that.
    while not prom.query_at("answer", time.time() - 2) and time.monotonic() < deadline:
        time.sleep(0.5)
    for side, red_at in (("a", 40), ("b", 50)):  # 42 is red before, green after
        (tmp_path / side / "dashboards").mkdir(parents=True)
        (tmp_path / side / "dashboards" / "d.json").write_bytes(_dash([_stat(red_at)]))
    # The oracle: what the preview's data fetch reads for this panel, straight from Prometheus.
    data = fetch_data({"panels": [_stat(40)]}, prom.url, "5m")
    assert data[5]["A"][0]["values"][-1][1] == 42.0
    proc = run_promspec(
        "diff",
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        "--format",
        "json",
        "--images",
        str(tmp_path / "img"),
        "--prometheus",
        prom.url,
        "--range",
        "5m",
        check=0,
    )
    (change,) = json.loads(proc.stdout)["changes"]
    assert change["message"] == "thresholds changed" and (change["before"], change["after"]) == (
        "green@base, red@40",
        "green@base, red@50",
    )
    before, after = change["image_before"], change["image_after"]
    assert before.endswith("d1-5-before.png") and after.endswith("d1-5-after.png")
    assert Path(before).read_bytes() != Path(after).read_bytes()


@pytest.mark.slow
def test_a_backend_version_bump_that_counts_client_aborts_is_named(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    shutil.copytree(os.path.join(REPO, "specs"), before / "specs")
    shutil.copytree(os.path.join(REPO, "specs"), after / "specs")
    svc = after / "specs" / "services" / "vllm.yml"
    text = svc.read_text()
    assert text.count("  backend: vllm\n") == 1
    svc.write_text(text.replace("  backend: vllm\n", '  backend: vllm\n  backend_version: "0.12"\n'))
    line = 1 + svc.read_text().splitlines().index('  backend_version: "0.12"')
    proc = run_promspec("diff", str(before), str(after), "--render", "--format", "json", check=0)
    slos = [c for c in json.loads(proc.stdout)["changes"] if c["section"] == "SLOs"]
    assert [(c["slo"], c["rule"], c["message"]) for c in slos] == [
        (
            "chat-vllm-errors",
            "slo:sli_errors:rate5m",
            "SLI query slo:sli_errors:rate5m changed: "
            'vllm:request_success_total: finished_reason="error" -> finished_reason="abort"',
        )
    ]
    assert slos[0]["before"] == 'sum(rate(vllm:request_success_total{job="vllm",finished_reason="error"}[5m]))'
    assert slos[0]["after"] == 'sum(rate(vllm:request_success_total{job="vllm",finished_reason="abort"}[5m]))'
    assert slos[0]["cause"].startswith(
        'vllm 0.12: signal errors reads vllm:request_success_total{finished_reason="abort"} '
        "(Before 0.13 vLLM counts no failed requests; aborted requests (mostly client disconnects/cancellations)"
    )
    assert slos[0]["cause"].endswith(f"at {svc}:{line}:20")


def test_a_change_under_every_directory_generate_writes_is_named():
    from promspec.diff.sources import output_roots

    roots = output_roots()
    assert {"rules", "prometheus", "dashboards", "alertmanager", "kubernetes", "blackbox"} <= set(roots)
    for root in roots:
        path = f"{root}/new-kind.yml"
        for base, head in (({}, {path: b"a: 1\n"}), ({path: b"a: 1\n"}, {}), ({path: b"a: 1\n"}, {path: b"a: 2\n"})):
            assert [c.file for c in compare(base, head)] == [path], (root, base, head)
