"""Helpers for the exporter tests: the real exporter on loopback, real HTTP scrapes, the real promtool."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from promspec.exporter.registry import Registry
from promspec.exporter.server import ExporterServer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

HOST_COLLECTORS = ["cpu", "loadavg", "meminfo", "pressure", "filesystem", "diskstats", "netdev", "process"]
GPU_PID = 4242
CONTAINER_ID = "3f4e" * 16
# The node_exporter names we must keep (node_memory_MemTotal_bytes, ...) fail promtool's camelCase
# lint; every other finding is a real problem.
_ACCEPTED_LINT = re.compile(r"^node_memory_\w+_bytes metric names should be written in 'snake_case' not 'camelCase'$")

PROC_FILES = {
    "stat": "cpu  300 10 200 5000 40 0 7 3 0 0\ncpu0 100 4 100 2500 20 0 3 1 0 0\n"
    "cpu1 200 6 100 2500 20 0 4 2 0 0\nintr 12345\nctxt 999\n",
    "loadavg": "1.50 0.75 0.25 2/300 4321\n",
    "meminfo": "MemTotal:       16384000 kB\nMemFree:         8192000 kB\nMemAvailable:   12288000 kB\n"
    "Buffers:           10240 kB\nCached:          2048000 kB\nSwapCached:            0 kB\n"
    "Active:          4096000 kB\nInactive:        2048000 kB\nActive(anon):     100000 kB\n"
    "SwapTotal:       2097152 kB\nSwapFree:        1048576 kB\nDirty:               512 kB\n"
    "Writeback:             0 kB\nAnonPages:        500000 kB\nMapped:           100000 kB\n"
    "Shmem:             20000 kB\nSlab:             300000 kB\nSReclaimable:     200000 kB\n"
    "SUnreclaim:       100000 kB\nPageTables:         8000 kB\nCommitLimit:     9000000 kB\n"
    "Committed_AS:    3000000 kB\nHugePages_Total:       0\n",
    "pressure/cpu": "some avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    "pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n",
    "pressure/io": "some avg10=0.00 avg60=0.00 avg300=0.00 total=3000000\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n",
    "mounts": "/dev/vda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n"
    "overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n"
    "/dev/vdb /data ext4 ro,relatime 0 0\n/dev/vdc /data ext4 rw,relatime 0 0\n"
    "/dev/vdd /mnt/gone\\040away xfs rw 0 0\n",
    "diskstats": "   7       0 loop0 10 0 80 1 0 0 0 0 0 1 1 0 0 0 0\n"
    " 254       0 vda 1000 10 2000 300 500 5 4000 700 2 900 1000 0 0 0 0\n"
    " 254       1 vda1 900 10 1800 250 450 5 3600 600 0 800 900 0 0 0 0\n"
    " 259       0 nvme0n1 50 0 100 10 60 0 120 20 0 30 30\n",
    "net/dev": "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop "
    "fifo colls carrier compressed\n"
    "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0 "
    "   0     0       0          0\n"
    "  eth0: 5000000   4000    1    2    0     0          0         0  3000000    2000    3    4 "
    "   0     0       0          0\n",
    f"{GPU_PID}/comm": "vllm\n",
    f"{GPU_PID}/cgroup": f"0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{CONTAINER_ID}.scope\n",
}


class Exporter:
    """The exporter stack (collectors, registry, HTTP server) running in this process on loopback."""

    def __init__(self, server: ExporterServer, registry: Registry):
        self.server, self.registry = server, registry
        self.port = server.port

    def get(self, path: str = "/metrics", headers: dict | None = None, tls: ssl.SSLContext | None = None):
        """(status, headers, body) of one GET over a fresh connection."""
        return http_get(self.port, path, headers, tls)

    def metrics(self) -> str:
        """The text exposition; fails the test unless the scrape answers 200."""
        status, _, body = self.get()
        assert status == 200, body
        return body.decode()


def http_get(port: int, path: str = "/metrics", headers: dict | None = None, tls: ssl.SSLContext | None = None):
    """(status, headers, body) of one GET to 127.0.0.1:port."""
    if tls is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    else:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=tls)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def promtool_check(body: str) -> tuple:
    """(exit code, findings other than the accepted camelCase ones) of `promtool check metrics`."""
    result = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True, timeout=60)
    lines = (result.stdout + result.stderr).decode().splitlines()
    findings = [line for line in lines if line.strip() and not _ACCEPTED_LINT.match(line.strip())]
    return result.returncode, findings


def assert_promtool_clean(body: str) -> None:
    """promtool finds nothing but the camelCase names node_exporter compatibility requires."""
    code, findings = promtool_check(body)
    assert code in (0, 3) and not findings, (code, findings)


def families(body: str) -> dict:
    """Exposed family name (counters with _total) -> prometheus_client family, from the text format."""
    parsed = {}
    for family in text_string_to_metric_families(body):
        name = family.name + "_total" if family.type == "counter" else family.name
        parsed[name] = family
    return parsed


def samples(body: str, name: str) -> list:
    """(labels, value) of every sample of one exposed family."""
    family = families(body).get(name)
    return [] if family is None else [(s.labels, s.value) for s in family.samples]


def value(body: str, name: str, **labels) -> float:
    """The value of the single sample of `name` whose labels include `labels`."""
    found = [v for sample_labels, v in samples(body, name) if labels.items() <= sample_labels.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def wait_for(condition, what: str, timeout: float = 30.0, interval: float = 0.05):
    """Poll until condition() is truthy and return it (a readiness wait, not a speed assertion)."""
    end = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def exporter_process(args, env=None, log_path=None, launcher=None):
    """The exporter as a subprocess on 127.0.0.1 (port chosen by the OS); yields (process, port, log path)."""
    log_path = Path(log_path)
    command = (
        [sys.executable] + (launcher or ["-m", "promspec.exporter"]) + ["--web.listen-address=127.0.0.1:0"] + list(args)
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        line = wait_for(
            lambda: (
                re.search(r"listening on https?://127\.0\.0\.1:(\d+)", log_path.read_text())
                or process.poll() is not None
            ),
            "the exporter to listen",
        )
        assert process.poll() is None, log_path.read_text()
        yield process, int(line.group(1)), log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gunzip(body: bytes) -> bytes:
    """Decompress a gzip body."""
    return gzip.decompress(body)


def needs(tool: str):
    """Skip marker for tests that run a Debian tool the machine lacks (`make tools` installs them)."""
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed (make tools)")


def scrape_until(exporter, predicate, what: str) -> str:
    """Scrape until predicate(body) holds and return that body (a readiness wait)."""
    bodies = []

    def attempt():
        body = exporter.metrics()
        if predicate(body):
            bodies.append(body)
            return True
        return False

    wait_for(attempt, what)
    return bodies[-1]
