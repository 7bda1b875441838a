"""Runs the collectors: each one isolated, timed and reported; one run shared by concurrent scrapes."""

from __future__ import annotations

import gzip
import logging
import platform
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest

from . import __version__
from .metrics import Families, RenderedFamily, SeriesLabels, Spec, format_value, make_samples, render_text

log = logging.getLogger("promspec.exporter")
# prometheus_client's OpenMetrics encoder is untyped: typed here once.
render_openmetrics: Callable[[Any], bytes] = generate_latest

DEFAULT_TIMEOUT_S = 8.0  # under Prometheus's default 10s scrape timeout
# The collectors of a scrape run in turn on one worker (one thread hand-off, not one per collector:
# about 1 ms per scrape on a small host). When they have not all returned after this long, one is
# blocked or slow, and those not yet started get a worker each, so a hung collector delays the
# others by this much at most and each still has the scrape's whole deadline.
SPREAD_AFTER_S = 0.05
TEXT = "text"
OPENMETRICS = "openmetrics"

_SUCCESS = "promspec_exporter_collector_success"
_DURATION = "promspec_exporter_collector_duration_seconds"
_BUILD_INFO = "promspec_exporter_build_info"
SELF_SPECS = {
    _SUCCESS: Spec(
        "gauge", "1 when the collector produced its metrics in the last scrape, 0 when it failed.", ("collector",)
    ),
    _DURATION: Spec("gauge", "Time the collector took in the last scrape.", ("collector",)),
    _BUILD_INFO: Spec(
        "gauge", "Always 1; labels name the exporter version and the Python it runs on.", ("version", "python_version")
    ),
}


class Collector(Protocol):
    """What the registry runs: a named source of metric families.

    A collector whose `in_line` attribute is True is run on the scraping thread, without a thread
    hand-off: it promises that collect() cannot block past the registry's deadline, because it
    only reads procfs files (made by the kernel from memory at each read, never waiting on a device
    or the network) or bounds its own blocking calls by that deadline. Any other collector (no such
    attribute, or False) runs on a worker under the deadline.
    """

    name: str

    def collect(self) -> list[Metric]: ...

    def close(self) -> None: ...


class StatelessCollector:
    """Base for collectors that hold nothing between scrapes."""

    name = ""

    def close(self) -> None:
        """Nothing to release."""


# What a collection run yields: families, and Families kept whole (rendered to text without a family object each).
Part = Metric | Families


class FamiliesCollector:
    """Mixin for a collector whose families come from one Families: the registry takes that Families itself
    (collect_families), so that a text scrape joins its lines without making a family object per family."""

    def collect_families(self) -> Families:
        """This scrape's families, as added."""
        raise NotImplementedError

    def collect(self) -> list[Metric]:
        """The families themselves, for callers other than the registry."""
        return self.collect_families().metrics()


class CollectorFailed(Exception):
    """A collector could not produce its metrics; the message says why, for the log and /health."""


@dataclass
class CollectorHealth:
    """The outcome of a collector's last run, for /health and the self-metrics."""

    success: bool = False
    duration: float = 0.0
    last_success: float | None = None
    last_error: str | None = None
    last_error_time: float | None = None

    def as_json(self) -> dict[str, Any]:
        """This record as plain JSON values."""
        return {
            "success": self.success,
            "duration_seconds": round(self.duration, 6),
            "last_success": self.last_success,
            "last_error": self.last_error,
            "last_error_time": self.last_error_time,
        }


class Call:
    """One blocking call on a worker thread; wait() bounds how long a caller waits for it."""

    def __init__(self, key: str, fn: Callable[[], Any], fresh: bool = True):
        self.key, self._fn, self.fresh = key, fn, fresh
        self.started = time.monotonic()
        self.finished: float | None = None
        # Held until the call ends: a bare lock is the cheapest thing to wait on with a timeout.
        self._running = threading.Lock()
        self._running.acquire()
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        """Run the call on the current thread and record its outcome."""
        # From its own start, not its queueing: a call queued behind others in a batch is not charged their time.
        self.started = time.monotonic()
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc
        finally:
            self.finished = time.monotonic()
            self._running.release()

    def done(self) -> bool:
        """Whether the call has returned or raised."""
        return self.finished is not None

    def wait(self, timeout: float) -> bool:
        """Wait up to timeout seconds; True when the call is done."""
        if self.finished is not None:
            return True
        if not self._running.acquire(timeout=max(timeout, 0.0)):
            return False
        self._running.release()  # for whoever waits next
        return True

    def result(self) -> Any:
        """The call's return value; re-raises what it raised."""
        if self._error is not None:
            raise self._error
        return self._value

    def running_for(self) -> float:
        """Seconds since the call started (to its end when it is done)."""
        return (self.finished if self.finished is not None else time.monotonic()) - self.started


class Batch:
    """Calls run one after the other on a single worker thread, until spread() hands out the rest."""

    __slots__ = ("_done", "pending")

    def __init__(self, calls: list[Call]):
        self.pending: deque[Call] = deque(calls)
        # Held until the batch's worker has run (or given away) every call.
        self._done = threading.Lock()
        self._done.acquire()

    def finish(self) -> None:
        """Every call has run or was handed to other workers."""
        self._done.release()

    def wait(self, timeout: float) -> bool:
        """Wait up to timeout seconds for the batch to end; True when it has."""
        if not self._done.acquire(timeout=max(timeout, 0.0)):
            return False
        self._done.release()
        return True


class Workers:
    """Daemon threads for calls that may block (a hung filesystem, a stuck driver).

    At most one call per key runs at a time: a call that overruns its caller's deadline keeps its
    thread until it returns, and start() hands that same call back (fresh=False) instead of starting
    another. So a stuck mount or collector holds one thread, not one more per scrape; idle threads
    are reused. The threads are daemons, so a call stuck in the kernel never holds up exit.
    """

    def __init__(self, name: str, idle_max: int = 64):
        self._name, self._idle_max = name, idle_max
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Call | Batch]] = []
        self._running: dict[str, Call] = {}
        self._count = 0

    def start(self, key: str, fn: Callable[[], Any]) -> Call:
        """Start fn for key, or return key's call still running from before (fresh=False)."""
        with self._lock:
            call = self._register_locked(key, fn)
            if not call.fresh:
                return call
            inbox, number = self._inbox_locked()
        self._post(inbox, number, call)
        return call

    def start_batch(self, jobs: list[tuple[str, Callable[[], Any]]]) -> tuple[Batch, list[Call]]:
        """Start the fns in turn on one worker; a key still running from before gives that call (fresh=False).

        Returns the batch (to wait on, or spread) and each job's call, in order.
        """
        with self._lock:
            calls = [self._register_locked(key, fn) for key, fn in jobs]
            batch = Batch([call for call in calls if call.fresh])
            if not batch.pending:  # every key still running from before: nothing to hand over
                batch.finish()
                return batch, calls
            inbox, number = self._inbox_locked()
        self._post(inbox, number, batch)
        return batch, calls

    def spread(self, batch: Batch) -> None:
        """Give each call of the batch not started yet a worker of its own."""
        with self._lock:
            handed = [(call, *self._inbox_locked()) for call in batch.pending]
            batch.pending.clear()
        for call, inbox, number in handed:
            self._post(inbox, number, call)

    def running(self) -> dict[str, Call]:
        """key -> Call for the calls not yet returned."""
        with self._lock:
            return dict(self._running)

    def threads(self) -> int:
        """Worker threads alive (running a call or idle)."""
        with self._lock:
            return self._count

    def _register_locked(self, key: str, fn: Callable[[], Any]) -> Call:
        running = self._running.get(key)
        if running is not None and not running.done():
            running.fresh = False
            return running
        call = self._running[key] = Call(key, fn)
        return call

    def _inbox_locked(self) -> tuple[queue.SimpleQueue[Call | Batch] | None, int]:
        """An idle worker's inbox, or (None, number) for a worker to start."""
        if self._idle:
            return self._idle.pop(), 0
        self._count += 1
        return None, self._count

    def _post(self, inbox: queue.SimpleQueue[Call | Batch] | None, number: int, job: Call | Batch) -> None:
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._loop, args=(inbox,), name=f"{self._name}-{number}", daemon=True).start()
        inbox.put(job)

    def _ended_locked(self, call: Call) -> None:
        if self._running.get(call.key) is call:
            del self._running[call.key]

    def _run_batch(self, batch: Batch) -> None:
        lock, pending = self._lock, batch.pending
        try:
            with lock:
                call = pending.popleft() if pending else None
            while call is not None:
                call.run()
                with lock:
                    self._ended_locked(call)
                    call = pending.popleft() if pending else None
        finally:
            batch.finish()

    def _loop(self, inbox: queue.SimpleQueue[Call | Batch]) -> None:
        while True:
            job = inbox.get()
            if isinstance(job, Batch):
                self._run_batch(job)
                with self._lock:
                    if len(self._idle) >= self._idle_max:
                        self._count -= 1
                        return
                    self._idle.append(inbox)
                continue
            job.run()
            with self._lock:
                self._ended_locked(job)
                if len(self._idle) >= self._idle_max:
                    self._count -= 1
                    return
                self._idle.append(inbox)


class Snapshot:
    """The families of one collection run, rendered at most once per format and encoding."""

    def __init__(self, metrics: list[Part]):
        self.metrics = metrics
        self._bodies: dict[tuple[str, bool], bytes] = {}
        self._lock = threading.Lock()

    def collect(self) -> list[Metric]:
        """The families (each Families' made), so prometheus_client's encoders can read a snapshot like a registry."""
        return [
            family for part in self.metrics for family in (part.metrics() if isinstance(part, Families) else (part,))
        ]

    def body(self, fmt: str, compressed: bool) -> bytes:
        """The exposition in `fmt` (TEXT or OPENMETRICS), gzip-compressed if asked."""
        key = (fmt, compressed)
        with self._lock:
            body = self._bodies.get(key)
            if body is None:
                if compressed:
                    body = gzip.compress(self.body_locked(fmt), compresslevel=1, mtime=0)
                else:
                    body = self.body_locked(fmt)
                self._bodies[key] = body
            return body

    def body_locked(self, fmt: str) -> bytes:
        """The uncompressed exposition; the caller holds the lock."""
        body = self._bodies.get((fmt, False))
        if body is None:
            body = render_openmetrics(self) if fmt == OPENMETRICS else render_text(self.metrics)
            self._bodies[(fmt, False)] = body
        return body


def _collector_call(collector: Collector) -> Callable[[], Families | list[Metric]]:
    """What a run of the collector calls: its Families, kept whole, where it has one."""
    families: Callable[[], Families] | None = getattr(collector, "collect_families", None)
    if families is not None:
        return families
    return lambda: list(collector.collect())


def _self_family(name: str, lines: list[str], rows: list[tuple[dict[str, str], float]]) -> RenderedFamily:
    spec = SELF_SPECS[name]
    return RenderedFamily(name, spec.type, spec.help, lines, lambda: make_samples(name, rows))


class _Flight:
    __slots__ = ("done", "snapshot")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.snapshot: Snapshot | None = None


class Registry:
    """The enabled collectors, run together on each scrape."""

    def __init__(self, collectors: Iterable[Collector], timeout: float = DEFAULT_TIMEOUT_S):
        self.collectors = list(collectors)
        self.timeout = timeout
        # Two thread hand-offs (there and back) cost about a tenth of a small host's scrape: the
        # collectors that cannot block run on the scraping thread (see Collector).
        self._in_line = {c.name for c in self.collectors if getattr(c, "in_line", False) is True}
        # A collector that hangs keeps its own thread, never the scrape's; one thread per collector at most.
        self._workers = Workers("collector", idle_max=max(len(self.collectors) - len(self._in_line), 1))
        self._spread_after = min(SPREAD_AFTER_S, timeout / 4)
        self.health = {c.name: CollectorHealth() for c in self.collectors}
        self._calls = {c.name: _collector_call(c) for c in self.collectors}
        self._lock = threading.Lock()
        self._flight: _Flight | None = None
        # The self-metrics' label sets, kept with their rendered text across scrapes.
        self._build_labels = SeriesLabels({"version": __version__, "python_version": platform.python_version()})
        self._collector_labels = {c.name: SeriesLabels({"collector": c.name}) for c in self.collectors}

    def gather(self) -> Snapshot:
        """Run every collector once; callers arriving meanwhile share that run instead of starting one."""
        with self._lock:
            flight = self._flight
            leader = flight is None
            if flight is None:
                flight = self._flight = _Flight()
        if not leader:
            flight.done.wait()
            if flight.snapshot is not None:
                return flight.snapshot
            return self.gather()
        try:
            flight.snapshot = Snapshot(self._collect_all())
        finally:
            with self._lock:
                self._flight = None
            flight.done.set()
        return flight.snapshot

    def close(self) -> None:
        """Stop the collectors' background work."""
        for collector in self.collectors:
            try:
                collector.close()
            except Exception as exc:  # closing must not stop the others from closing
                log.warning("closing collector %s: %s", collector.name, exc)

    def stuck(self) -> dict[str, float]:
        """collector name -> seconds its call has run, for calls past the deadline (for /healthz)."""
        return {
            key: call.running_for()
            for key, call in self._workers.running().items()
            if call.running_for() > self.timeout
        }

    def _collect_all(self) -> list[Part]:
        # The collectors run in turn on one worker; if they are not done soon, each one not started
        # yet gets its own worker. Each has the deadline from its own start (the scrape's at the
        # latest): a scrape takes at most the timeout plus the spread delay.
        deadline = time.monotonic() + self.timeout
        in_line = self._in_line
        handed = [collector for collector in self.collectors if collector.name not in in_line]
        # The workers' collectors are started first, to run while this thread runs the others.
        batch, worker_calls = self._workers.start_batch(
            [(collector.name, self._calls[collector.name]) for collector in handed]
        )
        calls = dict(zip([c.name for c in handed], worker_calls, strict=True))
        # An in-line collector's outcome is recorded as it returns: no Call (and its lock) to wait on.
        produced_by: dict[str, Families | list[Metric] | None] = {}
        for collector in self.collectors:
            if collector.name in in_line:
                produced_by[collector.name] = self._run_in_line(collector)
        if handed and not batch.wait(self._spread_after):
            self._workers.spread(batch)
        metrics: list[Part] = []
        for collector in handed:
            call = calls[collector.name]
            finished = call.fresh and call.wait(max(deadline, call.started + self.timeout) - time.monotonic())
            if finished:
                produced_by[collector.name] = self._outcome(collector.name, call)
            else:
                produced_by[collector.name] = None
                self._overran(collector.name, call)
            self.health[collector.name].duration = call.running_for()
        for collector in self.collectors:
            produced = produced_by[collector.name]
            if isinstance(produced, Families):
                metrics.append(produced)
            elif produced is not None:
                metrics.extend(produced)
        metrics.extend(self._self_metrics())
        return metrics

    def _run_in_line(self, collector: Collector) -> Families | list[Metric] | None:
        """Run a collector on this thread; its metrics, or None when it failed (recorded in its health)."""
        health = self.health[collector.name]
        started = time.monotonic()
        produced: Families | list[Metric] | None = None
        try:
            produced = self._calls[collector.name]()
        except Exception as exc:
            self._raised(collector.name, health, exc)
        else:
            self._succeeded(collector.name, health)
        health.duration = time.monotonic() - started
        return produced

    def _self_metrics(self) -> list[Metric]:
        """The exporter's own families, their lines written from the kept series text (only values formatted)."""
        success: list[str] = []
        duration: list[str] = []
        success_rows: list[tuple[dict[str, str], float]] = []
        duration_rows: list[tuple[dict[str, str], float]] = []
        for name, health in self.health.items():
            label = self._collector_labels[name]
            ok = 1.0 if health.success else 0.0
            success.append(f"{label.text(_SUCCESS)}{'1' if health.success else '0'}\n")
            duration.append(f"{label.text(_DURATION)}{format_value(health.duration)}\n")
            success_rows.append((label, ok))
            duration_rows.append((label, health.duration))
        build = _self_family(_BUILD_INFO, [f"{self._build_labels.text(_BUILD_INFO)}1\n"], [(self._build_labels, 1.0)])
        if not success:  # no collectors: a family is exposed only with a sample
            return [build]
        return [_self_family(_SUCCESS, success, success_rows), _self_family(_DURATION, duration, duration_rows), build]

    def _overran(self, name: str, call: Call) -> None:
        # The same words on every scrape while it hangs (logged once); its duration tells how long.
        self._failed(
            name,
            self.health[name],
            f"timed out: still running after the {self.timeout:g}s deadline; not started again until it returns",
        )

    def _outcome(self, name: str, call: Call) -> Families | list[Metric] | None:
        health = self.health[name]
        try:
            produced: Families | list[Metric] = call.result()
        except Exception as exc:
            self._raised(name, health, exc)
            return None
        self._succeeded(name, health)
        return produced

    def _raised(self, name: str, health: CollectorHealth, exc: Exception) -> None:
        """A collector raised: a CollectorFailed says why in its own words; anything else is a bug or surprise
        in one collector, which must not cost the scrape."""
        if isinstance(exc, CollectorFailed):
            self._failed(name, health, str(exc))
            return
        self._failed(name, health, f"{type(exc).__name__}: {exc}")
        log.debug("collector %s raised", name, exc_info=(type(exc), exc, exc.__traceback__))

    @staticmethod
    def _succeeded(name: str, health: CollectorHealth) -> None:
        if not health.success and health.last_error is not None:
            log.info("collector %s recovered", name)
        health.success = True
        health.last_success = time.time()

    @staticmethod
    def _failed(name: str, health: CollectorHealth, message: str) -> None:
        # Log a failure when it starts or changes, not on every scrape of a host without a GPU.
        if health.success or health.last_error != message:
            log.error("collector %s failed: %s", name, message)
        health.success = False
        health.last_error = message
        health.last_error_time = time.time()
