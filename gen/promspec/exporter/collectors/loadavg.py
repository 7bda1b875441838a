"""node_load1/5/15 from /proc/loadavg."""

from __future__ import annotations

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import ProcFile, is_procfs_mount, parse_loadavg, read_file_parsed
from ..registry import FamiliesCollector, StatelessCollector

SPECS = {
    "node_load1": Spec("gauge", "1m load average."),
    "node_load5": Spec("gauge", "5m load average."),
    "node_load15": Spec("gauge", "15m load average."),
}


class LoadavgCollector(StatelessCollector, FamiliesCollector):
    """The kernel's load averages."""

    name = "loadavg"

    def __init__(self, options: Options):
        self.in_line = is_procfs_mount(options.procfs)
        self._file = ProcFile(options.proc("loadavg"), keep=self.in_line)

    def close(self) -> None:
        """Close the kept /proc descriptors."""
        self._file.close()

    def collect_families(self) -> Families:
        """Three gauges."""
        families = Families(SPECS)
        load = read_file_parsed(self._file, parse_loadavg)
        families.add("node_load1", {}, load.load1)
        families.add("node_load5", {}, load.load5)
        families.add("node_load15", {}, load.load15)
        return families
