"""Collectors and statfs under deadlines, with injected calls that block on an Event (no real hang needed)."""

import os
import threading
import time

import pytest

from promspec.exporter.collectors.filesystem import PROBERS, FilesystemCollector
from promspec.exporter.options import Options
from promspec.exporter.registry import Registry, StatelessCollector, Workers

from .exporter_harness import samples

DEADLINE_S = 0.3


class Blocking(StatelessCollector):
    """A collector whose collect() waits on an Event, as one reading a hung file would."""

    def __init__(self, name: str, release: threading.Event):
        self.name, self.release, self.calls = name, release, 0

    def collect(self) -> list:
        self.calls += 1
        self.release.wait()
        return []


class Quick(StatelessCollector):
    name = "quick"

    def collect(self) -> list:
        return []


def _success(snapshot, name: str) -> float:
    from promspec.exporter.metrics import render_text

    body = render_text(snapshot.metrics).decode()
    return {labels["collector"]: v for labels, v in samples(body, "promspec_exporter_collector_success")}[name]


def test_a_hung_collector_fails_alone_within_the_deadline():
    release = threading.Event()
    hung = Blocking("hung", release)
    registry = Registry([hung, Quick()], timeout=DEADLINE_S)
    try:
        durations = []
        for _ in range(5):
            start = time.monotonic()
            snapshot = registry.gather()
            took = time.monotonic() - start
            assert took < DEADLINE_S + 2.0, took  # bounded by the deadline, not by the hang
            assert _success(snapshot, "hung") == 0 and _success(snapshot, "quick") == 1
            health = registry.health["hung"]
            assert "timed out" in health.last_error and health.duration >= DEADLINE_S
            durations.append(health.duration)
        assert durations == sorted(durations)  # the stuck call's age, growing
        # Started once: the stuck call is not repeated, so it holds one thread, not one per scrape.
        assert hung.calls == 1
        assert set(registry.stuck()) == {"hung"}
        release.set()
        deadline = time.monotonic() + 10
        while registry.stuck() and time.monotonic() < deadline:
            time.sleep(0.01)
        snapshot = registry.gather()
        assert _success(snapshot, "hung") == 1 and hung.calls == 2 and registry.stuck() == {}
    finally:
        release.set()
        registry.close()


def test_workers_reuse_threads_and_hold_one_per_stuck_key():
    workers = Workers("test")
    release = threading.Event()
    for _ in range(20):
        call = workers.start("hung", release.wait)
        assert not call.wait(0.01)
        quick = workers.start("quick", lambda: 42)
        assert quick.wait(5) and quick.result() == 42
    assert workers.threads() <= 3, workers.threads()
    release.set()
    assert call.wait(5)


def _mounts(tmp_path, lines: str) -> Options:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "mounts").write_text(lines)
    return Options(procfs=str(proc), rootfs="/", mount_timeout=DEADLINE_S)


def test_hung_statfs_is_skipped_until_it_answers_with_no_thread_pile_up(tmp_path):
    release = threading.Event()
    started = []
    hung_path = str(tmp_path / "hung")

    def fake_statfs(path: str):
        # Injected at the narrowest boundary: the one syscall that hangs on a dead mount.
        if path == hung_path:
            started.append(path)
            release.wait()
        return os.statvfs(str(tmp_path))

    options = _mounts(tmp_path, f"/dev/vda1 {tmp_path} ext4 rw 0 0\nfuse {hung_path} fuse.myfs rw 0 0\n")
    collector = FilesystemCollector(options, statfs=fake_statfs)
    from promspec.exporter.metrics import render_text

    try:
        for _ in range(6):
            start = time.monotonic()
            body = render_text(collector.collect()).decode()
            assert time.monotonic() - start < DEADLINE_S + 2.0
            errors = {labels["mountpoint"]: v for labels, v in samples(body, "node_filesystem_device_error")}
            assert errors == {str(tmp_path): 0, hung_path: 1}
        assert len(started) == 1  # not called again while the first call hangs
        assert collector.threads() <= PROBERS + 1, collector.threads()  # the probers and the one stuck
        release.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = render_text(collector.collect()).decode()
            errors = {labels["mountpoint"]: v for labels, v in samples(body, "node_filesystem_device_error")}
            if errors[hung_path] == 0:
                break
            time.sleep(0.02)
        assert errors[hung_path] == 0 and len(started) == 2  # answered again: asked again
    finally:
        release.set()


@pytest.mark.parametrize("fstype", ["ext4", "fuse.anything", "nfs4"])
def test_every_mount_type_gets_the_deadline(tmp_path, fstype):
    release = threading.Event()
    hung = str(tmp_path / "m")

    def fake_statfs(path: str):
        release.wait()
        return os.statvfs("/")

    collector = FilesystemCollector(_mounts(tmp_path, f"dev {hung} {fstype} rw 0 0\n"), statfs=fake_statfs)
    try:
        start = time.monotonic()
        collector.collect()
        assert time.monotonic() - start < DEADLINE_S + 2.0
    finally:
        release.set()


class Recording(StatelessCollector):
    """Notes the thread each collection runs on."""

    def __init__(self, name: str, threads: list):
        self.name, self._threads = name, threads

    def collect(self) -> list:
        self._threads.append(threading.get_ident())
        return []


def test_quick_collectors_run_in_turn_on_one_worker_per_scrape():
    threads: list = []
    registry = Registry([Recording(f"c{i}", threads) for i in range(8)], timeout=5.0)
    try:
        for _ in range(3):
            threads.clear()
            registry.gather()
            # One hand-off per scrape: all eight on the same thread, and not the scraping one.
            assert len(threads) == 8 and len(set(threads)) == 1 and threads[0] != threading.get_ident()
        assert registry._workers.threads() == 1
    finally:
        registry.close()


class Sleeping(StatelessCollector):
    def __init__(self, name: str, seconds: float):
        self.name, self.seconds = name, seconds

    def collect(self) -> list:
        time.sleep(self.seconds)
        return []


def test_a_slow_collector_delays_the_next_in_line_by_the_spread_time_only():
    from promspec.exporter.registry import SPREAD_AFTER_S

    threads: list = []
    registry = Registry([Sleeping("slow", 0.4), Recording("after", threads)], timeout=5.0)
    try:
        start = time.monotonic()
        snapshot = registry.gather()
        assert time.monotonic() - start < 0.4 + 2.0
        assert _success(snapshot, "slow") == 1 and _success(snapshot, "after") == 1
        # Each duration is the collector's own, not the time it queued behind the slow one.
        assert registry.health["slow"].duration >= 0.4
        assert registry.health["after"].duration < 0.2
        assert len(threads) == 1 and registry._workers.threads() == 2  # "after" got a worker of its own
        assert SPREAD_AFTER_S < 0.2
    finally:
        registry.close()


def test_quick_mounts_take_one_prober_thread(tmp_path):
    lines = f"/dev/vda {tmp_path} ext4 rw 0 0\n"
    for name in "bcdefg":
        (tmp_path / name).mkdir()
        lines += f"/dev/vd{name} {tmp_path / name} ext4 rw 0 0\n"
    collector = FilesystemCollector(_mounts(tmp_path, lines))
    from promspec.exporter.metrics import render_text

    for _ in range(5):
        body = render_text(collector.collect()).decode()
        errors = {labels["mountpoint"]: v for labels, v in samples(body, "node_filesystem_device_error")}
        assert len(errors) == 7 and set(errors.values()) == {0}
    assert collector.threads() == 1  # one hand-off per scrape, not one per prober


def test_a_slow_mount_gets_other_probers_for_the_rest(tmp_path):
    slow = str(tmp_path / "slow")
    answered: list = []

    def fake_statfs(path: str):
        if path == slow:
            time.sleep(0.2)  # slow, within the deadline
        answered.append((path, time.monotonic()))
        return os.statvfs(str(tmp_path))

    lines = f"/dev/vda {slow} ext4 rw 0 0\n" + "".join(f"/dev/vd{c} {tmp_path / c} ext4 rw 0 0\n" for c in "bcd")
    options = _mounts(tmp_path, lines)
    options.mount_timeout = 2.0
    collector = FilesystemCollector(options, statfs=fake_statfs)
    from promspec.exporter.metrics import render_text

    start = time.monotonic()
    body = render_text(collector.collect()).decode()
    errors = {labels["mountpoint"]: v for labels, v in samples(body, "node_filesystem_device_error")}
    assert set(errors.values()) == {0} and len(errors) == 4
    # The others were answered while the slow one was still out, by a second prober.
    others = [when - start for path, when in answered if path != slow]
    assert len(others) == 3 and max(others) < 0.15, others
    assert collector.threads() == 2


def test_a_changed_mount_table_is_read_again(tmp_path):
    (tmp_path / "b").mkdir()
    options = _mounts(tmp_path, f"/dev/vda {tmp_path} ext4 rw 0 0\n")
    collector = FilesystemCollector(options)
    from promspec.exporter.metrics import render_text

    def mountpoints() -> set:
        body = render_text(collector.collect()).decode()
        return {labels["mountpoint"] for labels, _ in samples(body, "node_filesystem_device_error")}

    assert mountpoints() == {str(tmp_path)} and mountpoints() == {str(tmp_path)}
    (tmp_path / "proc" / "mounts").write_text(
        f"/dev/vda {tmp_path} ext4 rw 0 0\n/dev/vdb {tmp_path / 'b'} xfs ro 0 0\n"
    )
    assert mountpoints() == {str(tmp_path), str(tmp_path / "b")}
    (tmp_path / "proc" / "mounts").write_text(f"/dev/vda {tmp_path} ext4 rw 0 0\n/dev/vdb {tmp_path / 'b'} xfs")
    with pytest.raises(Exception, match="truncated"):  # a cut table fails, even after a good one
        collector.collect()
