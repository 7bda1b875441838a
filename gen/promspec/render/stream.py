"""Render the output pieces into a Stage as they are made: in this process, or split over worker processes.

Workers are forked (the Build is already in memory: nothing is pickled on the way in), each renders every
jobs-th piece into the staging directory (or compares it with the output directory) and sends back only
the small Staged records, or the first exception it met. The parent accepts every record, so the plan,
the manifests and the swap are the same whichever process rendered a file, and the bytes are the same for
any number of workers: each piece's files depend on that piece alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import signal
import sys
import traceback
from dataclasses import dataclass

from .outputs import Part
from .tree import Stage, Staged

# Pieces (of up to outputs.PART_SIZE items) a project needs before workers pay for their start-up: below
# this, `generate` stays in one process (the bundled specs have a handful of pieces).
PARALLEL_FROM = 24


@dataclass(frozen=True, kw_only=True)
class WorkerResult:
    """What one worker sends back: the files it staged, or the first error it met and at which piece."""

    staged: list[Staged]
    failed_at: int | None = None  # index of the piece that raised; the parent re-raises the earliest one
    error: BaseException | None = None


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's limit, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs(parts: list[Part]) -> int:
    """One process for small projects; every usable CPU once there are enough pieces to share."""
    return usable_cpus() if len(parts) >= PARALLEL_FROM else 1


def write_parts(parts: list[Part], stage: Stage, jobs: int, keep: set[str]) -> set[str]:
    """Render every piece; put the files under the roots in keep into the stage. Returns every rendered path
    (kept or not: `nothing_useful` reads them all)."""
    jobs = max(1, min(jobs, len(parts)))
    one = jobs == 1
    results = [_render(parts, range(len(parts)), stage, keep)] if one else _in_workers(parts, stage, jobs, keep)
    failures = [r for r in results if r.failed_at is not None]
    if failures:
        first = min(failures, key=lambda r: r.failed_at or 0)
        assert first.error is not None
        raise first.error
    rendered: set[str] = set()
    for result in results:
        for staged in result.staged:
            if staged.path in rendered:  # two renderers writing one path: the later would silently win
                raise AssertionError(f"{staged.path} is rendered twice")
            rendered.add(staged.path)
            if staged.path.split("/", 1)[0] in keep:
                stage.accept(staged)
    return rendered


def _render(parts: list[Part], indexes: range, stage: Stage, keep: set[str]) -> WorkerResult:
    staged: list[Staged] = []
    for i in indexes:
        try:
            for path, data in parts[i].files().items():
                # A path outside the kept roots is only counted: not written, not compared.
                staged.append(stage.put(path, data) if path.split("/", 1)[0] in keep else Staged(path=path))
        except Exception as exc:  # rendering or staging: the parent raises the earliest piece's error
            return WorkerResult(staged=staged, failed_at=i, error=exc)
    return WorkerResult(staged=staged)  # one piece's bytes at a time were held


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this worker if the parent dies (SIGKILL included): no orphan keeps writing."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _in_workers(parts: list[Part], stage: Stage, jobs: int, keep: set[str]) -> list[WorkerResult]:
    children: dict[int, int] = {}  # pid -> read end of its pipe
    parent = os.getpid()
    # Objects that exist now are never collected in a worker: the collector would otherwise touch (and so
    # copy) every page of the Build that the workers share with this process after fork.
    gc.freeze()
    try:
        for k in range(jobs):
            read, write = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            # Ctrl-C between the fork and the bookkeeping below would leave a worker nobody stops.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the worker; its exit status is checked by the parent
                    os.close(read)
                    _worker(parts, range(k, len(parts), jobs), stage, keep, write, parent)
                os.close(write)
                children[pid] = read
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        results = []
        for pid in list(children):
            results.append(_collect(pid, children[pid]))
            del children[pid]  # reaped: its pid may be reused, so it must never be signalled again
        return results
    finally:
        _stop(children)
        gc.unfreeze()


def _worker(parts: list[Part], indexes: range, stage: Stage, keep: set[str], out: int, parent: int) -> None:
    """The forked worker's life: render its pieces, send the result, exit without running the parent's
    cleanup (atexit, finally blocks, the staging directory's removal are the parent's)."""
    code = 0
    try:
        # Ctrl-C reaches the whole process group: a worker just stops, the parent reports and cleans up.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        _die_with_parent(parent)
        result = _render(parts, indexes, stage, keep)
        try:
            payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that does not pickle: its text, as a traceback would show it
            error = RuntimeError("".join(traceback.format_exception(result.error)) if result.error else "")
            payload = pickle.dumps(WorkerResult(staged=result.staged, failed_at=result.failed_at, error=error))
        with os.fdopen(out, "wb") as fh:
            fh.write(payload)
    except BaseException:  # whatever happens, never return into the parent's code
        code = 1
    finally:
        os._exit(code)


def _collect(pid: int, fd: int) -> WorkerResult:
    with os.fdopen(fd, "rb") as fh:
        payload = fh.read()
    _done, status = os.waitpid(pid, 0)
    if not payload or os.waitstatus_to_exitcode(status) != 0:
        code = os.waitstatus_to_exitcode(status)
        if code == -signal.SIGINT:
            raise KeyboardInterrupt
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        raise OSError(f"a generate worker {how} before it finished (out of memory?)")
    result = pickle.loads(payload)
    assert isinstance(result, WorkerResult)
    return result


def _stop(children: dict[int, int]) -> None:
    """Kill and reap every worker still running (after an error or Ctrl-C in the parent)."""
    for pid, fd in children.items():
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
