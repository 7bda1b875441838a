"""node_filesystem_* for each real mount, as node_exporter names them."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from ..metrics import Families, KeptLabels, Spec
from ..options import Options
from ..procfs import Mount, ProcFile, is_procfs_mount, parse_file, parse_mounts
from ..registry import CollectorFailed, FamiliesCollector, Workers

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
        "gauge", "Whether an error occurred while getting statistics for the given device.", _LABELS
    ),
}


PROBERS = 4  # threads that statfs the mounts of one scrape between them, at most
# A scrape's mounts go to one prober (one thread hand-off per scrape: statfs itself takes
# microseconds); when its current mount has not answered after this long, another prober takes
# the mounts still to do, up to PROBERS, so a slow or hung mount delays the others by this much.
SPREAD_AFTER_S = 0.01


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(kw_only=True)
class _Prober:
    """One thread's progress through a scrape's mounts: the mount it is on, since when."""

    mount: Mount | None = None
    started: float = 0.0
    abandoned: bool = False  # its call overran: the mount is stuck and this thread stays with it
    finished: bool = False  # no mounts left for it: its thread is gone back to the idle workers
    # Held until it finishes: the scrape's first prober is waited on through this bare lock, cheaper than
    # the Condition's waiter (a lock made per wait) when every mount answers at once, as they nearly always do.
    done: threading.Lock = field(default_factory=_held_lock)


class FilesystemCollector(FamiliesCollector):
    """Size, free and available bytes and inodes per mount point.

    statfs() runs under --collector.filesystem.mount-timeout for every mount, whatever its type: a
    FUSE or local mount can hang as well as NFS. A prober thread takes the mounts in turn (a
    thread handoff per mount would cost more than the statfs calls), joined by up to PROBERS - 1
    more while a mount is slow to answer; one whose call overruns is left with its mount, which is
    then skipped (device_error 1) until that call returns, and a new prober takes over the rest. So
    a hung mount holds one thread in all, never one per scrape (node_exporter's stuck-mount
    handling), and each mount gets the whole timeout from its own start.

    On a procfs mount table (`in_line`), the registry runs it on the scraping thread: its one
    blocking call, statfs, is on the probers, and the wait for them ends at --collector.timeout at
    the latest (the registry's deadline), when the mounts still out are left to their probers,
    skipped until they answer, and the collector reports the failure. The mount table itself is a
    procfs file, made by the kernel from memory.
    """

    name = "filesystem"

    def __init__(self, options: Options, statfs: Callable[[str], os.statvfs_result] = os.statvfs):
        self.in_line = is_procfs_mount(options.procfs)
        self._mount_files = tuple(
            ProcFile(path, keep=self.in_line) for path in (options.proc("1", "mounts"), options.proc("mounts"))
        )
        self._deadline = options.collector_timeout
        self._mount_points_exclude = re.compile(options.mount_points_exclude)
        self._fs_types_exclude = re.compile(options.fs_types_exclude)
        self._timeout = options.mount_timeout
        self._spread_after = min(SPREAD_AFTER_S, self._timeout / 4)
        self._root = options.root
        self._statfs = statfs
        self._workers = Workers("statfs", idle_max=PROBERS)
        self._labels = KeptLabels(_LABELS)
        self._last_table: bytes | None = None  # the mount table last read, and the mounts kept from it
        self._last_mounts: list[Mount] = []
        self._probers_started = 0
        # Guards _stuck (shared with abandoned probers that return late) and each scrape's progress.
        self._changed = threading.Condition()
        self._stuck: set[str] = set()

    def collect_families(self) -> Families:
        """Seven gauges per mount; a mount whose statfs fails or hangs gets device_error 1."""
        families = Families(SPECS)
        mounts = self._mounts()
        stats = self._probe(mounts)
        for mount in mounts:
            labels = self._labels.get((mount.device, mount.fstype, mount.mountpoint))
            stat = stats.get(mount.mountpoint)
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
        return families

    def close(self) -> None:
        """Close the kept mount table; nothing to wait for: the probers are daemon threads, and a hung
        statfs never holds up exit."""
        for file in self._mount_files:
            file.close()

    def threads(self) -> int:
        """Prober threads alive (idle, probing, or stuck with a mount), for tests of the no-pile-up promise."""
        return self._workers.threads()

    def _probe(self, mounts: list[Mount]) -> dict[str, os.statvfs_result | None]:
        """mountpoint -> statvfs result, or None for a mount that failed, overran or is still stuck."""
        results: dict[str, os.statvfs_result | None] = {}
        timeout, spread_after = self._timeout, self._spread_after
        give_up = time.monotonic() + self._deadline
        with self._changed:
            todo = deque(m for m in mounts if m.mountpoint not in self._stuck)
            if not todo:
                return results
            first = self._start_prober(todo, results)
        # The common case: one prober answers every mount before another would be started.
        if first.done.acquire(timeout=spread_after):
            return results
        with self._changed:
            probers = [first]
            while True:
                now = time.monotonic()
                for prober in probers:
                    if prober.mount is not None and not prober.abandoned and now - prober.started >= timeout:
                        self._abandon(prober)
                active = [p for p in probers if not p.abandoned and not p.finished]
                probing = [p for p in active if p.mount is not None]
                if not todo and not probing:
                    break
                if now >= give_up:
                    self._give_up(probing, todo)
                # None left to take the rest, or every one busy with a mount slow to answer: one more.
                if todo and (
                    not active
                    or (
                        len(active) < PROBERS
                        and len(probing) == len(active)
                        and all(now - p.started >= spread_after for p in probing)
                    )
                ):
                    probers.append(self._start_prober(todo, results))
                    continue
                wake = [p.started + timeout for p in probing]
                if todo and len(active) < PROBERS:
                    wake += [p.started + spread_after for p in probing]
                self._changed.wait(max(min(min(wake, default=now + 0.05), give_up) - now, 0.001))
        return results

    def _give_up(self, probing: list[_Prober], todo: deque[Mount]) -> None:
        """The collector's deadline passed with mounts unanswered: leave them and fail (lock held)."""
        left = len(probing) + len(todo)
        for prober in probing:
            # Each still within its mount timeout: skipped like a stuck mount until its call returns.
            assert prober.mount is not None
            prober.abandoned = True
            self._stuck.add(prober.mount.mountpoint)
        todo.clear()  # the probers still running stop after their current mount
        raise CollectorFailed(
            f"timed out: {left} mount(s) not answered within the {self._deadline:g}s deadline"
            f" ({PROBERS} probers, --collector.filesystem.mount-timeout {self._timeout:g}s each)"
        )

    def _abandon(self, prober: _Prober) -> None:
        mount = prober.mount
        assert mount is not None
        prober.abandoned = True
        self._stuck.add(mount.mountpoint)
        log.warning(
            "filesystem %s (%s): statfs did not return within %gs; skipped until it does",
            mount.mountpoint,
            mount.fstype,
            self._timeout,
        )

    def _start_prober(self, todo: deque[Mount], results: dict[str, os.statvfs_result | None]) -> _Prober:
        prober = _Prober()
        self._probers_started += 1
        self._workers.start(f"prober-{self._probers_started}", partial(self._run_prober, prober, todo, results))
        return prober

    def _run_prober(self, prober: _Prober, todo: deque[Mount], results: dict[str, os.statvfs_result | None]) -> None:
        while True:
            with self._changed:
                if not todo:
                    prober.mount = None
                    prober.finished = True
                    self._changed.notify_all()
                    prober.done.release()
                    return
                mount = prober.mount = todo.popleft()
                prober.started = time.monotonic()
            try:
                stat = self._statfs(self._root(mount.mountpoint))
            except Exception as exc:  # OSError mostly; whatever it is, this mount alone reports the error
                log.debug("statfs %s: %s", mount.mountpoint, exc)
                stat = None
            with self._changed:
                if prober.abandoned:
                    # Answered after all: probe it again from the next scrape on.
                    self._stuck.discard(mount.mountpoint)
                    log.info("filesystem %s answers statfs again", mount.mountpoint)
                    return
                results[mount.mountpoint] = stat
                prober.mount = None

    def _mounts(self) -> list[Mount]:
        for file in self._mount_files:
            try:
                table = file.read()
                break
            except OSError:
                continue
        else:
            raise CollectorFailed(f"cannot read the mount table ({' or '.join(f.path for f in self._mount_files)})")
        # The table rarely changes between scrapes: the same bytes give the same mounts, parsed once.
        if table == self._last_table:
            return self._last_mounts
        mounts = parse_file(file.path, table, parse_mounts)
        # A later mount on the same point hides the earlier one: keep the last, as the kernel does.
        kept: dict[str, Mount] = {}
        for mount in mounts:
            if self._mount_points_exclude.search(mount.mountpoint) or self._fs_types_exclude.search(mount.fstype):
                continue
            kept.pop(mount.mountpoint, None)
            kept[mount.mountpoint] = mount
        self._last_table, self._last_mounts = table, list(kept.values())
        return self._last_mounts
