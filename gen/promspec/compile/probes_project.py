"""Probes join the project: scrape jobs and a catalog of their series (probe SLIs: model/sli/probe.py; the
probes' alert groups are generated into the Build: compile/build.py)."""

from __future__ import annotations

from ..model.project import Project
from ..model.sli.probe import LLM_HISTOGRAMS, LLM_LABELS, LLM_PREFIX, PROBE_BACKEND, llm_catalog  # noqa: F401
from .probes import catalog, scrape_jobs


def attach_probes(project: Project) -> None:
    """The modelled probes' scrape jobs and series join the project (before its services are built)."""
    for probe in project.probes:
        project.jobs.extend(scrape_jobs(probe))
    if project.probes:
        project.catalogs.append(catalog(project.probes[0].ref))
