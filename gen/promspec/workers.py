"""Map a function over indexes in forked worker processes, with the results in index order.

Used where generate's work splits into independent items (dashboards to check, output pieces to render):
workers are forked after everything they read is in memory (nothing is pickled on the way in); each
process, this one included, takes the next item no process took yet, in index order, until none is left
(items differ tenfold in cost: a fixed share each left one process working alone at the end), and a
worker sends back its results (small records: diagnostics, paths) or the first exception it met. The parent
re-raises the exception of the earliest failing item, as a loop would have; Ctrl-C stops every worker
(each also dies with the parent), and no worker ever returns into the parent's code (its cleanup, finally
blocks and atexit handlers stay the parent's).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import os
import pickle
import select
import signal
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class _Done(Generic[R]):
    """What one worker sends back: its results by index, or the first error it met and at which index."""

    results: list[tuple[int, R]]
    failed_at: int | None = None
    error: BaseException | None = None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity: a container's or taskset's limit, not the host's)."""
    return len(os.sched_getaffinity(0))


def fork_map(fn: Callable[[int], R], n: int, jobs: int) -> list[R]:
    """[fn(0), ..., fn(n - 1)], computed in min(jobs, n) processes (this one alone when that is 1)."""
    jobs = max(1, min(jobs, n))
    done = [_run(fn, range(n))] if jobs == 1 else _in_workers(fn, n, jobs)
    failures = [d for d in done if d.failed_at is not None]
    if failures:
        first = min(failures, key=lambda d: d.failed_at or 0)
        assert first.error is not None
        raise first.error
    ordered: list[tuple[int, R]] = sorted((pair for d in done for pair in d.results), key=lambda pair: pair[0])
    return [result for _i, result in ordered]


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (MemAvailable), or None where it does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def resident_memory() -> int:
    """Bytes of this process now in memory (its resident set), 0 where /proc does not say."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def portable(error: BaseException) -> BaseException:
    """The error, or when it does not pickle (so cannot leave a worker) its text, as a traceback shows it."""
    try:
        pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return RuntimeError("".join(traceback.format_exception(error)))
    return error


def _run(fn: Callable[[int], R], indexes: Iterable[int]) -> _Done[R]:
    results: list[tuple[int, R]] = []
    for i in indexes:
        try:
            results.append((i, fn(i)))
        except Exception as exc:  # the parent raises the earliest item's error
            return _Done(results=results, failed_at=i, error=exc)
    return _Done(results=results)


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this worker if the parent dies (SIGKILL included): no orphan keeps working."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _in_workers(fn: Callable[[int], R], n: int, jobs: int) -> list[_Done[R]]:
    children: dict[int, int] = {}  # pid -> read end of its pipe
    parent = os.getpid()
    tickets = _tickets(n)
    # Objects that exist now are never collected in a worker: the collector would otherwise touch (and so
    # copy) every page of the Build that the workers share with this process after fork.
    gc.freeze()
    try:
        for _k in range(1, jobs):
            read, write = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            # Ctrl-C between the fork and the bookkeeping below would leave a worker nobody stops.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the worker; its exit status is checked by the parent
                    os.close(read)
                    _worker(fn, _taken(tickets), write, parent)
                os.close(write)
                children[pid] = read
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        # This process takes a share too instead of waiting: one worker fewer holds its own copy of the pages
        # of the Build it touches (a worker's refcount writes make the kernel copy them). A worker that
        # finished meanwhile waits on its pipe until it is read below.
        done: list[_Done[R]] = [_run(fn, _taken(tickets))]
        for pid in list(children):
            done.append(_collect(pid, children[pid]))
            del children[pid]  # reaped: its pid may be reused, so it must never be signalled again
        return done
    finally:
        os.close(tickets.fd)
        _stop(children)
        gc.unfreeze()


# Bytes of one ticket: a read of that many from a pipe is atomic (the kernel holds the pipe's lock for the
# whole read), so no two processes ever take one ticket.
_TICKET = 4


@dataclass(frozen=True, kw_only=True)
class _Tickets:
    """A pipe of tickets 0, 1, ..., in order, closed for writing: whoever reads next takes the next ticket,
    and a read past the last one is the end. A ticket stands for `per` consecutive items (1 unless the pipe
    cannot hold a ticket per item: everything is written before any reader starts)."""

    fd: int
    n: int
    per: int


def _tickets(n: int) -> _Tickets:
    read, write = os.pipe()
    try:
        capacity = select.PIPE_BUF  # what any pipe holds; Linux: 64 KiB, and more on request (below)
        if hasattr(fcntl, "F_SETPIPE_SZ"):
            with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size (1 MiB unless raised)
                fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, max(n * _TICKET, 1))
            capacity = fcntl.fcntl(write, fcntl.F_GETPIPE_SZ)
        per = max(1, -(-n * _TICKET // capacity))
        data = memoryview(b"".join(i.to_bytes(_TICKET, "little") for i in range(-(-n // per))))
        while data:
            data = data[os.write(write, data) :]
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return _Tickets(fd=read, n=n, per=per)


def _taken(tickets: _Tickets) -> Iterator[int]:
    """The items this process takes, one ticket at a time (in increasing order: the pipe is)."""
    while ticket := os.read(tickets.fd, _TICKET):
        first = int.from_bytes(ticket, "little") * tickets.per
        yield from range(first, min(first + tickets.per, tickets.n))


def _worker(fn: Callable[[int], R], indexes: Iterable[int], out: int, parent: int) -> None:
    """The forked worker's life: compute its items, send the results, exit without running the parent's
    cleanup."""
    code = 0
    try:
        # Ctrl-C reaches the whole process group: a worker just stops, the parent reports and cleans up.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        _die_with_parent(parent)
        done = _run(fn, indexes)
        try:
            payload = pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            error = portable(done.error) if done.error else RuntimeError("")
            payload = pickle.dumps(_Done(results=done.results, failed_at=done.failed_at, error=error))
        with os.fdopen(out, "wb") as fh:
            fh.write(payload)
    except BaseException:  # whatever happens, never return into the parent's code
        code = 1
    finally:
        os._exit(code)


def _collect(pid: int, fd: int) -> _Done[R]:
    with os.fdopen(fd, "rb") as fh:
        payload = fh.read()
    _pid, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if not payload or code != 0:
        if code == -signal.SIGINT:
            raise KeyboardInterrupt
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        raise OSError(f"a generate worker {how} before it finished (out of memory?)")
    done = pickle.loads(payload)
    assert isinstance(done, _Done)
    return done


def _stop(children: dict[int, int]) -> None:
    """Kill and reap every worker still running (after an error or Ctrl-C in the parent)."""
    for pid, fd in children.items():
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
