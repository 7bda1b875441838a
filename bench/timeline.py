"""Where one `promspec generate` spends its time: the steps before the fork, then each process's share.

Run: .venv/bin/python bench/timeline.py SPECS [--jobs auto] (or through `bench/generate.py --timeline`)

Runs generate in this process, as the console script would (same GC set-up, output to a fresh directory on
tmpfs), with timers around a few named steps and around the fork (workers.py): it prints, as JSON on stdout,
the wall and CPU seconds at which the parent forks, each step's wall seconds before that, each process's
items, wall and CPU after it, and when the parent joins and exits. The timers are wrappers found by name:
a step that a later change renames or removes is reported missing, not silently zero.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "gen"))

# The steps before the fork, by module and function: load, compile, and the parts of each that cost most.
STEPS = (
    ("promspec.pipeline", "load_model"),
    ("promspec.model.loader", "load_paths"),
    ("promspec.model.services", "build_services"),
    ("promspec.compile.build", "compile_build"),
    ("promspec.compile.slo", "slo_groups"),
    ("promspec.compile.dashboards.presets", "preset_dashboards"),
    ("promspec.pipeline", "load_unchecked"),
    ("promspec.render.outputs", "render_parts"),
)
T0 = time.perf_counter()


def _timed(name: str, fn: Callable[..., Any], spent: dict[str, float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def _wrap(module: str, name: str, spent: dict[str, float]) -> bool:
    """Replace module.name by a timed wrapper wherever a loaded module holds it; False when it is not there."""
    fn = getattr(importlib.import_module(module), name, None)
    if fn is None:
        return False
    wrapper = _timed(f"{module.removeprefix('promspec.')}.{name}", fn, spent)
    for loaded in list(sys.modules.values()):
        for key, value in list(getattr(loaded, "__dict__", {}).items()):
            if value is fn:
                setattr(loaded, key, wrapper)
    return True


def _generate(specs: str, jobs: str, timeline: dict[str, Any], spent: dict[str, float], shares: int) -> None:
    """Run generate once, the fork and each process's share timed into timeline and the shares file."""
    from promspec import cli, workers

    run, in_workers = workers._run, workers._in_workers

    def timed_run(fn: Any, indexes: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        done = run(fn, indexes)
        share = {
            "pid": os.getpid(),
            "items": len(done.results),
            "wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
            "ends_at_s": round(time.perf_counter() - T0, 3),
        }
        os.write(shares, (json.dumps(share) + "\n").encode())
        return done

    def timed_in_workers(fn: Any, n: int, jobs: int) -> Any:
        timeline.update(
            fork_at_s=round(time.perf_counter() - T0, 3),
            cpu_before_fork_s=round(time.process_time(), 3),
            steps_before_fork_s={k: round(v, 3) for k, v in spent.items()},
            items=n,
            jobs=jobs,
        )
        try:
            return in_workers(fn, n, jobs)
        finally:
            timeline["joined_at_s"] = round(time.perf_counter() - T0, 3)

    workers._run, workers._in_workers = timed_run, timed_in_workers
    out = tempfile.mkdtemp(prefix="promspec-timeline-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        cli.cli(["generate", specs, "-o", out, "-q", "--jobs", jobs], standalone_mode=False)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    timeline["exit_at_s"] = round(time.perf_counter() - T0, 3)
    timeline["cpu_s"] = round(time.process_time(), 3)
    timeline["steps_s"] = {k: round(v, 3) for k, v in spent.items()}  # the whole run's (with -j 1: all of it)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs")
    parser.add_argument("--jobs", default="auto")
    args = parser.parse_args()
    import gc

    from promspec import cli, process  # what the console script imports before it runs a command

    del cli
    gc.set_threshold(*process.GC_THRESHOLD)
    imported = time.perf_counter() - T0
    spent: dict[str, float] = {}
    missing = [f"{m}.{n}" for m, n in STEPS if not _wrap(m, n, spent)]
    timeline: dict[str, Any] = {"imports_s": round(imported, 3), "missing_steps": missing}
    # Each process appends one line: an O_APPEND descriptor ("a" mode) shared over the fork keeps lines whole.
    with tempfile.TemporaryFile(mode="a+b") as log:
        _generate(args.specs, args.jobs, timeline, spent, log.fileno())
        log.seek(0)
        timeline["processes"] = [json.loads(line) for line in log.read().decode().splitlines()]
    print(json.dumps(timeline))


if __name__ == "__main__":
    main()
