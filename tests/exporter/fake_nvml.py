"""A fake NVML binding for tests: the functions, constants and exception classes promspec-exporter
calls, over simulated GPUs (MIG, NVLink, unsupported fields, lost GPUs, hangs, XID events, driver reloads).

Errors are the real binding's classes (pynvml.NVMLError(code) picks the subclass), constants are
the real binding's values, and field values are the real ctypes structures, so the collector code
path is the one that runs against a real driver.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml as real

GIB = 1024 ** 3
# Functions the per-scrape path calls; parallel calls to one GPU among these are measured.
SCRAPE_FUNCTIONS = frozenset({
    "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetTemperature",
    "nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetFieldValues", "nvmlDeviceGetNvLinkState",
    "nvmlDeviceGetMigMode", "nvmlDeviceGetMaxMigDeviceCount", "nvmlDeviceGetMigDeviceHandleByIndex",
})


@dataclass
class FakeMig:
    """A MIG instance of a fake GPU."""

    gpu_instance: int
    compute_instance: int
    profile: str
    memory_total: int
    memory_used: int


@dataclass
class FakeGpu:
    """One simulated GPU; every value in NVML's own units (mW, mJ, MHz, KB/s, percent)."""

    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    pci_bus_id: str = "00000000:00:00.0"
    memory_total: int = 80 * GIB
    memory_used: int = 20 * GIB
    util_gpu: int = 75
    util_memory: int = 40
    temperature: int = 61
    memory_temperature: int = 70
    slowdown: int = 90
    shutdown: int = 95
    power_mw: int = 350_000
    power_limit_mw: int = 700_000
    energy_mj: int = 123_456_789
    sm_mhz: int = 1980
    memory_mhz: int = 2619
    clock_reasons: int = 0x4  # sw_power_cap
    ecc_corrected: int = 3
    ecc_uncorrected: int = 0
    retired_sbe: int = 1
    retired_dbe: int = 0
    retired_pending: int = 0
    remapped_correctable: int = 2
    remapped_uncorrectable: int = 0
    remap_pending: int = 0
    remap_failed: int = 0
    pcie_replays: int = 5
    pcie_tx_kbs: int = 1000
    pcie_rx_kbs: int = 2000
    nvlinks: int = 0
    nvlink_tx_kib: int = 4096
    nvlink_rx_kib: int = 8192
    nvlink_errors: int = 7
    migs: list = field(default_factory=list)
    processes: list = field(default_factory=list)  # (pid, used bytes, gpu_instance, compute_instance)
    unsupported: set = field(default_factory=set)  # function names and "field:<id>" entries
    lost: bool = False
    lose_after_calls: int | None = None  # falls off the bus after this many more calls
    hang: threading.Event | None = None  # calls block until this is set
    pcie_delay: float = 0.02  # nvmlDeviceGetPcieThroughput blocks ~20 ms on real GPUs


@dataclass(frozen=True)
class FakeHandle:
    """A device handle: GPU index, the init generation it came from, MIG index if any."""

    index: int
    generation: int
    mig: int | None = None


class FakeNvml:
    """Stands in for the `pynvml` module."""

    NVMLError = real.NVMLError

    def __init__(self, gpus, driver_version: str = "550.54.15", cuda_version: int = 12040):
        self.gpus = list(gpus)
        self.driver_version = driver_version
        self.cuda_version = cuda_version
        self.driver_loaded = True
        self.generation = 0
        self.init_count = 0
        self.initialized = 0
        self.calls: dict = {}
        self.device_calls: dict = {}
        self.max_parallel: dict = {}
        self._active: dict = {}
        self._lock = threading.Lock()
        self._events = deque()
        self._event_ready = threading.Condition(self._lock)
        self._event_sets: dict = {}

    def __getattr__(self, name):
        # Constants, flags and structures come from the real binding.
        if name.startswith(("NVML_", "NVMLError_", "nvmlClocks", "nvmlEventType", "c_nvml")):
            return getattr(real, name)
        raise AttributeError(name)

    # --- test controls -------------------------------------------------------------------
    def inject_xid(self, index: int, xid: int) -> None:
        """Deliver an XID event for GPU `index` to every registered event set."""
        with self._event_ready:
            self._events.append((index, xid))
            self._event_ready.notify_all()

    def reload_driver(self) -> None:
        """Simulate a driver reload: handles from before answer Uninitialized until nvmlInit runs again."""
        with self._lock:
            self.generation += 1
            self.initialized = 0

    # --- plumbing --------------------------------------------------------------------------
    def _fail(self, code):
        raise real.NVMLError(code)

    def _system(self, name):
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            if not self.driver_loaded:
                self._fail(real.NVML_ERROR_DRIVER_NOT_LOADED)
            if self.initialized <= 0:
                self._fail(real.NVML_ERROR_UNINITIALIZED)

    def _enter(self, handle: FakeHandle, name: str) -> FakeGpu:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            key = (name, handle.index)
            self.device_calls[key] = self.device_calls.get(key, 0) + 1
            if not self.driver_loaded:
                self._fail(real.NVML_ERROR_DRIVER_NOT_LOADED)
            if self.initialized <= 0 or handle.generation != self.generation:
                self._fail(real.NVML_ERROR_UNINITIALIZED)
            gpu = self.gpus[handle.index]
            if gpu.lose_after_calls is not None:
                if gpu.lose_after_calls <= 0:
                    gpu.lost = True
                gpu.lose_after_calls -= 1
            if gpu.lost:
                self._fail(real.NVML_ERROR_GPU_IS_LOST)
            if name in gpu.unsupported:
                self._fail(real.NVML_ERROR_NOT_SUPPORTED)
            if name in SCRAPE_FUNCTIONS:
                active = self._active[handle.index] = self._active.get(handle.index, 0) + 1
                self.max_parallel[handle.index] = max(self.max_parallel.get(handle.index, 0), active)
            hang = gpu.hang
        if hang is not None:
            hang.wait()
        return gpu

    def _leave(self, handle: FakeHandle, name: str) -> None:
        if name in SCRAPE_FUNCTIONS:
            with self._lock:
                self._active[handle.index] -= 1

    def _device(self, handle: FakeHandle, name: str, read):
        gpu = self._enter(handle, name)
        try:
            return read(gpu)
        finally:
            self._leave(handle, name)

    # --- system ------------------------------------------------------------------------------
    def nvmlInit(self):
        with self._lock:
            self.calls["nvmlInit"] = self.calls.get("nvmlInit", 0) + 1
            if not self.driver_loaded:
                self._fail(real.NVML_ERROR_DRIVER_NOT_LOADED)
            self.initialized += 1
            self.init_count += 1

    def nvmlShutdown(self):
        with self._lock:
            if self.initialized <= 0:
                self._fail(real.NVML_ERROR_UNINITIALIZED)
            self.initialized -= 1

    def nvmlSystemGetDriverVersion(self):
        self._system("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlSystemGetCudaDriverVersion(self):
        self._system("nvmlSystemGetCudaDriverVersion")
        return self.cuda_version

    def nvmlDeviceGetCount(self):
        self._system("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index):
        self._system("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            self._fail(real.NVML_ERROR_INVALID_ARGUMENT)
        return FakeHandle(index, self.generation)

    # --- identity --------------------------------------------------------------------------------
    def nvmlDeviceGetUUID(self, handle):
        def read(gpu):
            return gpu.uuid if handle.mig is None else f"MIG-{gpu.uuid[4:]}-{handle.mig}"
        return self._device(handle, "nvmlDeviceGetUUID", read)

    def nvmlDeviceGetName(self, handle):
        def read(gpu):
            return gpu.name if handle.mig is None else f"{gpu.name} MIG {gpu.migs[handle.mig].profile}"
        return self._device(handle, "nvmlDeviceGetName", read)

    def nvmlDeviceGetPciInfo(self, handle):
        return self._device(handle, "nvmlDeviceGetPciInfo", lambda gpu: SimpleNamespace(busId=gpu.pci_bus_id.encode()))

    def nvmlDeviceGetVbiosVersion(self, handle):
        return self._device(handle, "nvmlDeviceGetVbiosVersion", lambda gpu: "96.00.74.00.01")

    # --- per-scrape values -----------------------------------------------------------------
    def nvmlDeviceGetMemoryInfo(self, handle):
        def read(gpu):
            if handle.mig is not None:
                mig = gpu.migs[handle.mig]
                return SimpleNamespace(total=mig.memory_total, used=mig.memory_used,
                                       free=mig.memory_total - mig.memory_used)
            return SimpleNamespace(total=gpu.memory_total, used=gpu.memory_used,
                                   free=gpu.memory_total - gpu.memory_used)
        return self._device(handle, "nvmlDeviceGetMemoryInfo", read)

    def nvmlDeviceGetUtilizationRates(self, handle):
        def read(gpu):
            if handle.mig is not None or gpu.migs:
                self._fail(real.NVML_ERROR_NOT_SUPPORTED)  # as real NVML: no utilisation under MIG
            return SimpleNamespace(gpu=gpu.util_gpu, memory=gpu.util_memory)
        return self._device(handle, "nvmlDeviceGetUtilizationRates", read)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return self._device(handle, "nvmlDeviceGetTemperature", lambda gpu: gpu.temperature)

    def nvmlDeviceGetTemperatureThreshold(self, handle, threshold):
        def read(gpu):
            if threshold == real.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN:
                return gpu.slowdown
            if threshold == real.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN:
                return gpu.shutdown
            self._fail(real.NVML_ERROR_NOT_SUPPORTED)
        return self._device(handle, "nvmlDeviceGetTemperatureThreshold", read)

    def nvmlDeviceGetPowerUsage(self, handle):
        return self._device(handle, "nvmlDeviceGetPowerUsage", lambda gpu: gpu.power_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return self._device(handle, "nvmlDeviceGetEnforcedPowerLimit", lambda gpu: gpu.power_limit_mw)

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return self._device(handle, "nvmlDeviceGetClockInfo",
                            lambda gpu: gpu.sm_mhz if clock == real.NVML_CLOCK_SM else gpu.memory_mhz)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        return self._device(handle, "nvmlDeviceGetCurrentClocksEventReasons", lambda gpu: gpu.clock_reasons)

    def nvmlDeviceGetNvLinkState(self, handle, link):
        def read(gpu):
            if link >= gpu.nvlinks:
                self._fail(real.NVML_ERROR_NOT_SUPPORTED if gpu.nvlinks == 0 else real.NVML_ERROR_INVALID_ARGUMENT)
            return real.NVML_FEATURE_ENABLED
        return self._device(handle, "nvmlDeviceGetNvLinkState", read)

    def nvmlDeviceGetFieldValues(self, handle, field_ids):
        def read(gpu):
            values = (real.c_nvmlFieldValue_t * len(field_ids))()
            for slot, requested in zip(values, field_ids):
                field_id, scope = requested if isinstance(requested, tuple) else (requested, 0)
                slot.fieldId, slot.scopeId = field_id, scope
                found = None if f"field:{field_id}" in gpu.unsupported else self._field(gpu, field_id, scope)
                if found is None:
                    slot.nvmlReturn = real.NVML_ERROR_NOT_SUPPORTED
                    continue
                slot.nvmlReturn = real.NVML_SUCCESS
                slot.valueType = real.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
                slot.value.ullVal = found
            return values
        return self._device(handle, "nvmlDeviceGetFieldValues", read)

    @staticmethod
    def _field(gpu: FakeGpu, field_id: int, scope: int):
        simple = {
            real.NVML_FI_DEV_MEMORY_TEMP: gpu.memory_temperature,
            real.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION: gpu.energy_mj,
            real.NVML_FI_DEV_ECC_SBE_VOL_TOTAL: gpu.ecc_corrected,
            real.NVML_FI_DEV_ECC_DBE_VOL_TOTAL: gpu.ecc_uncorrected,
            real.NVML_FI_DEV_RETIRED_SBE: gpu.retired_sbe,
            real.NVML_FI_DEV_RETIRED_DBE: gpu.retired_dbe,
            real.NVML_FI_DEV_RETIRED_PENDING: gpu.retired_pending,
            real.NVML_FI_DEV_REMAPPED_COR: gpu.remapped_correctable,
            real.NVML_FI_DEV_REMAPPED_UNC: gpu.remapped_uncorrectable,
            real.NVML_FI_DEV_REMAPPED_PENDING: gpu.remap_pending,
            real.NVML_FI_DEV_REMAPPED_FAILURE: gpu.remap_failed,
            real.NVML_FI_DEV_PCIE_REPLAY_COUNTER: gpu.pcie_replays,
        }
        if field_id in simple:
            return simple[field_id]
        if not gpu.nvlinks:
            return None
        if field_id in (real.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL,
                        real.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL,
                        real.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL,
                        real.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL):
            return gpu.nvlink_errors
        if scope < gpu.nvlinks and field_id == real.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX:
            return gpu.nvlink_tx_kib * (scope + 1)
        if scope < gpu.nvlinks and field_id == real.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX:
            return gpu.nvlink_rx_kib * (scope + 1)
        return None

    # --- MIG -----------------------------------------------------------------------------------
    def nvmlDeviceGetMigMode(self, handle):
        def read(gpu):
            mode = real.NVML_DEVICE_MIG_ENABLE if gpu.migs else real.NVML_DEVICE_MIG_DISABLE
            return [mode, mode]
        return self._device(handle, "nvmlDeviceGetMigMode", read)

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        return self._device(handle, "nvmlDeviceGetMaxMigDeviceCount", lambda gpu: 7 if gpu.migs else 0)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index):
        def read(gpu):
            if index >= len(gpu.migs):
                self._fail(real.NVML_ERROR_NOT_FOUND)
            return FakeHandle(handle.index, handle.generation, index)
        return self._device(handle, "nvmlDeviceGetMigDeviceHandleByIndex", read)

    def nvmlDeviceGetGpuInstanceId(self, handle):
        return self._device(handle, "nvmlDeviceGetGpuInstanceId", lambda gpu: gpu.migs[handle.mig].gpu_instance)

    def nvmlDeviceGetComputeInstanceId(self, handle):
        return self._device(handle, "nvmlDeviceGetComputeInstanceId",
                            lambda gpu: gpu.migs[handle.mig].compute_instance)

    # --- slow values -----------------------------------------------------------------------------
    def nvmlDeviceGetPcieThroughput(self, handle, counter):
        gpu = self._enter(handle, "nvmlDeviceGetPcieThroughput")
        time.sleep(gpu.pcie_delay)
        return gpu.pcie_tx_kbs if counter == real.NVML_PCIE_UTIL_TX_BYTES else gpu.pcie_rx_kbs

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        def read(gpu):
            return [SimpleNamespace(pid=pid, usedGpuMemory=used,
                                    gpuInstanceId=0xFFFFFFFF if gi is None else gi,
                                    computeInstanceId=0xFFFFFFFF if ci is None else ci)
                    for pid, used, gi, ci in gpu.processes]
        return self._device(handle, "nvmlDeviceGetComputeRunningProcesses", read)

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
        return self._device(handle, "nvmlDeviceGetGraphicsRunningProcesses", lambda gpu: [])

    # --- events ----------------------------------------------------------------------------------
    def nvmlEventSetCreate(self):
        self._system("nvmlEventSetCreate")
        event_set = object()
        with self._lock:
            self._event_sets[id(event_set)] = set()
        return event_set

    def nvmlDeviceRegisterEvents(self, handle, event_types, event_set):
        def read(gpu):
            if "events" in gpu.unsupported:
                self._fail(real.NVML_ERROR_NOT_SUPPORTED)
            self._event_sets[id(event_set)].add(handle)
        self._device(handle, "nvmlDeviceRegisterEvents", read)

    def nvmlEventSetWait(self, event_set, timeout_ms):
        deadline = time.monotonic() + timeout_ms / 1000
        with self._event_ready:
            while True:
                if self.initialized <= 0:
                    self._fail(real.NVML_ERROR_UNINITIALIZED)
                registered = self._event_sets.get(id(event_set), set())
                for position, (index, xid) in enumerate(self._events):
                    handle = next((h for h in registered if h.index == index), None)
                    if handle is not None:
                        del self._events[position]
                        return SimpleNamespace(device=handle, eventType=real.nvmlEventTypeXidCriticalError,
                                               eventData=xid, gpuInstanceId=0xFFFFFFFF,
                                               computeInstanceId=0xFFFFFFFF)
                left = deadline - time.monotonic()
                if left <= 0:
                    self._fail(real.NVML_ERROR_TIMEOUT)
                self._event_ready.wait(left)

    def nvmlEventSetFree(self, event_set):
        with self._lock:
            self._event_sets.pop(id(event_set), None)


def fleet(processes_pid: int | None = None) -> FakeNvml:
    """Four GPUs that between them show every feature: NVLink, MIG, a GPU lacking most fields, processes."""
    pid = processes_pid
    nvlinked = FakeGpu("GPU-00000000-0000-0000-0000-000000000000", pci_bus_id="00000000:18:00.0", nvlinks=4,
                       processes=[(pid, 30 * GIB, None, None)] if pid else [])
    mig = FakeGpu("GPU-11111111-1111-1111-1111-111111111111", name="NVIDIA A100-SXM4-40GB",
                  pci_bus_id="00000000:2A:00.0", memory_total=40 * GIB,
                  migs=[FakeMig(1, 0, "3g.20gb", 20 * GIB, 5 * GIB), FakeMig(2, 0, "3g.20gb", 20 * GIB, 1 * GIB)],
                  processes=[(pid, 4 * GIB, 1, 0)] if pid else [])
    consumer = FakeGpu("GPU-22222222-2222-2222-2222-222222222222", name="NVIDIA GeForce RTX 4090",
                       pci_bus_id="00000000:3B:00.0", memory_total=24 * GIB,
                       unsupported={"nvmlDeviceGetEnforcedPowerLimit", "events"} | {
                           f"field:{fid}" for fid in (
                               real.NVML_FI_DEV_MEMORY_TEMP, real.NVML_FI_DEV_ECC_SBE_VOL_TOTAL,
                               real.NVML_FI_DEV_ECC_DBE_VOL_TOTAL, real.NVML_FI_DEV_RETIRED_SBE,
                               real.NVML_FI_DEV_RETIRED_DBE, real.NVML_FI_DEV_RETIRED_PENDING,
                               real.NVML_FI_DEV_REMAPPED_COR, real.NVML_FI_DEV_REMAPPED_UNC,
                               real.NVML_FI_DEV_REMAPPED_PENDING, real.NVML_FI_DEV_REMAPPED_FAILURE)})
    plain = FakeGpu("GPU-33333333-3333-3333-3333-333333333333", pci_bus_id="00000000:5D:00.0")
    return FakeNvml([nvlinked, mig, consumer, plain])
