"""node_filesystem_* for each real mount, as node_exporter names them."""

from __future__ import annotations

import os
import re
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError as FutureTimeout

from ..metrics import Families, Spec
from ..options import Options
from ..procfs import read_lines
from ..registry import CollectorFailed

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
# statfs() on these can block for minutes when the server is gone; they get a timeout.
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.glusterfs", "9p", "afs",
               "lustre", "gpfs", "fuse.sshfs", "fuse.s3fs", "beegfs"}
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field.decode(errors="replace"))


class FilesystemCollector:
    """Size, free and available bytes and inodes per mount point."""

    name = "filesystem"

    def __init__(self, options: Options):
        self._mount_files = (options.proc("1", "mounts"), options.proc("mounts"))
        self._mount_points_exclude = re.compile(options.mount_points_exclude)
        self._fs_types_exclude = re.compile(options.fs_types_exclude)
        self._timeout = options.mount_timeout
        self._root = options.root
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict = {}

    def collect(self) -> list:
        """Seven gauges per mount; a mount whose statfs fails or hangs gets device_error 1."""
        families = Families(SPECS)
        for device, mountpoint, fstype, readonly in self._mounts():
            labels = {"device": device, "fstype": fstype, "mountpoint": mountpoint}
            try:
                stat = self._statvfs(mountpoint, fstype)
            except (OSError, FutureTimeout):
                families.add("node_filesystem_device_error", labels, 1)
                continue
            families.add("node_filesystem_size_bytes", labels, stat.f_blocks * stat.f_frsize)
            families.add("node_filesystem_free_bytes", labels, stat.f_bfree * stat.f_frsize)
            families.add("node_filesystem_avail_bytes", labels, stat.f_bavail * stat.f_frsize)
            families.add("node_filesystem_files", labels, stat.f_files)
            families.add("node_filesystem_files_free", labels, stat.f_ffree)
            families.add("node_filesystem_readonly", labels, readonly)
            families.add("node_filesystem_device_error", labels, 0)
        return families.metrics()

    def close(self) -> None:
        """Let go of the threads that wait on network mounts."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def _mounts(self) -> list:
        lines = None
        for path in self._mount_files:
            try:
                lines = read_lines(path)
                break
            except OSError:
                continue
        if lines is None:
            raise CollectorFailed(f"cannot read the mount table ({' or '.join(self._mount_files)})")
        # A later mount on the same point hides the earlier one: keep the last, as the kernel does.
        mounts: dict = {}
        for line in lines:
            fields = line.split()
            if len(fields) < 4:
                continue
            mountpoint, fstype = _unescape(fields[1]), fields[2].decode()
            if self._mount_points_exclude.search(mountpoint) or self._fs_types_exclude.search(fstype):
                continue
            readonly = 1 if b"ro" in fields[3].split(b",") else 0
            mounts.pop(mountpoint, None)
            mounts[mountpoint] = (_unescape(fields[0]), mountpoint, fstype, readonly)
        return list(mounts.values())

    def _statvfs(self, mountpoint: str, fstype: str):
        path = self._root(mountpoint)
        if fstype not in _NETWORK_FS:
            return os.statvfs(path)
        pending: Future | None = self._pending.get(mountpoint)
        if pending is None or pending.done():
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="statfs")
            pending = self._pending[mountpoint] = self._pool.submit(os.statvfs, path)
        # A call still stuck from an earlier scrape is not repeated; it is waited on again.
        return pending.result(timeout=self._timeout)
