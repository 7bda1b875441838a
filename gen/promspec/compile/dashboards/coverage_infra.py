"""What dcgm-exporter's and the community node dashboard chart, on promspec's GPU fleet and host dashboards
(issue 12); the LLM engines' equivalents are in coverage.py, whose conventions these rows follow.

The family lists, with the panel that charts each, are in docs/dashboards.md ("Coverage").
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ...model.dashboards import Panel, Row
from .coverage import RATE

if TYPE_CHECKING:
    from .presets import _Make


# ------------------------------------------------------------------------------------ GPU fleet

GPU_SEL = '{job=~"$job", instance=~"$instance", gpu=~"$gpu"}'
GPU_LEGEND = "{{instance}} GPU {{gpu}}"
# NVML has no counters for these: dcgm-exporter reads them from DCGM's profiling module (DCGM_FI_PROF_*).
PROFILING_NOTE = (
    "**Not charted: tensor-core activity, SM activity and occupancy, DRAM activity, FP16/FP32/FP64 pipe "
    "activity.** dcgm-exporter reads these from DCGM's profiling module (`DCGM_FI_PROF_*` fields); NVML, which "
    "promspec-exporter reads, has no such counters. Run dcgm-exporter with profiling beside it to chart them."
)


def gpu_rows(m: _Make) -> list[Row | None]:
    """Interconnect (PCIe, NVLink), memory health that waits for a reset, the profiling note, and one repeated
    row per host (Grafana repeats it for each `$instance` value)."""
    sel = GPU_SEL
    interconnect = m.row(
        "Interconnect",
        [
            m.panel(
                "PCIe throughput",
                [
                    m.q(
                        f"sum by (instance, gpu, direction) (promspec_gpu_pcie_throughput_bytes_per_second{sel})",
                        GPU_LEGEND + " {{direction}}",
                    )
                ],
                unit="Bps",
                description="NVML's PCIe counters over its 20 ms window: tx is device to host, rx host to device.",
            ),
            m.panel(
                "NVLink throughput",
                [
                    m.q(
                        f"sum by (instance, gpu) (rate(promspec_gpu_nvlink_transmit_bytes_total{sel}[{RATE}]))",
                        GPU_LEGEND + " sent",
                    ),
                    m.q(
                        f"sum by (instance, gpu) (rate(promspec_gpu_nvlink_receive_bytes_total{sel}[{RATE}]))",
                        GPU_LEGEND + " received",
                    ),
                ],
                unit="Bps",
                description="All links of each GPU together.",
            ),
            m.panel(
                "NVLink links down",
                [m.q(f"count(promspec_gpu_nvlink_active{sel} == 0) or vector(0)", "links down")],
                "stat",
                unit="none",
                width=6,
                thresholds=[(1, "red")],
                description="NVLink links the driver reports inactive on GPUs that have NVLink.",
            ),
            m.panel(
                "NVLink errors",
                [
                    m.q(
                        f"sum by (instance, gpu, type) (rate(promspec_gpu_nvlink_errors_total{sel}[{RATE}]))",
                        GPU_LEGEND + " {{type}}",
                    )
                ],
                unit="cps",
                width=18,
            ),
        ],
    )
    health = m.row(
        "Memory health",
        [
            m.panel(
                "Row remaps pending",
                [m.q(f"count(promspec_gpu_remapped_rows_pending{sel} == 1) or vector(0)", "pending")],
                "stat",
                unit="none",
                width=6,
                thresholds=[(1, "orange")],
                description="GPUs with a row remap that takes effect at the next GPU reset.",
            ),
            m.panel(
                "Row remaps failed",
                [m.q(f"count(promspec_gpu_remapped_rows_failed{sel} == 1) or vector(0)", "failed")],
                "stat",
                unit="none",
                width=6,
                thresholds=[(1, "red")],
                description="GPUs whose row remap failed: the GPU needs service (NVIDIA: replace the board).",
            ),
            m.panel(
                "Page retirements pending",
                [m.q(f"count(promspec_gpu_retired_pages_pending{sel} == 1) or vector(0)", "pending")],
                "stat",
                unit="none",
                width=6,
                thresholds=[(1, "orange")],
                description="GPUs (before Ampere) with pages waiting for retirement at the next reset.",
            ),
            m.panel(
                "GPUs waiting for a reset or service",
                [
                    m.q(
                        "\nor\n".join(
                            f'label_replace(max by (instance, gpu) ({metric}{sel}) == 1, "state", "{state}", "", "")'
                            for metric, state in (
                                ("promspec_gpu_remapped_rows_failed", "row remap failed"),
                                ("promspec_gpu_remapped_rows_pending", "row remap pending"),
                                ("promspec_gpu_retired_pages_pending", "page retirement pending"),
                            )
                        ),
                        instant=True,
                        format="table",
                    )
                ],
                "table",
                unit="none",
                width=6,
                transformations=[("organize", {"excludeByName": {"Time": True, "Value": True}})],
            ),
        ],
    )
    profiling = m.row("Profiling (DCGM only)", [m.panel("Tensor-core activity", [], "text", content=PROFILING_NOTE)])
    host = '{job=~"$job", instance=~"$instance", gpu=~"$gpu"}'
    per_host = m.row(
        "Host $instance",
        [
            m.panel(
                "Utilisation per GPU",
                [m.q(f"avg by (gpu) (promspec_gpu_utilization_ratio{host})", "GPU {{gpu}}")],
                unit="percentunit",
                min=0,
                max=1,
            ),
            m.panel(
                "Memory used share per GPU",
                [
                    m.q(
                        f"sum by (gpu) (promspec_gpu_memory_used_bytes{host})\n/\n"
                        f"sum by (gpu) (promspec_gpu_memory_total_bytes{host})",
                        "GPU {{gpu}}",
                    )
                ],
                unit="percentunit",
                min=0,
                max=1,
                thresholds=[(0.9, "orange"), (0.98, "red")],
            ),
            m.panel(
                "Temperature per GPU",
                [m.q(f"max by (gpu) (promspec_gpu_temperature_celsius{host})", "GPU {{gpu}}")],
                unit="celsius",
                thresholds=[(80, "orange"), (90, "red")],
            ),
            m.panel(
                "Power per GPU",
                [m.q(f"sum by (gpu) (promspec_gpu_power_watts{host})", "GPU {{gpu}}")],
                unit="watt",
            ),
        ],
    )
    if per_host is not None:
        per_host = replace(per_host, repeat="instance")
    return [interconnect, health, profiling, per_host]


# ------------------------------------------------------------------------------------ host

HOST_SEL = '{job=~"$job", instance=~"$instance"}'
FS_SEL = '{job=~"$job", instance=~"$instance", fstype!~"tmpfs|overlay|squashfs"}'
NET_SEL = '{job=~"$job", instance=~"$instance", device!="lo"}'


def host_rows(m: _Make) -> list[Row | None]:
    """The essentials of the most used community node_exporter dashboard that the host overview lacked."""
    sel, fs, net = HOST_SEL, FS_SEL, NET_SEL
    system = m.row(
        "System",
        [
            m.panel(
                "Uptime",
                [m.q(f"node_time_seconds{sel} - node_boot_time_seconds{sel}", "{{instance}}")],
                "stat",
                unit="s",
                width=6,
                thresholds=[(None, "orange"), (600, "green")],
                description="Amber for a host up less than 10 minutes: it has just rebooted.",
            ),
            m.panel(
                "CPU cores",
                [
                    m.q(
                        'count by (instance) (node_cpu_seconds_total{job=~"$job", instance=~"$instance", mode="idle"})',
                        "{{instance}}",
                    )
                ],
                "stat",
                unit="none",
                width=6,
            ),
            m.panel(
                "RAM total", [m.q(f"node_memory_MemTotal_bytes{sel}", "{{instance}}")], "stat", unit="bytes", width=6
            ),
            m.panel(
                "OOM kills (range)",
                [m.q(f"sum(increase(node_vmstat_oom_kill{sel}[$__range])) or vector(0)", "OOM kills")],
                "stat",
                unit="none",
                decimals=0,
                width=6,
                thresholds=[(1, "red")],
                description="Processes the kernel's OOM killer ended over the selected range.",
            ),
            m.panel(
                "Swap used",
                [
                    m.q(
                        f"(1 - node_memory_SwapFree_bytes{sel}\n/\nnode_memory_SwapTotal_bytes{sel})\n"
                        f"and node_memory_SwapTotal_bytes{sel} > 0",
                        "{{instance}}",
                    )
                ],
                unit="percentunit",
                min=0,
                max=1,
                thresholds=[(0.5, "orange"), (0.8, "red")],
                description="Hosts without swap draw no line.",
            ),
            m.panel(
                "OOM kills",
                [m.q(f"increase(node_vmstat_oom_kill{sel}[{RATE}])", "{{instance}}")],
                unit="none",
                decimals=0,  # increase() extrapolates one kill in a window to 1.33; kills are whole
                thresholds=[(1, "red")],
            ),
            m.panel(
                "File descriptors used",
                [m.q(f"node_filefd_allocated{sel}\n/\nnode_filefd_maximum{sel}", "{{instance}}")],
                unit="percentunit",
                min=0,
                thresholds=[(0.8, "orange"), (0.9, "red")],
                description="Allocated file handles against the kernel's limit (fs.file-max).",
            ),
            m.panel(
                "Conntrack table used",
                [m.q(f"node_nf_conntrack_entries{sel}\n/\nnode_nf_conntrack_entries_limit{sel}", "{{instance}}")],
                unit="percentunit",
                min=0,
                thresholds=[(0.75, "orange"), (0.9, "red")],
                description="A full table drops new connections.",
            ),
            m.panel(
                "Clock offset",
                [m.q(f"node_timex_offset_seconds{sel}", "{{instance}}")],
                unit="s",
                description="Offset the kernel's time discipline (NTP/chrony) reports.",
            ),
            m.panel(
                "Hosts down",
                [
                    m.q(
                        'count(up{job=~"$job", instance=~"$instance"} == 0\nand on (job)\n'
                        'group by (job) (last_over_time(node_cpu_seconds_total{job=~"$job"}[1d]))) or vector(0)',
                        "down",
                    )
                ],
                "stat",
                unit="none",
                width=6,
                thresholds=[(1, "red")],
                description="Targets of the host jobs (those that served node_cpu_seconds_total in the last day) "
                "whose last scrape failed: a dead host reports no series at all.",
            ),
            m.panel(
                "Clocks not synchronised",
                [m.q(f"count(node_timex_sync_status{sel} == 0) or vector(0)", "not synchronised")],
                "stat",
                unit="none",
                width=6,
                thresholds=[(1, "red")],
            ),
        ],
    )
    disk = m.row(
        "Disk I/O",
        [
            m.panel(
                "Disk IOPS",
                [
                    m.q(
                        f"sum by (instance) (rate(node_disk_reads_completed_total{sel}[{RATE}]))", "{{instance}} reads"
                    ),
                    m.q(
                        f"sum by (instance) (rate(node_disk_writes_completed_total{sel}[{RATE}]))",
                        "{{instance}} writes",
                    ),
                ],
                unit="iops",
            ),
            m.panel(
                "Disk latency",
                [
                    m.q(
                        f"rate(node_disk_read_time_seconds_total{sel}[{RATE}])\n/\n"
                        f"rate(node_disk_reads_completed_total{sel}[{RATE}])",
                        "{{instance}} {{device}} read",
                    ),
                    m.q(
                        f"rate(node_disk_write_time_seconds_total{sel}[{RATE}])\n/\n"
                        f"rate(node_disk_writes_completed_total{sel}[{RATE}])",
                        "{{instance}} {{device}} write",
                    ),
                ],
                unit="s",
                description="Mean time per completed read or write.",
            ),
        ],
    )
    faulty = (
        f"max by (instance, mountpoint) (node_filesystem_readonly{fs} == 1 or node_filesystem_device_error{fs} == 1)"
    )
    filesystems = m.row(
        "Filesystem health",
        [
            m.panel(
                "Inodes used",
                [
                    m.q(
                        f"1 - node_filesystem_files_free{fs}\n/\nnode_filesystem_files{fs}",
                        "{{instance}} {{mountpoint}}",
                    )
                ],
                unit="percentunit",
                min=0,
                max=1,
                thresholds=[(0.8, "orange"), (0.9, "red")],
            ),
            m.panel(
                "Read-only or errored filesystems",
                [m.q(f"count({faulty}) or vector(0)", "filesystems")],
                "stat",
                unit="none",
                width=6,
                thresholds=[(1, "red")],
                description="Mounted read-only (often remounted after I/O errors) or failing statfs.",
            ),
            m.panel(
                "Read-only or errored: which",
                [m.q(faulty, instant=True, format="table")],
                "table",
                unit="none",
                width=6,
                transformations=[("organize", {"excludeByName": {"Time": True, "Value": True}})],
            ),
        ],
    )
    network = m.row(
        "Network saturation",
        [
            m.panel(
                "Network utilisation of link speed",
                [
                    m.q(
                        f"rate(node_network_receive_bytes_total{net}[{RATE}])\n/\n(node_network_speed_bytes{net} > 0)",
                        "{{instance}} {{device}} received",
                    ),
                    m.q(
                        f"rate(node_network_transmit_bytes_total{net}[{RATE}])\n/\n(node_network_speed_bytes{net} > 0)",
                        "{{instance}} {{device}} sent",
                    ),
                ],
                unit="percentunit",
                min=0,
                thresholds=[(0.8, "orange"), (0.95, "red")],
                description="Bytes per second against the link speed the NIC reports; links without a speed "
                "(virtual devices) draw no line.",
            ),
            m.panel(
                "Network errors by device",
                [
                    m.q(
                        f"rate(node_network_receive_errs_total{net}[{RATE}])\n+\n"
                        f"rate(node_network_transmit_errs_total{net}[{RATE}])",
                        "{{instance}} {{device}}",
                    )
                ],
                unit="pps",
                thresholds=[(1, "red")],
            ),
        ],
    )
    return [_marked_node_exporter_only(row) for row in (system, disk, filesystems, network)]


# node_exporter families promspec-exporter's host collectors do not serve: with the host job on
# promspec-exporter these panels stay empty, and say why.
NODE_EXPORTER_ONLY = (
    "node_time_seconds",
    "node_boot_time_seconds",
    "node_vmstat_oom_kill",
    "node_filefd_allocated",
    "node_nf_conntrack_entries",
    "node_timex_offset_seconds",
    "node_timex_sync_status",
    "node_network_speed_bytes",
)


def _marked_node_exporter_only(row: Row | None) -> Row | None:
    """row with a note on each panel that reads series only node_exporter serves."""
    if row is None:
        return None
    return replace(row, panels=[_marked_panel(panel) for panel in row.panels])


def _marked_panel(panel: Panel) -> Panel:
    names = sorted({n for q in panel.queries for n in NODE_EXPORTER_ONLY if n in q.expr})
    if not names:
        return panel
    note = f"From node_exporter only (promspec-exporter does not serve {', '.join(names)})."
    return replace(panel, description=f"{panel.description} {note}".strip())
