"""node_cpu_seconds_total from /proc/stat, as node_exporter names it."""

from __future__ import annotations

import os

from ..metrics import Families, Spec
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

    def collect(self) -> list:
        """One counter per CPU and mode."""
        families = Families(SPECS)
        hz = self._hz
        for cpu in read_parsed(self._path, parse_stat):
            for mode, ticks in zip(CPU_MODES, cpu.ticks, strict=True):
                families.add("node_cpu_seconds_total", {"cpu": cpu.cpu, "mode": mode}, ticks / hz)
        return families.metrics()
