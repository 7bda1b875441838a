"""The exporter's own process_* metrics (CPU, memory, file descriptors)."""

from __future__ import annotations

from prometheus_client import ProcessCollector as _ClientProcessCollector
from prometheus_client.metrics_core import Metric

from ..metrics import Spec
from ..options import Options
from ..registry import StatelessCollector

SPECS = {
    "process_cpu_seconds_total": Spec("counter", "Total user and system CPU time spent in seconds."),
    "process_virtual_memory_bytes": Spec("gauge", "Virtual memory size in bytes."),
    "process_resident_memory_bytes": Spec("gauge", "Resident memory size in bytes."),
    "process_start_time_seconds": Spec("gauge", "Start time of the process since unix epoch in seconds."),
    "process_open_fds": Spec("gauge", "Number of open file descriptors."),
    "process_max_fds": Spec("gauge", "Maximum number of open file descriptors."),
}


class ProcessCollector(StatelessCollector):
    """prometheus_client's process collector, run under the registry's isolation and timing."""

    name = "process"

    def __init__(self, options: Options):
        # Always this process's own /proc, whatever --path.procfs points at.
        self._inner = _ClientProcessCollector(pid=lambda: "self", proc="/proc", registry=None)

    def collect(self) -> list[Metric]:
        """Six series about this process."""
        return list(self._inner.collect())
