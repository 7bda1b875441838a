"""Slurm nodelists in Targets: a nodelist Slurm would reject is an error at its place in the spec."""

from __future__ import annotations

from ..compile.slurm import NodelistError, expand_nodelist
from ..diagnostics import Report
from ..spec.loader import dotted
from ..spec.model import Project


def check_nodelists(project: Project, report: Report) -> None:
    """Every slurm.nodelist expands to host names."""
    for job in project.jobs:
        node = job.ref.node()
        if not isinstance(node, dict) or "slurm" not in node:
            continue
        path = job.ref.path + ("slurm", "nodelist")
        text = node["slurm"]["nodelist"]
        try:
            expand_nodelist(text)
        except NodelistError as exc:
            report.error(
                job.ref.doc.pos_in_scalar(path, 1, exc.offset + 1),
                f"bad Slurm nodelist: {exc}",
                dotted(path),
                "a nodelist such as gpu[001-064] or gpu[01-04,07],cpu01",
            )
