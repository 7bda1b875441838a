"""Probes join the project: scrape jobs, a catalog of their series, and alert groups (probe SLIs: spec/sli/probe.py)."""

from __future__ import annotations

from ..spec.model import Project
from ..spec.sli.probe import LLM_HISTOGRAMS, LLM_LABELS, LLM_PREFIX, PROBE_BACKEND, llm_catalog  # noqa: F401
from .probes import catalog, rule_group, scrape_jobs


def attach_probes(project: Project) -> None:
    """The modelled probes' scrape jobs and series join the project (before its services are built)."""
    for probe in project.probes:
        project.jobs.extend(scrape_jobs(probe))
    if project.probes:
        project.catalogs.append(catalog(project.probes[0].ref))


def attach_probe_rules(project: Project) -> None:
    """The probes' alert groups join the ordinary rule groups (rules/<spec>.yml of the Probe's file)."""
    for probe in project.probes:
        group = rule_group(probe)
        if group is not None:
            project.groups.append(group)
