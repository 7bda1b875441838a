"""GPU work that must not sit on the scrape path: slow NVML fields, and XID events."""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable

from .nvml_source import DeviceLost, NvmlSession, SessionLost, error_code, text
from .sample import sample_pcie, sample_processes

log = logging.getLogger("promspec.exporter")

_EVENT_WAIT_MS = 500


class SlowSampler:
    """Samples slow NVML fields of every GPU at their own interval; scrapes serve the latest with its age."""

    def __init__(self, current_session: Callable, interval: float, processes: bool, procfs: str):
        self._current_session = current_session
        self._interval = interval
        self._fields = [("pcie_throughput", sample_pcie)]
        if processes:
            self._fields.append(("processes", lambda nvml, kinds, gpu: sample_processes(nvml, kinds, gpu, procfs)))
        self._results: dict = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="nvml-slow", daemon=True)

    def start(self) -> None:
        """Start the background loop."""
        self._thread.start()

    def notify(self) -> None:
        """Sample now (a new NVML session is ready)."""
        self._wake.set()

    def stop(self) -> None:
        """End the loop after the pass in progress."""
        self._stopped = True
        self._wake.set()

    def results(self, key: str) -> list:
        """(field, taken, rows) for one GPU, for each field sampled so far."""
        with self._lock:
            return [(field, *self._results[(key, field)]) for field, _ in self._fields
                    if (key, field) in self._results]

    def _run(self) -> None:
        while not self._stopped:
            session: NvmlSession | None = self._current_session()
            if session is not None:
                for gpu in session.gpus:
                    if gpu.handle is not None:
                        for field, function in self._fields:
                            self._sample(session, gpu, field, function)
            self._wake.wait(self._interval)
            self._wake.clear()

    def _sample(self, session: NvmlSession, gpu, field: str, function) -> None:
        try:
            rows = function(session.nvml, session.kinds, gpu)
        except (DeviceLost, SessionLost) as exc:
            log.debug("GPU %s: %s sampling stopped: %s", gpu.key, field, exc)
            rows = None
        except Exception:  # keep sampling the other GPUs and fields
            log.exception("GPU %s: sampling %s failed", gpu.key, field)
            rows = None
        with self._lock:
            if rows is None:
                self._results.pop((gpu.key, field), None)
            else:
                self._results[(gpu.key, field)] = (time.time(), rows)


class XidCounts:
    """XID errors seen per GPU and code; kept across NVML re-initialisations so counters never go back."""

    def __init__(self):
        self._counts: dict = {}
        self._lock = threading.Lock()

    def add(self, key: str, xid: int) -> None:
        """Count one XID error on the GPU with this key."""
        with self._lock:
            self._counts[(key, xid)] = self._counts.get((key, xid), 0) + 1

    def for_gpu(self, key: str) -> list:
        """(xid, count) pairs for one GPU, by XID code."""
        with self._lock:
            return sorted((xid, count) for (gpu, xid), count in self._counts.items() if gpu == key)


class XidListener:
    """Waits on NVML's event API for the XID errors of one session's GPUs."""

    def __init__(self, session: NvmlSession, counts: XidCounts):
        self._session = session
        self._counts = counts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nvml-xid", daemon=True)

    def start(self) -> None:
        """Register for events and start waiting on them."""
        self._thread.start()

    def stop(self) -> None:
        """Stop waiting; the thread ends after the wait in progress (at most half a second)."""
        self._stop.set()

    def _run(self) -> None:
        nvml = self._session.nvml
        try:
            events = nvml.nvmlEventSetCreate()
        except nvml.NVMLError as exc:
            log.warning("XID events unavailable: %s", exc)
            return
        try:
            keys = self._register(events)
            while keys and not self._stop.is_set():
                self._wait_once(events, keys)
        finally:
            try:
                nvml.nvmlEventSetFree(events)
            except nvml.NVMLError as exc:
                log.debug("nvmlEventSetFree: %s", exc)

    def _register(self, events) -> dict:
        nvml = self._session.nvml
        keys = {}
        for gpu in self._session.gpus:
            if gpu.handle is None:
                continue
            try:
                nvml.nvmlDeviceRegisterEvents(gpu.handle, nvml.nvmlEventTypeXidCriticalError, events)
            except nvml.NVMLError as exc:
                log.info("GPU %s: XID events unavailable: %s", gpu.key, exc)
                continue
            keys[_handle_id(gpu.handle)] = gpu.key
            keys[gpu.labels["uuid"]] = gpu.key
        return keys

    def _wait_once(self, events, keys: dict) -> None:
        nvml = self._session.nvml
        try:
            data = nvml.nvmlEventSetWait(events, _EVENT_WAIT_MS)
        except nvml.NVMLError as exc:
            if error_code(exc) != nvml.NVML_ERROR_TIMEOUT:
                # A lost GPU can make every wait fail at once; do not spin.
                log.debug("waiting for XID events: %s", exc)
                self._stop.wait(1.0)
            return
        if not data.eventType & nvml.nvmlEventTypeXidCriticalError:
            return
        key = keys.get(_handle_id(data.device))
        if key is None:
            try:
                key = keys.get(text(nvml.nvmlDeviceGetUUID(data.device)))
            except nvml.NVMLError as exc:
                log.warning("XID %s on a GPU NVML cannot name: %s", data.eventData, exc)
                return
        if key is not None:
            log.warning("GPU %s: XID %s", key, data.eventData)
            self._counts.add(key, int(data.eventData))


def _handle_id(handle):
    """What identifies a device handle: the address it points to (ctypes), else the object itself."""
    try:
        return ctypes.cast(handle, ctypes.c_void_p).value
    except (TypeError, ctypes.ArgumentError):
        return id(handle)
