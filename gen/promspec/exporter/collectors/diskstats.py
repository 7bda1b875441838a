"""node_disk_* from /proc/diskstats, as node_exporter names them."""

from __future__ import annotations

import re
from functools import partial

from ..metrics import Families, KeptLabels, Spec
from ..options import Options
from ..procfs import ProcFile, is_procfs_mount, parse_diskstats, read_file_parsed
from ..registry import FamiliesCollector, StatelessCollector

_SECTOR = 512.0  # the kernel counts diskstats sectors in 512-byte units whatever the device
_MS = 0.001
# (name, column after "major minor name", scale, help)
_COLUMNS = (
    ("node_disk_reads_completed_total", 0, 1, "The total number of reads completed successfully."),
    ("node_disk_reads_merged_total", 1, 1, "The total number of reads merged."),
    ("node_disk_read_bytes_total", 2, _SECTOR, "The total number of bytes read successfully."),
    ("node_disk_read_time_seconds_total", 3, _MS, "The total number of seconds spent by all reads."),
    ("node_disk_writes_completed_total", 4, 1, "The total number of writes completed successfully."),
    ("node_disk_writes_merged_total", 5, 1, "The number of writes merged."),
    ("node_disk_written_bytes_total", 6, _SECTOR, "The total number of bytes written successfully."),
    ("node_disk_write_time_seconds_total", 7, _MS, "The total number of seconds spent by all writes."),
    ("node_disk_io_now", 8, 1, "The number of I/Os currently in progress."),
    ("node_disk_io_time_seconds_total", 9, _MS, "Total seconds spent doing I/Os."),
    ("node_disk_io_time_weighted_seconds_total", 10, _MS, "The weighted # of seconds spent doing I/Os."),
)
SPECS = {
    name: Spec("gauge" if name == "node_disk_io_now" else "counter", help_text, ("device",))
    for name, _, _, help_text in _COLUMNS
}


class DiskstatsCollector(StatelessCollector, FamiliesCollector):
    """I/O counters per block device (partitions and loop devices left out, as node_exporter does)."""

    name = "diskstats"

    def __init__(self, options: Options):
        self.in_line = is_procfs_mount(options.procfs)
        self._file = ProcFile(options.proc("diskstats"), keep=self.in_line)
        self._exclude = re.compile(options.disk_device_exclude)
        self._labels = KeptLabels(("device",))
        # device -> whether it is served: the same few names every scrape. Bounded like the label sets.
        self._wanted: dict[str, bool] = {}
        self._parse = partial(parse_diskstats, wanted=self._is_wanted)

    def _is_wanted(self, device: str) -> bool:
        wanted = self._wanted.get(device)
        if wanted is None:
            if len(self._wanted) >= 4096:
                self._wanted.clear()
            wanted = self._wanted[device] = not self._exclude.search(device)
        return wanted

    def close(self) -> None:
        """Close the kept /proc descriptors."""
        self._file.close()

    def collect_families(self) -> Families:
        """Eleven series per device."""
        families = Families(SPECS)
        for disk in read_file_parsed(self._file, self._parse):
            labels = self._labels.get((disk.device,))
            for name, column, scale, _ in _COLUMNS:
                families.add(name, labels, disk.values[column] * scale)
        return families
