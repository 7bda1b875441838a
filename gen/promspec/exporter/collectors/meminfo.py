"""node_memory_*_bytes from /proc/meminfo, for the fields dashboards and alerts use."""

from __future__ import annotations

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import ProcFile, is_procfs_mount, meminfo_parser, read_file_parsed
from ..registry import FamiliesCollector, StatelessCollector

# A fixed set rather than every line: the catalog stays the same on every kernel since 3.14.
_FIELDS = (
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapCached",
    "SwapTotal",
    "SwapFree",
    "Active",
    "Inactive",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Mapped",
    "Shmem",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "PageTables",
    "CommitLimit",
    "Committed_AS",
)
_NAMES = tuple((field, f"node_memory_{field}_bytes") for field in _FIELDS)
_PARSE = meminfo_parser(_FIELDS)
SPECS = {f"node_memory_{field}_bytes": Spec("gauge", f"Memory information field {field}_bytes.") for field in _FIELDS}


class MeminfoCollector(StatelessCollector, FamiliesCollector):
    """Memory and swap sizes."""

    name = "meminfo"

    def __init__(self, options: Options):
        self.in_line = is_procfs_mount(options.procfs)
        self._file = ProcFile(options.proc("meminfo"), keep=self.in_line)

    def close(self) -> None:
        """Close the kept /proc descriptors."""
        self._file.close()

    def collect_families(self) -> Families:
        """One gauge per field present on this kernel."""
        families = Families(SPECS)
        fields = read_file_parsed(self._file, _PARSE)
        add = families.add
        for field, name in _NAMES:
            if field in fields:
                add(name, {}, fields[field])
        return families
