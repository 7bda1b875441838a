"""generate --jobs auto: how many worker processes a project gets on a machine (jobs.auto_jobs)."""

from __future__ import annotations

import os

import pytest

from promspec.jobs import AUTO_JOBS_DASHBOARDS, AUTO_JOBS_MAX, auto_jobs


@pytest.mark.parametrize(
    ("dashboards", "cpus", "jobs"),
    [
        (0, 2, 1),  # nothing to share
        (199, 64, 1),  # a small project: the fork costs more than it saves
        (200, 1, 1),  # one usable CPU (taskset, a container's limit): no worker
        (200, 2, 2),
        (4013, 3, 3),
        (4013, 4, 4),
        (4013, 64, 4),  # a many-core runner: capped, each worker holds its own copy of what it touches
    ],
)
def test_auto_jobs_uses_the_cpus_up_to_the_cap_on_a_large_project(dashboards: int, cpus: int, jobs: int) -> None:
    assert AUTO_JOBS_DASHBOARDS == 200 and AUTO_JOBS_MAX == 4  # the table above is written for these
    assert auto_jobs(dashboards, cpus) == jobs


GB = 1 << 30


@pytest.mark.parametrize(
    ("held", "available", "jobs"),
    [
        (2 * GB, None, 4),  # memory not known (no /proc/meminfo): the CPUs decide
        (0, 1 * GB, 4),  # this process's size not known: the CPUs decide
        (2 * GB, 64 * GB, 4),  # room for every worker's copy
        (2 * GB, 6 * GB, 3),  # room for three copies of this process
        (2 * GB, 5 * GB - 1, 2),
        (2 * GB, 3 * GB, 1),  # a tight runner: one process, as --jobs 1
        (2 * GB, 1 * GB, 1),  # never less than one
    ],
)
def test_auto_jobs_forks_no_more_workers_than_the_memory_holds(held: int, available: int | None, jobs: int) -> None:
    assert auto_jobs(4013, 64, held, available) == jobs


def test_the_memory_readings_are_this_machines() -> None:
    from promspec.workers import available_memory, resident_memory

    held, available = resident_memory(), available_memory()
    if not os.path.exists("/proc/meminfo"):
        pytest.skip("no /proc here: auto_jobs counts only the CPUs")
    assert available is not None and 0 < held < available + held
    ballast = bytearray(64 << 20)  # 64 MiB written: resident
    ballast[::4096] = b"x" * len(ballast[::4096])
    assert resident_memory() >= held + (60 << 20)
    del ballast
