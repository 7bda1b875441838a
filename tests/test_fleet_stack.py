"""`promspec stack up --topology`: the two-cluster fleet on loopback from rendered fleet/, and down (issue 16)."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from fleet_servers import FleetEngine, fleet_spec

from conftest import promspec_in_process, run_promspec
from ops_servers import wait_for

pytestmark = pytest.mark.slow


def _json(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def test_stack_up_topology_starts_each_cluster_vm_and_vmalert_and_down_stops_them(tmp_path):
    engines = {"eu": FleetEngine(ok=1.0, errors=0.0), "us": FleetEngine(ok=1.0, errors=0.0)}
    try:
        specs = tmp_path / "specs"
        specs.mkdir()
        targets = {c: [f"127.0.0.1:{e.port}"] for c, e in engines.items()}
        (specs / "fleet.yml").write_text(fleet_spec(targets, "http://vm.invalid:8428", "am.invalid:9093"))
        out = tmp_path / "out"
        promspec_in_process("generate", str(specs), "-o", str(out), check=0)
        up = run_promspec("stack", "up", "--topology", "--dir", str(out), timeout=120)
        try:
            assert up.returncode == 0, up.stderr
            urls = dict(line.split()[:2] for line in up.stdout.splitlines())
            assert sorted(urls) == ["alertmanager", "prometheus-eu", "prometheus-us", "victoria-metrics", "vmalert"]
            groups = _json(urls["vmalert"] + "/api/v1/rules")["data"]["groups"]
            assert "slo-chat-availability-alerts" in {g["name"] for g in groups}
            for cluster in ("eu", "us"):
                prom = urls[f"prometheus-{cluster}"]
                rules = _json(prom + "/api/v1/rules")["data"]["groups"]
                assert [g["name"] for g in rules] == ["slo-chat-availability-rates"]
                config = _json(prom + "/api/v1/status/config")["data"]["yaml"]
                assert urls["victoria-metrics"] + "/api/v1/write" in config

                def scraped(prom=prom):
                    active = _json(prom + "/api/v1/targets")["data"]["activeTargets"]
                    return active and all(t["health"] == "up" for t in active)

                wait_for(scraped, 30, f"cluster {cluster} scraping its engine")
        finally:
            down = run_promspec("stack", "down", "--dir", str(out), timeout=60)
        assert down.returncode == 0, down.stderr
        assert down.stderr.count("stopped ") == 5, down.stderr
    finally:
        for engine in engines.values():
            engine.server.shutdown()


def test_stack_up_topology_without_fleet_output_says_what_to_do(tmp_path):
    proc = promspec_in_process("stack", "up", "--topology", "--dir", str(tmp_path), check=1)
    assert "no fleet output" in proc.stderr and "Topology" in proc.stderr
    assert not os.path.exists(tmp_path / ".promspec-stack" / "state.json")


def test_stack_up_topology_refuses_a_cluster_scraped_by_vmagent(tmp_path):
    """Its prometheus.yml scrapes nothing: started alone, that cluster would send no events, silently."""
    spec = fleet_spec({"eu": ["127.0.0.1:1"]}, "http://127.0.0.1:8428", "127.0.0.1:9093").replace(
        "      targets: [eu-targets]\n",
        "      targets: [eu-targets]\n      scraper: vmagent\n      receiver: http://127.0.0.1:9090\n",
    )
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "fleet.yml").write_text(spec)
    out = tmp_path / "out"
    promspec_in_process("generate", str(tmp_path / "specs"), "-o", str(out), check=0)
    proc = promspec_in_process("stack", "up", "--topology", "--dir", str(out), check=1)
    assert "cluster eu is scraped by vmagent" in proc.stderr and "Traceback" not in proc.stderr
    assert not os.path.exists(out / ".promspec-stack" / "state.json")
