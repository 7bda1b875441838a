"""bench/generate.py's memory sampler: the process tree it sums, and PSS read at a bounded cost.

No timing is asserted: the tests check what the sampler reads, not how fast."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

import generate  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc")


def _sleepers(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(n)]


@pytest.mark.slow  # starts a child process
def test_tree_finds_the_children_and_agrees_with_a_scan_of_proc():
    children = _sleepers(2)
    try:
        tree = generate._tree(os.getpid())
        scanned = generate._scanned_children()
        assert tree[0] == os.getpid()
        assert {c.pid for c in children} <= set(tree)
        assert set(tree[1:]) == set(scanned.get(os.getpid(), [])) | {
            grandchild for pid in scanned.get(os.getpid(), []) for grandchild in scanned.get(pid, [])
        }
    finally:
        for c in children:
            c.kill()
            c.wait()


@pytest.mark.slow  # starts a child process
def test_tree_falls_back_to_the_scan_without_children_files(monkeypatch):
    children = _sleepers(1)
    try:
        monkeypatch.setattr(generate, "_children", lambda pid: None)
        assert children[0].pid in generate._tree(os.getpid())
    finally:
        children[0].kill()
        children[0].wait()


@pytest.mark.slow  # starts a child process
def test_sampler_reads_rss_and_pss_of_a_running_process(monkeypatch):
    reads: list[str] = []
    real = generate._kib

    def counted(path: str, key: str) -> int:
        reads.append(path.rsplit("/", 1)[1])
        return real(path, key)

    monkeypatch.setattr(generate, "_kib", counted)
    child = _sleepers(1)[0]
    peaks = {"rss": 0.0, "pss": 0.0}
    stop = threading.Event()
    sampler = threading.Thread(target=generate._sampler, args=(child.pid, peaks, stop), daemon=True)
    sampler.start()
    try:
        while reads.count("smaps_rollup") < 1 or reads.count("status") < 3:
            time.sleep(0.05)
    finally:
        stop.set()
        sampler.join()
        child.kill()
        child.wait()
    assert peaks["rss"] > 0 and peaks["pss"] > 0


def test_sampler_spends_at_most_its_share_reading_pss(monkeypatch):
    """A fake clock: each PSS read costs 0.1 s, each tick 0.05 s; PSS reads take at most PSS_SHARE of the time."""
    now = [0.0]
    reads: list[str] = []

    def kib(path: str, key: str) -> int:
        reads.append(key)
        if key == "Pss:":
            now[0] += 0.1
        return 1024

    class Ticks:
        def __init__(self, n: int) -> None:
            self.left = n

        def wait(self, seconds: float) -> bool:
            now[0] += seconds
            self.left -= 1
            return self.left < 0

    monkeypatch.setattr(generate, "_kib", kib)
    monkeypatch.setattr(generate, "_tree", lambda root: [root])
    monkeypatch.setattr(generate, "time", SimpleNamespace(perf_counter=lambda: now[0]))  # this module's clock alone
    peaks = {"rss": 0.0, "pss": 0.0}
    generate._sampler(1, peaks, Ticks(400))  # type: ignore[arg-type]
    pss_reads = reads.count("Pss:")
    assert reads.count("VmRSS:") == 400
    assert 1 <= pss_reads * 0.1 <= generate.PSS_SHARE * now[0] + 0.1
    assert peaks == {"rss": 1.0, "pss": 1.0}


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_timeline_accounts_for_every_item_and_finds_every_step(tmp_path, jobs):
    """bench/timeline.py: each work item is counted in exactly one process's share, the fork (with workers) comes
    before the join and the exit, and every named step still exists (a renamed step must be renamed there)."""
    import json

    generate.write_specs(str(tmp_path / "specs"), 3)
    script = os.path.join(os.path.dirname(generate.__file__), "timeline.py")
    done = subprocess.run(
        [sys.executable, script, str(tmp_path / "specs"), "--jobs", jobs], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    t = json.loads(done.stdout.splitlines()[-1])
    assert t["missing_steps"] == []
    assert "pipeline.load_model" in t["steps_s"] and "compile.slo.slo_groups" in t["steps_s"]
    if jobs == "1":
        assert "fork_at_s" not in t and len(t["processes"]) == 1
    else:
        assert len({p["pid"] for p in t["processes"]}) == 2
        assert sum(p["items"] for p in t["processes"]) == t["items"]
        assert t["fork_at_s"] < t["joined_at_s"] <= t["exit_at_s"]
