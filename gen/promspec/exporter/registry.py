"""Runs the collectors: each one isolated, timed and reported; one run shared by concurrent scrapes."""

from __future__ import annotations

import gzip
import logging
import platform
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Protocol

from prometheus_client.openmetrics.exposition import generate_latest as render_openmetrics

from . import __version__
from .metrics import Families, Spec, render_text

log = logging.getLogger("promspec.exporter")

TEXT = "text"
OPENMETRICS = "openmetrics"

SELF_SPECS = {
    "promspec_exporter_collector_success": Spec(
        "gauge", "1 when the collector produced its metrics in the last scrape, 0 when it failed.", ("collector",)),
    "promspec_exporter_collector_duration_seconds": Spec(
        "gauge", "Time the collector took in the last scrape.", ("collector",)),
    "promspec_exporter_build_info": Spec(
        "gauge", "Always 1; labels name the exporter version and the Python it runs on.",
        ("version", "python_version")),
}


class Collector(Protocol):
    """What the registry runs: a named source of metric families."""

    name: str

    def collect(self) -> list: ...

    def close(self) -> None: ...


class StatelessCollector:
    """Base for collectors that hold nothing between scrapes."""

    name = ""

    def close(self) -> None:
        """Nothing to release."""


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

    def as_json(self) -> dict:
        """This record as plain JSON values."""
        return {"success": self.success, "duration_seconds": round(self.duration, 6),
                "last_success": self.last_success, "last_error": self.last_error,
                "last_error_time": self.last_error_time}


class Snapshot:
    """The families of one collection run, rendered at most once per format and encoding."""

    def __init__(self, metrics: list):
        self.metrics = metrics
        self._bodies: dict = {}
        self._lock = threading.Lock()

    def collect(self) -> list:
        """The families, so prometheus_client's encoders can read a snapshot like a registry."""
        return self.metrics

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


class _Flight:
    __slots__ = ("done", "snapshot")

    def __init__(self):
        self.done = threading.Event()
        self.snapshot: Snapshot | None = None


class Registry:
    """The enabled collectors, run together on each scrape."""

    def __init__(self, collectors: Iterable[Collector]):
        self.collectors = list(collectors)
        self.health = {c.name: CollectorHealth() for c in self.collectors}
        self._lock = threading.Lock()
        self._flight: _Flight | None = None
        self._build_labels = {"version": __version__, "python_version": platform.python_version()}

    def gather(self) -> Snapshot:
        """Run every collector once; callers arriving meanwhile share that run instead of starting one."""
        with self._lock:
            flight = self._flight
            leader = flight is None
            if leader:
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

    def _collect_all(self) -> list:
        metrics: list = []
        own = Families(SELF_SPECS)
        for collector in self.collectors:
            start = time.perf_counter()
            produced = self._run(collector)
            duration = time.perf_counter() - start
            health = self.health[collector.name]
            health.duration = duration
            if produced is not None:
                metrics.extend(produced)
            label = {"collector": collector.name}
            own.add("promspec_exporter_collector_success", label, 1.0 if health.success else 0.0)
            own.add("promspec_exporter_collector_duration_seconds", label, duration)
        own.add("promspec_exporter_build_info", self._build_labels, 1.0)
        metrics.extend(own.metrics())
        return metrics

    def _run(self, collector: Collector) -> list | None:
        health = self.health[collector.name]
        try:
            produced = list(collector.collect())
        except CollectorFailed as exc:
            self._failed(collector.name, health, str(exc))
            return None
        except Exception as exc:  # a bug or surprise in one collector must not cost the scrape
            self._failed(collector.name, health, f"{type(exc).__name__}: {exc}")
            log.debug("collector %s raised", collector.name, exc_info=True)
            return None
        if not health.success and health.last_error is not None:
            log.info("collector %s recovered", collector.name)
        health.success = True
        health.last_success = time.time()
        return produced

    @staticmethod
    def _failed(name: str, health: CollectorHealth, message: str) -> None:
        # Log a failure when it starts or changes, not on every scrape of a host without a GPU.
        if health.success or health.last_error != message:
            log.error("collector %s failed: %s", name, message)
        health.success = False
        health.last_error = message
        health.last_error_time = time.time()
