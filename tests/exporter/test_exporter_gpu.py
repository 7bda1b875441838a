"""The GPU collector against the fake NVML: every feature, and every failure leaving the daemon serving."""

import threading
import time

import pytest

from promspec.exporter.options import Options

from .exporter_harness import assert_promtool_clean, needs, promtool_check, samples, scrape_until, value
from .fake_nvml import GIB, fleet

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow

UUID = [
    "GPU-00000000-0000-0000-0000-000000000000",
    "GPU-11111111-1111-1111-1111-111111111111",
    "GPU-22222222-2222-2222-2222-222222222222",
    "GPU-33333333-3333-3333-3333-333333333333",
]


def gpu_options(**overrides) -> Options:
    settings = dict(gpu_slow_interval=0.1, gpu_timeout=5.0, gpu_retry_interval=3600.0)
    settings.update(overrides)
    return Options(**settings)


def up(body: str) -> dict:
    return {labels["gpu"]: v for labels, v in samples(body, "promspec_gpu_up")}


def success(body: str, collector: str = "gpu") -> float:
    return value(body, "promspec_exporter_collector_success", collector=collector)


@needs("promtool")
def test_fleet_values_and_strict_promtool(start_exporter):
    exporter = start_exporter(["gpu", "cpu", "process"], gpu_options(), nvml=fleet())
    body = exporter.metrics()
    code, findings = promtool_check(body)
    assert code == 0 and findings == []
    assert up(body) == {"0": 1, "1": 1, "2": 1, "3": 1} and success(body) == 1
    assert value(body, "promspec_gpu_memory_used_bytes", gpu="0") == 20 * GIB
    assert value(body, "promspec_gpu_utilization_ratio", gpu="0") == 0.75
    assert value(body, "promspec_gpu_power_watts", gpu="0") == 350.0
    assert value(body, "promspec_gpu_energy_joules_total", gpu="0") == pytest.approx(123456.789)
    assert value(body, "promspec_gpu_clock_hertz", gpu="0", clock="sm") == 1980e6
    assert value(body, "promspec_gpu_temperature_threshold_celsius", gpu="0", threshold="slowdown") == 90
    assert value(body, "promspec_gpu_temperature_threshold_celsius", gpu="0", threshold="gpu_max") == 87
    assert value(body, "promspec_gpu_temperature_threshold_celsius", gpu="0", threshold="memory_max") == 95
    assert value(body, "promspec_gpu_clock_event_active", gpu="0", reason="sw_power_cap") == 1
    assert value(body, "promspec_gpu_clock_event_active", gpu="0", reason="hw_thermal_slowdown") == 0
    assert value(body, "promspec_gpu_ecc_errors_total", gpu="0", type="corrected") == 3
    assert value(body, "promspec_gpu_nvlink_transmit_bytes_total", gpu="0", link="3") == 4 * 4096 * 1024
    assert value(body, "promspec_gpu_nvlink_errors_total", gpu="0", type="replay") == 7
    assert len(samples(body, "promspec_gpu_nvlink_active")) == 4
    labels = next(lbl for lbl, _ in samples(body, "promspec_gpu_info") if lbl["gpu"] == "0")
    assert labels["uuid"] == UUID[0] and labels["pci_bus_id"] == "00000000:18:00.0"
    assert labels["driver_version"] == "550.54.15" and labels["cuda_version"] == "12.4"


def test_mig_instances_are_their_own_series(start_exporter):
    body = start_exporter(["gpu"], gpu_options(), nvml=fleet()).metrics()
    mig = [(lbl, v) for lbl, v in samples(body, "promspec_gpu_memory_used_bytes") if "gpu_instance" in lbl]
    assert sorted((lbl["gpu"], lbl["gpu_instance"], lbl["compute_instance"], v) for lbl, v in mig) == [
        ("1", "1", "0", 5 * GIB),
        ("1", "2", "0", 1 * GIB),
    ]
    assert all(lbl["name"].endswith("MIG 3g.20gb") and lbl["uuid"] == UUID[1] for lbl, _ in mig)
    # NVML has no utilisation under MIG: none is made up.
    assert not [lbl for lbl, _ in samples(body, "promspec_gpu_utilization_ratio") if lbl["gpu"] == "1"]


def test_unsupported_fields_are_skipped_not_failed(start_exporter):
    body = start_exporter(["gpu"], gpu_options(), nvml=fleet()).metrics()
    assert up(body)["2"] == 1 and success(body) == 1
    for name in (
        "promspec_gpu_memory_temperature_celsius",
        "promspec_gpu_ecc_errors_total",
        "promspec_gpu_power_limit_watts",
        "promspec_gpu_remapped_rows",
    ):
        present = {lbl["gpu"] for lbl, _ in samples(body, name)}
        assert "2" not in present and "0" in present, name
    assert value(body, "promspec_gpu_power_watts", gpu="2") == 350.0


def test_slow_fields_come_from_the_background_with_their_age(start_exporter, procfs):
    nvml = fleet(processes_pid=4242)
    exporter = start_exporter(["gpu"], gpu_options(gpu_processes=True, procfs=str(procfs)), nvml=nvml)
    body = scrape_until(
        exporter,
        lambda b: len(samples(b, "promspec_gpu_process_memory_bytes")) == 2,
        "background samples of both GPUs with processes",
    )
    assert value(body, "promspec_gpu_pcie_throughput_bytes_per_second", gpu="0", direction="rx") == 2000 * 1024
    ages = {(lbl["gpu"], lbl["field"]) for lbl, _ in samples(body, "promspec_gpu_sample_age_seconds")}
    assert {("0", "device"), ("0", "pcie_throughput"), ("0", "processes")} <= ages
    process = value(body, "promspec_gpu_process_memory_bytes", gpu="0", pid="4242")
    assert process == 30 * GIB
    labels = next(lbl for lbl, _ in samples(body, "promspec_gpu_process_memory_bytes") if lbl["gpu"] == "1")
    assert labels["process"] == "vllm" and labels["container_id"] == "3f4e" * 16
    assert (labels["gpu_instance"], labels["compute_instance"]) == ("1", "0")
    # The scrape path itself never calls the 20 ms PCIe function: only the sampler thread does.
    before = nvml.calls.get("nvmlDeviceGetPcieThroughput", 0)
    exporter.registry.gather()
    assert nvml.calls.get("nvmlDeviceGetPcieThroughput", 0) - before <= 8  # at most one background pass


def test_process_memory_is_off_by_default(start_exporter):
    exporter = start_exporter(["gpu"], gpu_options(), nvml=fleet(processes_pid=4242))
    scrape_until(exporter, lambda b: "pcie_throughput" in b, "background samples")
    assert "promspec_gpu_process_memory_bytes" not in exporter.metrics()


@needs("promtool")
def test_gpu_falling_off_the_bus_mid_scrape(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu", "loadavg"], gpu_options(), nvml=nvml)
    assert up(exporter.metrics())["3"] == 1
    nvml.gpus[3].lose_after_calls = 3  # answers three more calls, then is gone
    for _ in range(2):
        body = exporter.metrics()
        assert up(body) == {"0": 1, "1": 1, "2": 1, "3": 0}
        assert success(body) == 1 and success(body, "loadavg") == 1
        assert not [lbl for lbl, _ in samples(body, "promspec_gpu_memory_used_bytes") if lbl["gpu"] == "3"]
        assert value(body, "promspec_gpu_memory_used_bytes", gpu="0") == 20 * GIB
    assert_promtool_clean(body)


def test_lost_gpu_keeps_its_identity_across_rediscovery_and_comes_back(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu"], gpu_options(gpu_retry_interval=0.0), nvml=nvml)
    exporter.metrics()
    nvml.gpus[2].lost = True
    lookups = ("nvmlDeviceGetHandleByIndex", 2)
    before = nvml.device_calls[lookups]
    body = scrape_until(exporter, lambda b: nvml.device_calls[lookups] >= before + 2, "the lost GPU looked up again")
    lost = [lbl for lbl, v in samples(body, "promspec_gpu_up") if v == 0]
    assert [lbl["uuid"] for lbl in lost] == [UUID[2]]  # one series, same identity, though NVML lost its UUID
    # Only the missing GPU is looked up again: NVML is not re-initialised, the others never looked up twice.
    assert nvml.init_count == 1 and nvml.device_calls[("nvmlDeviceGetHandleByIndex", 0)] == 1
    nvml.gpus[2].lost = False  # reset by the operator
    scrape_until(exporter, lambda b: up(b) == {"0": 1, "1": 1, "2": 1, "3": 1}, "the GPU to come back")


# Serial: its 0.3 s NVML deadline against a hung call is timing (a loaded parallel run miscounted the probes once).
@pytest.mark.serial
def test_hung_gpu_is_served_from_cache_within_the_deadline(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu"], gpu_options(gpu_timeout=0.3), nvml=nvml)
    first = exporter.metrics()
    age_before = value(first, "promspec_gpu_sample_age_seconds", gpu="3", field="device")
    release = threading.Event()
    nvml.gpus[3].hang = release
    try:
        for _ in range(3):
            body = exporter.metrics()
            assert up(body) == {"0": 1, "1": 1, "2": 1, "3": 0} and success(body) == 1
            assert value(body, "promspec_gpu_memory_used_bytes", gpu="3") == 20 * GIB  # from cache
            assert value(body, "promspec_gpu_sample_age_seconds", gpu="3", field="device") > age_before
        # The hung call is waited on, not repeated: one probe call stuck, none piled up behind it. On a loaded
        # machine its worker may not have entered NVML yet when the scrapes above return (from cache): wait for it.
        deadline = time.monotonic() + 10
        while nvml.busy == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        probes = {gpu: nvml.device_calls[("nvmlDeviceGetMigMode", gpu)] for gpu in (0, 3)}
        assert probes[3] == probes[0] - 2
    finally:
        release.set()
    nvml.gpus[3].hang = None
    scrape_until(exporter, lambda b: up(b)["3"] == 1, "the GPU to answer again")


def test_driver_reload_reinitialises_nvml(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu"], gpu_options(), nvml=nvml)
    assert success(exporter.metrics()) == 1
    nvml.reload_driver()
    body = exporter.metrics()
    assert success(body) == 1 and up(body) == {"0": 1, "1": 1, "2": 1, "3": 1}
    assert nvml.init_count == 2


def test_driver_unloaded_fails_the_collector_only_and_recovers(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu", "loadavg"], gpu_options(gpu_retry_interval=0.0), nvml=nvml)
    exporter.metrics()
    nvml.driver_loaded = False
    nvml.reload_driver()
    body = exporter.metrics()
    assert success(body) == 0 and success(body, "loadavg") == 1
    assert "promspec_gpu_up" not in body
    nvml.driver_loaded = True
    body = exporter.metrics()
    assert success(body) == 1 and up(body)["0"] == 1


@needs("promtool")
def test_xid_events_count_per_code(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu"], gpu_options(), nvml=nvml)
    exporter.metrics()
    for index, xid in ((0, 79), (0, 79), (3, 13), (0, 48)):
        nvml.inject_xid(index, xid)
    body = scrape_until(exporter, lambda b: len(samples(b, "promspec_gpu_xid_errors_total")) == 3, "XID events")
    assert value(body, "promspec_gpu_xid_errors_total", gpu="0", xid="79") == 2
    assert value(body, "promspec_gpu_xid_errors_total", gpu="0", xid="48") == 1
    assert value(body, "promspec_gpu_xid_errors_total", uuid=UUID[3], xid="13") == 1
    assert_promtool_clean(body)


def test_xid_counts_survive_reinitialisation(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu"], gpu_options(), nvml=nvml)
    exporter.metrics()
    nvml.inject_xid(0, 31)
    scrape_until(exporter, lambda b: "promspec_gpu_xid_errors_total" in b, "the XID event")
    nvml.reload_driver()
    body = exporter.metrics()
    assert nvml.init_count == 2
    assert value(body, "promspec_gpu_xid_errors_total", gpu="0", xid="31") == 1


def test_concurrent_scrapes_never_run_nvml_twice_at_once(start_exporter):
    nvml = fleet()
    exporter = start_exporter(["gpu"], gpu_options(), nvml=nvml)
    exporter.metrics()
    statuses = []

    def scrape():
        for _ in range(15):
            statuses.append(exporter.get()[0])

    threads = [threading.Thread(target=scrape) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 300
    assert max(nvml.max_parallel.values()) == 1
    # Scrapes that arrive during a collection share it.
    assert nvml.device_calls[("nvmlDeviceGetMemoryInfo", 0)] < 300
