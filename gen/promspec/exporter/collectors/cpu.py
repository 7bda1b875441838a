"""node_cpu_seconds_total from /proc/stat, as node_exporter names it."""

from __future__ import annotations

import os

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import read_lines
from ..registry import StatelessCollector

SPECS = {
    "node_cpu_seconds_total": Spec("counter", "Seconds the CPUs spent in each mode.", ("cpu", "mode")),
}
_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


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
        lines = read_lines(self._path)
        for line in lines:
            if not line.startswith(b"cpu") or line[3:4] == b" ":
                continue
            fields = line.split()
            cpu = fields[0][3:].decode()
            for mode, ticks in zip(_MODES, fields[1:9]):
                families.add("node_cpu_seconds_total", {"cpu": cpu, "mode": mode}, int(ticks) / hz)
        return families.metrics()
