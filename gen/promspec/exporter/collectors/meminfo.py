"""node_memory_*_bytes from /proc/meminfo, for the fields dashboards and alerts use."""

from __future__ import annotations

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import read_lines
from ..registry import StatelessCollector

# A fixed set rather than every line: the catalog stays the same on every kernel since 3.14.
_FIELDS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "SwapTotal",
           "SwapFree", "Active", "Inactive", "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem",
           "Slab", "SReclaimable", "SUnreclaim", "PageTables", "CommitLimit", "Committed_AS")
SPECS = {f"node_memory_{field}_bytes": Spec("gauge", f"Memory information field {field}_bytes.")
         for field in _FIELDS}
_NAMES = {field.encode(): f"node_memory_{field}_bytes" for field in _FIELDS}


class MeminfoCollector(StatelessCollector):
    """Memory and swap sizes."""

    name = "meminfo"

    def __init__(self, options: Options):
        self._path = options.proc("meminfo")

    def collect(self) -> list:
        """One gauge per field present on this kernel."""
        families = Families(SPECS)
        lines = read_lines(self._path)
        for line in lines:
            key, _, rest = line.partition(b":")
            name = _NAMES.get(key)
            if name is not None:
                value, _, unit = rest.strip().partition(b" ")
                families.add(name, {}, int(value) * (1024 if unit == b"kB" else 1))
        return families.metrics()
