"""generate --jobs auto: how many worker processes a project gets on a machine (cli.auto_jobs)."""

from __future__ import annotations

import pytest

from promspec import cli


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
    assert cli.AUTO_JOBS_DASHBOARDS == 200 and cli.AUTO_JOBS_MAX == 4  # the table above is written for these
    assert cli.auto_jobs(dashboards, cpus) == jobs
