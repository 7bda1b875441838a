"""Every panel of every generated dashboard, evaluated by a real Prometheus that scrapes a fake of every
bundled engine and promspec-exporter over a fake GPU fleet: no panel may come back empty. The LLM
serving dashboard is then previewed with that data as a PNG through headless Chromium."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zlib

import pytest
import yaml

from promspec.preview.html import _threshold_color
from promspec.preview.render import fetch_data, grafana_to_promql

from conftest import REPO, free_port, require_tool, run_promspec
from fake_engines import FakeEngines

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
# Prometheus, a fleet of fake engines and Chromium with 90 s deadlines: run alone (serial), after the parallel part.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

HERE = os.path.dirname(os.path.abspath(__file__))
STEP = 5  # seconds: the preview step these queries are evaluated with ($__rate_interval -> 20s)


# Panels that are empty on a healthy machine by construction: lists of the sick (no GPU waits for a reset, no
# filesystem is read-only), swap on a host without swap, link utilisation of a NIC that reports no speed (a
# container's veth reports -1). Each is checked with injected series in tests/test_dashboard_coverage.py.
EMPTY_WHEN_HEALTHY = {
    ("dashboards/infrastructure/gpu-fleet.json", "GPUs waiting for a reset or service"),
    ("dashboards/infrastructure/host-overview.json", "Read-only or errored: which"),
    ("dashboards/infrastructure/host-overview.json", "Swap used"),
    ("dashboards/infrastructure/host-overview.json", "Network utilisation of link speed"),
}


def _targets_spec(engines: int, exporter: int, node_exporter: int) -> str:
    return f"""apiVersion: promspec/v1
kind: Targets
metadata: {{name: dashboard-e2e}}
spec:
  jobs:
    - {{name: vllm, targets: ["127.0.0.1:{engines}"]}}
    - {{name: llm-metrics, targets: ["127.0.0.1:{engines}"]}}
    - {{name: node, targets: ["127.0.0.1:{exporter}"]}}
    - {{name: node-exporter, targets: ["127.0.0.1:{node_exporter}"]}}
    - {{name: gpu-exporter, targets: ["127.0.0.1:{exporter}"]}}
"""


def _start_node_exporter(port: int) -> subprocess.Popen:
    """The real node_exporter: the host overview charts families promspec-exporter does not serve (uptime, OOM
    kills, file handles, conntrack, time sync)."""
    binary = shutil.which("node_exporter") or require_tool("prometheus-node-exporter")
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return _serving(proc, port, "node_exporter")


def _start_exporter(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "dashboards_exporter.py"), "--web.listen-address", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.path.join(REPO, "gen")},
    )
    return _serving(proc, port, "promspec-exporter (fake NVML)")


def _serving(proc: subprocess.Popen, port: int, what: str) -> subprocess.Popen:
    """proc once its /metrics answers; the test fails when it exits or does not answer within 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{what} did not start")


def _speed_up_rules(out: str) -> None:
    """Evaluate every group each second and fire alerts at once, so minutes of SLO life fit in seconds."""
    for path in glob.glob(os.path.join(out, "rules", "*.yml")):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        text = re.sub(r"(?m)^(\s*)interval: \S+$", r"\1interval: 1s", text)
        text = re.sub(r"(?m)^(\s*)for: \S+$", r"\1for: 0s", text)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def _panel_queries(out: str) -> list[tuple[str, str, str, str]]:
    """(dashboard file, panel title, refId, expr) of every query of every rendered dashboard."""
    found = []
    for path in sorted(glob.glob(os.path.join(out, "dashboards", "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            dash = json.load(fh)
        panels = [p for p in dash["panels"]] + [q for p in dash["panels"] for q in p.get("panels", [])]
        for p in panels:
            for t in p.get("targets", []):
                found.append((os.path.relpath(path, out), p["title"], t["refId"], t["expr"]))
    return found


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw scanlines) of a PNG, decoded with zlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_every_panel_has_data_and_preview(tmp_path, prometheus_factory):
    specs = tmp_path / "specs"
    shutil.copytree(os.path.join(REPO, "specs"), specs)
    backend_docs = [
        d
        for f in sorted((specs / "backends").glob("*.yml"))
        for d in yaml.safe_load_all(f.read_text())
        if d and d.get("kind") == "Backend"
    ]
    engines = FakeEngines(backend_docs)
    exporter_port = free_port()
    exporter = _start_exporter(exporter_port)
    node_exporter = None
    try:
        node_exporter_port = free_port()
        node_exporter = _start_node_exporter(node_exporter_port)
        (specs / "targets.yml").write_text(_targets_spec(engines.port, exporter_port, node_exporter_port))
        out = tmp_path / "out"
        run_promspec(
            "generate",
            str(specs),
            "-o",
            str(out),
            check=0,
            env={"PROMSPEC_SCRAPE_INTERVAL": "1s", "PROMSPEC_EVALUATION_INTERVAL": "1s"},
        )
        _speed_up_rules(str(out))
        prom = prometheus_factory(str(out / "prometheus" / "prometheus.yml"))
        queries = _panel_queries(str(out))
        assert len(queries) > 300  # every dashboard, not a handful

        def empty():
            missing = []
            for path, title, ref, expr in queries:
                if (path, title) in EMPTY_WHEN_HEALTHY:
                    continue
                if not prom.query(grafana_to_promql(expr, STEP, 60)):
                    missing.append(f"{path}: panel {title!r} query {ref}: {expr}")
            return missing

        # Rates need two scrapes inside their window and SLO rules a few evaluations: poll, then judge.
        deadline = time.monotonic() + 90
        missing = empty()
        while missing and time.monotonic() < deadline:
            time.sleep(2)
            missing = empty()
        assert not missing, "panels without data:\n" + "\n".join(missing)

        # The incident the exporter injects: one XID 79 on GPU 0, whose counter series is born at 1. The fleet's
        # XID stat counts it, in red, as the preview (Grafana's substitution and threshold colours) renders it.
        with open(out / "dashboards" / "infrastructure" / "gpu-fleet.json", encoding="utf-8") as fh:
            fleet = json.load(fh)
        xid = next(p for p in fleet["panels"] if p.get("title") == "XID errors (range)")
        # Every XID series here was born during this run (both exporter jobs of this test scrape it): the errors
        # of the last 5 minutes are the counters' values now.
        born = sum(float(r["value"][1]) for r in prom.query("promspec_gpu_xid_errors_total"))
        assert born >= 1
        shown = fetch_data({"panels": [xid]}, prom.url, "5m")[xid["id"]]["A"]
        assert [v for _t, v in shown[0]["values"][-1:]] == [born], shown
        assert _threshold_color(xid, shown[0]["values"][-1][1]) == "#f2495c"

        # A longer run keeps this picture: PROMSPEC_PREVIEW_OUT=<file> PROMSPEC_PREVIEW_SECONDS=300 pytest
        # tests/test_dashboards_e2e.py. docs/images/ holds the previews of a known incident: tests/preview_incident.py.
        time.sleep(int(os.environ.get("PROMSPEC_PREVIEW_SECONDS", "0")))
        png = tmp_path / "llm-serving.png"
        run_promspec(
            "preview",
            "llm-service-chat-vllm",
            "--specs",
            str(specs),
            "--prometheus",
            prom.url,
            "--range",
            "5m" if os.environ.get("PROMSPEC_PREVIEW_SECONDS") else "2m",
            "-o",
            str(png),
            check=0,
            timeout=180,
        )
        width, height, raw = _png_pixels(png.read_bytes())
        assert width == 1600 and height > 1500
        assert len(set(raw)) > 100  # charts, text and boxes, not a blank page
        if os.environ.get("PROMSPEC_PREVIEW_OUT"):
            shutil.copyfile(png, os.environ["PROMSPEC_PREVIEW_OUT"])
    finally:
        engines.close()
        exporter.terminate()
        exporter.wait(10)
        if node_exporter is not None:
            node_exporter.terminate()
            node_exporter.wait(10)
