"""Probes join the project: scrape jobs and a catalog of their series (probe SLIs: model/sli/probe.py; the
probes' alert groups are generated into the Build: compile/build.py)."""

from __future__ import annotations

from dataclasses import replace

from ..model.project import Project
from ..model.sli.probe import LLM_HISTOGRAMS, LLM_LABELS, LLM_PREFIX, PROBE_BACKEND, llm_catalog  # noqa: F401
from .probes import catalog, scrape_jobs


def attach_probes(project: Project) -> Project:
    """The project with its modelled probes' scrape jobs and series added (before its services are built)."""
    if not project.probes:
        return project
    return replace(
        project,
        jobs=project.jobs + [job for probe in project.probes for job in scrape_jobs(probe)],
        catalogs=project.catalogs + [catalog(project.probes[0].ref)],
    )
