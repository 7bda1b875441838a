"""The GPU collector, promspec_gpu_* through NVML: one task per GPU on a deadline, values served with their age.

A hung or lost GPU costs only its own series: NVML is initialised without touching any GPU, each
GPU is looked up and sampled by its own task (never two at once for one GPU), a GPU that is lost
is looked up again alone every retry interval, and only a driver-level failure re-initialises NVML.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric

from ..metrics import Families
from ..options import Options
from ..registry import CollectorFailed
from .background import SlowSampler, XidCounts, XidListener
from .metrics import SPECS
from .nvml_source import (
    DeviceLost,
    FatalNvml,
    Gpu,
    Nvml,
    NvmlSession,
    SessionLost,
    load_binding,
)
from .sample import DeviceSample, sample_device

log = logging.getLogger("promspec.exporter")

_UNSET = object()
# How long close() and a re-initialisation wait for background threads to leave NVML.
_STOP_WAIT = 2.0


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    """One GPU in one scrape: whether it answered, and the sample served for it."""

    up: bool
    sample: DeviceSample | None
    error: str = ""


def _request_restart(message: str) -> None:
    """Stop the exporter (the CLI then exits non-zero) so that its supervisor starts a fresh process."""

    def send() -> None:
        # The CLI installs its SIGTERM handler after building the collectors; a signal before
        # that would end the process as killed, not with the status that says why.
        deadline = time.monotonic() + 30.0
        while signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send, name="nvml-restart", daemon=True).start()


class GpuCollector:
    """NVIDIA GPUs through NVML; a missing driver fails this collector only."""

    name = "gpu"

    def __init__(self, options: Options, nvml: Nvml = _UNSET, on_fatal: Callable[[str], None] | None = None):
        self._nvml = load_binding() if nvml is _UNSET else nvml
        self._timeout = options.gpu_timeout
        self._retry_interval = options.gpu_retry_interval
        self._max_age = options.gpu_max_age
        self._on_fatal = on_fatal or _request_restart
        self.restart_requested = ""  # why NVML cannot recover in this process, once that is known
        # One task per GPU at most, so a hung GPU holds one thread and the others still get theirs.
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="nvml")
        # Reentrant: a finished opening runs its callback in the thread that attaches it.
        self._lock = threading.RLock()
        self._session: NvmlSession | None = None
        self._opening: Future[NvmlSession] | None = None
        self._last_attempt = float("-inf")
        self._last_error = ""
        self._known: dict[str, dict[str, str]] = {}  # GPU key -> labels, across sessions
        self._found: dict[str, tuple[NvmlSession, Gpu]] = {}  # GPU key -> (session, gpu) for the background samplers
        self._inflight: dict[int, Future[DeviceSample]] = {}  # GPU index -> future of its task
        self._cache: dict[str, DeviceSample] = {}  # GPU key -> last DeviceSample
        self._down: dict[str, str] = {}  # GPU key -> why it is down, as last logged
        self._xids = XidCounts()
        self._events: XidListener | None = None
        self._sampler = SlowSampler(
            self._found.get, options.gpu_slow_interval, self._max_age, options.gpu_processes, options.procfs
        )
        self._closed = False
        if self._nvml is not None:
            self._start_open()

    def collect(self) -> list[Metric]:
        """All GPU series; raises CollectorFailed when NVML is unusable."""
        if self._nvml is None:
            raise CollectorFailed("the NVML binding (nvidia-ml-py) is not installed")
        if self.restart_requested:
            raise CollectorFailed(self.restart_requested)
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
            return self._families(session, outcomes)

    def close(self) -> None:
        """Stop background work, then shut NVML down (never while a thread may be inside it)."""
        with self._lock:
            self._closed = True
            self._drop_session()
        self._pool.shutdown(wait=False)

    # --- the NVML session ------------------------------------------------------------------
    def _start_open(self) -> None:
        self._last_attempt = time.monotonic()
        self._opening = self._pool.submit(NvmlSession.open, self._nvml)
        self._opening.add_done_callback(self._on_opened)

    def _on_opened(self, future: Future[NvmlSession]) -> None:
        # Install at once, so XID events and slow fields are watched before the first scrape.
        with self._lock:
            if future is not self._opening:
                return
            if isinstance(future.exception(), FatalNvml):
                self._fatal(str(future.exception()))
                return
            if future.exception() is not None:
                return
            self._opening = None
            try:
                session = self._install(future.result())
            except CollectorFailed:
                return
            for gpu in session.gpus:
                self._inflight[gpu.index] = self._pool.submit(self._gpu_pass, session, self._events, gpu)

    def _fatal(self, message: str) -> None:
        if self.restart_requested:
            return
        self.restart_requested = f"NVML cannot recover in this process, restarting: {message}"
        log.critical("%s", self.restart_requested)
        self._on_fatal(self.restart_requested)

    def _ready_session(self, deadline: float) -> NvmlSession:
        if self._session is None and self._opening is None:
            if time.monotonic() - self._last_attempt < self._retry_interval:
                raise CollectorFailed(self._last_error)
            self._start_open()
        if self._session is not None:
            return self._session
        opening = self._opening
        assert opening is not None  # started just above when there was neither
        try:
            session = opening.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise CollectorFailed("NVML initialisation is still running") from None
        except FatalNvml as exc:
            self._fatal(str(exc))
            raise CollectorFailed(self.restart_requested) from None
        except Exception as exc:  # NVMLError mostly; whatever it is, retry after the interval
            self._opening = None
            self._last_error = f"NVML initialisation failed: {exc}"
            raise CollectorFailed(self._last_error) from None
        if self._opening is opening:
            self._opening = None
        return self._session if self._session is not None else self._install(session)

    def _install(self, session: NvmlSession) -> NvmlSession:
        if self._closed:
            session.close()
            raise CollectorFailed("the collector is closed")
        by_index = {labels["gpu"]: labels for labels in self._known.values()}
        for gpu in session.gpus:
            # Until it is looked up (and if it cannot tell its UUID then), a GPU keeps its identity.
            gpu.labels = dict(by_index.get(gpu.labels["gpu"], gpu.labels))
        self._session = session
        self._inflight.clear()
        self._sampler.restart()
        self._events = XidListener(session, self._xids)
        self._events.start()
        log.info("NVML ready: %d GPU(s)", len(session.gpus))
        return session

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        quiet = True
        if self._events is not None:
            quiet = self._events.stop(_STOP_WAIT) and quiet
            self._events = None
        quiet = self._sampler.stop(_STOP_WAIT) and quiet
        busy = [index for index, future in self._inflight.items() if not future.done()]
        self._inflight.clear()
        self._found.clear()
        if session is None:
            return
        if quiet and not busy:
            session.close()
        else:
            # nvmlShutdown under a running call is undefined behaviour; a leaked session is not.
            log.warning("NVML left initialised: a call into a GPU has not returned")

    # --- one task per GPU -------------------------------------------------------------------
    def _gpu_pass(self, session: NvmlSession, events: XidListener | None, gpu: Gpu) -> DeviceSample:
        """Look the GPU up if it has no handle, then sample it; runs in the pool, never two per GPU."""
        if gpu.handle is None:
            session.discover(gpu)
            self._found[gpu.key] = (session, gpu)
            if events is not None:
                events.register(gpu)
            self._sampler.track(gpu.key)
        return sample_device(session.nvml, session.kinds, gpu, session.features)

    def _sample_all(self, session: NvmlSession, deadline: float) -> dict[int, _Outcome]:
        now = time.monotonic()
        futures: dict[int, Future[DeviceSample]] = {}
        outcomes: dict[int, _Outcome] = {}
        for gpu in session.gpus:
            future = self._inflight.get(gpu.index)
            if future is not None and future.done():
                # A pass that ended since the last scrape (the first one starts with NVML): take its news.
                self._take(gpu, future)
                future = None
            if future is None:
                if gpu.handle is None and now < gpu.next_discovery:
                    outcomes[gpu.index] = _Outcome(up=False, sample=None, error=gpu.broken or "not found")
                    continue
                future = self._inflight[gpu.index] = self._pool.submit(self._gpu_pass, session, self._events, gpu)
            futures[gpu.index] = future
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        for index, future in futures.items():
            gpu = session.gpus[index]
            if future.done():
                outcomes[index] = self._take(gpu, future)
            else:
                # Hung in NVML: serve what we had, with its age; the call is not repeated meanwhile.
                outcomes[index] = _Outcome(
                    up=False, sample=self._fresh(gpu.key), error="no answer within the scrape deadline"
                )
        self._log_changes(session, outcomes)
        return outcomes

    def _take(self, gpu: Gpu, future: Future[DeviceSample]) -> _Outcome:
        """The outcome of a finished pass; raises SessionLost when the driver went away."""
        del self._inflight[gpu.index]
        try:
            sample = future.result()
        except SessionLost:
            raise
        except DeviceLost as exc:
            self._lost(gpu, str(exc))
            return _Outcome(up=False, sample=None, error=str(exc))
        except Exception as exc:  # a surprise on one GPU must not cost the others
            log.debug("GPU %s: sampling raised", gpu.key, exc_info=True)
            return _Outcome(up=False, sample=None, error=f"{type(exc).__name__}: {exc}")
        finally:
            if gpu.labels["uuid"]:
                self._known[gpu.key] = gpu.labels
        self._cache[gpu.key] = sample
        return _Outcome(up=True, sample=sample)

    def _lost(self, gpu: Gpu, error: str) -> None:
        """Forget a lost GPU's handle; it alone is looked up again after the retry interval."""
        gpu.broken = error
        self._cache.pop(gpu.key, None)
        self._found.pop(gpu.key, None)
        gpu.handle = None
        gpu.next_discovery = time.monotonic() + self._retry_interval

    def _fresh(self, key: str) -> DeviceSample | None:
        sample = self._cache.get(key)
        return sample if sample is not None and time.time() - sample.taken <= self._max_age else None

    def _log_changes(self, session: NvmlSession, outcomes: dict[int, _Outcome]) -> None:
        for index, outcome in outcomes.items():
            key = session.gpus[index].key
            before = self._down.get(key)
            if not outcome.up and before != outcome.error:
                log.error("GPU %s is down: %s", key, outcome.error)
                self._down[key] = outcome.error
            elif outcome.up and before is not None:
                log.info("GPU %s is back", key)
                del self._down[key]

    def _families(self, session: NvmlSession, outcomes: dict[int, _Outcome]) -> list[Metric]:
        families = Families(SPECS)
        now = time.time()
        for gpu in session.gpus:
            outcome = outcomes[gpu.index]
            if gpu.info:
                families.add("promspec_gpu_info", gpu.info, 1)
            families.add("promspec_gpu_up", gpu.labels, 1 if outcome.up else 0)
            if outcome.sample is not None:
                for name, labels, value in outcome.sample.rows:
                    families.add(name, labels, value)
                families.add(
                    "promspec_gpu_sample_age_seconds",
                    {**gpu.labels, "field": "device"},
                    max(0.0, now - outcome.sample.taken),
                )
            for field, taken, rows in self._sampler.results(gpu.key, now):
                for name, labels, value in rows:
                    families.add(name, labels, value)
                families.add("promspec_gpu_sample_age_seconds", {**gpu.labels, "field": field}, max(0.0, now - taken))
            for xid, count in self._xids.for_gpu(gpu.key):
                families.add("promspec_gpu_xid_errors_total", {**gpu.labels, "xid": str(xid)}, count)
        present = {gpu.key for gpu in session.gpus}
        for key, labels in self._known.items():
            if key not in present:
                # Gone from NVML's list since it fell off the bus: keep saying so.
                families.add("promspec_gpu_up", labels, 0)
        return families.metrics()
