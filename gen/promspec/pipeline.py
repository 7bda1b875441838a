"""The one path from spec files to a checked model: load, schema, model, semantics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .check.ops import OPS_CHECKS
from .check.semantic import check_project
from .diagnostics import Report
from .spec.loader import load_paths
from .spec.model import Project, build_project
from .spec.validate import validate_documents

# Semantic checks run in order over the built model; features append theirs.
# Each is check(project, report) and must not touch the filesystem.
CHECKS: list[Callable[[Project, Report], None]] = [*OPS_CHECKS]

# Dashboards: signals resolve, panel queries parse and read only catalogued or recorded series.
from .check.dashboard_specs import check_dashboards  # noqa: E402

CHECKS.append(check_dashboards)

# --- fleet (issue 16): a Topology resolves, and its rules split into cluster and global tiers.
from .fleet.render import check_topology  # noqa: E402

CHECKS.append(check_topology)


def load_project(
    paths: Iterable[str],
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    allow_unknown_buckets: bool = False,
) -> tuple[Project, Report]:
    """Load and check specs; raises SpecError with every problem found."""
    from .catalog.bundled import with_bundled_backends
    from .check.tools import locate_parse_errors
    from .compile.probes_project import attach_probe_rules, attach_probes
    from .compile.slo import slo_groups
    from .importers import convert_foreign
    from .spec.dashboard_files import attach_exports, without_exports
    from .spec.dashboards import build_project_dashboards
    from .spec.probes import build_project_probes
    from .spec.rule_files import (
        check_rule_document,
        demote_uncatalogued,
        passthrough_groups,
        split_rule_documents,
    )
    from .spec.services import build_services

    report = Report()
    docs = convert_foreign(load_paths(list(paths), report), report)
    # `backend: vllm` with no Backend document of that name: the package's own adapter.
    docs = with_bundled_backends(docs, report)
    # Plain rule files and PrometheusRule manifests: checked for the shape Prometheus loads, then passed through.
    docs, rule_docs = split_rule_documents(docs)
    rule_docs = [d for d in rule_docs if check_rule_document(d, report)]
    good = validate_documents(without_exports(docs, report), report)
    report.raise_if_errors()
    attach_exports(good, report)
    report.raise_if_errors()
    project = build_project(good, report, env)
    adopted = [g for d in rule_docs for g in passthrough_groups(d)]
    project.groups += adopted
    project.documents += rule_docs
    build_project_probes(project, report)
    attach_probes(project)  # before services: probe SLIs read the probes, and their series join the catalogs
    build_services(project, report, allow_unknown_buckets)
    build_project_dashboards(project)
    report.raise_if_errors()
    # SLO rules join the ordinary rule groups, so every check and renderer sees them.
    project.groups += [g for service in project.services for slo in service.slos for g in slo_groups(slo)]
    attach_probe_rules(project)
    check_project(project, report, locate=locate_parse_errors)
    demote_uncatalogued(report, adopted)
    for check in CHECKS:
        check(project, report)
    if strict:
        for w in report.warnings:
            report.error(w.pos, w.message, w.path, w.expected)
    report.raise_if_errors()
    return project, report
