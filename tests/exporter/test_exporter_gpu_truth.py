"""Issue 17: the GPU collector against what real NVML and real nvidia-ml-py releases do.

Each test names the defect it guards. The fake's behaviours name their sources in fake_nvml.py;
the oracles here are the fake GPUs' own values, never the collector's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from promspec.exporter.gpu import background as gpu_background
from promspec.exporter.gpu import collector as gpu_collector_module
from promspec.exporter.gpu import sample as gpu_sample
from promspec.exporter.gpu.collector import GpuCollector
from promspec.exporter.metrics import render_text
from promspec.exporter.options import Options
from promspec.exporter.registry import CollectorFailed

from . import fake_nvml, nvml_releases
from .exporter_harness import HERE, samples, value, wait_for
from .fake_nvml import GIB, MIB, FakeGpu, FakeNvml, fleet, header_binding

UUID = [
    "GPU-00000000-0000-0000-0000-000000000000",
    "GPU-11111111-1111-1111-1111-111111111111",
    "GPU-22222222-2222-2222-2222-222222222222",
    "GPU-33333333-3333-3333-3333-333333333333",
]


# The XID listener's wait in nvmlEventSetWait, shortened for these tests: close() joins the listener, which
# leaves that wait only when it times out (as real NVML's does), so every test's teardown waited out the
# production 500 ms. The test of that join keeps the production wait.
TEST_EVENT_WAIT_MS = 20
PRODUCTION_EVENT_WAIT_MS = gpu_background._EVENT_WAIT_MS


class ShiftedClock:
    """The GPU package's `time`, with a wall clock that a test moves on instead of sleeping (the maximum age
    of samples is measured by time.time(); deadlines and waits by monotonic(), left real)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture
def wall_clock(monkeypatch) -> ShiftedClock:
    clock = ShiftedClock()
    for module in (gpu_background, gpu_collector_module, gpu_sample):
        monkeypatch.setattr(module, "time", clock)
    return clock


@pytest.fixture
def collector(monkeypatch):
    """collector(nvml, **options): a GpuCollector in this process, closed after the test."""
    monkeypatch.setattr(gpu_background, "_EVENT_WAIT_MS", TEST_EVENT_WAIT_MS)
    made = []

    def make(nvml, on_fatal=None, **overrides) -> GpuCollector:
        settings = {"gpu_slow_interval": 0.05, "gpu_timeout": 2.0, "gpu_retry_interval": 3600.0}
        settings.update(overrides)
        extra = {"on_fatal": on_fatal} if on_fatal is not None else {}
        made.append(GpuCollector(Options(**settings), nvml=nvml, **extra))
        return made[-1]

    yield make
    for gpu_collector in made:
        gpu_collector.close()


def scrape(gpu_collector: GpuCollector) -> str:
    return render_text(gpu_collector.collect()).decode()


def up(body: str) -> dict:
    return {labels["gpu"]: v for labels, v in samples(body, "promspec_gpu_up")}


def scrape_until(gpu_collector: GpuCollector, predicate, what: str) -> str:
    found = []

    def attempt():
        found[:] = [scrape(gpu_collector)]
        return predicate(found[0])

    # An in-process scrape costs microseconds: poll often, the first answer ends the wait.
    wait_for(attempt, what, timeout=20.0, interval=0.01)
    return found[0]


ALL_UP = {"0": 1, "1": 1, "2": 1, "3": 1}


# --- the fake itself ---------------------------------------------------------------------------
def test_the_fake_borrows_nothing_from_the_installed_binding():
    source = (HERE / "fake_nvml.py").read_text()
    assert "import pynvml" not in source and "from pynvml" not in source
    assert not hasattr(header_binding("12.555.43"), "NVML_VALUE_TYPE_UNSIGNED_SHORT")
    assert header_binding("12.560.30").NVML_VALUE_TYPE_UNSIGNED_SHORT == 6
    assert header_binding("12.570.172").NVML_NVLINK_MAX_LINKS == 18
    assert header_binding("13.615.71").NVML_NVLINK_MAX_LINKS == 36


def test_the_fake_misreads_process_records_as_12_535_77_does():
    gpu = FakeGpu(UUID[0], processes=[(100, GIB, None, None), (200, 2 * GIB, None, None), (300, 3 * GIB, None, None)])
    good = FakeNvml([gpu], binding=header_binding("12.560.30"))
    bad = FakeNvml([gpu], binding=header_binding("12.535.77"))
    for nvml in (good, bad):
        nvml.nvmlInit()
    read = {
        name: [p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(nvml.nvmlDeviceGetHandleByIndex(0))]
        for name, nvml in (("good", good), ("bad", bad))
    }
    assert read["good"] == [100, 200, 300]
    assert read["bad"][0] == 100 and read["bad"][1:] != [200, 300]


# --- defect 1: binding releases without NVML_VALUE_TYPE_UNSIGNED_SHORT ---------------------------
def test_binding_without_unsigned_short_keeps_every_gpu_up(collector):
    body = scrape(collector(fleet(binding=header_binding("12.555.43"))))
    assert up(body) == ALL_UP
    assert value(body, "promspec_gpu_ecc_errors_total", gpu="0", type="corrected") == 3
    assert value(body, "promspec_gpu_energy_joules_total", gpu="3") == pytest.approx(123456.789)


# --- defect 2: a hung GPU must not blind the host, whatever the retry interval --------------------
def test_hung_gpu_never_stops_the_others_being_served(collector):
    nvml = fleet()
    # Each scrape waits out the deadline for the hung GPU: a short one, which the others' in-process passes
    # (microseconds of NVML calls on the fake) answer well within; the first scrape may wait for NVML to open.
    gpu_collector = collector(nvml, gpu_timeout=0.2, gpu_retry_interval=0.0)
    scrape_until(gpu_collector, lambda b: up(b) == ALL_UP, "every GPU up")
    release = threading.Event()
    nvml.gpus[3].hang = release
    try:
        for _ in range(4):
            body = scrape(gpu_collector)  # raised CollectorFailed before: rediscovery hung in GPU 3
            assert up(body) == {"0": 1, "1": 1, "2": 1, "3": 0}
            assert value(body, "promspec_gpu_memory_used_bytes", gpu="3") == 20 * GIB  # its last values
        assert nvml.init_count == 1  # no re-initialisation for a GPU-level fault
    finally:
        release.set()
    nvml.gpus[3].hang = None
    scrape_until(gpu_collector, lambda b: up(b) == ALL_UP, "the GPU to answer again")


def test_gpu_hung_at_start_costs_only_itself(collector):
    nvml = fleet()
    release = threading.Event()
    nvml.gpus[1].hang = release  # even its handle lookup blocks
    try:
        body = scrape(collector(nvml, gpu_timeout=0.3))
        assert up(body) == {"0": 1, "1": 0, "2": 1, "3": 1}
    finally:
        release.set()


# --- defect 3: values checked by type and range, not trusted by declared type ---------------------
def test_implausible_field_values_are_dropped(collector):
    nvml = fleet()
    nvml.gpus[0].memory_temperature_as_double = True  # R545: 70 written as uint, typed double
    nvml.gpus[3].ecc_corrected = 0xFFFFFFFFFFFFFFF0  # corrupted counter
    body = scrape(collector(nvml))
    memory_temperature = {lbl["gpu"]: v for lbl, v in samples(body, "promspec_gpu_memory_temperature_celsius")}
    assert "0" not in memory_temperature and memory_temperature["3"] == 70
    ecc = {(lbl["gpu"], lbl["type"]): v for lbl, v in samples(body, "promspec_gpu_ecc_errors_total")}
    assert ("3", "corrected") not in ecc and ecc[("3", "uncorrected")] == 0 and ecc[("0", "corrected")] == 3
    # GPU 2 has ECC off: NVML answers "success" and leaves the value unwritten; nothing is served.
    assert not [key for key in ecc if key[0] == "2"]


# --- defect 4: process records of a misreading binding ------------------------------------------
def test_misread_process_records_are_refused_not_served(collector, procfs):
    truth = [(100, 1 * GIB, None, None), (200, 2 * GIB, None, None), (300, 3 * GIB, None, None)]
    bad = FakeNvml([FakeGpu(UUID[0], processes=truth)], binding=header_binding("12.535.77"))
    body = scrape_until(
        collector(bad, gpu_processes=True, procfs=str(procfs)),
        lambda b: "promspec_gpu_data_unavailable" in b,
        "the refusal",
    )
    assert value(body, "promspec_gpu_data_unavailable", gpu="0", data="processes", reason="binding") == 1
    assert not samples(body, "promspec_gpu_process_memory_bytes")
    good = FakeNvml([FakeGpu(UUID[0], processes=truth)], binding=header_binding("12.560.30"))
    body = scrape_until(
        collector(good, gpu_processes=True, procfs=str(procfs)),
        lambda b: len(samples(b, "promspec_gpu_process_memory_bytes")) == 3,
        "three processes",
    )
    served = {lbl["pid"]: v for lbl, v in samples(body, "promspec_gpu_process_memory_bytes")}
    assert served == {"100": 1 * GIB, "200": 2 * GIB, "300": 3 * GIB}


# --- defect 5: background values per GPU, with their age, not past a maximum age ----------------
def test_one_hung_gpu_freezes_only_its_own_background_values(collector, wall_clock):
    nvml = fleet()
    gpu_collector = collector(nvml, gpu_timeout=0.2, gpu_max_age=1.0)
    scrape_until(
        gpu_collector,
        lambda b: len(samples(b, "promspec_gpu_pcie_throughput_bytes_per_second")) == 8,
        "PCIe throughput of every GPU",
    )
    release = threading.Event()
    nvml.gpus[3].hang = release
    try:
        # Past the maximum age at once, once GPU 3's pass and its background sampler are both blocked in
        # NVML (nothing of GPU 3's can then be stamped with the moved clock): GPU 3's last values keep
        # their time, the others' samplers take new ones on the moved clock.
        scrape(gpu_collector)
        wait_for(
            lambda: (
                any(name.startswith("nvml-slow-") for name in nvml.gpus[3].blocked)
                and any(name.startswith("nvml_") for name in nvml.gpus[3].blocked)
            ),
            "GPU 3's pass and sampler blocked",
        )
        wall_clock.offset += 1.5
        body = scrape_until(
            gpu_collector,
            lambda b: value(b, "promspec_gpu_sample_age_seconds", gpu="0", field="pcie_throughput") < 1.0,
            "a new PCIe sample of GPU 0",
        )
        pcie = {lbl["gpu"] for lbl, _ in samples(body, "promspec_gpu_pcie_throughput_bytes_per_second")}
        assert pcie == {"0", "1", "2"}  # GPU 3's are past the maximum age: dropped, not served stale
        assert not [lbl for lbl, _ in samples(body, "promspec_gpu_memory_used_bytes") if lbl["gpu"] == "3"]
        assert up(body)["3"] == 0
    finally:
        release.set()


# --- defect 6: MIG data refused to unprivileged callers is said to be missing --------------------
def test_mig_without_privileges_says_what_is_missing(collector, procfs):
    options = {"gpu_processes": True, "procfs": str(procfs)}
    body = scrape_until(
        collector(fleet(processes_pid=4242), **options),
        lambda b: len(samples(b, "promspec_gpu_process_memory_bytes")) == 2,
        "processes",
    )
    missing = {(lbl["gpu"], lbl["data"], lbl["reason"]) for lbl, _ in samples(body, "promspec_gpu_data_unavailable")}
    assert missing == {("1", "memory", "no_permission"), ("1", "instance_xid_events", "no_permission")}
    # Per-instance handles need no privilege: the instance's process is still found.
    labels = next(lbl for lbl, _ in samples(body, "promspec_gpu_process_memory_bytes") if lbl["gpu"] == "1")
    assert (labels["pid"], labels["gpu_instance"]) == ("4242", "1")
    privileged = scrape(collector(fleet(processes_pid=4242, privileged=True), **options))
    assert "promspec_gpu_data_unavailable" not in privileged
    parent = [
        v
        for lbl, v in samples(privileged, "promspec_gpu_memory_total_bytes")
        if lbl["gpu"] == "1" and "gpu_instance" not in lbl
    ]
    assert parent == [40 * GIB]


# --- defect 7: threads out of NVML before nvmlShutdown; one event set across GPU outages ---------
def test_close_stops_event_and_sampler_threads_before_nvml_shutdown(collector, monkeypatch):
    monkeypatch.setattr(gpu_background, "_EVENT_WAIT_MS", PRODUCTION_EVENT_WAIT_MS)  # close() waits it out
    nvml = fleet()
    gpu_collector = collector(nvml)
    scrape_until(gpu_collector, lambda b: "pcie_throughput" in b, "background samples")
    time.sleep(0.1)  # the XID thread is inside nvmlEventSetWait now
    gpu_collector.close()
    assert nvml.shutdown_while_busy == 0
    assert nvml.order[-2:] == ["nvmlEventSetFree", "nvmlShutdown"]


def test_xid_event_set_is_kept_while_a_gpu_is_down(collector):
    nvml = fleet()
    gpu_collector = collector(nvml, gpu_retry_interval=0.0)
    scrape(gpu_collector)
    nvml.gpus[2].lost = True
    for _ in range(3):
        assert up(scrape(gpu_collector))["2"] == 0
    nvml.inject_xid(0, 48)
    body = scrape_until(gpu_collector, lambda b: "promspec_gpu_xid_errors_total" in b, "the XID")
    assert value(body, "promspec_gpu_xid_errors_total", gpu="0", xid="48") == 1
    assert nvml.calls["nvmlEventSetCreate"] == 1


def test_gpu_back_after_an_outage_gets_its_xids_again(collector):
    nvml = fleet()
    gpu_collector = collector(nvml, gpu_retry_interval=0.0)
    scrape(gpu_collector)
    nvml.gpus[3].lost = True
    scrape(gpu_collector)
    nvml.gpus[3].lost = False
    scrape_until(gpu_collector, lambda b: up(b) == ALL_UP, "the GPU back")
    nvml.inject_xid(3, 79)
    body = scrape_until(gpu_collector, lambda b: "promspec_gpu_xid_errors_total" in b, "the XID")
    assert value(body, "promspec_gpu_xid_errors_total", gpu="3", xid="79") == 1


# --- defect 8: the smaller ones ------------------------------------------------------------------
def test_memory_used_excludes_driver_reserved_memory(collector):
    body = scrape(collector(fleet()))
    assert value(body, "promspec_gpu_memory_used_bytes", gpu="0") == 20 * GIB
    assert value(body, "promspec_gpu_memory_reserved_bytes", gpu="0") == 512 * MIB
    assert value(body, "promspec_gpu_memory_free_bytes", gpu="0") == 60 * GIB - 512 * MIB


def test_nvlinks_sparse_numbering_and_mig(collector):
    gpus = [FakeGpu(UUID[0], nvlinks=(0, 1, 3)), fleet().gpus[1]]
    body = scrape(collector(FakeNvml(gpus)))
    links = {(lbl["gpu"], lbl["link"]): v for lbl, v in samples(body, "promspec_gpu_nvlink_active")}
    # Link 2 missing does not end the list; a MIG GPU's links (disabled in MIG mode) are no outage.
    assert links == {("0", "0"): 1, ("0", "1"): 1, ("0", "3"): 1}


def test_gpu_and_memory_max_thresholds(collector):
    body = scrape(collector(fleet()))
    thresholds = {
        lbl["threshold"]: v
        for lbl, v in samples(body, "promspec_gpu_temperature_threshold_celsius")
        if lbl["gpu"] == "0"
    }
    assert thresholds == {"slowdown": 90, "shutdown": 95, "gpu_max": 87, "memory_max": 95}


def test_version_mismatch_asks_for_a_restart(collector):
    nvml = fleet()
    nvml.version_mismatch = True
    asked = []
    gpu_collector = collector(nvml, on_fatal=asked.append)
    with pytest.raises(CollectorFailed, match="restart"):
        scrape(gpu_collector)
    wait_for(lambda: asked, "the restart request")
    assert len(asked) == 1 and "restart" in asked[0]
    with pytest.raises(CollectorFailed):
        scrape(gpu_collector)
    assert nvml.init_count == 0 and nvml.calls["nvmlInit"] == 1  # not retried forever


@pytest.mark.slow
def test_version_mismatch_exits_non_zero_for_the_supervisor(tmp_path):
    log_path = tmp_path / "log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "fake_exporter.py"),
                "--web.listen-address=127.0.0.1:0",
                "--collectors.enable=gpu,loadavg",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FAKE_NVML_VERSION_MISMATCH": "1"},
        )
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 3, log_path.read_text()
    assert "restarting" in log_path.read_text()


# --- binding releases: the collector against real nvidia-ml-py releases ---------------------------
@pytest.fixture(scope="session")
def release_cache(tmp_path_factory):
    """Installed releases, kept between runs under pytest's base temporary folder."""
    cache = tmp_path_factory.getbasetemp().parent / "nvml-releases"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


@pytest.mark.slow
@pytest.mark.parametrize("version", nvml_releases.RELEASES)
def test_collector_against_real_binding_release(version, release_cache, collector, procfs):
    binding = nvml_releases.install(version, release_cache)
    nvml = fleet(processes_pid=4242, binding=binding)
    gpu_collector = collector(nvml, gpu_processes=True, procfs=str(procfs))
    # The process sample's own lines, not the word: the family's HELP text ("--collector.gpu.processes") is
    # served before the background sample lands, and waiting on it raced that sample under load.
    body = scrape_until(
        gpu_collector,
        lambda b: "promspec_gpu_process_memory_bytes{" in b or 'data="processes"' in b,
        "the process sample",
    )
    assert up(body) == ALL_UP
    assert value(body, "promspec_gpu_memory_used_bytes", gpu="0") == 20 * GIB
    assert value(body, "promspec_gpu_ecc_errors_total", gpu="0", type="corrected") == 3
    assert value(body, "promspec_gpu_nvlink_transmit_bytes_total", gpu="0", link="3") == 4 * 4096 * 1024
    processes = {lbl["pid"] for lbl, _ in samples(body, "promspec_gpu_process_memory_bytes")}
    if version != "12.535.77":
        assert processes == {"4242"}
    else:  # reads 32-byte records where the driver writes 24-byte ones
        assert fake_nvml.process_record_of(binding).__name__ == "c_nvmlProcessInfo_t"
        assert not processes
        assert value(body, "promspec_gpu_data_unavailable", gpu="0", data="processes", reason="binding") == 1


def test_mig_ids_never_label_an_unknown_compute_instance():
    """A process on a known GPU instance whose compute instance NVML does not report: gpu_instance alone, never
    compute_instance="None" (or NVML's not-available sentinel)."""
    from promspec.exporter.gpu.nvml_source import mig_ids

    assert mig_ids(1, 0) == {"gpu_instance": "1", "compute_instance": "0"}
    assert mig_ids(1, None) == {"gpu_instance": "1"}
    assert mig_ids(1, 0xFFFFFFFF) == {"gpu_instance": "1"}
    assert mig_ids(None, 0) == {} and mig_ids(0xFFFFFFFF, 0) == {}
