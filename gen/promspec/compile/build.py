"""Compile a checked model, once, into a typed Build: everything the output checks and renderers read.

Pure: no filesystem, no subprocess. The spec's own rule groups stay in the model; the groups promspec
generates (from SLOs and probes) live here beside them, so nothing is appended to the model and read back.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.project import Project, RuleGroup
from ..model.services import SLO
from .dashboards.project import DashboardBuild, compile_dashboards
from .rules import RuleFile, rule_files


@dataclass(frozen=True, kw_only=True)
class SLORules:
    """One SLO and the rule groups it compiled to (its promtool tests load these alone)."""

    slo: SLO
    groups: list[RuleGroup]


@dataclass(frozen=True, kw_only=True)
class Build:
    """A project compiled: its rule groups by origin, its rule files and its dashboards, each built once."""

    project: Project
    spec_groups: list[RuleGroup]  # the specs' groups and adopted rule files' groups, in spec order
    slo_groups: list[RuleGroup]  # generated from Service SLOs (and imported Sloth/OpenSLO SLOs)
    slo_rules: list[SLORules]  # the same groups by SLO, in the order of the services and their SLOs
    probe_groups: list[RuleGroup]  # generated from Probe documents' alerts
    rule_files: dict[str, RuleFile]  # rules/<spec>.yml -> its groups, from every rule group above
    dashboards: DashboardBuild

    @property
    def rule_groups(self) -> list[RuleGroup]:
        """Every rule group Prometheus loads, in the order the rule files list them."""
        return [*self.spec_groups, *self.slo_groups, *self.probe_groups]


def compile_build(project: Project) -> Build:
    """The Build of a checked project."""
    from .probes import rule_group
    from .slo import slo_groups

    by_slo = [SLORules(slo=s, groups=slo_groups(s)) for service in project.services for s in service.slos]
    slo = [g for rules in by_slo for g in rules.groups]
    probe = [g for g in map(rule_group, project.probes) if g is not None]
    groups = [*project.groups, *slo, *probe]
    return Build(
        project=project,
        spec_groups=list(project.groups),
        slo_groups=slo,
        slo_rules=by_slo,
        probe_groups=probe,
        rule_files=rule_files(groups),
        dashboards=compile_dashboards(project, groups),
    )
