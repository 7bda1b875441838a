"""The one boundary to NVML: the binding module, sessions, GPU discovery and what an error means.

Everything GPU-related receives the binding as a module object (`nvml`), so tests hand in a fake
module with the same functions, constants and exception classes, and the real code path runs.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

log = logging.getLogger("promspec.exporter")

_NOT_AVAILABLE = 0xFFFFFFFF

# nvidia-ml-py is untyped, and tests hand in a fake module with the same names: the binding, and the
# structs and handles it returns, are Any at this one boundary; what is read from them is typed there.
Nvml: TypeAlias = Any


def load_binding() -> Nvml | None:
    """The nvidia-ml-py module (`pynvml`), or None when it is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def text(value: object) -> str:
    """NVML strings arrive as str or bytes depending on the binding version."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class ErrorKinds:
    """Sorts NVML error codes into what they mean for the exporter."""

    def __init__(self, nvml: Nvml):
        def codes(*names: str) -> frozenset[object]:
            return frozenset(getattr(nvml, name) for name in names if hasattr(nvml, name))

        # The driver went away or was reloaded: every handle is stale, NVML must be re-initialised.
        self.session = codes(
            "NVML_ERROR_UNINITIALIZED",
            "NVML_ERROR_DRIVER_NOT_LOADED",
            "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
            "NVML_ERROR_LIBRARY_NOT_FOUND",
        )
        # The library no longer matches the loaded kernel module (an in-place driver upgrade):
        # nothing but a process restart clears it.
        self.fatal = codes("NVML_ERROR_LIB_RM_VERSION_MISMATCH")
        # This GPU is gone until it is reset or the host reboots.
        self.lost = codes("NVML_ERROR_GPU_IS_LOST", "NVML_ERROR_RESET_REQUIRED", "NVML_ERROR_GPU_NOT_FOUND")
        # The value does not exist on this GPU; not a fault.
        self.absent = codes(
            "NVML_ERROR_NOT_SUPPORTED",
            "NVML_ERROR_NO_PERMISSION",
            "NVML_ERROR_NOT_FOUND",
            "NVML_ERROR_FUNCTION_NOT_FOUND",
            "NVML_ERROR_INVALID_ARGUMENT",
            "NVML_ERROR_NO_DATA",
        )
        # The value exists but this process may not read it (MIG aggregates without privileges).
        self.permission = codes("NVML_ERROR_NO_PERMISSION")


def error_code(exc: BaseException) -> object:
    """The NVML return code carried by a binding exception, else None."""
    return getattr(exc, "value", None)


class SessionLost(Exception):
    """NVML itself stopped answering (driver unloaded or reloaded): re-initialise."""


class DeviceLost(Exception):
    """One GPU stopped answering: report it down, keep the others."""


class FatalNvml(Exception):
    """NVML cannot work in this process any more (library/driver version mismatch): restart it."""


# nvmlProcessInfo_v2_t as the driver writes it: uint pid, (pad), u64 usedGpuMemory, uint, uint.
_PROCESS_RECORD_BYTES = 24


@dataclass(frozen=True, kw_only=True)
class BindingFeatures:
    """What the installed nvidia-ml-py release can be trusted with, detected from its names."""

    process_records_ok: bool  # False: the release reads process records with the wrong stride
    memory_v2: object  # the nvmlMemory_v2 version tag, or None when the release lacks it

    @classmethod
    def of(cls, nvml: Nvml) -> BindingFeatures:
        """Detect, never assume: nvidia-ml-py>=12 has spanned several incompatible layouts."""
        struct = getattr(nvml, "c_nvmlProcessInfo_v2_t", None) or getattr(nvml, "c_nvmlProcessInfo_t", None)
        try:
            size = ctypes.sizeof(struct) if struct is not None else _PROCESS_RECORD_BYTES
        except TypeError:
            size = _PROCESS_RECORD_BYTES
        # 12.535.77 reads 32-byte records where the driver writes 24-byte ones: every PID after
        # the first would be read from the middle of another record.
        return cls(process_records_ok=size == _PROCESS_RECORD_BYTES, memory_v2=getattr(nvml, "nvmlMemory_v2", None))


@dataclass(kw_only=True)
class Gpu:
    """One GPU of a session: its handle (None until found), identity labels and what never changes."""

    index: int
    handle: object
    labels: dict[str, str]
    info: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    nvlinks: tuple[int, ...] = ()
    ecc: bool = True  # False: ECC is off and NVML's ECC counters are never written
    broken: str = ""  # why discovery could not get a handle, when it could not
    next_discovery: float = 0.0  # monotonic time before which a missing handle is not looked up again

    @property
    def key(self) -> str:
        """A stable identity across sessions: the UUID, or the index when the UUID is unreadable."""
        return self.labels["uuid"] or f"index-{self.index}"


# Temperature thresholds read once per GPU: label -> binding constant name.
_THRESHOLDS = (
    ("slowdown", "NVML_TEMPERATURE_THRESHOLD_SLOWDOWN"),
    ("shutdown", "NVML_TEMPERATURE_THRESHOLD_SHUTDOWN"),
    ("gpu_max", "NVML_TEMPERATURE_THRESHOLD_GPU_MAX"),
    ("memory_max", "NVML_TEMPERATURE_THRESHOLD_MEM_MAX"),
)


class NvmlSession:
    """One nvmlInit .. nvmlShutdown period and the GPUs found in it.

    Opening touches no GPU (a hung one would hang the opening); each GPU is looked up by its own
    task (discover()), so a hung or lost GPU costs only its own series.
    """

    def __init__(self, nvml: Nvml):
        self.nvml = nvml
        self.kinds = ErrorKinds(nvml)
        self.features = BindingFeatures.of(nvml)
        self.gpus: list[Gpu] = []
        self.driver: dict[str, str] = {}
        self.opened = time.monotonic()

    @classmethod
    def open(cls, nvml: Nvml) -> NvmlSession:
        """Initialise NVML and count the GPUs; raises FatalNvml, or the binding's NVMLError when unusable."""
        session = cls(nvml)
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            if error_code(exc) in session.kinds.fatal:
                raise FatalNvml(str(exc)) from exc
            raise
        try:
            session.driver = {
                "driver_version": text(session._optional(nvml.nvmlSystemGetDriverVersion) or ""),
                "cuda_version": _cuda_version(session._optional(nvml.nvmlSystemGetCudaDriverVersion)),
            }
            session.gpus = [
                Gpu(index=index, handle=None, labels={"gpu": str(index), "uuid": "", "name": "", "pci_bus_id": ""})
                for index in range(nvml.nvmlDeviceGetCount())
            ]
        except Exception:
            session.close()
            raise
        return session

    def close(self) -> None:
        """Shut NVML down; errors are moot at this point."""
        try:
            self.nvml.nvmlShutdown()
        except Exception as exc:  # a vanished driver may refuse even this
            log.debug("nvmlShutdown: %s", exc)

    def discover(self, gpu: Gpu) -> None:
        """Look one GPU up and read what never changes; raises DeviceLost when it cannot be reached."""
        nvml = self.nvml
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(gpu.index)
        except nvml.NVMLError as exc:
            if error_code(exc) in self.kinds.session:
                raise SessionLost(str(exc)) from exc
            gpu.broken = str(exc)
            raise DeviceLost(f"no NVML handle: {exc}") from exc
        # A GPU that cannot tell its identity now keeps the identity it had.
        uuid = text(self._optional(nvml.nvmlDeviceGetUUID, handle) or "")
        if uuid:
            name = text(self._optional(nvml.nvmlDeviceGetName, handle) or "")
            pci = self._optional(nvml.nvmlDeviceGetPciInfo, handle)
            gpu.labels = {
                "gpu": str(gpu.index),
                "uuid": uuid,
                "name": name,
                "pci_bus_id": text(pci.busId) if pci is not None else "",
            }
        gpu.info = dict(
            gpu.labels, **self.driver, vbios_version=text(self._optional(nvml.nvmlDeviceGetVbiosVersion, handle) or "")
        )
        gpu.thresholds = {}
        for label, constant in _THRESHOLDS:
            if hasattr(nvml, constant):
                value = self._optional(nvml.nvmlDeviceGetTemperatureThreshold, handle, getattr(nvml, constant))
                if value is not None:
                    gpu.thresholds[label] = float(value)
        ecc = self._optional(nvml.nvmlDeviceGetEccMode, handle) if hasattr(nvml, "nvmlDeviceGetEccMode") else None
        gpu.ecc = ecc is None or bool(ecc[0] == getattr(nvml, "NVML_FEATURE_ENABLED", 1))
        gpu.nvlinks = self._nvlinks(handle)
        gpu.broken = ""
        gpu.handle = handle

    def _nvlinks(self, handle: object) -> tuple[int, ...]:
        # Links need not be numbered densely (a board may wire 0, 1 and 3): try every link number.
        present: list[int] = []
        for link in range(getattr(self.nvml, "NVML_NVLINK_MAX_LINKS", 18)):
            try:
                self.nvml.nvmlDeviceGetNvLinkState(handle, link)
            except self.nvml.NVMLError as exc:
                code = error_code(exc)
                if code in self.kinds.session:
                    raise SessionLost(str(exc)) from exc
                if code in self.kinds.lost:
                    raise DeviceLost(str(exc)) from exc
                if code == getattr(self.nvml, "NVML_ERROR_NOT_SUPPORTED", None) and not present and link == 0:
                    break  # no NVLink at all on this GPU
                continue
            present.append(link)
        return tuple(present)

    def _optional(self, function: Callable[..., Any], *args: object) -> Any:
        """Call NVML; None for values this GPU lacks or cannot give now, SessionLost/DeviceLost when gone."""
        try:
            return function(*args)
        except self.nvml.NVMLError as exc:
            code = error_code(exc)
            if code in self.kinds.session:
                raise SessionLost(str(exc)) from exc
            if code in self.kinds.lost:
                raise DeviceLost(str(exc)) from exc
            log.debug("%s%s: %s", getattr(function, "__name__", "nvml"), args[1:], exc)
            return None


def _cuda_version(value: int | None) -> str:
    # NVML encodes CUDA 12.4 as 12040.
    return f"{value // 1000}.{value % 1000 // 10}" if value else ""


def mig_ids(gpu_instance: int | None, compute_instance: int | None) -> dict[str, str]:
    """MIG labels for a process or instance, or {} when NVML says it is not on a MIG instance."""
    if gpu_instance is None or gpu_instance >= _NOT_AVAILABLE:
        return {}
    if compute_instance is None or compute_instance >= _NOT_AVAILABLE:
        # The GPU instance alone: a compute_instance="None" label would name an instance that does not exist.
        return {"gpu_instance": str(gpu_instance)}
    return {"gpu_instance": str(gpu_instance), "compute_instance": str(compute_instance)}
