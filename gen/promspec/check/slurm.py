"""Slurm nodelists in Targets: a nodelist Slurm would reject is an error at its place in the spec."""

from __future__ import annotations

from ..compile.slurm import NodelistError, expand_nodelist
from ..diagnostics import Report
from ..model.loader import dotted
from ..model.project import Project


def check_nodelists(project: Project, report: Report) -> None:
    """Every slurm.nodelist expands to host names."""
    for job in project.jobs:
        if job.slurm is None:
            continue
        path = job.slurm.ref.path + ("nodelist",)
        try:
            expand_nodelist(job.slurm.nodelist)
        except NodelistError as exc:
            report.error(
                job.slurm.ref.doc.pos_in_scalar(path, 1, exc.offset + 1),
                f"bad Slurm nodelist: {exc}",
                dotted(path),
                "a nodelist such as gpu[001-064] or gpu[01-04,07],cpu01",
            )
