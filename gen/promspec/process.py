"""How a promspec console process runs and ends: the cyclic GC tuned for its short life (raised threshold;
off while generate runs), and an exit that skips the heap's teardown."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from typing import NoReturn

# The cyclic GC's default (a collection each 700 net allocations) spent 4.6 of 28.7 s CPU generating 1,000
# services: 3,290 collections over a heap of long-lived records (model, rules, dashboards) that hold few
# cycles. With the first generation at 100,000 it spent 0.6 s in 20 collections, at the same peak memory
# (437 MB); cycles are still collected, less often. docs/benchmarks-history.md, "Fifth round: loading (h15load)".
GC_THRESHOLD = (100_000, 20, 20)


@contextlib.contextmanager
def cyclic_collector_off() -> Iterator[None]:
    """generate is one short run that keeps almost everything it allocates until it ends (model, rules,
    dashboards), so the cyclic collector only rescans survivors: 1.1 of 17.6 s CPU at 1,000 services, 3.4 of
    34 s at 2,000 (a generation-1 collection rescans up to 2 million young records), with the same peak memory
    when it never runs (421 / 733 MB): nothing it makes holds cycles worth collecting, and reference counting
    still frees the rest. Restored after, for callers in a longer process (tests, the API). docs/benchmarks-history.md,
    "The cyclic collector off in generate"."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def exit_now(code: str | int | None) -> NoReturn:
    """Exit as SystemExit(code) would, without taking the heap apart object by object: a generate of 1,000
    services spent 0.35 s (one process) to 0.8 s (with workers) freeing its records after its last write, 3-6%
    of the run, for nothing. atexit handlers (weakref finalizers included) and the flush of stdout and stderr
    still run; only the objects' teardown is skipped, which Python never promises at exit anyway. While a
    non-daemon thread still runs (none of promspec's commands leaves one), the exit is Python's own."""
    if isinstance(code, str):  # SystemExit's own rule: a text is printed, and the status is 1
        print(code, file=sys.stderr)
        code = 1
    status = code or 0
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(status)  # Python's own exit waits for such a thread's work; os._exit would cut it off silently
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stdout: Python's own exit says 120
        status = status or 120
    os._exit(status)
