"""generate --jobs auto: how many processes a project gets on this machine."""

from __future__ import annotations

# Below this many dashboards (about 4 per service), one process (docs/BENCHMARKS.md).
AUTO_JOBS_DASHBOARDS = 200
# ... and at most this many workers: loading, the SLO rule groups and the preset dashboards' heads (a
# fifth of a 1,000-service run) stay in the parent, so a fifth worker would save little, while each holds
# its own copy of what it touches of the Build (~140-280 MiB at 1,000 services): on a 64-core runner, 64
# workers would hold tens of GB for no gain.
AUTO_JOBS_MAX = 4


def auto_jobs(dashboards: int, cpus: int, held: int = 0, available: int | None = None) -> int:
    """--jobs auto: the usable CPUs, up to AUTO_JOBS_MAX, for a project large enough to pay for the fork;
    and no more workers than the available memory holds copies of this process (held bytes): a worker
    touches the Build it shares with this process, and what it touches the kernel copies (at 10,000
    services the parent and one worker held 4.1 GB in all against 2.85 GB for one process). None: not known."""
    if dashboards < AUTO_JOBS_DASHBOARDS:
        return 1
    jobs = min(cpus, AUTO_JOBS_MAX)
    if available is not None and held > 0:
        jobs = min(jobs, available // held)
    return max(1, jobs)
