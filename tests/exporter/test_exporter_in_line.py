"""Collectors run on the scraping thread (no hand-off) only where they cannot block, and /proc files read
through kept descriptors: what is in line, that it stays bounded, and that kept files are read anew."""

import os
import threading
import time

import pytest

from promspec.exporter.collectors import DEFAULT, build
from promspec.exporter.collectors.filesystem import PROBERS, FilesystemCollector
from promspec.exporter.metrics import render_text
from promspec.exporter.options import Options
from promspec.exporter.procfs import ProcFile, is_procfs_mount, read_bytes
from promspec.exporter.registry import Registry, StatelessCollector

from .exporter_harness import PROC_FILES, samples

HOST = [name for name in DEFAULT if name != "gpu"]


def test_only_a_procfs_mount_point_counts_as_procfs(tmp_path):
    assert is_procfs_mount("/proc") and is_procfs_mount("/proc/")
    assert not is_procfs_mount(str(tmp_path)) and not is_procfs_mount("/proc/self")  # not the mount point
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        "30 27 0:30 / /host/my\\040proc rw - proc proc rw\n"
        "31 27 0:31 / /covered rw - proc proc rw\n"
        "32 31 0:32 / /covered rw - fuse.sshfs host:/ rw\n"  # mounted on top of the procfs: what a read meets
    )
    at = str(mountinfo)
    assert is_procfs_mount("/proc", at) and is_procfs_mount("/host/my proc", at)
    assert not is_procfs_mount("/covered", at) and not is_procfs_mount("/elsewhere", at)
    assert not is_procfs_mount("/proc", str(tmp_path / "missing"))  # unknown: not in line


def test_the_host_collectors_run_in_line_on_proc_and_on_a_worker_elsewhere(tmp_path):
    on_proc = build(HOST, Options())
    assert {c.name: getattr(c, "in_line", False) for c in on_proc} == dict.fromkeys(HOST, True)
    copied = tmp_path / "proc"
    copied.mkdir()
    # A copied tree (or a network share) may block: every collector reading it keeps the deadline;
    # the process collector reads this process's own /proc whatever --path.procfs says.
    elsewhere = build(HOST, Options(procfs=str(copied)))
    assert {c.name for c in elsewhere if getattr(c, "in_line", False)} == {"process"}
    for collector in on_proc + elsewhere:
        collector.close()


def test_a_kept_proc_file_is_read_anew_each_time():
    # This thread's name, read through one kept descriptor, follows each rename (the kernel makes the
    # file again at every read from offset 0).
    path = f"/proc/self/task/{threading.get_native_id()}/comm"
    kept = ProcFile(path, keep=True)
    original = read_bytes(path)
    try:
        for name in (b"kept-one", b"kept-two", b"kept-three"):
            with open(path, "wb") as handle:
                handle.write(name)
            assert kept.read() == name + b"\n"
    finally:
        with open(path, "wb") as handle:
            handle.write(original.rstrip(b"\n"))
    kept.close()
    kept.close()  # twice is harmless


def test_a_kept_proc_file_larger_than_a_read_is_read_whole():
    # A procfs read returns a page or so at a time (a short read is not the end): the kept reader goes
    # on to the empty read, as a fresh one does. /proc/crypto: about three pages, the same at every
    # read unless the kernel registers an algorithm meanwhile (hence a few attempts).
    path = "/proc/crypto"
    if not os.path.exists(path):
        pytest.skip("no /proc/crypto here")
    kept = ProcFile(path, keep=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        first_read = len(os.pread(fd, 65536, 0))
    finally:
        os.close(fd)
    for _ in range(3):
        content = kept.read()
        if content == read_bytes(path) == kept.read():
            break
    else:
        raise AssertionError("a kept /proc/crypto never read the same as a fresh one")
    if first_read >= len(content):
        pytest.skip(f"{path} ({len(content)} bytes) came in one read here: nothing to show")
    kept.close()


def test_a_kept_file_is_read_whole_and_reopened_after_a_failure(tmp_path):
    path = tmp_path / "big"
    content = b"".join(b"line %d\n" % i for i in range(40_000))  # several times the read size
    path.write_bytes(content)
    kept = ProcFile(str(path), keep=True)
    assert kept.read() == content == read_bytes(str(path))
    path.write_bytes(b"short\n")  # the same inode, rewritten: read from offset 0 again
    assert kept.read() == b"short\n"
    kept.close()
    path.unlink()
    try:
        kept.read()
        raise AssertionError("a missing file must raise")
    except FileNotFoundError:
        pass
    path.write_bytes(b"back\n")
    assert kept.read() == b"back\n"
    kept.close()


class Where(StatelessCollector):
    """Notes the thread it runs on; `in_line` as given."""

    def __init__(self, name: str, in_line: bool, threads: dict):
        self.name, self.in_line, self._threads = name, in_line, threads

    def collect(self) -> list:
        self._threads[self.name] = threading.get_ident()
        return []


class Hung(StatelessCollector):
    name = "hung"

    def __init__(self, release: threading.Event):
        self.release = release

    def collect(self) -> list:
        self.release.wait()
        return []


def _success(snapshot) -> dict:
    body = render_text(snapshot.metrics).decode()
    return {labels["collector"]: v for labels, v in samples(body, "promspec_exporter_collector_success")}


def test_in_line_collectors_run_on_the_scraping_thread_and_a_hung_one_elsewhere_stays_bounded():
    threads: dict = {}
    release = threading.Event()
    registry = Registry(
        [Where("a", True, threads), Hung(release), Where("b", False, threads), Where("c", True, threads)], timeout=0.3
    )
    try:
        for _ in range(3):
            threads.clear()
            start = time.monotonic()
            snapshot = registry.gather()
            assert time.monotonic() - start < 0.3 + 2.0
            assert threads["a"] == threads["c"] == threading.get_ident() != threads["b"]
            assert _success(snapshot) == {"a": 1, "hung": 0, "b": 1, "c": 1}
            # The exposition keeps the collectors' order, in line or not.
            body = render_text(snapshot.metrics).decode()
            assert [labels["collector"] for labels, _ in samples(body, "promspec_exporter_collector_success")] == [
                "a",
                "hung",
                "b",
                "c",
            ]
        assert set(registry.stuck()) == {"hung"}  # /healthz still says so
    finally:
        release.set()
        registry.close()


def _mount_options(tmp_path, mounts: list, collector_timeout: float) -> Options:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "mounts").write_text("".join(f"/dev/x {m} ext4 rw 0 0\n" for m in mounts))
    return Options(procfs=str(proc), mount_timeout=5.0, collector_timeout=collector_timeout)


def test_the_filesystem_collector_gives_up_at_the_collector_deadline_in_line(tmp_path):
    # More hung mounts than probers, each within its 5 s mount timeout: without the collector's own
    # deadline, a scrape on the scraping thread would wait for them all.
    release = threading.Event()
    hung = [str(tmp_path / f"hung{i}") for i in range(6)]

    def fake_statfs(path: str):
        if path in hung:
            release.wait()
        return os.statvfs(str(tmp_path))

    collector = FilesystemCollector(_mount_options(tmp_path, [str(tmp_path), *hung], 0.4), statfs=fake_statfs)
    collector.in_line = True  # as on a procfs mount table
    registry = Registry([collector, Where("other", True, {})], timeout=0.4)
    try:
        start = time.monotonic()
        snapshot = registry.gather()
        assert time.monotonic() - start < 0.4 + 1.5
        assert _success(snapshot) == {"filesystem": 0, "other": 1}
        assert "not answered within the 0.4s deadline" in registry.health["filesystem"].last_error
        assert registry.health["filesystem"].duration >= 0.4
        # The mounts still out are skipped until they answer; those not started yet are tried on the
        # next scrape: every scrape finds up to PROBERS more stuck mounts, then scrapes are quick.
        failed_scrapes = 1
        while True:
            start = time.monotonic()
            snapshot = registry.gather()
            if _success(snapshot)["filesystem"] == 1:
                assert time.monotonic() - start < 0.3
                break
            failed_scrapes += 1
            assert failed_scrapes <= -(-len(hung) // PROBERS), failed_scrapes
        body = render_text(snapshot.metrics).decode()
        errors = {labels["mountpoint"]: v for labels, v in samples(body, "node_filesystem_device_error")}
        assert errors == {str(tmp_path): 0, **dict.fromkeys(hung, 1)}
        threads = collector.threads()
        assert threads <= len(hung) + PROBERS, threads  # one per stuck mount and the idle probers
        for _ in range(3):
            registry.gather()
        assert collector.threads() == threads  # no pile-up
    finally:
        release.set()
        registry.close()


def test_in_line_collectors_serve_what_they_served_before(tmp_path):
    # The same files through a kept descriptor (in line) and read afresh (on a worker): the same text.
    proc = tmp_path / "proc"
    for name, text in PROC_FILES.items():
        (proc / name).parent.mkdir(parents=True, exist_ok=True)
        (proc / name).write_text(text)
    names = [n for n in HOST if n not in ("filesystem", "process")]
    fresh = build(names, Options(procfs=str(proc)))
    kept = build(names, Options(procfs=str(proc)))
    for collector in kept:
        for attribute in ("_file", "_files"):
            files = getattr(collector, attribute, None)
            for file in files.values() if isinstance(files, dict) else [files] if files else []:
                file._keep = True
    for _ in range(2):
        assert render_text([f for c in kept for f in c.collect()]) == render_text(
            [f for c in fresh for f in c.collect()]
        )
    for collector in kept + fresh:
        collector.close()
