"""promspec report against a real Prometheus holding backfilled engine, alert and GPU series with known
SLO attainment: every number in the JSON equals the value computed here from the generating slopes
(independent of the report's code), HTML and JSON are byte-stable, the PDF prints and renders."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import time

import pytest

from promspec.live.report_pdf import pin_dates

from conftest import REPO, PrometheusServer, free_port, run_promspec
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
"""
HOURS = 6
SEG = 300  # slopes change only on 5m boundaries aligned on the period start
WEEK = 7 * 86400
SEL = {"job": "vllm", "instance": "node-a:8000", "model_name": "m1", "engine": "0"}  # labels only: nothing connects


def err_slope(k: int, week_before: bool) -> float:
    if week_before:
        return 0.02
    return 1.0 if 24 <= k < 36 else 0.05  # the third hour is bad


def stop_slope(_k: int, week_before: bool) -> float:
    return 8.0 if week_before else 10.0


def bucket_slopes(k: int, week_before: bool) -> dict:
    """TTFT bucket rates per le; count = +Inf. The fifth hour is slow (10% above 500 ms)."""
    fast = 9.0 if (not week_before and 48 <= k < 60) else 9.95
    return {"0.1": 5.0 if week_before else 6.0, "0.5": fast, "1.0": 10.0, "+Inf": 10.0}


def counter(start: float, end: float, slope_at, base: float = 1000.0) -> list[tuple[float, float]]:
    """Samples every 60 s of a counter whose slope is slope_at(segment) (segments of SEG from start)."""
    out, value = [], base
    t = start - 600
    out.append((t, value))
    while t < end:
        k = int((t - start) // SEG) if t >= start else 0
        value += slope_at(k) * 60
        t += 60
        out.append((t, value))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    specs = root / "specs"
    specs.mkdir()
    shutil.copy(os.path.join(REPO, "specs", "backends", "vllm.yml"), specs)
    (specs / "services.yml").write_text(SERVICES)
    t1 = int(time.time()) // 3600 * 3600
    t0 = t1 - HOURS * 3600
    merged: dict = {}  # one entry per series: the week before and this period are one series to promtool
    for before in (False, True):
        shift = WEEK if before else 0
        a, b = t0 - shift, t1 - shift

        def add(name, labels, slope, a=a, b=b, before=before):
            key = (name, tuple(sorted({**SEL, **labels}.items())))
            merged.setdefault(key, []).extend(counter(a, b, lambda k: slope(k, before)))

        add("vllm:request_success_total", {"finished_reason": "stop"}, stop_slope)
        add("vllm:request_success_total", {"finished_reason": "error"}, err_slope)
        for le in ("0.1", "0.5", "1.0", "+Inf"):
            add("vllm:time_to_first_token_seconds_bucket", {"le": le}, lambda k, w, le=le: bucket_slopes(k, w)[le])
        add("vllm:time_to_first_token_seconds_count", {}, lambda k, w: bucket_slopes(k, w)["+Inf"])
    series = [(name, dict(labels), samples) for (name, labels), samples in merged.items()]
    series.append(("up", {"job": "vllm", "instance": "node-a:8000"}, [(t, 1.0) for t in range(t0, t1 + 1, 60)]))
    for host, idx, util, watts in (("node-a", "0", 0.5, 300.0), ("node-b", "1", 0.8, 200.0)):
        gpu = {"instance": f"{host}:9400", "job": "gpu", "name": "Fake H100", "gpu": idx}
        series.append(("promspec_gpu_utilization_ratio", gpu, [(t, util) for t in range(t0, t1 + 1, 60)]))
        series.append(("promspec_gpu_energy_joules_total", gpu, counter(t0, t1, lambda _k, w=watts: w, base=5e6)))
    burn = {
        "alertname": "ChatErrorsErrorBudgetBurn",
        "alertstate": "firing",
        "severity": "page",
        "slo_id": "chat-errors",
        "slo_service": "chat",
        "slo": "errors",
        "burn_tier": "page-fast",
    }
    episodes = [(t0 + 2 * 3600, 1800), (t0 + 4 * 3600, 600)]
    series.append(("ALERTS", burn, [(s + i, 1.0) for s, d in episodes for i in range(0, d, 30)]))
    # The first episode was already active (pending, `for: 1m`) a minute before it fired; a second
    # ALERTS_FOR_STATE value for the second episode.
    for_state = {k: v for k, v in burn.items() if k != "alertstate"}
    series.append(
        (
            "ALERTS_FOR_STATE",
            for_state,
            [(s - 60 + i, float(s - 60)) for s, d in episodes for i in range(0, d + 60, 30)],
        )
    )
    node = {"alertname": "HostDown", "alertstate": "firing", "severity": "ticket", "job": "node"}
    series.append(("ALERTS", node, [(t0 + 3600 + i, 1.0) for i in range(0, 300, 30)]))
    backfill(root / "data.om", root / "tsdb", series)
    (root / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    prom = PrometheusServer(str(root / "prometheus.yml"), str(root / "tsdb"))
    yield {"specs": str(specs), "prom": prom, "t0": t0, "t1": t1, "root": root}
    prom.stop()


def _expected_counts(slope_bad, slope_all) -> tuple[float, float]:
    n = HOURS * 3600 // SEG
    return (sum(slope_bad(k) * SEG for k in range(n)), sum(slope_all(k) * SEG for k in range(n)))


def _quantile(q: float, buckets: dict) -> float:
    """histogram_quantile's linear interpolation, written out for the oracle (buckets: le -> count)."""
    bounds = sorted(((float(le), c) for le, c in buckets.items()), key=lambda x: x[0])
    rank = q * bounds[-1][1]
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in bounds:
        if count >= rank:
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    raise AssertionError("unreachable")


def _report(world, out, *extra, check=0):
    return run_promspec(
        "report",
        world["specs"],
        "--prometheus",
        world["prom"].url,
        "--from",
        str(world["t0"]),
        "--to",
        str(world["t1"]),
        "-o",
        str(out),
        *extra,
        check=check,
    )


@pytest.mark.slow
def test_numbers_equal_the_raw_series(world, tmp_path):
    _report(world, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    slos = {s["slo_id"]: s for s in data["slos"]}
    bad, total = _expected_counts(lambda k: err_slope(k, False), lambda k: err_slope(k, False) + stop_slope(k, False))
    errors = slos["chat-errors"]
    assert errors["events"] == pytest.approx(total, rel=1e-9)
    assert errors["bad_events"] == pytest.approx(bad, rel=1e-9)
    assert errors["attainment"] == pytest.approx(1 - bad / total, rel=1e-9)
    assert errors["met"] is False and errors["objective"] == "99%"
    assert errors["budget_consumed"] == pytest.approx((bad / total) / 0.01, rel=1e-9)
    assert errors["burn_down"][-1][1] == pytest.approx(1 - (bad / total) / 0.01, rel=1e-9)
    assert errors["burn_down"][0][0] == world["t0"] + SEG and len(errors["burn_down"]) == HOURS * 12
    worst = errors["worst_windows"][0]
    assert worst["start"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(world["t0"] + 2 * 3600))
    assert worst["error_ratio"] == pytest.approx(1.0 / 11.0, rel=1e-9)
    # TTFT: bad = count - bucket(le=0.5)
    tb, tt = _expected_counts(lambda k: 10.0 - bucket_slopes(k, False)["0.5"], lambda k: 10.0)
    ttft = slos["chat-ttft"]
    assert ttft["attainment"] == pytest.approx(1 - tb / tt, rel=1e-9) and ttft["met"] is False
    assert ttft["worst_windows"][0]["error_ratio"] == pytest.approx(0.1, rel=1e-9)

    service = data["services"][0]
    span = HOURS * 3600
    assert service["requests"]["value"] == pytest.approx(total, rel=1e-9)
    assert service["requests"]["week_before"] == pytest.approx(8.02 * span, rel=1e-9)
    assert service["requests"]["change"] == pytest.approx(total / (8.02 * span) - 1, rel=1e-9)
    assert service["request_rate"]["value"] == pytest.approx(total / span, rel=1e-9)
    assert service["error_ratio"]["value"] == pytest.approx(bad / total, rel=1e-9)
    assert service["error_ratio"]["week_before"] == pytest.approx(0.02 / 8.02, rel=1e-9)
    n = span // SEG
    now_buckets = {le: sum(bucket_slopes(k, False)[le] * SEG for k in range(n)) for le in ("0.1", "0.5", "1.0", "+Inf")}
    then_buckets = {le: bucket_slopes(0, True)[le] * span for le in ("0.1", "0.5", "1.0", "+Inf")}
    for q in (0.5, 0.95):
        finite = {le: c for le, c in now_buckets.items() if le != "+Inf"}
        got = service["latency_seconds"]["ttft"][f"p{q * 100:g}"]
        assert got["value"] == pytest.approx(_quantile(q, finite), rel=1e-9), q
        assert got["week_before"] == pytest.approx(
            _quantile(q, {k: v for k, v in then_buckets.items() if k != "+Inf"}), rel=1e-9
        ), q

    alerts = {a["alertname"]: a for a in data["alerts"]}
    assert alerts["ChatErrorsErrorBudgetBurn"]["episodes"] == 2
    assert alerts["ChatErrorsErrorBudgetBurn"]["firing_seconds"] == 2400
    assert alerts["HostDown"]["episodes"] == 1 and alerts["HostDown"]["firing_seconds"] == 300
    first_active = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(world["t0"] + 2 * 3600 - 60))
    assert alerts["ChatErrorsErrorBudgetBurn"]["active_since"] == first_active
    assert alerts["HostDown"]["active_since"] is None  # no ALERTS_FOR_STATE: an alert without `for`
    assert [a["alertname"] for a in data["alerts"]] == ["ChatErrorsErrorBudgetBurn", "HostDown"]

    gpu = data["gpu"]
    assert [g["gpu"] for g in gpu["gpus"]] == ["0", "1"]
    assert gpu["gpus"][0]["utilisation"] == pytest.approx(0.5) and gpu["gpus"][1]["utilisation"] == pytest.approx(0.8)
    assert gpu["energy_joules"] == pytest.approx(500.0 * span, rel=1e-9)
    assert gpu["energy_kwh"] == pytest.approx(500.0 * span / 3.6e6, rel=1e-9)


@pytest.mark.slow
def test_service_filter_keeps_its_alerts_and_hosts(world, tmp_path):
    _report(world, tmp_path / "r.json", "--service", "chat")
    data = json.loads((tmp_path / "r.json").read_text())
    assert [a["alertname"] for a in data["alerts"]] == ["ChatErrorsErrorBudgetBurn"]
    # Only the GPU on the engine's host (node-a); node-b serves nothing of chat.
    assert [(g["instance"], g["gpu"]) for g in data["gpu"]["gpus"]] == [("node-a:9400", "0")]
    assert data["gpu"]["energy_joules"] == pytest.approx(300.0 * HOURS * 3600, rel=1e-9)
    proc = _report(world, tmp_path / "x.json", "--service", "nosuch", check=1)
    assert "no service nosuch in the specs (services: chat)" in proc.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow
def test_deterministic_html_and_json(world, tmp_path):
    for name in ("a", "b"):
        _report(world, tmp_path / f"{name}.html")
        _report(world, tmp_path / f"{name}.json")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    page = (tmp_path / "a.html").read_text()
    assert page.count("data:image/png;base64,") >= 3  # two burn-downs and the traffic chart
    assert "0 of 2 SLOs met" in page and "ChatErrorsErrorBudgetBurn" in page


@pytest.mark.slow
def test_pdf_prints_and_renders(world, tmp_path):
    _report(world, tmp_path / "r.pdf")
    time.sleep(1.1)  # Chromium dates a PDF to the second: a second print would differ if the date were not pinned
    _report(world, tmp_path / "again.pdf")
    pdf = (tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert pdf == (tmp_path / "again.pdf").read_bytes()
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm is not installed: run `make tools` (poppler-utils)")
    subprocess.run(
        [pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", str(tmp_path / "r.pdf"), str(tmp_path / "page")],
        check=True,
    )
    page = next(tmp_path.glob("page*.png"))
    assert page.stat().st_size > 10_000


@pytest.mark.slow
def test_bad_input_is_a_clear_error(world, tmp_path):
    proc = _report(world, tmp_path / "r.txt", check=1)
    assert "cannot tell the format of" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_promspec(
        "report",
        world["specs"],
        "--prometheus",
        world["prom"].url,
        "--from",
        "now",
        "--to",
        "now-1h",
        "-o",
        str(tmp_path / "r.json"),
        check=1,
    )
    assert "must be after --from" in proc.stderr
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_promspec(
        "report", world["specs"], "--prometheus", url, "--from", "now-1h", "-o", str(tmp_path / "r.json"), check=1
    )
    assert proc.stderr.startswith(f"promspec: cannot reach {url}") and "Traceback" not in proc.stderr
    assert not (tmp_path / "r.json").exists()


def test_alert_episodes_from_sample_times():
    from promspec.live.report import episodes

    runs, seconds = episodes([100.0, 130.0, 160.0, 1000.0, 1030.0])
    assert runs == [(100.0, 160.0), (1000.0, 1030.0)] and seconds == 90 + 60
    assert episodes([5.0]) == ([(5.0, 5.0)], 60.0)
    # A missed evaluation (one gap of two intervals) does not split an episode.
    assert episodes([0.0, 30.0, 90.0, 120.0])[0] == [(0.0, 120.0)]


def test_pdf_dates_are_pinned_without_moving_a_byte():
    """Chromium's print date becomes the report's end; the length (and so the xref offsets) is unchanged."""
    pdf = b"%PDF-1.4\n1 0 obj <</CreationDate (D:20261201223253+00'00')\n/ModDate (D:20261201223253+00'00')>>"
    when = datetime.datetime(2026, 11, 30, 0, 0, 5, tzinfo=datetime.UTC)
    pinned = pin_dates(pdf, when)
    assert len(pinned) == len(pdf)
    assert pinned.count(b"(D:20261130000005+00'00')") == 2
