"""node_cpu_seconds_total from /proc/stat, as node_exporter names it."""

from __future__ import annotations

import os

from prometheus_client.metrics_core import Metric

from ..metrics import Families, SeriesLabels, Spec
from ..options import Options
from ..procfs import CPU_MODES, parse_stat, read_parsed
from ..registry import StatelessCollector

SPECS = {
    "node_cpu_seconds_total": Spec("counter", "Seconds the CPUs spent in each mode.", ("cpu", "mode")),
}


class CpuCollector(StatelessCollector):
    """Per-CPU time by mode."""

    name = "cpu"

    def __init__(self, options: Options):
        self._path = options.proc("stat")
        self._hz = float(os.sysconf("SC_CLK_TCK"))
        # cpu -> one label set per mode, built on first sight and reused (never mutated): saves eight
        # dicts per CPU per scrape. Bounded by the CPUs the host ever had.
        self._labels: dict[str, tuple[SeriesLabels, ...]] = {}

    def collect(self) -> list[Metric]:
        """One counter per CPU and mode."""
        families = Families(SPECS)
        hz = self._hz
        known = self._labels
        series: list[tuple[dict[str, str], float]] = []
        for cpu in read_parsed(self._path, parse_stat):
            labels = known.get(cpu.cpu)
            if labels is None:
                labels = known[cpu.cpu] = tuple(SeriesLabels({"cpu": cpu.cpu, "mode": mode}) for mode in CPU_MODES)
            series += zip(labels, [ticks / hz for ticks in cpu.ticks], strict=True)
        families.add_all("node_cpu_seconds_total", series)
        return families.metrics()
