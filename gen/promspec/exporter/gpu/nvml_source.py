"""The one boundary to NVML: the binding module, sessions, GPU discovery and what an error means.

Everything GPU-related receives the binding as a module object (`nvml`), so tests hand in a fake
module with the same functions, constants and exception classes, and the real code path runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("promspec.exporter")

_NOT_AVAILABLE = 0xFFFFFFFF


def load_binding():
    """The nvidia-ml-py module (`pynvml`), or None when it is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def text(value) -> str:
    """NVML strings arrive as str or bytes depending on the binding version."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class ErrorKinds:
    """Sorts NVML error codes into what they mean for the exporter."""

    def __init__(self, nvml):
        def codes(*names):
            return frozenset(getattr(nvml, name) for name in names if hasattr(nvml, name))

        # The driver went away or was reloaded: every handle is stale, NVML must be re-initialised.
        self.session = codes("NVML_ERROR_UNINITIALIZED", "NVML_ERROR_DRIVER_NOT_LOADED",
                             "NVML_ERROR_LIB_RM_VERSION_MISMATCH", "NVML_ERROR_LIBRARY_NOT_FOUND")
        # This GPU is gone until it is reset or the host reboots.
        self.lost = codes("NVML_ERROR_GPU_IS_LOST", "NVML_ERROR_RESET_REQUIRED", "NVML_ERROR_GPU_NOT_FOUND")
        # The value does not exist on this GPU; not a fault.
        self.absent = codes("NVML_ERROR_NOT_SUPPORTED", "NVML_ERROR_NO_PERMISSION", "NVML_ERROR_NOT_FOUND",
                            "NVML_ERROR_FUNCTION_NOT_FOUND", "NVML_ERROR_INVALID_ARGUMENT", "NVML_ERROR_NO_DATA")


def error_code(exc: BaseException):
    """The NVML return code carried by a binding exception, else None."""
    return getattr(exc, "value", None)


class SessionLost(Exception):
    """NVML itself stopped answering (driver unloaded or reloaded): re-initialise."""


class DeviceLost(Exception):
    """One GPU stopped answering: report it down, keep the others."""


@dataclass
class Gpu:
    """A GPU found by one session: its handle, identity labels and what never changes while it runs."""

    index: int
    handle: object
    labels: dict
    info: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    nvlinks: tuple = ()
    broken: str = ""  # why discovery could not get a handle, when it could not

    @property
    def key(self) -> str:
        """A stable identity across sessions: the UUID, or the index when the UUID is unreadable."""
        return self.labels["uuid"] or f"index-{self.index}"


class NvmlSession:
    """One nvmlInit .. nvmlShutdown period and the GPUs found in it."""

    def __init__(self, nvml):
        self.nvml = nvml
        self.kinds = ErrorKinds(nvml)
        self.gpus: list = []
        self.opened = time.monotonic()

    @classmethod
    def open(cls, nvml) -> NvmlSession:
        """Initialise NVML and discover the GPUs; raises the binding's NVMLError when NVML is unusable."""
        session = cls(nvml)
        nvml.nvmlInit()
        try:
            session._discover()
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

    def _discover(self) -> None:
        nvml = self.nvml
        driver = {"driver_version": self._optional(nvml.nvmlSystemGetDriverVersion) or "",
                  "cuda_version": _cuda_version(self._optional(nvml.nvmlSystemGetCudaDriverVersion))}
        for index in range(nvml.nvmlDeviceGetCount()):
            labels = {"gpu": str(index), "uuid": "", "name": "", "pci_bus_id": ""}
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
            except nvml.NVMLError as exc:
                if error_code(exc) in self.kinds.session:
                    raise
                self.gpus.append(Gpu(index, None, labels, broken=str(exc)))
                continue
            labels["uuid"] = text(self._optional(nvml.nvmlDeviceGetUUID, handle) or "")
            labels["name"] = text(self._optional(nvml.nvmlDeviceGetName, handle) or "")
            pci = self._optional(nvml.nvmlDeviceGetPciInfo, handle)
            labels["pci_bus_id"] = text(pci.busId) if pci is not None else ""
            gpu = Gpu(index, handle, labels)
            gpu.info = dict(labels, **driver, vbios_version=text(
                self._optional(nvml.nvmlDeviceGetVbiosVersion, handle) or ""))
            for name in ("slowdown", "shutdown"):
                constant = getattr(nvml, f"NVML_TEMPERATURE_THRESHOLD_{name.upper()}")
                value = self._optional(nvml.nvmlDeviceGetTemperatureThreshold, handle, constant)
                if value is not None:
                    gpu.thresholds[name] = float(value)
            gpu.nvlinks = self._nvlinks(handle)
            self.gpus.append(gpu)

    def _nvlinks(self, handle) -> tuple:
        links = []
        for link in range(getattr(self.nvml, "NVML_NVLINK_MAX_LINKS", 18)):
            state = self._optional(self.nvml.nvmlDeviceGetNvLinkState, handle, link)
            if state is None:
                # Links are numbered densely: the first missing one ends the list.
                break
            links.append(link)
        return tuple(links)

    def _optional(self, function, *args):
        """Call NVML; None for values this GPU lacks or cannot give now, SessionLost for a dead driver."""
        try:
            return function(*args)
        except self.nvml.NVMLError as exc:
            if error_code(exc) in self.kinds.session:
                raise SessionLost(str(exc)) from exc
            log.debug("%s%s: %s", getattr(function, "__name__", "nvml"), args[1:], exc)
            return None


def _cuda_version(value) -> str:
    # NVML encodes CUDA 12.4 as 12040.
    return f"{value // 1000}.{value % 1000 // 10}" if value else ""


def mig_ids(gpu_instance, compute_instance) -> dict:
    """MIG labels for a process or instance, or {} when NVML says it is not on a MIG instance."""
    if gpu_instance is None or gpu_instance >= _NOT_AVAILABLE:
        return {}
    return {"gpu_instance": str(gpu_instance), "compute_instance": str(compute_instance)}
