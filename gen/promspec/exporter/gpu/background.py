"""GPU work that must not sit on the scrape path: slow NVML fields, and XID events."""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeAlias

from .nvml_source import DeviceLost, Gpu, NvmlSession, SessionLost, error_code, text
from .sample import Row, sample_pcie, sample_processes

log = logging.getLogger("promspec.exporter")

_EVENT_WAIT_MS = 500

# Samples one slow field of a GPU in a session.
FieldSampler: TypeAlias = Callable[[NvmlSession, Gpu], list[Row]]


class SlowSampler:
    """Samples the slow NVML fields with one thread per GPU, so a hung GPU freezes only its own values.

    `lookup(key)` gives the current (session, gpu) for a GPU, or None while it has no handle;
    scrapes read the latest rows with their age, and rows older than `max_age` are not served.
    """

    def __init__(
        self,
        lookup: Callable[[str], tuple[NvmlSession, Gpu] | None],
        interval: float,
        max_age: float,
        processes: bool,
        procfs: str,
    ):
        self._lookup = lookup
        self._interval = interval
        self._max_age = max_age
        self._fields: list[tuple[str, FieldSampler]] = [
            ("pcie_throughput", lambda session, gpu: sample_pcie(session.nvml, session.kinds, gpu))
        ]
        if processes:
            self._fields.append(
                (
                    "processes",
                    lambda session, gpu: sample_processes(session.nvml, session.kinds, gpu, procfs, session.features),
                )
            )
        self._results: dict[tuple[str, str], tuple[float, list[Row]]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def track(self, key: str) -> None:
        """Make sure the GPU with this key has its sampling thread."""
        with self._lock:
            thread = self._threads.get(key)
            if self._stop.is_set() or (thread is not None and thread.is_alive()):
                return
            thread = threading.Thread(target=self._run, args=(key,), name=f"nvml-slow-{key}", daemon=True)
            self._threads[key] = thread
        thread.start()

    def stop(self, timeout: float) -> bool:
        """Stop every thread; True when all ended within the timeout (none is inside NVML any more)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            stuck = [key for key, thread in self._threads.items() if thread.is_alive()]
            self._threads = {key: self._threads[key] for key in stuck}
        if stuck:
            log.warning("GPU sampling threads still inside NVML: %s", ", ".join(stuck))
        return not stuck

    def restart(self) -> None:
        """Allow track() again after stop() (a new NVML session)."""
        self._stop.clear()

    def results(self, key: str, now: float) -> list[tuple[str, float, list[Row]]]:
        """(field, taken, rows) for one GPU, for each field sampled within the maximum age."""
        with self._lock:
            found = [
                (field, *self._results[(key, field)]) for field, _ in self._fields if (key, field) in self._results
            ]
        return [(field, taken, rows) for field, taken, rows in found if now - taken <= self._max_age]

    def _run(self, key: str) -> None:
        while not self._stop.is_set():
            found = self._lookup(key)
            if found is not None:
                session, gpu = found
                for field, function in self._fields:
                    if self._stop.is_set():
                        return
                    self._sample(session, gpu, field, function)
            self._stop.wait(self._interval)

    def _sample(self, session: NvmlSession, gpu: Gpu, field: str, function: FieldSampler) -> None:
        try:
            rows = function(session, gpu)
        except (DeviceLost, SessionLost) as exc:
            log.debug("GPU %s: %s sampling stopped: %s", gpu.key, field, exc)
            rows = None
        except Exception:  # keep sampling the other fields
            log.exception("GPU %s: sampling %s failed", gpu.key, field)
            rows = None
        with self._lock:
            if rows is None:
                self._results.pop((gpu.key, field), None)
            else:
                self._results[(gpu.key, field)] = (time.time(), rows)


class XidCounts:
    """XID errors seen per GPU and code; kept across NVML re-initialisations so counters never go back."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def add(self, key: str, xid: int) -> None:
        """Count one XID error on the GPU with this key."""
        with self._lock:
            self._counts[(key, xid)] = self._counts.get((key, xid), 0) + 1

    def for_gpu(self, key: str) -> list[tuple[int, int]]:
        """(xid, count) pairs for one GPU, by XID code."""
        with self._lock:
            return sorted((xid, count) for (gpu, xid), count in self._counts.items() if gpu == key)


class XidListener:
    """Waits on NVML's event API for XID errors; one event set for the whole NVML session.

    GPUs are registered as they are found, and the set is kept while GPUs come and go: NVML
    records no events from before registration, so a rebuilt set would lose the XIDs of the gap.
    """

    def __init__(self, session: NvmlSession, counts: XidCounts):
        self._session = session
        self._counts = counts
        # A GPU's key by its handle's id (_handle_id) and by its UUID.
        self._keys: dict[int | str | None, str] = {}
        self._lock = threading.Lock()
        self._events: Any = None  # the binding's event set
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nvml-xid", daemon=True)

    def start(self) -> None:
        """Create the event set and start waiting on it."""
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Stop waiting and wait for the thread; True when it has left NVML."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def register(self, gpu: Gpu) -> None:
        """Watch one GPU's XIDs (called when it is found, again when it comes back with a new handle)."""
        nvml = self._session.nvml
        if not self._ready.wait(2.0) or self._events is None or self._stop.is_set():
            return
        try:
            nvml.nvmlDeviceRegisterEvents(gpu.handle, nvml.nvmlEventTypeXidCriticalError, self._events)
        except nvml.NVMLError as exc:
            log.info("GPU %s: XID events unavailable: %s", gpu.key, exc)
            return
        with self._lock:
            self._keys[_handle_id(gpu.handle)] = gpu.key
            self._keys[gpu.labels["uuid"]] = gpu.key

    def _run(self) -> None:
        nvml = self._session.nvml
        try:
            self._events = nvml.nvmlEventSetCreate()
        except nvml.NVMLError as exc:
            log.warning("XID events unavailable: %s", exc)
            return
        finally:
            self._ready.set()
        try:
            while not self._stop.is_set():
                self._wait_once(self._events)
        finally:
            try:
                nvml.nvmlEventSetFree(self._events)
            except nvml.NVMLError as exc:
                log.debug("nvmlEventSetFree: %s", exc)

    def _wait_once(self, events: Any) -> None:
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
        with self._lock:
            key = self._keys.get(_handle_id(data.device))
        if key is None:
            try:
                uuid = text(nvml.nvmlDeviceGetUUID(data.device))
            except nvml.NVMLError as exc:
                log.warning("XID %s on a GPU NVML cannot name: %s", data.eventData, exc)
                return
            with self._lock:
                key = self._keys.get(uuid)
        if key is not None:
            log.warning("GPU %s: XID %s", key, data.eventData)
            self._counts.add(key, int(data.eventData))


def _handle_id(handle: Any) -> int | None:
    """What identifies a device handle: the address it points to (ctypes), else the object itself."""
    try:
        return ctypes.cast(handle, ctypes.c_void_p).value
    except (TypeError, ctypes.ArgumentError):
        return id(handle)
