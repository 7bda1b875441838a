"""The GPU collector, promspec_gpu_* through NVML: one worker per GPU, a per-scrape deadline, cached values with their age."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout

from ..metrics import Families
from ..options import Options
from ..registry import CollectorFailed
from .background import SlowSampler, XidCounts, XidListener
from .metrics import SPECS
from .nvml_source import DeviceLost, NvmlSession, SessionLost, load_binding
from .sample import DeviceSample, sample_device

log = logging.getLogger("promspec.exporter")

_UNSET = object()


class _Outcome:
    """One GPU in one scrape: whether it answered, and the sample served for it."""

    __slots__ = ("error", "sample", "up")

    def __init__(self, up: bool, sample: DeviceSample | None, error: str = ""):
        self.up, self.sample, self.error = up, sample, error


class GpuCollector:
    """NVIDIA GPUs through NVML; a missing driver fails this collector only."""

    name = "gpu"

    def __init__(self, options: Options, nvml=_UNSET):
        self._nvml = load_binding() if nvml is _UNSET else nvml
        self._timeout = options.gpu_timeout
        self._retry_interval = options.gpu_retry_interval
        # One task per GPU at most, so a hung GPU holds one thread and the others still get theirs.
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="nvml")
        # Reentrant: a finished opening runs its callback in the thread that attaches it.
        self._lock = threading.RLock()
        self._session: NvmlSession | None = None
        self._opening: Future | None = None
        self._last_attempt = float("-inf")
        self._last_error = ""
        self._known: dict = {}
        self._inflight: dict = {}
        self._cache: dict = {}
        self._down: dict = {}
        self._xids = XidCounts()
        self._events: XidListener | None = None
        self._sampler = SlowSampler(lambda: self._session, options.gpu_slow_interval, options.gpu_processes,
                                    options.procfs)
        self._closed = False
        if self._nvml is not None:
            self._sampler.start()
            self._start_open()

    def collect(self) -> list:
        """All GPU series; raises CollectorFailed when NVML is unusable."""
        if self._nvml is None:
            raise CollectorFailed("the NVML binding (nvidia-ml-py) is not installed")
        with self._lock:
            deadline = time.monotonic() + self._timeout
            session = self._ready_session(deadline)
            try:
                outcomes = self._sample_all(session, deadline)
            except SessionLost as exc:
                # The driver was reloaded or unloaded: start over with a fresh NVML session, once.
                log.warning("NVML session lost (%s); re-initialising", exc)
                self._drop_session()
                self._last_attempt = float("-inf")
                session = self._ready_session(deadline)
                try:
                    outcomes = self._sample_all(session, deadline)
                except SessionLost as again:
                    self._drop_session()
                    raise CollectorFailed(f"NVML session lost again after re-initialising: {again}") from None
            if any(not o.up for o in outcomes.values()) and \
                    time.monotonic() - session.opened >= self._retry_interval:
                # A lost GPU may come back after a reset, with new handles: rediscover in the background.
                self._drop_session()
                self._start_open()
            return self._families(session, outcomes)

    def close(self) -> None:
        """Stop background work and shut NVML down."""
        self._closed = True
        self._sampler.stop()
        self._drop_session()
        self._pool.shutdown(wait=False)

    def _start_open(self) -> None:
        self._last_attempt = time.monotonic()
        self._opening = self._pool.submit(NvmlSession.open, self._nvml)
        self._opening.add_done_callback(self._on_opened)

    def _on_opened(self, future: Future) -> None:
        # Install at once, so XID events and slow fields are watched before the first scrape.
        with self._lock:
            if future is not self._opening or future.exception() is not None:
                return
            self._opening = None
            try:
                self._install(future.result())
            except CollectorFailed:
                pass

    def _ready_session(self, deadline: float) -> NvmlSession:
        if self._session is None and self._opening is None:
            if time.monotonic() - self._last_attempt < self._retry_interval:
                raise CollectorFailed(self._last_error)
            self._start_open()
        if self._session is not None:
            return self._session
        opening = self._opening
        try:
            session = opening.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise CollectorFailed("NVML initialisation is still running") from None
        except Exception as exc:  # NVMLError mostly; whatever it is, retry after the interval
            self._opening = None
            self._last_error = f"NVML initialisation failed: {exc}"
            raise CollectorFailed(self._last_error) from None
        if self._opening is opening:
            self._opening = None
        if self._session is None:
            self._install(session)
        return self._session

    def _install(self, session: NvmlSession) -> None:
        if self._closed:
            session.close()
            raise CollectorFailed("the collector is closed")
        by_index = {labels["gpu"]: labels for labels in self._known.values()}
        for gpu in session.gpus:
            if not gpu.labels["uuid"] and gpu.labels["gpu"] in by_index:
                # A GPU lost before discovery cannot tell its UUID: keep the identity it had.
                gpu.labels = by_index[gpu.labels["gpu"]]
                gpu.info = {**gpu.info, **gpu.labels} if gpu.info else {}
            else:
                self._known[gpu.key] = gpu.labels
        self._session = session
        self._inflight.clear()
        self._events = XidListener(session, self._xids)
        self._events.start()
        self._sampler.notify()
        log.info("NVML ready: %d GPU(s)", len(session.gpus))

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if self._events is not None:
            self._events.stop()
            self._events = None
        self._inflight.clear()
        if session is not None:
            session.close()

    def _sample_all(self, session: NvmlSession, deadline: float) -> dict:
        futures = {}
        for gpu in session.gpus:
            future = self._inflight.get(gpu.key)
            if future is None or future.done():
                future = self._pool.submit(sample_device, session.nvml, session.kinds, gpu)
                self._inflight[gpu.key] = future
            futures[gpu.key] = future
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        outcomes = {}
        for key, future in futures.items():
            if not future.done():
                # Hung in NVML: serve what we had, with its age; the call is not repeated meanwhile.
                outcomes[key] = _Outcome(False, self._cache.get(key), "no answer within the scrape deadline")
                continue
            del self._inflight[key]
            try:
                sample = future.result()
            except SessionLost:
                raise
            except DeviceLost as exc:
                self._cache.pop(key, None)
                outcomes[key] = _Outcome(False, None, str(exc))
            except Exception as exc:  # a surprise on one GPU must not cost the others
                log.debug("GPU %s: sampling raised", key, exc_info=True)
                outcomes[key] = _Outcome(False, None, f"{type(exc).__name__}: {exc}")
            else:
                self._cache[key] = sample
                outcomes[key] = _Outcome(True, sample)
        self._log_changes(outcomes)
        return outcomes

    def _log_changes(self, outcomes: dict) -> None:
        for key, outcome in outcomes.items():
            before = self._down.get(key)
            if not outcome.up and before != outcome.error:
                log.error("GPU %s is down: %s", key, outcome.error)
                self._down[key] = outcome.error
            elif outcome.up and before is not None:
                log.info("GPU %s is back", key)
                del self._down[key]

    def _families(self, session: NvmlSession, outcomes: dict) -> list:
        families = Families(SPECS)
        now = time.time()
        for gpu in session.gpus:
            outcome = outcomes[gpu.key]
            if gpu.info:
                families.add("promspec_gpu_info", gpu.info, 1)
            families.add("promspec_gpu_up", gpu.labels, 1 if outcome.up else 0)
            if outcome.sample is not None:
                for name, labels, value in outcome.sample.rows:
                    families.add(name, labels, value)
                families.add("promspec_gpu_sample_age_seconds", {**gpu.labels, "field": "device"},
                             max(0.0, now - outcome.sample.taken))
            if outcome.up:
                for field, taken, rows in self._sampler.results(gpu.key):
                    for name, labels, value in rows:
                        families.add(name, labels, value)
                    families.add("promspec_gpu_sample_age_seconds", {**gpu.labels, "field": field},
                                 max(0.0, now - taken))
            for xid, count in self._xids.for_gpu(gpu.key):
                families.add("promspec_gpu_xid_errors_total", {**gpu.labels, "xid": str(xid)}, count)
        present = {gpu.key for gpu in session.gpus}
        for key, labels in self._known.items():
            if key not in present:
                # Gone from NVML's list since it fell off the bus: keep saying so.
                families.add("promspec_gpu_up", labels, 0)
        return families.metrics()
