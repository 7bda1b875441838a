"""promspec top, driven headless by Textual's pilot against a real Prometheus holding backfilled engine,
GPU, SLO and alert series: every number on screen equals a PromQL result the test asks for itself."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import urllib.parse

import pytest

from conftest import REPO, PrometheusServer, free_port, http_json, run_promspec
from ops_backfill import backfill

SERVICES = """\
apiVersion: promspec/v1
kind: Service
metadata: {name: chat}
spec:
  backend: vllm
  selector: {job: vllm}
  slos:
    - {name: errors, objective: 99%, window: 30d, sli: {signal: errors}}
    - {name: ttft, objective: 99%, window: 30d, sli: {signal: ttft, threshold: 500ms}}
---
apiVersion: promspec/v1
kind: Service
metadata: {name: embed}
spec:
  backend: vllm
  selector: {job: embed}
  slos:
    - {name: errors, objective: 99.9%, sli: {signal: errors}}
"""
GIB = 2**30


def _series(now: int) -> list:
    times = list(range(now - 1800, now + 601, 15))
    start = times[0]

    def counter(slope, base=1000.0):
        return [(t, base + slope * (t - start)) for t in times]

    def gauge(value):
        return [(t, value) for t in times]

    out = []
    for engine, waiting, kv in (("0", 3.0, 0.4), ("1", 4.0, 0.6)):
        lab = {
            "job": "vllm",
            "instance": f"node-{'ab'[int(engine)]}:8000",
            "model_name": "llama-3-8b",
            "engine": engine,
        }
        out += [
            ("vllm:request_success_total", {**lab, "finished_reason": "stop"}, counter(10.0)),
            ("vllm:request_success_total", {**lab, "finished_reason": "error"}, counter(0.1)),
            ("vllm:num_requests_waiting", lab, gauge(waiting)),
            ("vllm:kv_cache_usage_perc", lab, gauge(kv)),
        ]
        for le, slope in (("0.1", 6.0), ("0.5", 9.5), ("1.0", 10.0), ("+Inf", 10.0)):
            out.append(("vllm:time_to_first_token_seconds_bucket", {**lab, "le": le}, counter(slope)))
        for le, slope in (("0.05", 50.0), ("0.1", 90.0), ("0.2", 100.0), ("+Inf", 100.0)):
            out.append(("vllm:inter_token_latency_seconds_bucket", {**lab, "le": le}, counter(slope)))
    out += [
        ("up", {"job": "vllm", "instance": "node-a:8000"}, gauge(1.0)),
        ("up", {"job": "vllm", "instance": "node-b:8000"}, gauge(0.0)),
    ]
    for inst, gpu, util, used, temp, watts in (
        ("node-a:9400", "0", 0.6, 40, 65.0, 300.0),
        ("node-a:9400", "1", 0.8, 60, 71.0, 350.0),
        ("node-c:9400", "0", 0.1, 10, 40.0, 90.0),
    ):
        lab = {"job": "gpu", "instance": inst, "gpu": gpu, "name": "Fake H100", "uuid": f"GPU-{inst}-{gpu}"}
        out += [
            ("promspec_gpu_utilization_ratio", lab, gauge(util)),
            ("promspec_gpu_memory_used_bytes", lab, gauge(used * GIB)),
            ("promspec_gpu_memory_total_bytes", lab, gauge(80.0 * GIB)),
            ("promspec_gpu_temperature_celsius", lab, gauge(temp)),
            ("promspec_gpu_power_watts", lab, gauge(watts)),
            ("promspec_gpu_clock_event_active", {**lab, "reason": "gpu_idle"}, gauge(1.0 if gpu == "0" else 0.0)),
            (
                "promspec_gpu_clock_event_active",
                {**lab, "reason": "sw_thermal_slowdown"},
                gauge(1.0 if (inst, gpu) == ("node-a:9400", "1") else 0.0),
            ),
            (
                "promspec_gpu_xid_errors_total",
                {**lab, "xid": "79"},
                [(t, 0.0 if t < now - 600 or gpu == "0" else 2.0) for t in times],
            ),
        ]
    # node-a's GPU 2 runs MIG: the GPU itself has no utilisation series (NVML has none), its instance has one
    # (as DCGM-style exporters give). The instance's value must not pass for the GPU's.
    whole = {"job": "gpu", "instance": "node-a:9400", "gpu": "2", "name": "Fake H100", "uuid": "GPU-node-a-2"}
    mig = {
        **whole,
        "name": "Fake H100 MIG 3g.40gb",
        "uuid": "MIG-node-a-2-1",
        "gpu_instance": "1",
        "compute_instance": "0",
    }
    out += [
        ("promspec_gpu_memory_used_bytes", whole, gauge(20.0 * GIB)),
        ("promspec_gpu_memory_total_bytes", whole, gauge(80.0 * GIB)),
        ("promspec_gpu_temperature_celsius", whole, gauge(50.0)),
        ("promspec_gpu_power_watts", whole, gauge(120.0)),
        ("promspec_gpu_utilization_ratio", mig, gauge(0.99)),
        ("promspec_gpu_memory_used_bytes", mig, gauge(5.0 * GIB)),
        ("promspec_gpu_memory_total_bytes", mig, gauge(40.0 * GIB)),
    ]
    slo = {"slo_id": "chat-errors", "slo_service": "chat", "slo": "errors"}
    out += [
        ("slo:sli_error:ratio_period", slo, gauge(0.004)),
        ("slo:period_error_budget_remaining:ratio", slo, gauge(0.6)),
        ("slo:objective:ratio", slo, gauge(0.99)),
        ("slo:error_budget:ratio", slo, gauge(0.01)),
    ]
    slo_t = {"slo_id": "chat-ttft", "slo_service": "chat", "slo": "ttft"}
    out += [
        ("slo:sli_error:ratio_period", slo_t, gauge(0.002)),
        ("slo:period_error_budget_remaining:ratio", slo_t, gauge(0.8)),
    ]
    out.append(
        (
            "ALERTS",
            {
                "alertname": "ChatErrorsErrorBudgetBurn",
                "alertstate": "firing",
                "severity": "page",
                "slo_id": "chat-errors",
                "slo_service": "chat",
                "slo": "errors",
                "burn_tier": "page-fast",
            },
            gauge(1.0),
        )
    )
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("top")
    specs = root / "specs"
    specs.mkdir()
    shutil.copy(os.path.join(REPO, "specs", "backends", "vllm.yml"), specs)
    (specs / "services.yml").write_text(SERVICES)
    now = int(time.time()) // 15 * 15
    backfill(root / "data.om", root / "tsdb", _series(now))
    (root / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    prom = PrometheusServer(str(root / "prometheus.yml"), str(root / "tsdb"))
    yield {"specs": str(specs), "prom": prom, "time": float(now)}
    prom.stop()


def _model(specs: str):
    from promspec.live.queries import plans, status_slos
    from promspec.pipeline import load_project

    project, _report = load_project((specs,))
    slos, windows = status_slos(project)
    return plans(project), slos, windows


def _q(world, expr: str) -> float:
    query = urllib.parse.urlencode({"query": expr, "time": world["time"]})
    result = http_json(f"{world['prom'].url}/api/v1/query?{query}")["data"]["result"]
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def _maybe(world, expr: str) -> float | None:
    query = urllib.parse.urlencode({"query": expr, "time": world["time"]})
    result = http_json(f"{world['prom'].url}/api/v1/query?{query}")["data"]["result"]
    assert len(result) <= 1, (expr, result)
    return float(result[0]["value"][1]) if result else None


async def _until(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the screen did not update in time")
        await pilot.pause(0.05)


def _latency(seconds: float) -> str:
    """How the screen writes a latency: milliseconds below a second, seconds to 2 places above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _rows(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def _app(world, url=None):
    from promspec.live.top import TopApp

    plans, slos, windows = _model(world["specs"])
    return TopApp(url=url or world["prom"].url, plans=plans, slos=slos, windows=windows, interval=60, at=world["time"])


@pytest.mark.slow
def test_screens_show_the_promql_results(world, tmp_path):
    from textual.widgets import DataTable, Sparkline, Static

    shots = os.environ.get("PROMSPEC_TOP_SCREENSHOTS", str(tmp_path))
    sel = '{job="vllm"}'
    req = f"sum(rate(vllm:request_success_total{sel}[5m]))"
    err = 'sum(rate(vllm:request_success_total{job="vllm",finished_reason="error"}[5m]))'
    hosts = '{instance=~"node-[ab]:.*",gpu_instance=""}'  # the GPUs on chat's targets' hosts (up{job="vllm"})
    ttft = f"histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{sel}[5m])))"
    itl = f"histogram_quantile(0.95, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{sel}[5m])))"
    mem = f"sum(promspec_gpu_memory_used_bytes{hosts}) / sum(promspec_gpu_memory_total_bytes{hosts})"
    expected = {
        "REQ/S": f"{_q(world, req):.2f}/s",
        "ERRORS": f"{100 * _q(world, f'{err} / {req}'):.2f}%",
        "TTFT p95": f"{1000 * _q(world, ttft):.0f} ms",
        "ITL p95": f"{1000 * _q(world, itl):.0f} ms",
        "QUEUE": f"{_q(world, f'sum(vllm:num_requests_waiting{sel})'):.0f}",
        "KV CACHE": f"{100 * _q(world, f'avg(vllm:kv_cache_usage_perc{sel})'):.1f}%",
        "UP": f"{_q(world, f'sum(up{sel})'):.0f}/{_q(world, f'count(up{sel})'):.0f}",
        "GPU UTIL": f"{100 * _q(world, f'avg(promspec_gpu_utilization_ratio{hosts})'):.1f}%",
        "GPU MEM": f"{100 * _q(world, mem):.1f}%",
    }
    assert expected["UP"] == "1/2" and expected["QUEUE"] == "7"

    async def drive() -> None:
        app = _app(world)
        async with app.run_test(size=(190, 40)) as pilot:
            await _until(pilot, lambda: app.fetches >= 1)
            services = app.screen.query_one("#services", DataTable)
            titles = [str(c.label) for c in services.columns.values()]
            rows = _rows(services)
            assert [r[0] for r in rows] == ["chat", "embed"]
            chat = dict(zip(titles, rows[0], strict=True))
            for title, value in expected.items():
                assert chat[title] == value, title
            assert chat["MODEL"] == "llama-3-8b" and chat["ENGINE"] == "vllm"
            embed = dict(zip(titles, rows[1], strict=True))  # no series at all: dashes, never a crash
            assert embed["REQ/S"] == "—" and embed["TTFT p95"] == "—" and embed["UP"] == "—"
            slos = app.screen.query_one("#slos", DataTable)
            slo_rows = {(r[0], r[1]): r for r in _rows(slos)}
            sli = 100 * (1 - _q(world, 'slo:sli_error:ratio_period{slo_id="chat-errors"}'))
            left = 100 * _q(world, 'slo:period_error_budget_remaining:ratio{slo_id="chat-errors"}')
            assert slo_rows[("chat", "errors")][4:7] == [f"{sli:.3f}%", f"{left:.1f}%", "page-fast"]
            assert slo_rows[("chat", "ttft")][6] == "ok" and slo_rows[("embed", "errors")][4] == "—"
            firing = slos.get_row_at(list(slo_rows).index(("chat", "errors")))[6]
            assert "red" in str(firing.style)
            status = str(app.screen.query_one("#status", Static).render())
            assert "1 alerts firing" in status and status.endswith("no data for embed (no series at all)")
            await pilot.pause(0.3)  # let the compositor draw the last update
            app.save_screenshot("top-services.svg", path=shots)

            # Filter, sort, navigation.
            await pilot.press("slash", "e", "m", "b")
            await _until(pilot, lambda: [r[0] for r in _rows(services)] == ["embed"])
            await pilot.press("enter", "slash", "backspace", "backspace", "backspace", "enter")
            await _until(pilot, lambda: services.row_count == 2)
            services.focus()
            await pilot.press("O")  # reverse: by name descending
            await _until(pilot, lambda: [r[0] for r in _rows(services)] == ["embed", "chat"])
            await pilot.press("O")
            await _until(pilot, lambda: [r[0] for r in _rows(services)] == ["chat", "embed"])

            # The per-service screen: sparklines and the alerts firing now.
            services.move_cursor(row=0)
            await pilot.press("enter")
            await _until(pilot, lambda: type(app.screen).__name__ == "ServiceScreen")
            screen = app.screen
            await _until(pilot, lambda: len(screen.query_one("#spark-request_rate", Sparkline).data or []) > 0)
            spark = screen.query_one("#spark-request_rate", Sparkline).data
            assert spark[-1] == pytest.approx(_q(world, req))
            alerts = _rows(screen.query_one("#alerts", DataTable))
            assert alerts[0][:2] == ["ChatErrorsErrorBudgetBurn", "page"]
            label = str(screen.query_one("#label-request_rate", Static).render())
            assert label.startswith(f"Requests     {expected['REQ/S']}  (30 min: ")
            await pilot.pause(0.3)  # let the compositor draw the last update
            app.save_screenshot("top-service.svg", path=shots)
            await pilot.press("slash", "o")  # no table to filter or sort here: nothing happens, no crash
            await pilot.press("escape")
            await _until(pilot, lambda: type(app.screen).__name__ == "ServicesScreen")

            # The GPU screen.
            await pilot.press("g")
            await _until(pilot, lambda: type(app.screen).__name__ == "GpuScreen")
            gpus = app.screen.query_one("#gpus", DataTable)
            titles = [str(c.label) for c in gpus.columns.values()]
            rows = [dict(zip(titles, r, strict=True)) for r in _rows(gpus)]
            assert [(r["INSTANCE"], r["GPU"]) for r in rows] == [
                ("node-a:9400", "0"),
                ("node-a:9400", "1"),
                ("node-a:9400", "2"),
                ("node-c:9400", "0"),
            ]
            for r in rows:
                lab = f'{{instance="{r["INSTANCE"]}",gpu="{r["GPU"]}",gpu_instance=""}}'
                assert r["NAME"] == "Fake H100"
                util = _maybe(world, f"promspec_gpu_utilization_ratio{lab}")
                assert r["UTIL"] == ("—" if util is None else f"{100 * util:.1f}%")
                assert r["TEMP"] == f"{_q(world, f'promspec_gpu_temperature_celsius{lab}'):.0f}°C"
                assert r["POWER"] == f"{_q(world, f'promspec_gpu_power_watts{lab}'):.0f} W"
                used = _q(world, f"promspec_gpu_memory_used_bytes{lab}") / GIB
                assert r["MEMORY"] == f"{used:.1f}/80.0 GiB"
                xid = _maybe(world, f"sum(increase(promspec_gpu_xid_errors_total{lab}[1h]))")
                assert r["XID 1h"] == ("—" if xid is None else f"{xid:.0f}")
            assert [r["THROTTLED"] for r in rows] == ["no", "yes", "—", "no"]  # gpu_idle is not throttling
            assert rows[1]["XID 1h"] == "2" and rows[2]["UTIL"] == "—"  # the MIG GPU: no value of its own
            await pilot.pause(0.3)  # let the compositor draw the last update
            app.save_screenshot("top-gpus.svg", path=shots)
            await pilot.press("o")  # sort by the next column (instance)
            await pilot.press("q")

    asyncio.run(drive())


@pytest.mark.slow
def test_unreachable_prometheus_degrades(world):
    from textual.widgets import DataTable, Static

    url = f"http://127.0.0.1:{free_port()}"

    async def drive() -> None:
        app = _app(world, url)
        async with app.run_test(size=(160, 30)) as pilot:
            await _until(pilot, lambda: app.fetches >= 1)
            rows = _rows(app.screen.query_one("#services", DataTable))
            assert [r[0] for r in rows] == ["chat", "embed"]
            assert set(rows[0][3:]) == {"—"}
            status = str(app.screen.query_one("#status", Static).render())
            assert status.startswith(f"cannot reach {url}") and "values shown as —" in status
            await pilot.press("g")
            await _until(pilot, lambda: type(app.screen).__name__ == "GpuScreen")
            assert app.screen.query_one("#gpus", DataTable).row_count == 0
            await pilot.press("q")

    asyncio.run(drive())


@pytest.mark.slow
def test_help_does_not_import_textual():
    import subprocess
    import sys

    code = "import sys, promspec.cli; print('textual' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.slow
def test_cli_errors(world):
    proc = run_promspec("top", world["specs"], "--prometheus", "ftp://x", check=1)
    assert "is not an http(s) URL" in proc.stderr
    proc = run_promspec("top", world["specs"], "--prometheus", world["prom"].url, "--service", "nosuch", check=1)
    assert "no service nosuch in the specs (services: chat, embed)" in proc.stderr


@pytest.mark.slow
def test_live_fake_engines_and_fake_gpus(tmp_path, prometheus_factory):
    """The real path: Prometheus scraping the fake engines (every Backend's metrics) and promspec-exporter
    over the fake NVML fleet (MIG, a GPU without most fields), rules evaluating; the screen at a fixed
    instant equals hand-written PromQL at that instant."""
    import glob

    import yaml
    from textual.widgets import DataTable

    from test_dashboards_e2e import _speed_up_rules, _start_exporter

    from fake_engines import FakeEngines

    specs = tmp_path / "specs"
    shutil.copytree(os.path.join(REPO, "specs"), specs)
    docs = [
        d
        for f in sorted(glob.glob(str(specs / "backends" / "*.yml")))
        for d in yaml.safe_load_all((specs / "backends" / f).read_text())
        if d and d.get("kind") == "Backend"
    ]
    engines = FakeEngines(docs)
    port = free_port()
    exporter = _start_exporter(port)
    try:
        (specs / "targets.yml").write_text(f"""apiVersion: promspec/v1
kind: Targets
metadata: {{name: top-e2e}}
spec:
  jobs:
    - {{name: vllm, targets: ["127.0.0.1:{engines.port}"]}}
    - {{name: promspec-exporter, targets: ["127.0.0.1:{port}"]}}
""")
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
        ready = [
            'sum(rate(vllm:request_success_total{job="vllm"}[5m]))',
            "promspec_gpu_temperature_celsius",
            'slo:sli_error:ratio_period{slo_id="chat-vllm-errors"}',
        ]
        deadline = time.monotonic() + 90
        while not all(prom.query(q) for q in ready):
            assert time.monotonic() < deadline, "no data from the fake engines or fake GPUs"
            time.sleep(1)
        time.sleep(3)
        world = {"prom": prom, "time": round(time.time() - 3, 3)}  # every sample before it is in

        from promspec.live.queries import plans, status_slos
        from promspec.live.top import TopApp
        from promspec.pipeline import load_project

        project, _ = load_project((str(specs),))
        slos, windows = status_slos(project, ("chat-vllm",))
        app = TopApp(
            url=prom.url,
            plans=plans(project, ("chat-vllm",)),
            slos=slos,
            windows=windows,
            interval=60,
            at=world["time"],
        )
        sel = '{job="vllm"}'
        req = f"sum(rate(vllm:request_success_total{sel}[5m]))"
        err = 'sum(rate(vllm:request_success_total{job="vllm",finished_reason="error"}[5m]))'
        whole = '{job="promspec-exporter",gpu_instance=""}'
        mem = f"sum(promspec_gpu_memory_used_bytes{whole}) / sum(promspec_gpu_memory_total_bytes{whole})"
        expected = {
            "REQ/S": f"{_q(world, req):.2f}/s",
            "ERRORS": f"{100 * _q(world, f'{err} / {req}'):.2f}%",
            "TTFT p95": _latency(
                _q(
                    world,
                    f"histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{sel}[5m])))",
                )
            ),
            "QUEUE": f"{_q(world, f'sum(vllm:num_requests_waiting{sel})'):.0f}",
            "KV CACHE": f"{100 * _q(world, f'avg(vllm:kv_cache_usage_perc{sel})'):.1f}%",
            "UP": "1/1",
            "GPU UTIL": f"{100 * _q(world, f'avg(promspec_gpu_utilization_ratio{whole})'):.1f}%",
            "GPU MEM": f"{100 * _q(world, mem):.1f}%",
        }
        gpu_count = len(prom.query_at("promspec_gpu_temperature_celsius", world["time"]))

        async def drive() -> None:
            async with app.run_test(size=(190, 40)) as pilot:
                await _until(pilot, lambda: app.fetches >= 1)
                table = app.screen.query_one("#services", DataTable)
                titles = [str(c.label) for c in table.columns.values()]
                row = dict(zip(titles, _rows(table)[0], strict=True))
                for title, value in expected.items():
                    assert row[title] == value, title
                slo_rows = {r[1]: r for r in _rows(app.screen.query_one("#slos", DataTable))}
                period = _q(world, 'slo:sli_error:ratio_period{slo_id="chat-vllm-errors"}')
                assert slo_rows["errors"][4] == f"{100 * (1 - period):.3f}%"
                await pilot.press("g")
                await _until(pilot, lambda: type(app.screen).__name__ == "GpuScreen")
                gpus = app.screen.query_one("#gpus", DataTable)
                titles = [str(c.label) for c in gpus.columns.values()]
                rows = [dict(zip(titles, r, strict=True)) for r in _rows(gpus)]
                assert len(rows) == gpu_count == 4
                for r in rows:
                    lab = f'{{gpu="{r["GPU"]}",gpu_instance=""}}'
                    util = prom.query_at(f"promspec_gpu_utilization_ratio{lab}", world["time"])
                    # NVML has no utilisation for a MIG-enabled GPU: a dash, not its instances' values
                    assert r["UTIL"] == (f"{100 * float(util[0]['value'][1]):.1f}%" if util else "—")
                    used = _maybe(world, f"promspec_gpu_memory_used_bytes{lab}")
                    total = _maybe(world, f"promspec_gpu_memory_total_bytes{lab}")
                    # An unprivileged exporter gets no memory figures for a MIG GPU from NVML (it serves
                    # promspec_gpu_data_unavailable instead): a dash, never a made-up value.
                    assert r["MEMORY"] == (
                        "—"
                        if used is None
                        else f"{used / GIB:.1f}/{total / GIB:.1f} GiB"
                        if total is not None
                        else f"{used / GIB:.1f} GiB"
                    )
                assert "—" in [r["UTIL"] for r in rows]  # the MIG GPU
                await pilot.press("q")

        asyncio.run(drive())
    finally:
        exporter.kill()
        exporter.wait()
        engines.close()


def test_queries_come_from_the_backend_adapter(tmp_path):
    """The engine version picks the metric names (vLLM 0.10: time_per_output_token, gpu_cache_usage), the
    selector's `model` becomes the engine's model label, and colons_as_underscores renames."""
    from promspec.live.queries import plans

    shutil.copy(os.path.join(REPO, "specs", "backends", "vllm.yml"), tmp_path)
    (tmp_path / "s.yml").write_text("""\
apiVersion: promspec/v1
kind: Service
metadata: {name: old}
spec:
  backend: vllm
  backend_version: "0.10"
  colons_as_underscores: true
  selector: {job: vllm, model: llama}
  slos: [{name: errors, objective: 99%, sli: {signal: errors}}]
""")
    from promspec.pipeline import load_project

    project, _ = load_project((str(tmp_path),))
    plan = plans(project)[0]
    sel = '{job="vllm",model_name="llama"}'
    assert plan.queries["inter_token_latency_p95"] == (
        f"histogram_quantile(0.95, sum by (le) (rate(vllm_time_per_output_token_seconds_bucket{sel}[5m])))"
    )
    assert plan.queries["kv_cache"] == f"avg(vllm_kv_cache_usage_perc{sel})"
    assert plan.queries["error_ratio"] == (
        'sum(rate(vllm_request_success_total{job="vllm",model_name="llama",finished_reason="abort"}[5m])) / '
        f"sum(rate(vllm_request_success_total{sel}[5m]))"
    )
    assert plan.queries["replicas_up"] == 'sum(up{job="vllm"})'  # `up` has no model label


def test_sort_and_filter_keep_missing_values_last():
    from promspec.live import top_view as view
    from promspec.live.top_data import ServiceRow, Snapshot

    snap = Snapshot(
        prometheus="http://127.0.0.1:1",
        services=(
            ServiceRow(name="a", engine="vllm", values={"request_rate": 2.0}),
            ServiceRow(name="b", engine="tgi", values={"request_rate": None}),
            ServiceRow(name="c", engine="vllm", values={"request_rate": 5.0}),
        ),
    )
    assert [r["name"] for r in view.service_table(snap, sort_key="request_rate")] == ["a", "c", "b"]
    assert [r["name"] for r in view.service_table(snap, sort_key="request_rate", reverse=True)] == ["c", "a", "b"]
    assert [r["name"] for r in view.service_table(snap, "TGI")] == ["b"]
    assert view.service_table(snap)[1]["request_rate"] == "—"
    assert (
        view.seconds(0.2345) == "234 ms"
        and view.seconds(2.5) == "2.50 s"
        and view.seconds(float("inf")) == "> top bucket"
    )
