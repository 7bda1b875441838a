"""node_pressure_* from /proc/pressure (PSI), as node_exporter names them."""

from __future__ import annotations

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import ProcFile, is_procfs_mount, parse_pressure, read_file_parsed
from ..registry import CollectorFailed, FamiliesCollector, StatelessCollector

SPECS = {
    "node_pressure_cpu_waiting_seconds_total": Spec(
        "counter", "Total time in seconds that processes have waited for CPU time."
    ),
    "node_pressure_memory_waiting_seconds_total": Spec(
        "counter", "Total time in seconds that processes have waited for memory."
    ),
    "node_pressure_memory_stalled_seconds_total": Spec(
        "counter", "Total time in seconds no process could make progress due to memory congestion."
    ),
    "node_pressure_io_waiting_seconds_total": Spec(
        "counter", "Total time in seconds that processes have waited due to IO congestion."
    ),
    "node_pressure_io_stalled_seconds_total": Spec(
        "counter", "Total time in seconds no process could make progress due to IO congestion."
    ),
}


class PressureCollector(StatelessCollector, FamiliesCollector):
    """Pressure stall information for CPU, memory and I/O."""

    name = "pressure"

    def __init__(self, options: Options):
        self.in_line = is_procfs_mount(options.procfs)
        self._files = {
            resource: ProcFile(options.proc("pressure", resource), keep=self.in_line)
            for resource in ("cpu", "memory", "io")
        }

    def close(self) -> None:
        """Close the kept /proc descriptors."""
        for file in self._files.values():
            file.close()

    def collect_families(self) -> Families:
        """Waiting ('some') and stalled ('full') seconds per resource."""
        families = Families(SPECS)
        for resource, file in self._files.items():
            try:
                pressure = read_file_parsed(file, parse_pressure)
            except FileNotFoundError as exc:
                raise CollectorFailed(f"pressure information is unavailable ({file.path}): kernel without PSI") from exc
            families.add(f"node_pressure_{resource}_waiting_seconds_total", {}, pressure.some_us / 1e6)
            stalled = f"node_pressure_{resource}_stalled_seconds_total"
            # node_exporter 1.5 has no CPU 'full' family, though newer kernels write the line.
            if pressure.full_us is not None and stalled in SPECS:
                families.add(stalled, {}, pressure.full_us / 1e6)
        return families
