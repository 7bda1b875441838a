"""node_load1/5/15 from /proc/loadavg."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import parse_loadavg, read_parsed
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

    def collect(self) -> list[Metric]:
        """Three gauges."""
        families = Families(SPECS)
        load = read_parsed(self._path, parse_loadavg)
        families.add("node_load1", {}, load.load1)
        families.add("node_load5", {}, load.load5)
        families.add("node_load15", {}, load.load15)
        return families.metrics()
