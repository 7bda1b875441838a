"""Shared fixtures: the promspec CLI, real promtool, free loopback ports, a real Prometheus."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import json

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def require_tool(name: str) -> str:
    """Path of a real tool; a missing one fails the test (never skips): `make test` installs them."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: run `make test`, which installs Debian's prometheus packages")
    return path


def run_promspec(*args, cwd=REPO, env=None, check=None, timeout=120) -> subprocess.CompletedProcess:
    """Run the installed `promspec` console script as a user would."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([os.path.join(BIN, "promspec"), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(directory: str) -> dict:
    """Every file under directory with its bytes, for before/after comparisons."""
    out = {}
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, directory)] = fh.read()
    return out


def http_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


class PrometheusServer:
    """A real Prometheus on 127.0.0.1 with a free port; stopped by its PID."""

    def __init__(self, config: str, data_dir: str, extra_args=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(data_dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [require_tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=3650d", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/-/ready", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("Prometheus did not become ready: " + open(self.log.name).read()[-2000:])

    def query(self, expr: str) -> list:
        from urllib.parse import quote

        body = http_json(f"{self.url}/api/v1/query?query={quote(expr)}")
        assert body["status"] == "success", body
        return body["data"]["result"]

    def query_at(self, expr: str, ts: float) -> list:
        from urllib.parse import quote

        body = http_json(f"{self.url}/api/v1/query?query={quote(expr)}&time={ts}")
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture
def prometheus_factory(tmp_path):
    servers = []

    def start(config: str, extra_args=()) -> PrometheusServer:
        data = tmp_path / f"tsdb{len(servers)}"
        data.mkdir()
        server = PrometheusServer(config, str(data), extra_args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")
