"""Settings shared by the collectors, filled from flags and environment by the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .registry import DEFAULT_TIMEOUT_S

# node_exporter 1.5's defaults, so both exporters see the same filesystems, disks and links.
DEFAULT_MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|"
    r"var/lib/containers/storage/.+)($|/)"
)
DEFAULT_FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    r"iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|"
    r"squashfs|sysfs|tracefs)$"
)
DEFAULT_DISK_DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"


@dataclass
class Options:
    """Everything a collector may need to know about the host and the operator's choices."""

    procfs: str = "/proc"
    rootfs: str = "/"
    mount_points_exclude: str = DEFAULT_MOUNT_POINTS_EXCLUDE
    fs_types_exclude: str = DEFAULT_FS_TYPES_EXCLUDE
    mount_timeout: float = 5.0
    # --collector.timeout: a collector that bounds its own blocking calls (the filesystem one, run
    # on the scraping thread) gives up at this deadline, as the registry does for the others.
    collector_timeout: float = DEFAULT_TIMEOUT_S
    disk_device_exclude: str = DEFAULT_DISK_DEVICE_EXCLUDE
    netdev_device_exclude: str = ""
    gpu_processes: bool = False
    gpu_timeout: float = 2.0
    gpu_slow_interval: float = 10.0
    gpu_retry_interval: float = 30.0
    gpu_max_age: float = 60.0
    probe_config: str = ""  # --probe.config: LLM probe targets (the llm_probe collector runs only with one)

    def proc(self, *parts: str) -> str:
        """A path under the procfs mount."""
        return os.path.join(self.procfs, *parts)

    def root(self, path: str) -> str:
        """A host path as seen through the rootfs mount."""
        return os.path.join(self.rootfs, path.lstrip("/")) if self.rootfs != "/" else path
