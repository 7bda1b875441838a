"""The one path from spec files to a checked Build, in one direction:

files -> documents -> schema -> model -> model checks (pure) -> compile (pure, once) -> output checks.

Rendering the Build to bytes is render/outputs.py's OUTPUTS table; writing is render/tree.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from .check.alert_kinds import check_alert_kinds
from .check.dashboard_specs import (
    DashboardCheck,
    Findings,
    add_diagnostics,
    add_findings,
    check_dashboards,
    each_dashboard,
)
from .check.notifications import check_notifications, check_settings_credentials
from .check.slurm import check_nodelists
from .compile.build import Build, compile_build
from .diagnostics import Report
from .fleet.render import check_topology
from .model.loader import load_paths
from .model.project import Project, build_project
from .model.validate import validate_documents


@dataclass(frozen=True, kw_only=True)
class ModelCheck:
    """A check of the model alone: pure (no filesystem, no subprocess), run before anything is compiled."""

    name: str
    check: Callable[[Project, Report], None]


@dataclass(frozen=True, kw_only=True)
class OutputCheck:
    """A check of what the project compiles to (rules, dashboards), run on the Build before rendering.

    in_workers: the same check split over that many forked workers (workers.fork_map), for a check whose
    cost grows with the project; it must report exactly what `check` does, in the same order.
    """

    name: str
    check: Callable[[Build, Report], None]
    in_workers: Callable[[Build, Report, int], None] | None = None
    # The check's part over the whole build, returning the check of each dashboard: load_unchecked leaves
    # those to the caller (generate -j runs each in the worker that builds and renders the dashboard).
    per_dashboard: Callable[[Build, Report], DashboardCheck] | None = None


def _check_rules(build: Build, report: Report) -> None:
    """Every rule group, spec and generated: PromQL parses, series exist, names, intervals, templates.

    A parse error's line:col inside the expression comes from promtool when it is installed (the only
    subprocess of the checks, which is why this is an output check and not a model check).
    """
    from .check.semantic import check_project
    from .check.tools import locate_parse_errors
    from .model.rule_files import PassthroughGroup, demote_uncatalogued

    check_project(build.project, build.rule_groups, report, locate=locate_parse_errors)
    # Adopted rule files keep their identity: what they read that no catalog knows is a warning, not an error.
    demote_uncatalogued(report, [g for g in build.spec_groups if isinstance(g, PassthroughGroup)])


# The checks, in the order they run. A new check is one line here.
MODEL_CHECKS: list[ModelCheck] = [
    ModelCheck(name="alert kinds", check=check_alert_kinds),
    ModelCheck(name="notifications", check=check_notifications),
    ModelCheck(name="settings credentials", check=check_settings_credentials),
    ModelCheck(name="slurm nodelists", check=check_nodelists),
]
OUTPUT_CHECKS: list[OutputCheck] = [
    OutputCheck(name="rules", check=_check_rules),
    # Signals resolve, panel queries parse and read only catalogued or recorded series; rendered-JSON lint.
    OutputCheck(name="dashboards", check=check_dashboards, in_workers=check_dashboards, per_dashboard=each_dashboard),
    # A Topology resolves, and its rule groups split into cluster and global tiers (fleet/).
    OutputCheck(name="fleet topology", check=check_topology),
]


def load_model(
    paths: Iterable[str],
    env: Mapping[str, str] | None = None,
    allow_unknown_buckets: bool = False,
    report: Report | None = None,
) -> tuple[Project, Report]:
    """Files -> documents -> schema -> model; raises SpecError with every problem found so far."""
    from .backends.bundled import with_bundled_backends
    from .compile.probes_project import attach_probes
    from .fleet.model import build_topology
    from .importers import convert_foreign
    from .model.dashboard_files import attach_exports, without_exports
    from .model.dashboards import build_project_dashboards
    from .model.probes import build_project_probes
    from .model.rule_files import check_rule_document, passthrough_groups, split_rule_documents
    from .model.services import build_services

    report = report or Report()
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
    core = build_project(good, report, env)
    # Each step below returns the project with its records added; the Project is never changed in place.
    project = replace(
        core,
        groups=core.groups + [g for d in rule_docs for g in passthrough_groups(d)],
        documents=core.documents + rule_docs,
    )
    project = build_project_probes(project, report)
    project = attach_probes(project)  # before services: probe SLIs read the probes, their series join the catalogs
    project = build_services(project, report, allow_unknown_buckets)
    project = build_project_dashboards(project)
    project = replace(project, topology=build_topology(project, report))
    report.raise_if_errors()
    return project, report


def load_build(
    paths: Iterable[str],
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    allow_unknown_buckets: bool = False,
    jobs: int = 1,
) -> tuple[Build, Report]:
    """Load, check and compile specs; raises SpecError with every problem found.

    jobs: worker processes for the checks that split (the report is the same for any number).
    """

    build, report = _compiled(paths, env, allow_unknown_buckets)
    for output_check in OUTPUT_CHECKS:
        if jobs > 1 and output_check.in_workers is not None:
            output_check.in_workers(build, report, jobs)
        else:
            output_check.check(build, report)
    return build, _concluded(report, strict)


def _compiled(paths: Iterable[str], env: Mapping[str, str] | None, allow_unknown_buckets: bool) -> tuple[Build, Report]:
    """The model, its checks, and the Build (whose dashboards are built on first use)."""
    project, report = load_model(paths, env, allow_unknown_buckets)
    for model_check in MODEL_CHECKS:
        model_check.check(project, report)
    return compile_build(project), report


def _concluded(report: Report, strict: bool) -> Report:
    """The report once every check ran: --strict makes warnings errors; raises SpecError on any error."""
    if strict:
        for w in report.warnings:
            report.error(w.pos, w.message, w.path, w.expected)
    report.raise_if_errors()
    return report


@dataclass(frozen=True, kw_only=True)
class Unchecked:
    """A Build checked but for the output checks before the dashboards' (the rule checks) and each dashboard on
    its own: both may run in other processes (generate's workers, while the output renders), and finish()
    adds what they found where load_build's report holds it."""

    build: Build
    report: Report  # the model checks' diagnostics: every output check's go after them
    before: list[OutputCheck]  # the output checks before the dashboards', not run yet (checked_before)
    whole: Report  # the dashboards' checks taken together
    check_one: DashboardCheck
    after: Report  # the diagnostics of the output checks after the dashboards'
    strict: bool

    @property
    def failed(self) -> bool:
        """Whether load_build fails whatever the checks left to run find (then nothing is rendered)."""
        items = [*self.report.items, *self.whole.items, *self.after.items]
        return any(d.severity == "error" or self.strict for d in items)

    def checked_before(self) -> Report:
        """The report with the output checks before the dashboards' run into it, in whichever process this
        is: a worker's copy of it comes back pickled. They run on the model checks' own report, as in
        load_build, since they also rewrite what it holds (model.rule_files.demote_uncatalogued)."""
        for output_check in self.before:
            output_check.check(self.build, self.report)
        return self.report

    def finish(self, before: Report, found: Iterable[Findings]) -> Report:
        """load_build's report, from checked_before's and every dashboard's findings in dashboard order;
        raises SpecError as it."""
        report = before
        add_diagnostics(report, self.whole.items)
        add_findings(report, found)
        add_diagnostics(report, self.after.items)
        return _concluded(report, self.strict)


def load_unchecked(
    paths: Iterable[str],
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    allow_unknown_buckets: bool = False,
) -> Unchecked:
    """load_build up to the rule checks and the dashboards' own checks, which the caller runs
    (Unchecked.checked_before, Unchecked.check_one) and hands to Unchecked.finish; raises SpecError from the
    model as load_build does."""
    build, report = _compiled(paths, env, allow_unknown_buckets)
    dashboards = next(i for i, c in enumerate(OUTPUT_CHECKS) if c.per_dashboard is not None)
    whole, after = Report(), Report()
    check_one: DashboardCheck | None = None
    for output_check in OUTPUT_CHECKS[dashboards:]:
        if output_check.per_dashboard is not None:
            check_one = output_check.per_dashboard(build, whole)
        else:
            output_check.check(build, after)
    assert check_one is not None
    return Unchecked(
        build=build,
        report=report,
        before=OUTPUT_CHECKS[:dashboards],
        whole=whole,
        check_one=check_one,
        after=after,
        strict=strict,
    )


def load_project(
    paths: Iterable[str],
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    allow_unknown_buckets: bool = False,
) -> tuple[Project, Report]:
    """load_build's checked model alone, for callers that read only the model."""
    build, report = load_build(paths, env, strict, allow_unknown_buckets)
    return build.project, report
