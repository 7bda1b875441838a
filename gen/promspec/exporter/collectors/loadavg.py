"""node_load1/5/15 from /proc/loadavg."""

from __future__ import annotations

from ..metrics import Families, Spec
from ..options import Options
from ..registry import StatelessCollector

SPECS = {
    "node_load1": Spec("gauge", "1m load average."),
    "node_load5": Spec("gauge", "5m load average."),
    "node_load15": Spec("gauge", "15m load average."),
}


class LoadavgCollector(StatelessCollector):
    """The kernel's load averages."""

    name = "loadavg"

    def __init__(self, options: Options):
        self._path = options.proc("loadavg")

    def collect(self) -> list:
        """Three gauges."""
        families = Families(SPECS)
        with open(self._path, "rb") as handle:
            fields = handle.read().split()
        for name, value in zip(SPECS, fields):
            families.add(name, {}, float(value))
        return families.metrics()
