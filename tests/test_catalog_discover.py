"""`promspec catalog discover`: a Catalog from a live /metrics endpoint or a Prometheus, and what changed."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml
from click.testing import CliRunner

from promspec.backends.discover import Metric, changes, parse_exposition
from promspec.cli import cli

from conftest import REPO, free_port, http_json

OPENMETRICS = """\
# TYPE req counter
# HELP req Requests served.
req_total{model="a",code="200"} 3 # {trace_id="x"} 1
req_created{model="a",code="200"} 1.7e9
# TYPE lat_seconds histogram
# UNIT lat_seconds seconds
# HELP lat_seconds Latency "of" a request.
lat_seconds_bucket{le="0.5",model="a"} 1
lat_seconds_bucket{le="1.0",model="a"} 2
lat_seconds_bucket{le="+Inf",model="a"} 2
lat_seconds_sum{model="a"} 1.2
lat_seconds_count{model="a"} 2
# TYPE build info
build_info{version="1.2"} 1
# EOF
"""

TEXT = """\
# HELP req_total Requests served.
# TYPE req_total counter
req_total{code="200",model="a"} 3
# HELP lat_seconds Latency "of" a request.
# TYPE lat_seconds histogram
lat_seconds_bucket{model="a",le="0.5"} 1
lat_seconds_bucket{model="a",le="1"} 2
lat_seconds_bucket{model="a",le="+Inf"} 2
lat_seconds_sum{model="a"} 1.2
lat_seconds_count{model="a"} 2
# TYPE queue gauge
queue{path="a\\\\b\\"c,}"} 4
legacy_untyped 1
"""


def test_openmetrics_families_are_named_as_promql_reads_them():
    assert parse_exposition(OPENMETRICS) == [
        Metric(name="build_info", type="info", labels=("version",)),
        Metric(
            name="lat_seconds",
            type="histogram",
            help='Latency "of" a request.',
            unit="seconds",
            labels=("model",),
            buckets=(0.5, 1.0),
        ),
        Metric(name="req_total", type="counter", help="Requests served.", labels=("code", "model")),
    ]


def test_text_format_families():
    assert parse_exposition(TEXT) == [
        Metric(
            name="lat_seconds", type="histogram", help='Latency "of" a request.', labels=("model",), buckets=(0.5, 1.0)
        ),
        Metric(name="legacy_untyped", type="unknown"),
        Metric(name="queue", type="gauge", labels=("path",)),
        Metric(name="req_total", type="counter", help="Requests served.", labels=("code", "model")),
    ]


def test_a_malformed_line_is_an_error_with_its_line_number():
    from promspec.backends.discover import DiscoverError

    with pytest.raises(DiscoverError, match=r"line 2: cannot parse the labels"):
        parse_exposition("# TYPE a gauge\na{b=1} 2\n")


def test_changes_are_said_per_metric():
    old = [
        Metric(name="a_total", type="counter", labels=("x", "y")),
        Metric(name="gone", type="gauge"),
        Metric(name="h", type="histogram", buckets=(0.1, 1.0)),
    ]
    new = [
        Metric(name="a_total", type="counter", labels=("x", "z")),
        Metric(name="h", type="histogram", buckets=(0.1, 0.5, 1.0)),
        Metric(name="new", type="gauge", labels=("q",)),
    ]
    assert changes(old, new) == [
        "~ a_total: labels +z -y",
        "- gone (gauge): no longer exposed",
        "~ h: buckets [0.1, 1] -> [0.1, 0.5, 1]",
        "+ new (gauge, labels q)",
    ]


# ------------------------------------------------------------------------------ live sources


def _backend_docs() -> list[dict]:
    return [
        d
        for f in sorted(glob.glob(os.path.join(REPO, "specs", "backends", "*.yml")))
        for d in yaml.safe_load_all(open(f, encoding="utf-8"))
        if d and d.get("kind") == "Backend"
    ]


def _discover(*args) -> tuple[int, str, dict]:
    result = CliRunner().invoke(cli, ["catalog", "discover", *args], catch_exceptions=False)
    text = result.stdout
    data = yaml.safe_load(text) if result.exit_code == 0 and text.startswith("#") else {}
    return result.exit_code, result.output, data


def _by_name(data: dict) -> dict:
    return {m["name"]: m for m in data["spec"]["metrics"]}


def _expected_from_backends() -> dict:
    """The oracle: metric -> (type, declared labels, buckets), read from the Backend specs, not from discover."""
    out: dict = {}
    for doc in _backend_docs():
        spec = doc["spec"]
        for v in [v for vs in spec.get("signals", {}).values() for v in vs] + spec.get("other", []):
            out.setdefault(v["metric"], (v["type"], set(v.get("labels", ())), tuple(v.get("buckets", ()))))
    return out


@pytest.mark.slow
def test_discover_from_the_fake_engines_endpoint(tmp_path):
    from fake_engines import FakeEngines

    engines = FakeEngines(_backend_docs())
    try:
        url = f"http://127.0.0.1:{engines.port}/metrics"
        code, output, data = _discover(url, "--name", "engines")
        assert code == 0, output
        found = _by_name(data)
        for metric, (mtype, labels, buckets) in _expected_from_backends().items():
            base = metric[: -len("_count")] if metric.endswith("_count") and metric[:-6] in found else metric
            assert base in found, metric
            if base != metric:
                continue  # a histogram's _count the fake folds into the histogram
            assert found[metric]["type"] == mtype, metric
            assert labels <= set(found[metric]["labels"]), metric
            if buckets and mtype == "histogram":
                assert [float(b) for b in found[metric]["buckets"]] == [float(b) for b in buckets], metric
        # Written with -o, then re-run against it: nothing changed.
        out = tmp_path / "engines.yml"
        code, output, _ = _discover(url, "--name", "engines", "-o", str(out))
        assert code == 0 and out.exists(), output
        code, output, _ = _discover(url, "--against", str(out))
        assert code == 0 and "no changes against" in output
        # The written catalog is a valid spec that promspec loads.
        from promspec.pipeline import load_project

        project, _report = load_project([str(out)], env={})
        assert {m.name for c in project.catalogs for m in c.metrics} == set(found)
    finally:
        engines.close()


@pytest.mark.slow
def test_rerun_against_a_changed_catalog_shows_what_changed(tmp_path):
    from fake_engines import FakeEngines

    engines = FakeEngines([d for d in _backend_docs() if d["metadata"]["name"] == "vllm"])
    try:
        url = f"http://127.0.0.1:{engines.port}/metrics"
        out = tmp_path / "vllm.yml"
        assert _discover(url, "-o", str(out))[0] == 0
        data = yaml.safe_load(out.read_text())
        data["spec"]["metrics"] = [m for m in data["spec"]["metrics"] if m["name"] != "vllm:num_requests_waiting"]
        data["spec"]["metrics"][0]["labels"].append("stale_label")
        first = data["spec"]["metrics"][0]["name"]
        out.write_text("# Discovered from x by `promspec catalog discover`\n" + yaml.safe_dump(data))
        code, output, _ = _discover(url, "--against", str(out))
        assert code == 1
        assert "+ vllm:num_requests_waiting (gauge" in output
        assert f"~ {first}: labels -stale_label" in output
    finally:
        engines.close()


@pytest.mark.slow
def test_output_over_a_hand_written_catalog_is_refused(tmp_path):
    target = tmp_path / "catalog.yml"
    with open(os.path.join(REPO, "specs", "catalog", "llm.yml"), encoding="utf-8") as fh:
        target.write_text(fh.read())
    before = target.read_bytes()
    from fake_llm import FakeLLM

    fake = FakeLLM({})
    try:
        code, output, _ = _discover(f"http://127.0.0.1:{fake.port}/metrics", "-o", str(target))
    finally:
        fake.close()
    assert code == 1 and "was not written by `promspec catalog discover`" in output
    assert target.read_bytes() == before


@pytest.mark.slow
def test_unreachable_source_is_a_clear_error():
    code, output, _ = _discover(f"http://127.0.0.1:{free_port()}/metrics")
    assert code == 1 and "cannot reach http://127.0.0.1:" in output and "Traceback" not in output


def _start_exporter(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(REPO, "tests", "dashboards_exporter.py"),
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.path.join(REPO, "gen")},
    )
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
    pytest.fail("promspec-exporter (fake NVML) did not start")


@pytest.mark.slow
def test_discover_from_the_exporter_agrees_with_its_catalog():
    port = free_port()
    proc = _start_exporter(port)
    try:
        code, output, data = _discover(f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert code == 0, output
    with open(os.path.join(REPO, "specs", "catalog", "exporter.yml"), encoding="utf-8") as fh:
        listed = {m["name"]: m for d in yaml.safe_load_all(fh) if d for m in d["spec"]["metrics"]}
    found = _by_name(data)
    assert len(found) > 20
    for name, m in found.items():
        assert name in listed, name
        assert (m["type"], m.get("help", "")) == (listed[name]["type"], listed[name]["help"]), name
        assert set(m["labels"]) <= set(listed[name]["labels"]), name


@pytest.mark.slow
def test_discover_from_a_real_prometheus(tmp_path, prometheus_factory):
    from fake_engines import FakeEngines

    engines = FakeEngines([d for d in _backend_docs() if d["metadata"]["name"] in ("vllm", "sglang")])
    try:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: engines\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{engines.port}']}}]\n"
        )
        prom = prometheus_factory(str(config))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            meta = http_json(f"{prom.url}/api/v1/metadata")["data"]
            if "vllm:num_requests_waiting" in meta and prom.query('count({job="engines"})'):
                break
            time.sleep(0.5)
        code, output, direct = _discover(f"http://127.0.0.1:{engines.port}/metrics")
        assert code == 0, output
        code, output, via = _discover(prom.url, "--prometheus", "--match", '{job="engines"}')
        assert code == 0, output
    finally:
        engines.close()
    # The oracle is the endpoint itself: Prometheus' view (target labels job/instance left out) is the same.
    strip = {"help"}  # the fake writes no HELP for every family; both sides then carry none
    assert {n: {k: v for k, v in m.items() if k not in strip} for n, m in _by_name(via).items()} == {
        n: {k: v for k, v in m.items() if k not in strip} for n, m in _by_name(direct).items()
    }
