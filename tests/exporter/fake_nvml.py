"""A fake NVML for tests: a simulated driver behind a binding of a chosen nvidia-ml-py release.

Two halves, as on a real host:

- the *driver* side (FakeNvml's functions over FakeGpu records) answers with nvml.h's numbers,
  which are ABI and the same for every binding release (`H` below: values of nvml.h's enums and
  #defines, written down as facts, not imported);
- the *binding* side is what the caller sees: constants, the NVMLError class and the ctypes
  structures. It is either a real nvidia-ml-py release loaded from its own folder
  (tests/exporter/nvml_releases.py) or `header_binding(version)`, a stand-in that has exactly the
  names and record layouts that release had. It never borrows from whichever pynvml is installed.

Behaviours the audit of issue 17 found in real NVML, each with its source:

- calls into a hung GPU block, handle lookups included (nvidia-smi and DCGM hang the same way on
  an Xid 79/119 GPU; DCGM's docs: "NVML calls may block");
- per-field value types, including the buggy ones: R545 drivers mark NVML_FI_DEV_MEMORY_TEMP as a
  double while writing the unsigned int (dcgm-exporter/DCGM issue reports); a GPU with ECC off
  answers NVML_SUCCESS for ECC fields without writing the value (DCGM checks the ECC mode first);
- MIG: the parent GPU's memory and process list need privileges, per-instance handles do not; an
  unprivileged event set gets only whole-device XIDs (nvml.h, nvmlDeviceGetMemoryInfo,
  nvmlDeviceGetComputeRunningProcesses and nvmlEventSetWait_v2 comments); NVLinks of a MIG-enabled
  GPU read as disabled (NVLink is not used in MIG mode: NVIDIA MIG user guide);
- no events from before registration (nvml.h, nvmlDeviceRegisterEvents: events are recorded for a
  set only once registered);
- nvmlDeviceGetMemoryInfo (v1) counts driver-reserved memory as used; the v2 call reports it apart
  (nvml.h, nvmlMemory_v2_t);
- binding releases: NVML_VALUE_TYPE_UNSIGNED_SHORT first appears in 12.560; 12.535.77 reads
  process records with a 32-byte structure while the driver writes 24-byte ones (that release's
  pynvml.py, c_nvmlProcessInfo_t); NVML_NVLINK_MAX_LINKS is 18 in 12.x and 36 in 13.x.
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

GIB = 1024**3
MIB = 1024**2

# nvml.h facts (enum and #define values); the driver side of the fake speaks only these.
H = SimpleNamespace(
    NVML_SUCCESS=0,
    NVML_ERROR_UNINITIALIZED=1,
    NVML_ERROR_INVALID_ARGUMENT=2,
    NVML_ERROR_NOT_SUPPORTED=3,
    NVML_ERROR_NO_PERMISSION=4,
    NVML_ERROR_NOT_FOUND=6,
    NVML_ERROR_DRIVER_NOT_LOADED=9,
    NVML_ERROR_TIMEOUT=10,
    NVML_ERROR_LIBRARY_NOT_FOUND=12,
    NVML_ERROR_FUNCTION_NOT_FOUND=13,
    NVML_ERROR_GPU_IS_LOST=15,
    NVML_ERROR_RESET_REQUIRED=16,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH=18,
    NVML_ERROR_NO_DATA=21,
    NVML_ERROR_GPU_NOT_FOUND=28,
    NVML_ERROR_UNKNOWN=999,
    NVML_VALUE_TYPE_DOUBLE=0,
    NVML_VALUE_TYPE_UNSIGNED_INT=1,
    NVML_VALUE_TYPE_UNSIGNED_LONG=2,
    NVML_VALUE_TYPE_UNSIGNED_LONG_LONG=3,
    NVML_VALUE_TYPE_SIGNED_LONG_LONG=4,
    NVML_VALUE_TYPE_SIGNED_INT=5,
    NVML_VALUE_TYPE_UNSIGNED_SHORT=6,
    NVML_FI_DEV_ECC_SBE_VOL_TOTAL=3,
    NVML_FI_DEV_ECC_DBE_VOL_TOTAL=4,
    NVML_FI_DEV_RETIRED_SBE=29,
    NVML_FI_DEV_RETIRED_DBE=30,
    NVML_FI_DEV_RETIRED_PENDING=31,
    NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL=38,
    NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL=45,
    NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL=52,
    NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL=59,
    NVML_FI_DEV_MEMORY_TEMP=82,
    NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION=83,
    NVML_FI_DEV_PCIE_REPLAY_COUNTER=94,
    NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX=138,
    NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX=139,
    NVML_FI_DEV_REMAPPED_COR=142,
    NVML_FI_DEV_REMAPPED_UNC=143,
    NVML_FI_DEV_REMAPPED_PENDING=144,
    NVML_FI_DEV_REMAPPED_FAILURE=145,
    NVML_TEMPERATURE_GPU=0,
    NVML_TEMPERATURE_THRESHOLD_SHUTDOWN=0,
    NVML_TEMPERATURE_THRESHOLD_SLOWDOWN=1,
    NVML_TEMPERATURE_THRESHOLD_MEM_MAX=2,
    NVML_TEMPERATURE_THRESHOLD_GPU_MAX=3,
    NVML_CLOCK_SM=1,
    NVML_CLOCK_MEM=2,
    NVML_PCIE_UTIL_TX_BYTES=0,
    NVML_PCIE_UTIL_RX_BYTES=1,
    NVML_FEATURE_DISABLED=0,
    NVML_FEATURE_ENABLED=1,
    NVML_DEVICE_MIG_DISABLE=0,
    NVML_DEVICE_MIG_ENABLE=1,
    nvmlEventTypeXidCriticalError=0x8,
    # NVML_STRUCT_VERSION(Memory, 2): sizeof(nvmlMemory_v2_t) = 40 | 2 << 24.
    nvmlMemory_v2=40 | 2 << 24,
)
NOT_AVAILABLE_U32 = 0xFFFFFFFF
NOT_AVAILABLE_U64 = 0xFFFFFFFFFFFFFFFF

# Functions the per-scrape path calls; parallel calls to one GPU among these are measured.
SCRAPE_FUNCTIONS = frozenset(
    {
        "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetTemperature",
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetClockInfo",
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetFieldValues",
        "nvmlDeviceGetNvLinkState",
        "nvmlDeviceGetMigMode",
        "nvmlDeviceGetMaxMigDeviceCount",
        "nvmlDeviceGetMigDeviceHandleByIndex",
    }
)


# --- binding stand-ins: nvml.h record layouts (facts), one class per layout ----------------------
class _Value(ctypes.Union):
    _fields_ = [
        ("dVal", ctypes.c_double),
        ("uiVal", ctypes.c_uint),
        ("ulVal", ctypes.c_ulong),
        ("ullVal", ctypes.c_ulonglong),
        ("sllVal", ctypes.c_longlong),
        ("siVal", ctypes.c_int),
        ("usVal", ctypes.c_ushort),
    ]


class _FieldValue(ctypes.Structure):
    _fields_ = [
        ("fieldId", ctypes.c_uint),
        ("scopeId", ctypes.c_uint),
        ("timestamp", ctypes.c_longlong),
        ("latencyUsec", ctypes.c_longlong),
        ("valueType", ctypes.c_uint),
        ("nvmlReturn", ctypes.c_uint),
        ("value", _Value),
    ]


class _ProcessInfoV2(ctypes.Structure):
    """nvmlProcessInfo_v2_t: what the driver writes (24 bytes)."""

    _fields_ = [
        ("pid", ctypes.c_uint),
        ("usedGpuMemory", ctypes.c_ulonglong),
        ("gpuInstanceId", ctypes.c_uint),
        ("computeInstanceId", ctypes.c_uint),
    ]


class _ProcessInfo32(ctypes.Structure):
    """The 32-byte record nvidia-ml-py 12.535.77 reads with (one extra 64-bit member)."""

    _fields_ = _ProcessInfoV2._fields_ + [("usedGpuCcProtectedMemory", ctypes.c_ulonglong)]


class HeaderNVMLError(Exception):
    """The stand-in binding's NVMLError: like the real one, the return code is `.value`."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return f"NVML error {self.value}"


@dataclass(frozen=True, kw_only=True)
class Release:
    """What differs between nvidia-ml-py releases, as far as the exporter is concerned."""

    version: str
    unsigned_short: bool  # NVML_VALUE_TYPE_UNSIGNED_SHORT defined
    process_record: type  # the structure the binding reads process records with
    nvlink_max_links: int


RELEASES = {
    "12.535.77": Release(version="12.535.77", unsigned_short=False, process_record=_ProcessInfo32, nvlink_max_links=18),
    "12.555.43": Release(version="12.555.43", unsigned_short=False, process_record=_ProcessInfoV2, nvlink_max_links=18),
    "12.560.30": Release(version="12.560.30", unsigned_short=True, process_record=_ProcessInfoV2, nvlink_max_links=18),
    "12.570.172": Release(
        version="12.570.172", unsigned_short=True, process_record=_ProcessInfoV2, nvlink_max_links=18
    ),
    "13.615.71": Release(version="13.615.71", unsigned_short=True, process_record=_ProcessInfoV2, nvlink_max_links=36),
}
LATEST = "13.615.71"


def header_binding(version: str = LATEST) -> SimpleNamespace:
    """A binding with the names and record layouts of one nvidia-ml-py release, and nothing else."""
    release = RELEASES[version]
    names = {
        name: value
        for name, value in vars(H).items()
        if release.unsigned_short or name != "NVML_VALUE_TYPE_UNSIGNED_SHORT"
    }
    names.update(
        NVMLError=HeaderNVMLError,
        NVML_NVLINK_MAX_LINKS=release.nvlink_max_links,
        c_nvmlFieldValue_t=_FieldValue,
        c_nvmlProcessInfo_t=release.process_record,
        release=release,
    )
    if release.process_record is _ProcessInfoV2:
        names["c_nvmlProcessInfo_v2_t"] = _ProcessInfoV2
    return SimpleNamespace(**names)


def process_record_of(binding) -> type:
    """The structure a binding reads process records with: the one its function names."""
    if isinstance(binding, SimpleNamespace):
        return binding.release.process_record
    function = binding.nvmlDeviceGetComputeRunningProcesses
    for _ in range(6):  # the public name delegates to a versioned one (_v3), maybe through a decorator
        cells = [cell.cell_contents for cell in function.__closure__ or ()]
        inner = getattr(function, "__wrapped__", None) or next((c for c in cells if callable(c)), None)
        if inner is not None:
            function = inner
            continue
        names = function.__code__.co_names
        struct = next((name for name in names if name.startswith("c_nvmlProcessInfo")), None)
        if struct is not None:
            return getattr(binding, struct)
        function = getattr(binding, next(name for name in names if name.startswith("nvmlDeviceGetCompute")))
    raise LookupError("no process record structure found in the binding")


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
    memory_reserved: int = 512 * MIB  # held by the driver; v1 memory info counts it as used
    util_gpu: int = 75
    util_memory: int = 40
    temperature: int = 61
    memory_temperature: int = 70
    memory_temperature_as_double: bool = False  # the R545 bug: typed double, written as unsigned int
    slowdown: int = 90
    shutdown: int = 95
    gpu_max: int = 87
    memory_max: int = 95
    power_mw: int = 350_000
    power_limit_mw: int = 700_000
    energy_mj: int = 123_456_789
    sm_mhz: int = 1980
    memory_mhz: int = 2619
    clock_reasons: int = 0x4  # sw_power_cap
    ecc_enabled: bool = True  # off: ECC fields answer NVML_SUCCESS with the value never written
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
    nvlinks: int | tuple = 0  # a count (links 0..n-1) or the tuple of present link numbers
    nvlink_tx_kib: int = 4096
    nvlink_rx_kib: int = 8192
    nvlink_errors: int = 7
    migs: list = field(default_factory=list)
    processes: list = field(default_factory=list)  # (pid, used bytes, gpu_instance, compute_instance)
    unsupported: set = field(default_factory=set)  # function names and "field:<id>" entries
    lost: bool = False
    lose_after_calls: int | None = None  # falls off the bus after this many more calls
    hang: threading.Event | None = None  # calls block until this is set
    blocked: list = field(default_factory=list)  # names of the threads blocked by `hang` now
    pcie_delay: float = 0.02  # nvmlDeviceGetPcieThroughput blocks ~20 ms on real GPUs

    @property
    def links(self) -> tuple:
        return tuple(range(self.nvlinks)) if isinstance(self.nvlinks, int) else tuple(self.nvlinks)


@dataclass(frozen=True)
class FakeHandle:
    """A device handle: GPU index, the init generation it came from, MIG index if any."""

    index: int
    generation: int
    mig: int | None = None


class FakeNvml:
    """Stands in for the `pynvml` module: a binding release over a simulated driver."""

    def __init__(
        self, gpus, driver_version: str = "550.54.15", cuda_version: int = 12040, binding=None, privileged: bool = False
    ):
        self.binding = binding if binding is not None else header_binding()
        self.NVMLError = self.binding.NVMLError
        self.gpus = list(gpus)
        self.driver_version = driver_version
        self.cuda_version = cuda_version
        self.privileged = privileged
        self.driver_loaded = True
        self.version_mismatch = False  # an in-place driver upgrade: the loaded kernel module is older
        self.generation = 0
        self.init_count = 0
        self.initialized = 0
        self.calls: dict = {}
        self.device_calls: dict = {}
        self.max_parallel: dict = {}
        self.order: list = []  # system-level calls in order (init, event sets, shutdown)
        self.busy = 0  # NVML calls in progress, all GPUs
        self.shutdown_while_busy = 0
        self._active: dict = {}
        self._lock = threading.Lock()
        self._event_ready = threading.Condition(self._lock)
        self._event_sets: dict = {}  # id -> {"handles": set, "queue": list}

    def __getattr__(self, name):
        # Constants, error classes and structures are the binding release's own.
        if name.startswith(("NVML_", "NVMLError_", "nvmlClocks", "nvmlEventType", "c_nvml", "nvmlMemory_v")):
            return getattr(self.binding, name)
        raise AttributeError(name)

    # --- test controls -------------------------------------------------------------------
    def inject_xid(self, index: int, xid: int, gpu_instance: int | None = None) -> None:
        """An XID on GPU `index` (on one MIG instance if given): recorded only by sets registered now."""
        with self._event_ready:
            for event_set in self._event_sets.values():
                handle = next((h for h in event_set["handles"] if h.index == index), None)
                if handle is None:
                    continue  # nvml.h: no events are recorded for a device before registration
                if gpu_instance is not None and not self.privileged:
                    continue  # nvmlEventSetWait_v2: unprivileged sets get whole-device events only
                event_set["queue"].append((handle, xid, gpu_instance))
            self._event_ready.notify_all()

    def inject_xid_once_registered(self, index: int, xid: int, timeout: float = 30.0) -> None:
        """inject_xid() as soon as some event set watches GPU `index` (in the background)."""

        def deliver():
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with self._lock:
                    watched = any(h.index == index for s in self._event_sets.values() for h in s["handles"])
                if watched:
                    self.inject_xid(index, xid)
                    return
                time.sleep(0.05)

        threading.Thread(target=deliver, name="fake-xid", daemon=True).start()

    def reload_driver(self) -> None:
        """Simulate a driver reload: handles from before answer Uninitialized until nvmlInit runs again."""
        with self._lock:
            self.generation += 1
            self.initialized = 0
            self._event_sets.clear()

    # --- plumbing --------------------------------------------------------------------------
    def _fail(self, code):
        raise self.binding.NVMLError(code)

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def _system(self, name):
        with self._lock:
            self._count(name)
            if not self.driver_loaded:
                self._fail(H.NVML_ERROR_DRIVER_NOT_LOADED)
            if self.initialized <= 0:
                self._fail(H.NVML_ERROR_UNINITIALIZED)

    def _enter(self, handle: FakeHandle, name: str) -> FakeGpu:
        with self._lock:
            self._count(name)
            key = (name, handle.index)
            self.device_calls[key] = self.device_calls.get(key, 0) + 1
            if not self.driver_loaded:
                self._fail(H.NVML_ERROR_DRIVER_NOT_LOADED)
            if self.initialized <= 0 or handle.generation != self.generation:
                self._fail(H.NVML_ERROR_UNINITIALIZED)
            gpu = self.gpus[handle.index]
            if gpu.lose_after_calls is not None:
                if gpu.lose_after_calls <= 0:
                    gpu.lost = True
                gpu.lose_after_calls -= 1
            if gpu.lost:
                self._fail(H.NVML_ERROR_GPU_IS_LOST)
            if name in gpu.unsupported:
                self._fail(H.NVML_ERROR_NOT_SUPPORTED)
            if name in SCRAPE_FUNCTIONS:
                active = self._active[handle.index] = self._active.get(handle.index, 0) + 1
                self.max_parallel[handle.index] = max(self.max_parallel.get(handle.index, 0), active)
            self.busy += 1
            hang = gpu.hang
        if hang is not None:
            name = threading.current_thread().name
            gpu.blocked.append(name)
            hang.wait()
            gpu.blocked.remove(name)
        return gpu

    def _leave(self, handle: FakeHandle, name: str) -> None:
        with self._lock:
            self.busy -= 1
            if name in SCRAPE_FUNCTIONS:
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
            self._count("nvmlInit")
            self.order.append("nvmlInit")
            if not self.driver_loaded:
                self._fail(H.NVML_ERROR_DRIVER_NOT_LOADED)
            if self.version_mismatch:
                self._fail(H.NVML_ERROR_LIB_RM_VERSION_MISMATCH)
            self.initialized += 1
            self.init_count += 1

    def nvmlShutdown(self):
        with self._lock:
            self.order.append("nvmlShutdown")
            if self.busy:
                # Undefined behaviour on a real driver (DCGM stops its event thread first).
                self.shutdown_while_busy += 1
            if self.initialized <= 0:
                self._fail(H.NVML_ERROR_UNINITIALIZED)
            self.initialized -= 1
            if self.initialized == 0:
                self._event_sets.clear()
            self._event_ready.notify_all()

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
            self._fail(H.NVML_ERROR_INVALID_ARGUMENT)
        handle = FakeHandle(index, self.generation)
        # Looking a GPU up touches it: a hung GPU blocks here too, a lost one says so.
        return self._device(handle, "nvmlDeviceGetHandleByIndex", lambda gpu: handle)

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

    def nvmlDeviceGetEccMode(self, handle):
        def read(gpu):
            mode = H.NVML_FEATURE_ENABLED if gpu.ecc_enabled else H.NVML_FEATURE_DISABLED
            return [mode, mode]

        return self._device(handle, "nvmlDeviceGetEccMode", read)

    # --- per-scrape values -----------------------------------------------------------------
    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        def read(gpu):
            if handle.mig is not None:
                mig = gpu.migs[handle.mig]
                total, used, reserved = mig.memory_total, mig.memory_used, 0
            else:
                if gpu.migs and not self.privileged:
                    self._fail(H.NVML_ERROR_NO_PERMISSION)  # nvml.h: aggregate MIG data needs privileges
                total, used, reserved = gpu.memory_total, gpu.memory_used, gpu.memory_reserved
            free = total - used - reserved
            if version == H.nvmlMemory_v2:
                return SimpleNamespace(version=version, total=total, reserved=reserved, free=free, used=used)
            return SimpleNamespace(total=total, free=free, used=used + reserved)

        return self._device(handle, "nvmlDeviceGetMemoryInfo", read)

    def nvmlDeviceGetUtilizationRates(self, handle):
        def read(gpu):
            if handle.mig is not None or gpu.migs:
                self._fail(H.NVML_ERROR_NOT_SUPPORTED)  # as real NVML: no utilisation under MIG
            return SimpleNamespace(gpu=gpu.util_gpu, memory=gpu.util_memory)

        return self._device(handle, "nvmlDeviceGetUtilizationRates", read)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return self._device(handle, "nvmlDeviceGetTemperature", lambda gpu: gpu.temperature)

    def nvmlDeviceGetTemperatureThreshold(self, handle, threshold):
        def read(gpu):
            values = {
                H.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: gpu.slowdown,
                H.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN: gpu.shutdown,
                H.NVML_TEMPERATURE_THRESHOLD_GPU_MAX: gpu.gpu_max,
                H.NVML_TEMPERATURE_THRESHOLD_MEM_MAX: gpu.memory_max,
            }
            if threshold not in values:
                self._fail(H.NVML_ERROR_NOT_SUPPORTED)
            return values[threshold]

        return self._device(handle, "nvmlDeviceGetTemperatureThreshold", read)

    def nvmlDeviceGetPowerUsage(self, handle):
        return self._device(handle, "nvmlDeviceGetPowerUsage", lambda gpu: gpu.power_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return self._device(handle, "nvmlDeviceGetEnforcedPowerLimit", lambda gpu: gpu.power_limit_mw)

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return self._device(
            handle, "nvmlDeviceGetClockInfo", lambda gpu: gpu.sm_mhz if clock == H.NVML_CLOCK_SM else gpu.memory_mhz
        )

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        return self._device(handle, "nvmlDeviceGetCurrentClocksEventReasons", lambda gpu: gpu.clock_reasons)

    def nvmlDeviceGetNvLinkState(self, handle, link):
        def read(gpu):
            if not gpu.links:
                self._fail(H.NVML_ERROR_NOT_SUPPORTED)
            if link not in gpu.links:
                self._fail(H.NVML_ERROR_INVALID_ARGUMENT)
            # NVLink is not used in MIG mode: every link reads as disabled (NVIDIA MIG user guide).
            return H.NVML_FEATURE_DISABLED if gpu.migs else H.NVML_FEATURE_ENABLED

        return self._device(handle, "nvmlDeviceGetNvLinkState", read)

    def nvmlDeviceGetFieldValues(self, handle, field_ids):
        def read(gpu):
            values = (self.binding.c_nvmlFieldValue_t * len(field_ids))()
            for slot, requested in zip(values, field_ids, strict=True):
                field_id, scope = requested if isinstance(requested, tuple) else (requested, 0)
                slot.fieldId, slot.scopeId = field_id, scope
                self._write_field(gpu, slot, field_id, scope)
            return values

        return self._device(handle, "nvmlDeviceGetFieldValues", read)

    def _write_field(self, gpu: FakeGpu, slot, field_id: int, scope: int) -> None:
        found = None if f"field:{field_id}" in gpu.unsupported else self._field(gpu, field_id, scope)
        if found is None:
            slot.nvmlReturn = H.NVML_ERROR_NOT_SUPPORTED
            return
        slot.nvmlReturn = H.NVML_SUCCESS
        kind, number = found
        if kind == "untouched":
            return  # success reported, value and type never written (ECC off)
        if kind == "double-typed-uint":  # R545: the type says double, the bytes are an unsigned int
            slot.valueType = H.NVML_VALUE_TYPE_DOUBLE
            slot.value.uiVal = number
            return
        slot.valueType = kind
        if kind == H.NVML_VALUE_TYPE_DOUBLE:
            slot.value.dVal = number
        elif kind == H.NVML_VALUE_TYPE_UNSIGNED_INT:
            slot.value.uiVal = number
        else:
            slot.value.ullVal = number

    @staticmethod
    def _field(gpu: FakeGpu, field_id: int, scope: int):
        """(value type, value) the driver writes for a field, or None when it is not supported."""
        uint, ull = H.NVML_VALUE_TYPE_UNSIGNED_INT, H.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
        ecc = ull if gpu.ecc_enabled else "untouched"
        table = {
            H.NVML_FI_DEV_MEMORY_TEMP: (
                "double-typed-uint" if gpu.memory_temperature_as_double else uint,
                gpu.memory_temperature,
            ),
            H.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION: (ull, gpu.energy_mj),
            H.NVML_FI_DEV_ECC_SBE_VOL_TOTAL: (ecc, gpu.ecc_corrected),
            H.NVML_FI_DEV_ECC_DBE_VOL_TOTAL: (ecc, gpu.ecc_uncorrected),
            H.NVML_FI_DEV_RETIRED_SBE: (ull, gpu.retired_sbe),
            H.NVML_FI_DEV_RETIRED_DBE: (ull, gpu.retired_dbe),
            H.NVML_FI_DEV_RETIRED_PENDING: (ull, gpu.retired_pending),
            H.NVML_FI_DEV_REMAPPED_COR: (uint, gpu.remapped_correctable),
            H.NVML_FI_DEV_REMAPPED_UNC: (uint, gpu.remapped_uncorrectable),
            H.NVML_FI_DEV_REMAPPED_PENDING: (uint, gpu.remap_pending),
            H.NVML_FI_DEV_REMAPPED_FAILURE: (uint, gpu.remap_failed),
            H.NVML_FI_DEV_PCIE_REPLAY_COUNTER: (ull, gpu.pcie_replays),
        }
        if field_id in table:
            return table[field_id]
        if not gpu.links:
            return None
        if field_id in (
            H.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL,
            H.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL,
            H.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL,
            H.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL,
        ):
            return ull, gpu.nvlink_errors
        if scope in gpu.links and field_id == H.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX:
            return ull, gpu.nvlink_tx_kib * (scope + 1)
        if scope in gpu.links and field_id == H.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX:
            return ull, gpu.nvlink_rx_kib * (scope + 1)
        return None

    # --- MIG -----------------------------------------------------------------------------------
    def nvmlDeviceGetMigMode(self, handle):
        def read(gpu):
            mode = H.NVML_DEVICE_MIG_ENABLE if gpu.migs else H.NVML_DEVICE_MIG_DISABLE
            return [mode, mode]

        return self._device(handle, "nvmlDeviceGetMigMode", read)

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        return self._device(handle, "nvmlDeviceGetMaxMigDeviceCount", lambda gpu: 7 if gpu.migs else 0)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index):
        def read(gpu):
            if index >= len(gpu.migs):
                self._fail(H.NVML_ERROR_NOT_FOUND)
            return FakeHandle(handle.index, handle.generation, index)

        return self._device(handle, "nvmlDeviceGetMigDeviceHandleByIndex", read)

    def nvmlDeviceGetGpuInstanceId(self, handle):
        return self._device(handle, "nvmlDeviceGetGpuInstanceId", lambda gpu: gpu.migs[handle.mig].gpu_instance)

    def nvmlDeviceGetComputeInstanceId(self, handle):
        return self._device(handle, "nvmlDeviceGetComputeInstanceId", lambda gpu: gpu.migs[handle.mig].compute_instance)

    # --- slow values -----------------------------------------------------------------------------
    def nvmlDeviceGetPcieThroughput(self, handle, counter):
        def read(gpu):
            time.sleep(gpu.pcie_delay)
            return gpu.pcie_tx_kbs if counter == H.NVML_PCIE_UTIL_TX_BYTES else gpu.pcie_rx_kbs

        return self._device(handle, "nvmlDeviceGetPcieThroughput", read)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        def read(gpu):
            if handle.mig is None and gpu.migs and not self.privileged:
                self._fail(H.NVML_ERROR_NO_PERMISSION)  # nvml.h: aggregate MIG data needs privileges
            mine = [
                p
                for p in gpu.processes
                if handle.mig is None
                or (p[2], p[3]) == (gpu.migs[handle.mig].gpu_instance, gpu.migs[handle.mig].compute_instance)
            ]
            return self._process_records(mine)

        return self._device(handle, "nvmlDeviceGetComputeRunningProcesses", read)

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
        def read(gpu):
            if handle.mig is None and gpu.migs and not self.privileged:
                self._fail(H.NVML_ERROR_NO_PERMISSION)
            return []

        return self._device(handle, "nvmlDeviceGetGraphicsRunningProcesses", read)

    def _process_records(self, processes: list) -> list:
        """The driver writes 24-byte nvmlProcessInfo_v2_t records; the binding reads with its own struct."""
        driver = (_ProcessInfoV2 * len(processes))()
        for record, (pid, used, gi, ci) in zip(driver, processes, strict=True):
            record.pid, record.usedGpuMemory = pid, used
            record.gpuInstanceId = NOT_AVAILABLE_U32 if gi is None else gi
            record.computeInstanceId = NOT_AVAILABLE_U32 if ci is None else ci
        struct = process_record_of(self.binding)
        raw = bytes(driver) + bytes(ctypes.sizeof(struct) * len(processes))  # room the binding allocated
        records = []
        for position in range(len(processes)):
            record = struct.from_buffer_copy(raw, position * ctypes.sizeof(struct))
            used = None if record.usedGpuMemory == NOT_AVAILABLE_U64 else record.usedGpuMemory
            records.append(
                SimpleNamespace(
                    pid=record.pid,
                    usedGpuMemory=used,
                    gpuInstanceId=record.gpuInstanceId,
                    computeInstanceId=record.computeInstanceId,
                )
            )
        return records

    # --- events ----------------------------------------------------------------------------------
    def nvmlEventSetCreate(self):
        self._system("nvmlEventSetCreate")
        event_set = object()
        with self._lock:
            self.order.append("nvmlEventSetCreate")
            self._event_sets[id(event_set)] = {"handles": set(), "queue": []}
        return event_set

    def nvmlDeviceRegisterEvents(self, handle, event_types, event_set):
        def read(gpu):
            if "events" in gpu.unsupported:
                self._fail(H.NVML_ERROR_NOT_SUPPORTED)
            with self._lock:
                registered = self._event_sets.get(id(event_set))
                if registered is None:
                    self._fail(H.NVML_ERROR_UNINITIALIZED)
                registered["handles"].add(handle)

        self._device(handle, "nvmlDeviceRegisterEvents", read)

    def nvmlEventSetWait(self, event_set, timeout_ms):
        deadline = time.monotonic() + timeout_ms / 1000
        with self._event_ready:
            self.busy += 1
            try:
                while True:
                    registered = self._event_sets.get(id(event_set))
                    if self.initialized <= 0 or registered is None:
                        self._fail(H.NVML_ERROR_UNINITIALIZED)
                    if registered["queue"]:
                        handle, xid, gpu_instance = registered["queue"].pop(0)
                        return SimpleNamespace(
                            device=handle,
                            eventType=H.nvmlEventTypeXidCriticalError,
                            eventData=xid,
                            gpuInstanceId=NOT_AVAILABLE_U32 if gpu_instance is None else gpu_instance,
                            computeInstanceId=NOT_AVAILABLE_U32,
                        )
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._fail(H.NVML_ERROR_TIMEOUT)
                    self._event_ready.wait(left)
            finally:
                self.busy -= 1

    def nvmlEventSetFree(self, event_set):
        with self._lock:
            self.order.append("nvmlEventSetFree")
            self._event_sets.pop(id(event_set), None)


def fleet(processes_pid: int | None = None, binding=None, privileged: bool = False) -> FakeNvml:
    """Four GPUs that between them show every feature: NVLink, MIG, a GPU lacking most fields, processes."""
    pid = processes_pid
    nvlinked = FakeGpu(
        "GPU-00000000-0000-0000-0000-000000000000",
        pci_bus_id="00000000:18:00.0",
        nvlinks=4,
        processes=[(pid, 30 * GIB, None, None)] if pid else [],
    )
    mig = FakeGpu(
        "GPU-11111111-1111-1111-1111-111111111111",
        name="NVIDIA A100-SXM4-40GB",
        pci_bus_id="00000000:2A:00.0",
        memory_total=40 * GIB,
        nvlinks=12,
        migs=[FakeMig(1, 0, "3g.20gb", 20 * GIB, 5 * GIB), FakeMig(2, 0, "3g.20gb", 20 * GIB, 1 * GIB)],
        processes=[(pid, 4 * GIB, 1, 0)] if pid else [],
    )
    consumer = FakeGpu(
        "GPU-22222222-2222-2222-2222-222222222222",
        name="NVIDIA GeForce RTX 4090",
        pci_bus_id="00000000:3B:00.0",
        memory_total=24 * GIB,
        ecc_enabled=False,
        unsupported={"nvmlDeviceGetEnforcedPowerLimit", "events"}
        | {
            f"field:{fid}"
            for fid in (
                H.NVML_FI_DEV_MEMORY_TEMP,
                H.NVML_FI_DEV_RETIRED_SBE,
                H.NVML_FI_DEV_RETIRED_DBE,
                H.NVML_FI_DEV_RETIRED_PENDING,
                H.NVML_FI_DEV_REMAPPED_COR,
                H.NVML_FI_DEV_REMAPPED_UNC,
                H.NVML_FI_DEV_REMAPPED_PENDING,
                H.NVML_FI_DEV_REMAPPED_FAILURE,
            )
        },
    )
    plain = FakeGpu("GPU-33333333-3333-3333-3333-333333333333", pci_bus_id="00000000:5D:00.0")
    return FakeNvml([nvlinked, mig, consumer, plain], binding=binding, privileged=privileged)
