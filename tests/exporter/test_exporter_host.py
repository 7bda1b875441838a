"""Host collectors against a /proc tree with known content, and against this machine's real /proc."""

import os

import pytest

from promspec.exporter.options import Options

from .exporter_harness import HOST_COLLECTORS, assert_promtool_clean, needs, samples, value

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow

HZ = os.sysconf("SC_CLK_TCK")


def test_cpu_seconds_per_cpu_and_mode(start_exporter, procfs):
    body = start_exporter(["cpu"], Options(procfs=str(procfs))).metrics()
    cpu = samples(body, "node_cpu_seconds_total")
    assert len(cpu) == 16  # two CPUs, eight modes; the aggregate line is not a CPU
    assert value(body, "node_cpu_seconds_total", cpu="0", mode="user") == 100 / HZ
    assert value(body, "node_cpu_seconds_total", cpu="1", mode="steal") == 2 / HZ
    assert {labels["cpu"] for labels, _ in cpu} == {"0", "1"}


def test_load_memory_and_pressure(start_exporter, procfs):
    body = start_exporter(["loadavg", "meminfo", "pressure"], Options(procfs=str(procfs))).metrics()
    assert value(body, "node_load1") == 1.5 and value(body, "node_load15") == 0.25
    assert value(body, "node_memory_MemTotal_bytes") == 16384000 * 1024
    assert value(body, "node_memory_MemAvailable_bytes") == 12288000 * 1024
    assert value(body, "node_memory_SwapFree_bytes") == 1048576 * 1024
    assert "node_memory_HugePages_Total" not in body and "Active(anon)" not in body
    assert value(body, "node_pressure_cpu_waiting_seconds_total") == 2.5
    assert value(body, "node_pressure_memory_waiting_seconds_total") == 1.5
    assert value(body, "node_pressure_memory_stalled_seconds_total") == 0.5
    assert value(body, "node_pressure_io_stalled_seconds_total") == 1.0
    assert "node_pressure_cpu_stalled" not in body  # node_exporter 1.5 has no such family


def test_disks_skip_partitions_and_loop_devices(start_exporter, procfs):
    body = start_exporter(["diskstats"], Options(procfs=str(procfs))).metrics()
    devices = {labels["device"] for labels, _ in samples(body, "node_disk_reads_completed_total")}
    assert devices == {"vda", "nvme0n1"}
    assert value(body, "node_disk_read_bytes_total", device="vda") == 2000 * 512
    assert value(body, "node_disk_written_bytes_total", device="vda") == 4000 * 512
    assert value(body, "node_disk_io_time_seconds_total", device="vda") == 0.9
    assert value(body, "node_disk_io_now", device="vda") == 2


def test_network_counters_per_interface(start_exporter, procfs):
    body = start_exporter(["netdev"], Options(procfs=str(procfs))).metrics()
    assert value(body, "node_network_receive_bytes_total", device="eth0") == 5000000
    assert value(body, "node_network_receive_errs_total", device="eth0") == 1
    assert value(body, "node_network_transmit_packets_total", device="eth0") == 2000
    assert value(body, "node_network_transmit_drop_total", device="eth0") == 4
    assert value(body, "node_network_receive_bytes_total", device="lo") == 1000


def test_filesystems_exclude_pseudo_and_report_errors(start_exporter, procfs, rootfs):
    body = start_exporter(["filesystem"], Options(procfs=str(procfs), rootfs=str(rootfs))).metrics()
    errors = {labels["mountpoint"]: v for labels, v in samples(body, "node_filesystem_device_error")}
    # /proc, /dev/shm and overlay are left out; /data is mounted twice and the later mount wins.
    assert errors == {"/": 0, "/data": 0, "/mnt/gone away": 1}
    assert value(body, "node_filesystem_size_bytes", mountpoint="/") > 0
    assert value(body, "node_filesystem_readonly", mountpoint="/data", device="/dev/vdc") == 0
    assert not [s for s in samples(body, "node_filesystem_size_bytes") if s[0]["mountpoint"] == "/mnt/gone away"]


def test_broken_proc_file_fails_only_its_collector(start_exporter, procfs):
    (procfs / "stat").write_text("cpu0 not numbers at all x y z w\n")
    (procfs / "pressure" / "io").unlink()
    body = start_exporter(["cpu", "loadavg", "pressure"], Options(procfs=str(procfs))).metrics()
    assert value(body, "promspec_exporter_collector_success", collector="cpu") == 0
    assert value(body, "promspec_exporter_collector_success", collector="pressure") == 0
    assert value(body, "promspec_exporter_collector_success", collector="loadavg") == 1
    assert value(body, "node_load5") == 0.75
    assert "node_cpu_seconds_total" not in body


@needs("promtool")
def test_real_host_exposition_passes_promtool(start_exporter):
    exporter = start_exporter(HOST_COLLECTORS)
    body = exporter.metrics()
    assert_promtool_clean(body)
    for collector in ("cpu", "loadavg", "meminfo", "netdev", "diskstats", "filesystem", "process"):
        assert value(body, "promspec_exporter_collector_success", collector=collector) == 1
    assert value(body, "node_memory_MemTotal_bytes") > 0
    assert value(body, "process_resident_memory_bytes") > 0
