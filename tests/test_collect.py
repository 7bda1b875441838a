"""promspec collect against a real Prometheus holding 7 days of backfilled data: row counts, values equal to
the HTTP API's, chunking, resume after a kill, retries, and clear errors that write nothing."""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import subprocess
import time
import urllib.parse

import pytest

from conftest import BIN, PrometheusServer, free_port, http_json, run_promspec, snapshot
from ops_backfill import backfill
from ops_servers import FlakyProxy, wait_for

STEP = 15
WEEK = 7 * 86400
SPECS = """\
apiVersion: promspec/v1
kind: Catalog
metadata: {name: c}
spec:
  metrics:
    - {name: app_requests_total, type: counter, labels: [model]}
    - {name: app_errors_total, type: counter, labels: [model]}
---
apiVersion: promspec/v1
kind: RecordingGroup
metadata: {name: app-recording}
spec:
  rules:
    - {record: "app:request_rate_5m", expr: "sum by (model) (rate(app_requests_total[5m]))"}
    - {record: "app:error_ratio_5m", expr: "sum by (model) (rate(app_errors_total[5m])) / sum by (model) (rate(app_requests_total[5m]))"}
---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: app-alerts}
spec:
  alerts:
    - {name: AppErrorRatioHigh, expr: "app:error_ratio_5m > 0.1", for: 5m}
"""  # noqa: E501 - a spec as users write it, one rule a line


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Prometheus over a week of the specs' recorded series (backfilled as raw data), and the specs."""
    root = tmp_path_factory.mktemp("collect")
    (root / "specs").mkdir()
    (root / "specs" / "app.yml").write_text(SPECS)
    end = (int(time.time()) // 3600) * 3600 - 3600  # a whole hour, in the past
    start = end - WEEK
    times = range(start - 600, end + STEP, STEP)
    series = []
    for m, model in enumerate(("llama", "mistral")):
        series.append(("app:request_rate_5m", {"model": model}, [(t, 10.0 + m + (t // STEP) % 7) for t in times]))
        series.append(("app:error_ratio_5m", {"model": model}, [(t, ((t // STEP + m) % 20) / 100) for t in times]))
    backfill(root / "data.om", root / "tsdb", series)
    (root / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    prom = PrometheusServer(str(root / "prometheus.yml"), str(root / "tsdb"))
    yield {"root": root, "specs": str(root / "specs"), "prom": prom, "start": start, "end": end}
    prom.stop()


def _collect(world, out, *extra, url=None, check=0, **kw):
    return run_promspec(
        "collect",
        world["specs"],
        "--prometheus",
        url or world["prom"].url,
        "--from",
        str(world["start"]),
        "--to",
        str(world["end"]),
        "--step",
        "15s",
        "-o",
        str(out),
        *extra,
        check=check,
        **kw,
    )


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _api(world, expr, start, end):
    query = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": STEP})
    body = http_json(f"{world['prom'].url}/api/v1/query_range?{query}", timeout=30)
    return body["data"]["result"]


@pytest.fixture(scope="module")
def clean(world):
    out = world["root"] / "clean"
    proc = _collect(world, out, "--run-id", "bench-1")
    return out, proc


@pytest.mark.slow
def test_week_at_15s_row_counts_and_chunks(world, clean):
    out, proc = clean
    manifest = json.loads((out / "manifest.json").read_text())
    points = WEEK // STEP + 1
    assert manifest["points_per_series"] == points == 40321
    assert manifest["chunks_per_query"] == 4  # 40,321 points in chunks of at most 11,000
    assert manifest["run_id"] == "bench-1" and manifest["step"] == "15s"
    assert manifest["window"]["from_unix"] == world["start"] and manifest["window"]["to_unix"] == world["end"]
    by_name = {q["name"]: q for q in manifest["queries"]}
    assert sorted(by_name) == ["AppErrorRatioHigh", "app:error_ratio_5m", "app:request_rate_5m"]
    for name in ("app:request_rate_5m", "app:error_ratio_5m"):
        assert by_name[name]["series"] == 2 and by_name[name]["rows"] == 2 * points
        assert len(_rows(out / by_name[name]["csv"])) == 2 * points
    # The alert expression keeps only the points above 0.1: 9 of every 20 steps, per model.
    alert = by_name["AppErrorRatioHigh"]
    assert alert["query"] == "app:error_ratio_5m > 0.1"
    assert len(_rows(out / alert["csv"])) == alert["rows"]
    assert "4 chunk(s) per query" in proc.stderr


@pytest.mark.slow
def test_values_equal_the_http_api(world, clean):
    out, _ = clean
    manifest = json.loads((out / "manifest.json").read_text())
    # The API's answer for the second chunk's span, compared point by point with the export.
    a = world["start"] + 11000 * STEP
    b = a + 10999 * STEP
    for q in manifest["queries"]:
        expected = {
            (json.dumps(s["metric"], sort_keys=True), float(ts)): v
            for s in _api(world, q["query"], a, b)
            for ts, v in s["values"]
        }
        got = {}
        for row in _rows(out / q["csv"]):
            ts = float(row["timestamp"])
            if a <= ts <= b:
                labels = {k: v for k, v in row.items() if k not in ("run_id", "timestamp", "value") and v}
                got[(json.dumps(labels, sort_keys=True), ts)] = row["value"]
                assert row["run_id"] == "bench-1"
        assert got == expected and got, q["name"]
    data = json.loads((out / manifest["queries"][0]["json"]).read_text())
    assert data["query"] == manifest["queries"][0]["query"] and data["run_id"] == "bench-1"


@pytest.mark.slow
def test_resume_after_a_killed_run(world, clean, tmp_path):
    proxy = FlakyProxy(world["prom"].url)
    proxy.delay = 0.05  # slow enough to be killed part-way
    out = tmp_path / "out"
    args = [
        os.path.join(BIN, "promspec"),
        "collect",
        world["specs"],
        "--prometheus",
        proxy.url,
        "--from",
        str(world["start"]),
        "--to",
        str(world["end"]),
        "--step",
        "15s",
        "-o",
        str(out),
        "--run-id",
        "bench-1",
        "--max-points",
        "2000",
    ]
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        chunk_dir = out / ".promspec-collect" / "chunks"
        wait_for(lambda: chunk_dir.is_dir() and len(os.listdir(chunk_dir)) >= 3, 60, "three fetched chunks")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / "manifest.json").exists() and not (out / "series").exists()
        done = len(os.listdir(chunk_dir))
        for name in os.listdir(chunk_dir):  # every cached chunk is whole
            json.loads((chunk_dir / name).read_text())
        proxy.wait_idle()  # the killed run's last request is counted before `before`, not after
        before = proxy.requests
        proxy.delay = 0
        resumed = run_promspec(*args[1:], check=0)
        assert f"resuming, {done} of 63 chunks already fetched" in resumed.stderr
        assert proxy.requests - before == 63 - done
    finally:
        proxy.close()
    # Chunking and the interruption change nothing in the series.
    assert snapshot(str(out / "series")) == snapshot(str(clean[0] / "series"))
    assert not (out / ".promspec-collect").exists()


@pytest.mark.slow
def test_transient_errors_are_retried(world, tmp_path):
    proxy = FlakyProxy(world["prom"].url)
    proxy.fail_next = 2
    try:
        proc = _collect(world, tmp_path / "out", "--to", str(world["start"] + 3600), url=proxy.url)
    finally:
        proxy.close()
    assert proc.stderr.count("answered HTTP 503") == 2 and "retrying in" in proc.stderr
    assert (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["from_after_to", "unreachable", "http_400", "http_503", "bad_time"])
def test_bad_input_is_clear_and_writes_nothing(world, tmp_path, case):
    out = tmp_path / "out"
    proxy = None
    if case == "from_after_to":
        proc = run_promspec(
            "collect",
            world["specs"],
            "--prometheus",
            world["prom"].url,
            "--from",
            "now",
            "--to",
            "now-1h",
            "-o",
            str(out),
            check=1,
        )
        assert "--from (" in proc.stderr and ") is not before --to (" in proc.stderr
    elif case == "bad_time":
        proc = run_promspec(
            "collect",
            world["specs"],
            "--prometheus",
            world["prom"].url,
            "--from",
            "last tuesday",
            "-o",
            str(out),
            check=1,
        )
        assert "'last tuesday' is not a time" in proc.stderr
    elif case == "unreachable":
        url = f"http://127.0.0.1:{free_port()}"
        proc = _collect(world, out, "--retries", "0", url=url, check=1)
        assert f"cannot reach {url}: " in proc.stderr and "Connection refused" in proc.stderr
    elif case == "http_400":
        proc = _collect(world, out, "--max-points", "20000", check=1)
        assert "answered HTTP 400 (Bad Request): exceeded maximum resolution of 11,000 points" in proc.stderr
    else:
        proxy = FlakyProxy(world["prom"].url)
        proxy.fail_next = 100
        proc = _collect(world, out, "--retries", "1", url=proxy.url, check=1)
        proxy.close()
        assert proc.stderr.count("answered HTTP 503") == 2  # the retry, then the failure
        assert "the export is incomplete" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "manifest.json").exists() and not (out / "series").exists()


@pytest.mark.slow
def test_disk_full_leaves_the_previous_export(world, tmp_path):
    out = tmp_path / "out"
    _collect(world, out, "--to", str(world["start"] + 3600), "--run-id", "first")
    before = snapshot(str(out))

    def small_files():  # writes past 256 KiB fail with EFBIG, as a full disk fails with ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    args = [
        os.path.join(BIN, "promspec"),
        "collect",
        world["specs"],
        "--prometheus",
        world["prom"].url,
        "--from",
        str(world["start"]),
        "--to",
        str(world["end"]),
        "--step",
        "15s",
        "-o",
        str(out),
        "--run-id",
        "second",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, preexec_fn=small_files)
    assert proc.returncode == 1, proc.stderr
    assert f"cannot write to {out}: File too large; the previous export there is unchanged" in proc.stderr
    assert "Traceback" not in proc.stderr
    after = {k: v for k, v in snapshot(str(out)).items() if not k.startswith(".promspec-collect")}
    assert after == before
    assert not [f for f in os.listdir(out) if ".tmp" in f or f.startswith(".promspec-staging")]


def test_bundled_specs_export_records_alerts_and_dashboard_queries():
    from promspec.live.collect import collect_queries
    from promspec.pipeline import load_build

    build, _ = load_build([os.path.join(os.path.dirname(os.path.dirname(__file__)), "specs")], env={})
    queries, skipped = collect_queries(build, 15, WEEK)
    kinds = {q.kind for q in queries}
    assert kinds == {"record", "alert", "dashboard"}
    names = {q.name for q in queries}
    assert {"slo:sli_errors:rate5m", "slo:sli_error:ratio_period", "llm:request_rate_5m"} <= names
    charts = [q for q in queries if q.kind == "dashboard"]
    assert charts and all("$" not in q.expr for q in charts)  # Grafana variables replaced
    assert len({q.slug.lower() for q in queries}) == len(queries)
    assert len({q.expr for q in charts}) == len(charts)
    assert all(s["reason"] for s in skipped)
