"""Reading one GPU through NVML into rows (family, labels, value): per scrape, and the slow fields."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ..procfs import container_id, process_name
from .nvml_source import DeviceLost, Gpu, SessionLost, error_code, mig_ids, text

log = logging.getLogger("promspec.exporter")

# NVML bit -> reason label; names follow NVML's nvmlClocksEventReason* constants.
_CLOCK_EVENT_REASONS = (
    (0x1, "gpu_idle"), (0x2, "applications_clocks_setting"), (0x4, "sw_power_cap"), (0x8, "hw_slowdown"),
    (0x10, "sync_boost"), (0x20, "sw_thermal_slowdown"), (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"), (0x100, "display_clock_setting"),
)
_KIB = 1024.0


@dataclass
class DeviceSample:
    """What one GPU answered in one pass: rows and when they were read."""

    taken: float
    rows: list


class _Reader:
    """NVML calls for one GPU: absent values become None, a lost GPU or driver ends the pass."""

    def __init__(self, nvml, kinds):
        self.nvml = nvml
        self.kinds = kinds

    def get(self, function, *args):
        """The call's result, or None when NVML cannot give this value now."""
        try:
            return function(*args)
        except self.nvml.NVMLError as exc:
            self.check(error_code(exc), str(exc))
            log.debug("%s: %s", getattr(function, "__name__", "nvml"), exc)
            return None

    def check(self, code, message: str) -> None:
        """Raise for codes that mean the GPU or the driver is gone."""
        if code in self.kinds.session:
            raise SessionLost(message)
        if code in self.kinds.lost:
            raise DeviceLost(message)

    def probe(self, function, *args):
        """Like get(), but any failure other than 'not supported' means the GPU is not answering."""
        try:
            return function(*args)
        except self.nvml.NVMLError as exc:
            code = error_code(exc)
            self.check(code, str(exc))
            if code in self.kinds.absent:
                return None
            raise DeviceLost(str(exc)) from exc


def _field_table(nvml, gpu: Gpu) -> list:
    """(field id or (id, scope), family, extra labels, scale) read in one nvmlDeviceGetFieldValues call."""
    table = [
        (nvml.NVML_FI_DEV_MEMORY_TEMP, "promspec_gpu_memory_temperature_celsius", {}, 1.0),
        (nvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, "promspec_gpu_energy_joules_total", {}, 0.001),
        (nvml.NVML_FI_DEV_ECC_SBE_VOL_TOTAL, "promspec_gpu_ecc_errors_total", {"type": "corrected"}, 1.0),
        (nvml.NVML_FI_DEV_ECC_DBE_VOL_TOTAL, "promspec_gpu_ecc_errors_total", {"type": "uncorrected"}, 1.0),
        (nvml.NVML_FI_DEV_RETIRED_SBE, "promspec_gpu_retired_pages", {"cause": "multiple_single_bit_ecc"}, 1.0),
        (nvml.NVML_FI_DEV_RETIRED_DBE, "promspec_gpu_retired_pages", {"cause": "double_bit_ecc"}, 1.0),
        (nvml.NVML_FI_DEV_RETIRED_PENDING, "promspec_gpu_retired_pages_pending", {}, 1.0),
        (nvml.NVML_FI_DEV_REMAPPED_COR, "promspec_gpu_remapped_rows", {"state": "correctable"}, 1.0),
        (nvml.NVML_FI_DEV_REMAPPED_UNC, "promspec_gpu_remapped_rows", {"state": "uncorrectable"}, 1.0),
        (nvml.NVML_FI_DEV_REMAPPED_PENDING, "promspec_gpu_remapped_rows_pending", {}, 1.0),
        (nvml.NVML_FI_DEV_REMAPPED_FAILURE, "promspec_gpu_remapped_rows_failed", {}, 1.0),
        (nvml.NVML_FI_DEV_PCIE_REPLAY_COUNTER, "promspec_gpu_pcie_replays_total", {}, 1.0),
    ]
    if gpu.nvlinks:
        table += [
            (nvml.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, "promspec_gpu_nvlink_errors_total",
             {"type": "crc_flit"}, 1.0),
            (nvml.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, "promspec_gpu_nvlink_errors_total",
             {"type": "crc_data"}, 1.0),
            (nvml.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, "promspec_gpu_nvlink_errors_total",
             {"type": "replay"}, 1.0),
            (nvml.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, "promspec_gpu_nvlink_errors_total",
             {"type": "recovery"}, 1.0),
        ]
        for link in gpu.nvlinks:
            table += [
                ((nvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, link), "promspec_gpu_nvlink_transmit_bytes_total",
                 {"link": str(link)}, _KIB),
                ((nvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, link), "promspec_gpu_nvlink_receive_bytes_total",
                 {"link": str(link)}, _KIB),
            ]
    return table


def _field_value(nvml, value):
    kind = value.valueType
    if kind == nvml.NVML_VALUE_TYPE_DOUBLE:
        return value.value.dVal
    member = {nvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal", nvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal",
              nvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal", nvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal",
              nvml.NVML_VALUE_TYPE_SIGNED_INT: "siVal", nvml.NVML_VALUE_TYPE_UNSIGNED_SHORT: "usVal"}.get(kind)
    return getattr(value.value, member) if member else None


def sample_device(nvml, kinds, gpu: Gpu) -> DeviceSample:
    """Everything cheap about one GPU; raises DeviceLost or SessionLost when it stops answering."""
    if gpu.handle is None:
        raise DeviceLost(gpu.broken or "no NVML handle")
    reader = _Reader(nvml, kinds)
    handle, labels = gpu.handle, gpu.labels
    rows: list = []

    def add(name, value, extra=None):
        rows.append((name, {**labels, **extra} if extra else labels, value))

    # The first call of a pass doubles as the liveness probe.
    _memory_rows(rows, labels, reader.probe(nvml.nvmlDeviceGetMemoryInfo, handle))
    _utilization_rows(reader, handle, labels, rows)
    temperature = reader.get(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
    if temperature is not None:
        add("promspec_gpu_temperature_celsius", float(temperature))
    for name, value in gpu.thresholds.items():
        add("promspec_gpu_temperature_threshold_celsius", value, {"threshold": name})
    power = reader.get(nvml.nvmlDeviceGetPowerUsage, handle)
    if power is not None:
        add("promspec_gpu_power_watts", power / 1000.0)
    limit = reader.get(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
    if limit is not None:
        add("promspec_gpu_power_limit_watts", limit / 1000.0)
    for clock, constant in (("sm", nvml.NVML_CLOCK_SM), ("memory", nvml.NVML_CLOCK_MEM)):
        mhz = reader.get(nvml.nvmlDeviceGetClockInfo, handle, constant)
        if mhz is not None:
            add("promspec_gpu_clock_hertz", mhz * 1e6, {"clock": clock})
    reasons_fn = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
        nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    reasons = reader.get(reasons_fn, handle)
    if reasons is not None:
        for bit, reason in _CLOCK_EVENT_REASONS:
            add("promspec_gpu_clock_event_active", 1.0 if reasons & bit else 0.0, {"reason": reason})
    _field_rows(nvml, reader, gpu, add)
    for link in gpu.nvlinks:
        state = reader.get(nvml.nvmlDeviceGetNvLinkState, handle, link)
        if state is not None:
            add("promspec_gpu_nvlink_active", 1.0 if state == nvml.NVML_FEATURE_ENABLED else 0.0, {"link": str(link)})
    _mig_rows(nvml, reader, gpu, rows)
    return DeviceSample(time.time(), rows)


def _memory_rows(rows: list, labels: dict, memory) -> None:
    if memory is not None:
        rows += [("promspec_gpu_memory_used_bytes", labels, float(memory.used)),
                 ("promspec_gpu_memory_free_bytes", labels, float(memory.free)),
                 ("promspec_gpu_memory_total_bytes", labels, float(memory.total))]


def _utilization_rows(reader: _Reader, handle, labels: dict, rows: list) -> None:
    # NVML has no utilisation for MIG-enabled GPUs or their instances (DCGM profiling has).
    rates = reader.get(reader.nvml.nvmlDeviceGetUtilizationRates, handle)
    if rates is not None:
        rows += [("promspec_gpu_utilization_ratio", labels, rates.gpu / 100.0),
                 ("promspec_gpu_memory_utilization_ratio", labels, rates.memory / 100.0)]


def _field_rows(nvml, reader: _Reader, gpu: Gpu, add) -> None:
    table = _field_table(nvml, gpu)
    values = reader.get(nvml.nvmlDeviceGetFieldValues, gpu.handle, [entry[0] for entry in table])
    if values is None:
        return
    for (_, name, extra, scale), value in zip(table, values):
        if value.nvmlReturn != nvml.NVML_SUCCESS:
            reader.check(value.nvmlReturn, f"field {value.fieldId}: NVML error {value.nvmlReturn}")
            continue
        number = _field_value(nvml, value)
        if number is not None:
            add(name, number * scale, extra)


def _mig_rows(nvml, reader: _Reader, gpu: Gpu, rows: list) -> None:
    mode = reader.get(nvml.nvmlDeviceGetMigMode, gpu.handle)
    if not mode or mode[0] != nvml.NVML_DEVICE_MIG_ENABLE:
        return
    for index in range(reader.get(nvml.nvmlDeviceGetMaxMigDeviceCount, gpu.handle) or 0):
        mig = reader.get(nvml.nvmlDeviceGetMigDeviceHandleByIndex, gpu.handle, index)
        if mig is None:
            continue
        ids = mig_ids(reader.get(nvml.nvmlDeviceGetGpuInstanceId, mig),
                      reader.get(nvml.nvmlDeviceGetComputeInstanceId, mig))
        if not ids:
            continue
        labels = {**gpu.labels, **ids}
        name = reader.get(nvml.nvmlDeviceGetName, mig)
        if name:
            labels["name"] = text(name)
        _memory_rows(rows, labels, reader.get(nvml.nvmlDeviceGetMemoryInfo, mig))
        _utilization_rows(reader, mig, labels, rows)


def sample_pcie(nvml, kinds, gpu: Gpu) -> list:
    """PCIe throughput rows; each call blocks about 20 ms inside NVML, so this runs in the background."""
    reader = _Reader(nvml, kinds)
    rows = []
    for direction, counter in (("tx", nvml.NVML_PCIE_UTIL_TX_BYTES), ("rx", nvml.NVML_PCIE_UTIL_RX_BYTES)):
        kb_per_second = reader.get(nvml.nvmlDeviceGetPcieThroughput, gpu.handle, counter)
        if kb_per_second is not None:
            rows.append(("promspec_gpu_pcie_throughput_bytes_per_second", {**gpu.labels, "direction": direction},
                         kb_per_second * _KIB))
    return rows


def sample_processes(nvml, kinds, gpu: Gpu, procfs: str) -> list:
    """Device memory per process (compute and graphics), with its name and container id."""
    reader = _Reader(nvml, kinds)
    used: dict = {}
    for function in (nvml.nvmlDeviceGetComputeRunningProcesses, nvml.nvmlDeviceGetGraphicsRunningProcesses):
        for process in reader.get(function, gpu.handle) or ():
            if process.usedGpuMemory is None:
                continue
            ids = mig_ids(getattr(process, "gpuInstanceId", None), getattr(process, "computeInstanceId", None))
            key = (process.pid, tuple(ids.items()))
            used[key] = max(used.get(key, 0), process.usedGpuMemory)
    rows = []
    for (pid, ids), memory in sorted(used.items()):
        labels = {**gpu.labels, **dict(ids), "pid": str(pid), "process": process_name(procfs, pid),
                  "container_id": container_id(procfs, pid)}
        rows.append(("promspec_gpu_process_memory_bytes", labels, float(memory)))
    return rows
