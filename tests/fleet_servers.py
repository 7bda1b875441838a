"""VictoriaMetrics single-node and vmalert (Debian's victoria-metrics package) on loopback, and the fleet spec
the fleet tests render: two clusters scraping fake engines, one availability SLO, a global tier on VictoriaMetrics.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

from conftest import free_port, log_tail, require_tool, stop_processes
from fake_llm import FakeLLM


def _wait_ready(proc: subprocess.Popen, url: str, log_path: str, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: " + log_tail(log_path))
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready: " + log_tail(log_path))


def _stop(proc: subprocess.Popen) -> None:
    stop_processes([proc])


class VictoriaMetrics:
    """victoria-metrics single-node; queries see samples at once (no 30s latency offset, no rollup cache)."""

    def __init__(self, data_dir: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(data_dir, "victoria-metrics.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    require_tool("victoria-metrics"),
                    f"-storageDataPath={os.path.join(data_dir, 'vm')}",
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    "-retentionPeriod=100y",
                    "-search.latencyOffset=0s",
                    "-search.disableCache",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_ready(self.proc, self.url + "/health", self.log_path, "VictoriaMetrics")
        except BaseException:
            self.stop()
            raise

    def import_prometheus(self, text: str) -> None:
        """Samples in Prometheus text format with millisecond timestamps, then flushed so queries see them."""
        req = urllib.request.Request(self.url + "/api/v1/import/prometheus", data=text.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30):
            pass
        self.flush()

    def flush(self) -> None:
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=10):
            pass

    def query_range(self, expr: str, start: float, end: float, step: str) -> list:
        params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step, "nocache": 1})
        with urllib.request.urlopen(f"{self.url}/api/v1/query_range?{params}", timeout=30) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def query(self, expr: str) -> list:
        params = urllib.parse.urlencode({"query": expr, "nocache": 1})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=30) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        _stop(self.proc)


def vmalert_args(path: str, replacements: dict[str, str]) -> list[str]:
    """The flags of a rendered vmalert.args file, with the spec's addresses swapped for the test's."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                for old, new in replacements.items():
                    line = line.replace(old, new)
                out.append(line)
    return out


class VMAlert:
    """vmalert with the rendered flags, run from the directory of vmalert.args (its -rule glob is relative)."""

    def __init__(self, cwd: str, args: list[str], data_dir: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(data_dir, "vmalert.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [require_tool("vmalert"), *args, f"-httpListenAddr=127.0.0.1:{self.port}"],
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_ready(self.proc, self.url + "/health", self.log_path, "vmalert")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        _stop(self.proc)


class FleetEngine(FakeLLM):
    """A cluster's engines in one endpoint: fleet_requests_total{code} growing at set rates (requests/s)."""

    def __init__(self, ok: float, errors: float):
        self.rates = {"200": ok, "500": errors}
        super().__init__({})

    def exposition(self) -> str:
        t = time.time() - self.start + 60  # a minute of history, so rate() has two samples at once
        lines = ["# TYPE fleet_requests_total counter"]
        lines += [f'fleet_requests_total{{code="{code}"}} {rate * t}' for code, rate in sorted(self.rates.items())]
        return "\n".join(lines) + "\n"


SLO_ID = "chat-availability"


def fleet_spec(targets: dict[str, list[str]], vm_url: str, alertmanager: str, per_cluster: bool = True) -> str:
    """One Service with a 99.9% availability SLO served in every cluster of `targets` (cluster -> host:port)."""
    docs = []
    for cluster, hosts in targets.items():
        docs.append(
            f"""apiVersion: promspec/v1
kind: Targets
metadata: {{name: {cluster}-targets}}
spec:
  jobs:
    - name: llm-{cluster}
      targets: {json.dumps(hosts)}
"""
        )
    clusters = "".join(
        f"""    - name: {cluster}
      external_labels: {{cluster: {cluster}, region: r-{cluster}}}
      targets: [{cluster}-targets]
"""
        for cluster in targets
    )
    docs.append(
        """apiVersion: promspec/v1
kind: Catalog
metadata: {name: fleet}
spec:
  metrics:
    - {name: fleet_requests_total, type: counter, help: Requests served, labels: [code]}
---
apiVersion: promspec/v1
kind: Service
metadata: {name: chat}
spec:
  slos:
    - name: availability
      objective: 99.9%
      sli:
        ratio:
          errors: sum(rate(fleet_requests_total{code=~"5.."}[{{window}}]))
          total: sum(rate(fleet_requests_total[{{window}}]))
"""
    )
    docs.append(
        f"""apiVersion: promspec/v1
kind: Topology
metadata: {{name: test-fleet}}
spec:
  clusters:
{clusters}  global:
    backend: victoriametrics
    url: {vm_url}
    alertmanagers: ["{alertmanager}"]
    per_cluster_alerts: {str(per_cluster).lower()}
"""
    )
    return "---\n".join(docs)


class VMAgent:
    """vmagent with a rendered vmagent*.args file's flags, run from its directory (-promscrape.config is relative);
    its HTTP port on loopback and its remote_write buffer under data_dir."""

    def __init__(self, cwd: str, args: list[str], data_dir: str, name: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(data_dir, f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    require_tool("vmagent"),
                    *args,
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    f"-remoteWrite.tmpDataPath={os.path.join(data_dir, name)}",
                ],
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_ready(self.proc, self.url + "/health", self.log_path, "vmagent")
        except BaseException:
            self.stop()
            raise

    def active_targets(self) -> set[str]:
        with urllib.request.urlopen(self.url + "/api/v1/targets", timeout=5) as response:
            body = json.load(response)
        return {t["labels"]["instance"] for t in body["data"]["activeTargets"]}

    def stop(self) -> None:
        _stop(self.proc)
