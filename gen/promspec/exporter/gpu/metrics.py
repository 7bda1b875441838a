"""The GPU metric families: names, types, help and labels (docs/exporter.md maps each to dcgm-exporter)."""

from __future__ import annotations

from ..metrics import Spec

GPU = ("gpu", "uuid", "name", "pci_bus_id")
MIG = GPU + ("gpu_instance", "compute_instance")

SPECS = {
    "promspec_gpu_up": Spec(
        "gauge", "1 when the GPU answered NVML within the scrape deadline, 0 when it is lost or hung.", GPU
    ),
    "promspec_gpu_info": Spec(
        "gauge",
        "Always 1; labels name the driver, CUDA and VBIOS versions.",
        GPU + ("driver_version", "cuda_version", "vbios_version"),
    ),
    "promspec_gpu_utilization_ratio": Spec(
        "gauge", "Fraction of the last sample period in which a kernel ran on the GPU.", MIG
    ),
    "promspec_gpu_memory_utilization_ratio": Spec(
        "gauge", "Fraction of the last sample period in which device memory was read or written.", MIG
    ),
    "promspec_gpu_memory_used_bytes": Spec("gauge", "Device memory in use, driver-reserved memory excluded.", MIG),
    "promspec_gpu_memory_reserved_bytes": Spec("gauge", "Device memory reserved by the driver.", MIG),
    "promspec_gpu_memory_free_bytes": Spec("gauge", "Device memory free.", MIG),
    "promspec_gpu_memory_total_bytes": Spec("gauge", "Device memory size.", MIG),
    "promspec_gpu_temperature_celsius": Spec("gauge", "GPU die temperature.", GPU),
    "promspec_gpu_memory_temperature_celsius": Spec("gauge", "GPU memory (HBM) temperature.", GPU),
    "promspec_gpu_temperature_threshold_celsius": Spec(
        "gauge",
        "Temperature limits: slowdown, shutdown, and the GPU's and memory's maximum operating temperature.",
        GPU + ("threshold",),
    ),
    "promspec_gpu_power_watts": Spec("gauge", "Power draw of the GPU board.", GPU),
    "promspec_gpu_power_limit_watts": Spec("gauge", "Power limit the driver enforces.", GPU),
    "promspec_gpu_energy_joules_total": Spec("counter", "Energy used since the driver was loaded.", GPU),
    "promspec_gpu_clock_hertz": Spec("gauge", "Current SM and memory clock.", GPU + ("clock",)),
    "promspec_gpu_clock_event_active": Spec(
        "gauge", "1 while the reason holds the clocks down (formerly throttle reasons).", GPU + ("reason",)
    ),
    "promspec_gpu_pcie_throughput_bytes_per_second": Spec(
        "gauge", "PCIe throughput over NVML's 20 ms window, sampled in the background.", GPU + ("direction",)
    ),
    "promspec_gpu_pcie_replays_total": Spec("counter", "PCIe packets replayed after link errors.", GPU),
    "promspec_gpu_ecc_errors_total": Spec(
        "counter", "Device memory ECC errors since the driver was loaded (volatile counters).", GPU + ("type",)
    ),
    "promspec_gpu_retired_pages": Spec("gauge", "Memory pages retired, by cause.", GPU + ("cause",)),
    "promspec_gpu_retired_pages_pending": Spec("gauge", "1 when pages wait for retirement at the next reset.", GPU),
    "promspec_gpu_remapped_rows": Spec("gauge", "Memory rows remapped, by the error that caused it.", GPU + ("state",)),
    "promspec_gpu_remapped_rows_pending": Spec("gauge", "1 when a row remap waits for the next GPU reset.", GPU),
    "promspec_gpu_remapped_rows_failed": Spec("gauge", "1 when a row remap failed.", GPU),
    "promspec_gpu_xid_errors_total": Spec(
        "counter", "XID errors reported by the driver since the exporter started, by XID code.", GPU + ("xid",)
    ),
    "promspec_gpu_nvlink_active": Spec("gauge", "1 when the NVLink link is up.", GPU + ("link",)),
    "promspec_gpu_nvlink_errors_total": Spec("counter", "NVLink errors over all links, by kind.", GPU + ("type",)),
    "promspec_gpu_nvlink_transmit_bytes_total": Spec("counter", "Data sent over the NVLink link.", GPU + ("link",)),
    "promspec_gpu_nvlink_receive_bytes_total": Spec("counter", "Data received over the NVLink link.", GPU + ("link",)),
    "promspec_gpu_process_memory_bytes": Spec(
        "gauge",
        "Device memory used by a process (with --collector.gpu.processes).",
        MIG + ("pid", "process", "container_id"),
    ),
    "promspec_gpu_data_unavailable": Spec(
        "gauge",
        "1 when NVML refuses a kind of data to this exporter (reason: no_permission, binding).",
        GPU + ("data", "reason"),
    ),
    "promspec_gpu_sample_age_seconds": Spec(
        "gauge",
        "Age of the values served for a group of fields (device: per-scrape reads; others: background sampling).",
        GPU + ("field",),
    ),
}
