"""50 concurrent scrapers for 30 s on loopback: only 200s, and the exporter's memory stays flat."""

import http.client
import threading
import time

import pytest

from .exporter_harness import HERE, exporter_process, value

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
# 50 scrapers for 30 s measure throughput and memory: run alone (serial), after the parallel part of `make test`.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

SCRAPERS = 50
DURATION_S = 30.0
WARMUP_S = 10.0


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_fifty_scrapers_for_thirty_seconds(tmp_path):
    launcher = [str(HERE / "fake_exporter.py")]
    args = ["--collector.gpu.processes", "--collector.gpu.slow-interval=1s"]
    with exporter_process(args, log_path=tmp_path / "log", launcher=launcher) as (process, port, _):
        statuses: dict = {}
        lock = threading.Lock()
        stop = threading.Event()

        def scrape(number: int):
            # Prometheus keeps connections open and asks for gzip; half of these do, half reconnect.
            keep_alive = number % 2 == 0
            connection = None
            while not stop.is_set():
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                try:
                    connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    connection.close()
                    connection = None
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                if not keep_alive and connection is not None:
                    connection.close()
                    connection = None
            if connection is not None:
                connection.close()

        threads = [threading.Thread(target=scrape, args=(n,)) for n in range(SCRAPERS)]
        for thread in threads:
            thread.start()
        time.sleep(WARMUP_S)
        rss_warm = rss_bytes(process.pid)
        time.sleep(DURATION_S - WARMUP_S)
        rss_end = rss_bytes(process.pid)
        stop.set()
        for thread in threads:
            thread.join()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/metrics")
        body = connection.getresponse().read().decode()
        connection.close()

    assert set(statuses) == {200}, statuses
    assert statuses[200] > SCRAPERS  # every scraper got answers, not just one each
    assert value(body, "promspec_exporter_collector_success", collector="gpu") == 1
    # Flat: growth after warm-up within 4 MiB (allocator noise), not per-scrape accumulation.
    assert rss_end - rss_warm < 4 * 1024 * 1024, (rss_warm, rss_end, statuses)
    print(f"scrapes={statuses[200]} rss_warm={rss_warm} rss_end={rss_end}")
