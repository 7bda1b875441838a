"""Reading one GPU through NVML into rows (family, labels, value): per scrape, and the slow fields."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..procfs import container_id, process_name
from .nvml_source import (
    BindingFeatures,
    DeviceLost,
    ErrorKinds,
    Gpu,
    Nvml,
    SessionLost,
    error_code,
    mig_ids,
    text,
)

log = logging.getLogger("promspec.exporter")

# NVML bit -> reason label; names follow NVML's nvmlClocksEventReason* constants.
_CLOCK_EVENT_REASONS = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)
_KIB = 1024.0

# One series: family name, labels, value. A tuple, not a record (the project's rule), because it
# is the GPU scrape's hot path: made and unpacked once per GPU series per scrape, a frozen slotted
# dataclass costs 1.2 ms more per scrape for an HGX box's 800 series (a slotted dataclass 0.4 ms,
# a NamedTuple 0.7 ms; the tuples themselves 0.1 ms), 7.5% of the collector's CPU against the
# Python NVML fake and more against real NVML, whose calls are C (`bench/exporter.py --gpu-rows`;
# docs/BENCHMARKS.md, exporter, "Second round"). It never leaves this package's two readers.
Row: TypeAlias = tuple[str, dict[str, str], float]


@dataclass(frozen=True, kw_only=True)
class DeviceSample:
    """What one GPU answered in one pass: rows and when they were read (Unix seconds)."""

    taken: float
    rows: list[Row]


class _Reader:
    """NVML calls for one GPU: absent values become None, a lost GPU or driver ends the pass."""

    def __init__(self, nvml: Nvml, kinds: ErrorKinds):
        self.nvml = nvml
        self.kinds = kinds
        self.denied = False  # some call answered NO_PERMISSION

    def get(self, function: Callable[..., Any], *args: object) -> Any:
        """The call's result, or None when NVML cannot give this value now."""
        try:
            return function(*args)
        except self.nvml.NVMLError as exc:
            code = error_code(exc)
            self.check(code, str(exc))
            self.denied = self.denied or code in self.kinds.permission
            log.debug("%s: %s", getattr(function, "__name__", "nvml"), exc)
            return None

    def check(self, code: object, message: str) -> None:
        """Raise for codes that mean the GPU or the driver is gone."""
        if code in self.kinds.session:
            raise SessionLost(message)
        if code in self.kinds.lost:
            raise DeviceLost(message)

    def probe(self, function: Callable[..., Any], *args: object) -> Any:
        """Like get(), but any failure other than 'not supported' means the GPU is not answering."""
        try:
            return function(*args)
        except self.nvml.NVMLError as exc:
            code = error_code(exc)
            self.check(code, str(exc))
            if code in self.kinds.absent:
                self.denied = self.denied or code in self.kinds.permission
                return None
            raise DeviceLost(str(exc)) from exc


@dataclass(frozen=True, kw_only=True)
class FieldRule:
    """One nvmlDeviceGetFieldValues field: where it goes, and what a believable value looks like.

    NVML's declared value type is not trusted alone (as DCGM does not): R545 drivers mark the
    memory temperature as a double while writing an unsigned int (served as 3.46e-322 C), and ECC
    fields of a GPU with ECC off come back "successful" and unwritten. A value outside its type
    set or range is dropped: nothing is better than nonsense.
    """

    constant: str  # the binding's NVML_FI_* name
    family: str
    labels: dict[str, str]
    scale: float = 1.0
    integer: bool = True  # counts and flags arrive as integer types; a double there is corrupt
    low: float = 0.0
    high: float = float(2**48)  # far above any real count; NVML's blank/not-available values are above
    ecc: bool = False  # read only while ECC is on


_INT_TYPES = (
    "NVML_VALUE_TYPE_UNSIGNED_INT",
    "NVML_VALUE_TYPE_UNSIGNED_LONG",
    "NVML_VALUE_TYPE_UNSIGNED_LONG_LONG",
    "NVML_VALUE_TYPE_SIGNED_LONG_LONG",
    "NVML_VALUE_TYPE_SIGNED_INT",
    "NVML_VALUE_TYPE_UNSIGNED_SHORT",
)
_MEMBERS = dict(zip(_INT_TYPES, ("uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal"), strict=True))

_FIELDS = (
    FieldRule(
        constant="NVML_FI_DEV_MEMORY_TEMP",
        family="promspec_gpu_memory_temperature_celsius",
        labels={},
        integer=False,
        low=1.0,
        high=150.0,
    ),
    FieldRule(
        constant="NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        family="promspec_gpu_energy_joules_total",
        labels={},
        scale=0.001,
        high=float(2**62),
    ),
    FieldRule(
        constant="NVML_FI_DEV_ECC_SBE_VOL_TOTAL",
        family="promspec_gpu_ecc_errors_total",
        labels={"type": "corrected"},
        ecc=True,
    ),
    FieldRule(
        constant="NVML_FI_DEV_ECC_DBE_VOL_TOTAL",
        family="promspec_gpu_ecc_errors_total",
        labels={"type": "uncorrected"},
        ecc=True,
    ),
    FieldRule(
        constant="NVML_FI_DEV_RETIRED_SBE",
        family="promspec_gpu_retired_pages",
        labels={"cause": "multiple_single_bit_ecc"},
        high=65536.0,
    ),
    FieldRule(
        constant="NVML_FI_DEV_RETIRED_DBE",
        family="promspec_gpu_retired_pages",
        labels={"cause": "double_bit_ecc"},
        high=65536.0,
    ),
    FieldRule(constant="NVML_FI_DEV_RETIRED_PENDING", family="promspec_gpu_retired_pages_pending", labels={}, high=1.0),
    FieldRule(
        constant="NVML_FI_DEV_REMAPPED_COR",
        family="promspec_gpu_remapped_rows",
        labels={"state": "correctable"},
        high=65536.0,
    ),
    FieldRule(
        constant="NVML_FI_DEV_REMAPPED_UNC",
        family="promspec_gpu_remapped_rows",
        labels={"state": "uncorrectable"},
        high=65536.0,
    ),
    FieldRule(
        constant="NVML_FI_DEV_REMAPPED_PENDING", family="promspec_gpu_remapped_rows_pending", labels={}, high=1.0
    ),
    FieldRule(constant="NVML_FI_DEV_REMAPPED_FAILURE", family="promspec_gpu_remapped_rows_failed", labels={}, high=1.0),
    FieldRule(constant="NVML_FI_DEV_PCIE_REPLAY_COUNTER", family="promspec_gpu_pcie_replays_total", labels={}),
)
_NVLINK_FIELDS = tuple(
    FieldRule(
        constant=f"NVML_FI_DEV_NVLINK_{kind.upper()}_ERROR_COUNT_TOTAL",
        family="promspec_gpu_nvlink_errors_total",
        labels={"type": kind},
    )
    for kind in ("crc_flit", "crc_data", "replay", "recovery")
)


def _field_table(nvml: Nvml, gpu: Gpu) -> list[tuple[object, FieldRule]]:
    """(field id or (id, scope), rule) read in one nvmlDeviceGetFieldValues call."""
    rules = [rule for rule in _FIELDS if gpu.ecc or not rule.ecc]
    if gpu.nvlinks:
        rules += _NVLINK_FIELDS
    table: list[tuple[object, FieldRule]] = [
        (getattr(nvml, rule.constant), rule) for rule in rules if hasattr(nvml, rule.constant)
    ]
    for link in gpu.nvlinks:
        for direction, family in (
            ("TX", "promspec_gpu_nvlink_transmit_bytes_total"),
            ("RX", "promspec_gpu_nvlink_receive_bytes_total"),
        ):
            constant = f"NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_{direction}"
            if hasattr(nvml, constant):
                table.append(
                    (
                        (getattr(nvml, constant), link),
                        FieldRule(
                            constant=constant, family=family, labels={"link": str(link)}, scale=_KIB, high=float(2**62)
                        ),
                    )
                )
    return table


def field_number(nvml: Nvml, value: Any, rule: FieldRule) -> float | None:
    """The value of one field if its type and range are believable, else None."""
    kind = value.valueType
    number: float
    if kind == getattr(nvml, "NVML_VALUE_TYPE_DOUBLE", 0):
        number = value.value.dVal
        if rule.integer:
            return None
    else:
        # Only the types this binding release defines (12.535-12.555 lack UNSIGNED_SHORT).
        member = next((m for name, m in _MEMBERS.items() if getattr(nvml, name, None) == kind), None)
        if member is None:
            return None
        number = getattr(value.value, member)
    if not rule.low <= number <= rule.high:  # NaN fails too
        return None
    return number


def sample_device(nvml: Nvml, kinds: ErrorKinds, gpu: Gpu, features: BindingFeatures) -> DeviceSample:
    """Everything cheap about one GPU; raises DeviceLost or SessionLost when it stops answering."""
    if gpu.handle is None:
        raise DeviceLost(gpu.broken or "no NVML handle")
    reader = _Reader(nvml, kinds)
    handle, labels = gpu.handle, gpu.labels
    rows: list[Row] = []

    def add(name: str, value: float, extra: dict[str, str] | None = None) -> None:
        rows.append((name, {**labels, **extra} if extra else labels, value))

    # The first call of a pass doubles as the liveness probe.
    mode = reader.probe(nvml.nvmlDeviceGetMigMode, handle)
    mig = bool(mode) and mode[0] == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1)
    memory = _memory_info(reader, handle, features)
    if memory is None and reader.denied:
        # MIG without privileges: the whole GPU's memory is refused, the instances' is not.
        _unavailable(rows, labels, "memory")
    _memory_rows(rows, labels, memory)
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
    reasons_fn = (
        getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    )
    reasons = reader.get(reasons_fn, handle)
    if reasons is not None:
        for bit, reason in _CLOCK_EVENT_REASONS:
            add("promspec_gpu_clock_event_active", 1.0 if reasons & bit else 0.0, {"reason": reason})
    _field_rows(nvml, reader, gpu, add)
    if not mig:
        # NVLink is not used in MIG mode and every link reads as down: that is no outage.
        for link in gpu.nvlinks:
            state = reader.get(nvml.nvmlDeviceGetNvLinkState, handle, link)
            if state is not None:
                add(
                    "promspec_gpu_nvlink_active",
                    1.0 if state == nvml.NVML_FEATURE_ENABLED else 0.0,
                    {"link": str(link)},
                )
    if mig:
        _mig_rows(nvml, reader, gpu, rows, features)
        if reader.denied:
            # Unprivileged event sets get whole-device XIDs only (nvml.h, nvmlEventSetWait_v2).
            _unavailable(rows, labels, "instance_xid_events")
    return DeviceSample(taken=time.time(), rows=rows)


def _unavailable(rows: list[Row], labels: dict[str, str], data: str) -> None:
    rows.append(("promspec_gpu_data_unavailable", {**labels, "data": data, "reason": "no_permission"}, 1.0))


def _memory_info(reader: _Reader, handle: object, features: BindingFeatures) -> Any:
    """v2 memory info (used excludes driver-reserved memory), v1 where the driver or binding lacks it."""
    if features.memory_v2 is not None:
        try:
            return reader.nvml.nvmlDeviceGetMemoryInfo(handle, version=features.memory_v2)
        except reader.nvml.NVMLError as exc:
            code = error_code(exc)
            reader.check(code, str(exc))
            if code in reader.kinds.permission:
                reader.denied = True
                return None
            if code != getattr(reader.nvml, "NVML_ERROR_FUNCTION_NOT_FOUND", None) and code != getattr(
                reader.nvml, "NVML_ERROR_NOT_SUPPORTED", None
            ):
                return None
        except TypeError:  # a binding without the version argument
            pass
    return reader.get(reader.nvml.nvmlDeviceGetMemoryInfo, handle)


def _memory_rows(rows: list[Row], labels: dict[str, str], memory: Any) -> None:
    if memory is not None:
        rows += [
            ("promspec_gpu_memory_used_bytes", labels, float(memory.used)),
            ("promspec_gpu_memory_free_bytes", labels, float(memory.free)),
            ("promspec_gpu_memory_total_bytes", labels, float(memory.total)),
        ]
        reserved = getattr(memory, "reserved", None)
        if reserved is not None:
            rows.append(("promspec_gpu_memory_reserved_bytes", labels, float(reserved)))


def _utilization_rows(reader: _Reader, handle: object, labels: dict[str, str], rows: list[Row]) -> None:
    # NVML has no utilisation for MIG-enabled GPUs or their instances (DCGM profiling has).
    rates = reader.get(reader.nvml.nvmlDeviceGetUtilizationRates, handle)
    if rates is not None:
        rows += [
            ("promspec_gpu_utilization_ratio", labels, rates.gpu / 100.0),
            ("promspec_gpu_memory_utilization_ratio", labels, rates.memory / 100.0),
        ]


def _field_rows(nvml: Nvml, reader: _Reader, gpu: Gpu, add: Callable[[str, float, dict[str, str]], None]) -> None:
    table = _field_table(nvml, gpu)
    values = reader.get(nvml.nvmlDeviceGetFieldValues, gpu.handle, [entry[0] for entry in table])
    if values is None:
        return
    for (_, rule), value in zip(table, values, strict=True):  # NVML answers each field asked
        if value.nvmlReturn != nvml.NVML_SUCCESS:
            reader.check(value.nvmlReturn, f"field {value.fieldId}: NVML error {value.nvmlReturn}")
            continue
        number = field_number(nvml, value, rule)
        if number is None:
            log.debug("GPU %s: %s: implausible value (type %s) dropped", gpu.key, rule.constant, value.valueType)
            continue
        add(rule.family, number * rule.scale, rule.labels)


def mig_instances(nvml: Nvml, reader: _Reader, handle: object) -> list[tuple[object, dict[str, str]]]:
    """(handle, MIG labels) of each MIG instance of a GPU in MIG mode."""
    instances: list[tuple[object, dict[str, str]]] = []
    for index in range(reader.get(nvml.nvmlDeviceGetMaxMigDeviceCount, handle) or 0):
        mig = reader.get(nvml.nvmlDeviceGetMigDeviceHandleByIndex, handle, index)
        if mig is None:
            continue
        ids = mig_ids(
            reader.get(nvml.nvmlDeviceGetGpuInstanceId, mig), reader.get(nvml.nvmlDeviceGetComputeInstanceId, mig)
        )
        if ids:
            instances.append((mig, ids))
    return instances


def _mig_rows(nvml: Nvml, reader: _Reader, gpu: Gpu, rows: list[Row], features: BindingFeatures) -> None:
    for mig, ids in mig_instances(nvml, reader, gpu.handle):
        labels = {**gpu.labels, **ids}
        name = reader.get(nvml.nvmlDeviceGetName, mig)
        if name:
            labels["name"] = text(name)
        _memory_rows(rows, labels, _memory_info(reader, mig, features))
        _utilization_rows(reader, mig, labels, rows)


def sample_pcie(nvml: Nvml, kinds: ErrorKinds, gpu: Gpu) -> list[Row]:
    """PCIe throughput rows; each call blocks about 20 ms inside NVML, so this runs in the background."""
    handle = _handle(gpu)
    reader = _Reader(nvml, kinds)
    rows: list[Row] = []
    for direction, counter in (("tx", nvml.NVML_PCIE_UTIL_TX_BYTES), ("rx", nvml.NVML_PCIE_UTIL_RX_BYTES)):
        kb_per_second = reader.get(nvml.nvmlDeviceGetPcieThroughput, handle, counter)
        if kb_per_second is not None:
            rows.append(
                (
                    "promspec_gpu_pcie_throughput_bytes_per_second",
                    {**gpu.labels, "direction": direction},
                    kb_per_second * _KIB,
                )
            )
    return rows


def sample_processes(nvml: Nvml, kinds: ErrorKinds, gpu: Gpu, procfs: str, features: BindingFeatures) -> list[Row]:
    """Device memory per process (compute and graphics), with its name and container id."""
    if not features.process_records_ok:
        # Refused rather than misread: this binding release gives wrong PIDs after the first record.
        return [("promspec_gpu_data_unavailable", {**gpu.labels, "data": "processes", "reason": "binding"}, 1.0)]
    handle = _handle(gpu)
    reader = _Reader(nvml, kinds)
    used: dict[tuple[int, tuple[tuple[str, str], ...]], int] = {}
    records = _process_records(nvml, reader, handle)
    parent: list[tuple[Any, dict[str, str] | None]] = []
    if records is None:
        # MIG without privileges: the whole GPU's list is refused, each instance's is not.
        mode = reader.get(nvml.nvmlDeviceGetMigMode, handle)
        if mode and mode[0] == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1):
            for mig, ids in mig_instances(nvml, reader, handle):
                for process in _process_records(nvml, reader, mig) or ():
                    parent.append((process, ids))
    else:
        parent = [(process, None) for process in records]
    for process, instance in parent:
        if process.usedGpuMemory is None:
            continue
        ids = instance or mig_ids(getattr(process, "gpuInstanceId", None), getattr(process, "computeInstanceId", None))
        key = (process.pid, tuple(ids.items()))
        used[key] = max(used.get(key, 0), process.usedGpuMemory)
    rows: list[Row] = []
    for (pid, instance_labels), memory in sorted(used.items()):
        labels = {
            **gpu.labels,
            **dict(instance_labels),
            "pid": str(pid),
            "process": process_name(procfs, pid),
            "container_id": container_id(procfs, pid),
        }
        rows.append(("promspec_gpu_process_memory_bytes", labels, float(memory)))
    if reader.denied and not rows:
        _unavailable(rows, gpu.labels, "processes")
    return rows


def _handle(gpu: Gpu) -> object:
    """The GPU's handle now; the scrape path may forget it (GPU lost) while a background pass runs."""
    handle = gpu.handle
    if handle is None:
        raise DeviceLost(gpu.broken or "no NVML handle")
    return handle


def _process_records(nvml: Nvml, reader: _Reader, handle: object) -> list[Any] | None:
    """Compute and graphics processes on a device handle; None when NVML refuses the list."""
    records: list[Any] = []
    for function in (nvml.nvmlDeviceGetComputeRunningProcesses, nvml.nvmlDeviceGetGraphicsRunningProcesses):
        denied = reader.denied
        found = reader.get(function, handle)
        if found is None and reader.denied and not denied:
            return None
        records += found or ()
    return records
