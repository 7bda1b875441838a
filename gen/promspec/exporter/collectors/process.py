"""The exporter's own process_* metrics (CPU, memory, file descriptors)."""

from __future__ import annotations

import os
import resource

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import ProcFile, is_procfs_mount
from ..registry import FamiliesCollector, StatelessCollector

SPECS = {
    "process_virtual_memory_bytes": Spec("gauge", "Virtual memory size in bytes."),
    "process_resident_memory_bytes": Spec("gauge", "Resident memory size in bytes."),
    "process_start_time_seconds": Spec("gauge", "Start time of the process since unix epoch in seconds."),
    "process_cpu_seconds_total": Spec("counter", "Total user and system CPU time spent in seconds."),
    "process_open_fds": Spec("gauge", "Number of open file descriptors."),
    "process_max_fds": Spec("gauge", "Maximum number of open file descriptors."),
}
# Always this process's own /proc, whatever --path.procfs points at.
_PROC = "/proc"


def _self_stat_fields(stat: ProcFile) -> list[bytes]:
    """The fields of /proc/self/stat after the command name (which may hold spaces and parentheses)."""
    return stat.read().rpartition(b")")[2].split()


def _boot_time(proc: str) -> float:
    with open(f"{proc}/stat", "rb") as handle:
        for line in handle:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    return 0.0


class ProcessCollector(StatelessCollector, FamiliesCollector):
    """The series of prometheus_client's process collector, names, help, order and values alike.

    Leaner per scrape (a tenth of a small host's scrape went to it): one read of /proc/self/stat,
    the fd count, and the soft file limit from getrlimit() rather than parsing /proc/self/limits;
    what cannot change while the process runs (its start time, the page size, the clock tick) is
    read once.
    """

    name = "process"

    def __init__(self, options: Options, proc: str = _PROC):
        self._proc = proc
        self.in_line = is_procfs_mount(proc)
        self._stat = ProcFile(f"{proc}/self/stat", keep=self.in_line)
        self._ticks = float(os.sysconf("SC_CLK_TCK"))
        self._page_size = resource.getpagesize()
        # prometheus_client serves nothing when the boot time cannot be read: the same here.
        try:
            self._boot_time = _boot_time(proc)
        except OSError:
            self._boot_time = 0.0
        self._start_time: float | None = None  # from the first read of /proc/self/stat on

    def close(self) -> None:
        """Close the kept /proc descriptors."""
        self._stat.close()

    def collect_families(self) -> Families:
        """Six series about this process (fewer where /proc does not answer, as prometheus_client)."""
        if not self._boot_time:
            return Families(SPECS)  # no family
        families = Families(SPECS)
        try:
            parts = _self_stat_fields(self._stat)
        except OSError:
            pass
        else:
            ticks = self._ticks
            if self._start_time is None:
                self._start_time = float(parts[19]) / ticks + self._boot_time
            families.add("process_virtual_memory_bytes", {}, float(parts[20]))
            families.add("process_resident_memory_bytes", {}, float(parts[21]) * self._page_size)
            families.add("process_start_time_seconds", {}, self._start_time)
            families.add("process_cpu_seconds_total", {}, float(parts[11]) / ticks + float(parts[12]) / ticks)
        try:
            open_fds = len(os.listdir(f"{self._proc}/self/fd"))
        except OSError:
            pass
        else:
            families.add("process_open_fds", {}, open_fds)
            families.add("process_max_fds", {}, float(resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
        return families
