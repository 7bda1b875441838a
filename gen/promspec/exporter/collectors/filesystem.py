"""node_filesystem_* for each real mount, as node_exporter names them."""

from __future__ import annotations

import logging
import os
import re
import time
from functools import partial
from typing import Callable

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import Mount, parse_mounts, read_parsed
from ..registry import Call, CollectorFailed, Workers

log = logging.getLogger("promspec.exporter")

_LABELS = ("device", "fstype", "mountpoint")
SPECS = {
    "node_filesystem_size_bytes": Spec("gauge", "Filesystem size in bytes.", _LABELS),
    "node_filesystem_free_bytes": Spec("gauge", "Filesystem free space in bytes.", _LABELS),
    "node_filesystem_avail_bytes": Spec("gauge", "Filesystem space available to non-root users in bytes.", _LABELS),
    "node_filesystem_files": Spec("gauge", "Filesystem total file nodes.", _LABELS),
    "node_filesystem_files_free": Spec("gauge", "Filesystem total free file nodes.", _LABELS),
    "node_filesystem_readonly": Spec("gauge", "Filesystem read-only status.", _LABELS),
    "node_filesystem_device_error": Spec(
        "gauge", "Whether an error occurred while getting statistics for the given device.", _LABELS),
}


class FilesystemCollector:
    """Size, free and available bytes and inodes per mount point.

    statfs() runs on worker threads under --collector.filesystem.mount-timeout for every mount,
    whatever its type: a FUSE or local mount can hang as well as NFS. A mount whose call overran
    is skipped (device_error 1) until that call returns, so a hung mount holds one thread in all,
    not one per scrape (node_exporter's stuck-mount handling).
    """

    name = "filesystem"

    def __init__(self, options: Options, statfs: Callable[[str], os.statvfs_result] = os.statvfs):
        self._mount_files = (options.proc("1", "mounts"), options.proc("mounts"))
        self._mount_points_exclude = re.compile(options.mount_points_exclude)
        self._fs_types_exclude = re.compile(options.fs_types_exclude)
        self._timeout = options.mount_timeout
        self._root = options.root
        self._statfs = statfs
        self._workers = Workers("statfs")
        self._stuck: set = set()

    def collect(self) -> list:
        """Seven gauges per mount; a mount whose statfs fails or hangs gets device_error 1."""
        families = Families(SPECS)
        mounts = self._mounts()
        calls = [(mount, self._workers.start(mount.mountpoint, partial(self._statfs, self._root(mount.mountpoint))))
                 for mount in mounts]
        deadline = time.monotonic() + self._timeout
        for mount, call in calls:
            labels = {"device": mount.device, "fstype": mount.fstype, "mountpoint": mount.mountpoint}
            stat = self._answer(mount, call, deadline)
            if stat is None:
                families.add("node_filesystem_device_error", labels, 1)
                continue
            families.add("node_filesystem_size_bytes", labels, stat.f_blocks * stat.f_frsize)
            families.add("node_filesystem_free_bytes", labels, stat.f_bfree * stat.f_frsize)
            families.add("node_filesystem_avail_bytes", labels, stat.f_bavail * stat.f_frsize)
            families.add("node_filesystem_files", labels, stat.f_files)
            families.add("node_filesystem_files_free", labels, stat.f_ffree)
            families.add("node_filesystem_readonly", labels, 1 if mount.readonly else 0)
            families.add("node_filesystem_device_error", labels, 0)
        return families.metrics()

    def close(self) -> None:
        """Nothing to wait for: the worker threads are daemons, and a hung statfs never holds up exit."""

    def threads(self) -> int:
        """Worker threads alive, for tests of the no-pile-up promise."""
        return self._workers.threads()

    def _answer(self, mount: Mount, call: Call, deadline: float):
        if call.fresh and call.wait(deadline - time.monotonic()):
            if mount.mountpoint in self._stuck:
                self._stuck.discard(mount.mountpoint)
                log.info("filesystem %s answers statfs again", mount.mountpoint)
            try:
                return call.result()
            except OSError:
                return None
        if mount.mountpoint not in self._stuck:
            self._stuck.add(mount.mountpoint)
            log.warning("filesystem %s (%s): statfs did not return within %gs; skipped until it does",
                        mount.mountpoint, mount.fstype, self._timeout)
        return None

    def _mounts(self) -> list:
        for path in self._mount_files:
            try:
                mounts = read_parsed(path, parse_mounts)
                break
            except OSError:
                continue
        else:
            raise CollectorFailed(f"cannot read the mount table ({' or '.join(self._mount_files)})")
        # A later mount on the same point hides the earlier one: keep the last, as the kernel does.
        kept: dict = {}
        for mount in mounts:
            if self._mount_points_exclude.search(mount.mountpoint) or self._fs_types_exclude.search(mount.fstype):
                continue
            kept.pop(mount.mountpoint, None)
            kept[mount.mountpoint] = mount
        return list(kept.values())
