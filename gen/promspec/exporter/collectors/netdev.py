"""node_network_* from /proc/net/dev, as node_exporter names them."""

from __future__ import annotations

import re

from ..metrics import Families, KeptLabels, Spec
from ..options import Options
from ..procfs import ProcFile, is_procfs_mount, parse_netdev, read_file_parsed
from ..registry import FamiliesCollector, StatelessCollector

# (name, column after "iface:")
_COLUMNS = (
    ("node_network_receive_bytes_total", 0),
    ("node_network_receive_packets_total", 1),
    ("node_network_receive_errs_total", 2),
    ("node_network_receive_drop_total", 3),
    ("node_network_transmit_bytes_total", 8),
    ("node_network_transmit_packets_total", 9),
    ("node_network_transmit_errs_total", 10),
    ("node_network_transmit_drop_total", 11),
)
SPECS = {name: Spec("counter", f"Network device statistic {name[13:-6]}.", ("device",)) for name, _ in _COLUMNS}


class NetdevCollector(StatelessCollector, FamiliesCollector):
    """Bytes, packets, errors and drops per network interface."""

    name = "netdev"

    def __init__(self, options: Options):
        self.in_line = is_procfs_mount(options.procfs)
        self._file = ProcFile(options.proc("net", "dev"), keep=self.in_line)
        self._exclude = re.compile(options.netdev_device_exclude) if options.netdev_device_exclude else None
        self._labels = KeptLabels(("device",))

    def close(self) -> None:
        """Close the kept /proc descriptors."""
        self._file.close()

    def collect_families(self) -> Families:
        """Eight counters per interface."""
        families = Families(SPECS)
        for interface in read_file_parsed(self._file, parse_netdev):
            if self._exclude is not None and self._exclude.search(interface.device):
                continue
            labels = self._labels.get((interface.device,))
            for name, column in _COLUMNS:
                families.add(name, labels, interface.values[column])
        return families
