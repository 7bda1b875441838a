"""node_pressure_* from /proc/pressure (PSI), as node_exporter names them."""

from __future__ import annotations

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import read_lines
from ..registry import CollectorFailed, StatelessCollector

SPECS = {
    "node_pressure_cpu_waiting_seconds_total": Spec(
        "counter", "Total time in seconds that processes have waited for CPU time."),
    "node_pressure_memory_waiting_seconds_total": Spec(
        "counter", "Total time in seconds that processes have waited for memory."),
    "node_pressure_memory_stalled_seconds_total": Spec(
        "counter", "Total time in seconds no process could make progress due to memory congestion."),
    "node_pressure_io_waiting_seconds_total": Spec(
        "counter", "Total time in seconds that processes have waited due to IO congestion."),
    "node_pressure_io_stalled_seconds_total": Spec(
        "counter", "Total time in seconds no process could make progress due to IO congestion."),
}
_KINDS = {b"some": "waiting", b"full": "stalled"}


class PressureCollector(StatelessCollector):
    """Pressure stall information for CPU, memory and I/O."""

    name = "pressure"

    def __init__(self, options: Options):
        self._paths = {resource: options.proc("pressure", resource) for resource in ("cpu", "memory", "io")}

    def collect(self) -> list:
        """Waiting ('some') and stalled ('full') seconds per resource."""
        families = Families(SPECS)
        for resource, path in self._paths.items():
            try:
                lines = read_lines(path)
            except FileNotFoundError as exc:
                raise CollectorFailed(f"pressure information is unavailable ({path}): kernel without PSI") from exc
            for line in lines:
                kind, _, rest = line.partition(b" ")
                name = f"node_pressure_{resource}_{_KINDS.get(kind, '')}_seconds_total"
                if name in SPECS:
                    total = rest.rpartition(b"total=")[2]
                    families.add(name, {}, int(total) / 1e6)
        return families.metrics()
