"""Spec-level checks of a project's dashboards (written and generated), run with the other semantic
checks before anything is written: signals, series, titles, ids, links, and the rendered-JSON lint."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..compile.dashboards.grafana_vars import variables_used
from ..compile.promql import PromQLError
from ..diagnostics import did_you_mean
from ..model.dashboards import Dashboard, Panel, Query, Slot
from ..model.project import RecordingRule
from .dashboards import _EXPECTED, validate_compiled, validate_dashboard
from .lint_keys import lint_key
from .panel_queries import panel_query, shape_readings, shaped_queries

if TYPE_CHECKING:
    from ..compile.build import Build
    from ..compile.dashboards.plan import Context, Plan, Problem, Target
    from ..compile.dashboards.project import BuiltDashboard
    from ..diagnostics import Diagnostic, Position, Report
    from ..model.project import Ref
    from .semantic import Universe


def check_dashboards(build: Build, report: Report, jobs: int = 1) -> None:
    """Spec-level checks of every dashboard (written and generated): signals, series, titles, links, ids;
    then the rendered-JSON lint of each one that passed them, on the JSON the build holds.

    jobs > 1: the dashboards are checked in that many forked workers, each on its own Report; their
    findings are added here in dashboard order, so the report is the one a single process makes.
    """
    check_one = each_dashboard(build, report)
    built_list = build.dashboards.dashboards
    if jobs > 1:
        from ..workers import fork_map

        add_findings(report, fork_map(lambda i: check_one(built_list[i]), len(built_list), jobs))
        return
    ctx, series = check_one.ctx, check_one.series
    for built in built_list:
        if built.plan is None:
            continue  # a Grafana export: checked (leniently, at its own line:col) when it was read
        before = len(report.errors)
        _check_one(built, built.plan, ctx, series, report)
        if len(report.errors) == before and built.compiled is not None:
            _lint_compiled(built, built.plan, report)


@dataclass(frozen=True, kw_only=True)
class DashboardCheck:
    """The check of one dashboard on its own (in whichever process builds it): its Findings, which
    add_findings adds to the report in dashboard order."""

    ctx: Context
    series: Series

    def __call__(self, built: BuiltDashboard) -> Findings:
        return _findings(built, self.ctx, self.series)


def each_dashboard(build: Build, report: Report) -> DashboardCheck:
    """The checks of the dashboards taken together (names, placeholders, vanished panels), into the report;
    returns the check of each one, which the caller runs on every dashboard and adds with add_findings."""
    from .semantic import Universe

    project, dashboards = build.project, build.dashboards
    _check_names(dashboards.written, report)
    from ..compile.dashboards.templated import check_user_placeholders

    check_user_placeholders(dashboards.written, report)  # the bundled templates' ${slo.name}: not a spec's
    from .vanished_panels import warn_vanished

    warn_vanished(project, dashboards.models(), report, dashboards.left_out)
    recorded = {r.record for g in build.rule_groups for r in g.rules if isinstance(r, RecordingRule)}
    return DashboardCheck(ctx=dashboards.ctx, series=Series(universe=Universe(project), recorded=recorded))


def add_findings(report: Report, found: Iterable[Findings]) -> None:
    """Every dashboard's findings, in dashboard order: what check_dashboards adds in one process."""
    for one in found:
        before = len(report.errors)
        add_diagnostics(report, one.checks)
        if len(report.errors) == before:  # the lint only of a dashboard whose checks passed
            add_diagnostics(report, one.lint)


# Bounds Series.clean_read: one entry per kind of generated dashboard (and per written one) in a project.
_CLEAN_READ_MAX = 16384


@dataclass(frozen=True, kw_only=True)
class Series:
    """The series a dashboard query may read: catalogued (in the universe) or recorded. Whether all of a
    query's metric names are is remembered per distinct tuple of names: services' copies of a generated
    query read one tuple (the cached panel_query reading of its shape), so it is decided once for all."""

    universe: Universe
    recorded: set[str]
    all_read: dict[tuple[str, ...], bool] = dataclasses.field(default_factory=dict)
    clean_read: dict[tuple[frozenset[str], str], bool] = dataclasses.field(default_factory=dict)

    def known(self, name: str) -> bool:
        return name in self.recorded or self.universe.known(name)

    def all_known(self, names: tuple[str, ...]) -> bool:
        known = self.all_read.get(names)
        if known is None:
            known = self.all_read[names] = all(map(self.known, names))
        return known

    def queries_clean(self, exprs: list[str], defined: set[str]) -> bool:
        """True when _check_expr would find nothing in any of the queries, for a dashboard of these variables;
        False when it might (then each query is checked). Decided once per shaped_queries text and variables:
        a query's findings come from its panel_query reading (variables and metric names) alone, and that
        is its shape's; the label values a shape leaves out, the query's place and wording never make one."""
        text = shaped_queries(exprs)
        if text is None:
            return False
        key = (frozenset(defined), text)
        clean = self.clean_read.get(key)
        if clean is None:
            if len(self.clean_read) >= _CLEAN_READ_MAX:
                self.clean_read.clear()
            clean = self.clean_read[key] = all(
                defined.issuperset(q.variables) and self.all_known(q.metrics) for q in shape_readings(text)
            )
        return clean


@dataclass(frozen=True, kw_only=True)
class Findings:
    """One dashboard's diagnostics found on their own (in a worker): its checks', and its lint's, which
    count only when the checks add no error to the whole report (a repeated error is not new there)."""

    checks: list[Diagnostic]
    lint: list[Diagnostic]


def _findings(built: BuiltDashboard, ctx: Context, series: Series) -> Findings:
    from ..diagnostics import Report

    if built.plan is None:
        return Findings(checks=[], lint=[])
    checks, lint = Report(), Report()
    _check_one(built, built.plan, ctx, series, checks)
    if built.compiled is not None:
        _lint_compiled(built, built.plan, lint)
    return Findings(checks=checks.items, lint=lint.items)


def add_diagnostics(report: Report, found: list[Diagnostic]) -> None:
    """found, added to the report as they were found (a repeat of one it holds is dropped, as always)."""
    for d in found:
        (report.error if d.severity == "error" else report.warn)(d.pos, d.message, d.path, d.expected)


def _check_one(built: BuiltDashboard, plan: Plan, ctx: Context, series: Series, report: Report) -> None:
    """The spec checks of one built dashboard (not a Grafana export)."""
    dash = built.dashboard
    problems = built.problems
    targets = plan.targets
    reported = problems
    if not _check_scope(dash, ctx, report):
        reported = [p for p in problems if p.query.service]  # the dashboard's own scope was reported once
    for p in reported:
        report.error(
            p.query.ref.pos(p.field if p.query.signal else "expr"),
            p.message,
            p.query.ref.dotted(p.field),
            p.expected,
        )
    defined = {v.name for v in dash.variables}
    _check_variables(dash, ctx, report)
    _check_repeats(dash, targets, report)
    titles: dict[tuple[str, str], Ref] = {}
    ids: dict[int, Ref] = {}
    written = not dash.generated
    # Every query the loop checks is one of the plan's targets: when they are all clean, none is checked.
    exprs_clean = series.queries_clean([t.expr for ts in targets.values() for t in ts], defined)
    for slot, row, panel in dash.slots():
        if len(panel.thresholds) > 1:  # only a step after the first can lack its value
            _check_base_colour(panel, report)
        key = (row.title, panel.title)
        if key in titles:
            report.error(
                panel.ref.pos("title"),
                f"two panels titled {panel.title!r} in row {row.title or '(top)'!r}",
                panel.ref.dotted("title"),
                f"a unique title in the row (first at {titles[key].pos('title')})",
            )
        titles.setdefault(key, panel.ref)  # where, looked up only for a duplicate: positions cost
        if panel.id:
            if panel.id in ids:
                report.error(
                    panel.ref.pos("id"),
                    f"panel id {panel.id} is used twice",
                    panel.ref.dotted("id"),
                    f"a unique id (first at {ids[panel.id].pos('id')})",
                )
            ids.setdefault(panel.id, panel.ref)
        if panel.type != "text" and not panel.unit:
            report.error(
                panel.ref.pos("title"),
                f"panel {panel.title!r} sets no unit",
                panel.ref.dotted(),
                "unit: a Grafana unit such as s, reqps, percentunit, bytes or short",
            )
        if exprs_clean:
            continue
        queries = [q for q in panel.queries if not _failed(q, problems)] if problems else panel.queries
        for query, target in zip(queries, targets[slot], strict=True):  # one target per query that resolved
            _check_expr(query, target.expr, defined, series, report, written=written)
    for link in dash.links + [link for _r, p in dash.panels() for link in p.links]:
        if link.dashboard and link.dashboard not in ctx.uids:
            hint = did_you_mean(link.dashboard, ctx.uids)
            report.error(
                dash.ref.pos("links"),
                f"link to unknown dashboard {link.dashboard!r}{hint}",
                dash.ref.dotted("links"),
                "the name or uid of a dashboard of this project",
            )


# Rules the spec checks above already report, with better positions and messages.
_SPEC_CHECKED = ("panel-units", "panel-title-unique", "panel-id", "target-promql", "template-undefined")

# lint_key()s of generated dashboards whose lint (less _SPEC_CHECKED) came back clean. Only clean results
# are kept, so a finding always comes from validate_compiled itself, with its own wording and place; a
# lint_key holds its templates, so none is freed and another made at its address while the key is here.
_LINT_CLEAN: set[Hashable] = set()
_LINT_CLEAN_MAX = 4096


def _lint_compiled(built: BuiltDashboard, plan: Plan, report: Report) -> None:
    """The rules `promspec check` applies to rendered JSON, applied before anything is written.

    A preset's dashboards are checked against the schema once per shape (promspec built them), on the
    record the writer reads; a written one is checked in full, on its JSON as a dict.
    """
    dash = built.dashboard
    key = lint_key(built.compiled) if dash.generated and built.compiled is not None else None
    if key is not None and key in _LINT_CLEAN:
        return  # a generated dashboard of a shape already linted clean: so is this one (see lint_key)
    if dash.generated and built.compiled is not None:
        data, found = validate_compiled(built.compiled)
    else:
        data = built.data or {}
        found = validate_dashboard(data)
    found = [f for f in found if f[1] not in _SPEC_CHECKED]
    if key is not None and not found:
        if len(_LINT_CLEAN) >= _LINT_CLEAN_MAX:
            _LINT_CLEAN.clear()
        _LINT_CLEAN.add(key)
    by_id = {plan.ids[slot]: p for slot, _r, p in dash.slots()} if found else {}
    for jpath, rule, message, _severity in found:
        ref, field = dash.ref, "variables" if jpath[:1] == ("templating",) else ""
        if jpath[:1] == ("panels",) and len(jpath) > 1:
            node = data["panels"][jpath[1]]
            if len(jpath) > 3 and jpath[2] == "panels":
                node = node["panels"][jpath[3]]
            panel = by_id.get(node.get("id"))
            if panel is not None:
                ref, field = panel.ref, "title"
                if "targets" in jpath:
                    k = jpath[jpath.index("targets") + 1]
                    if isinstance(k, int) and k < len(panel.queries):
                        ref, field = panel.queries[k].ref, "expr" if panel.queries[k].expr else "signal"
        where = (field,) if field else ()
        report.error(
            ref.pos(*where),
            f"{message} [{rule}]",
            ref.dotted(*where),
            _EXPECTED.get(rule, "a dashboard Grafana's schema accepts"),
        )


def _failed(query: Query, problems: list[Problem]) -> bool:
    return any(p.query is query for p in problems)


def _check_base_colour(panel: Panel, report: Report) -> None:
    """Only the first threshold step may leave its value out (the base colour): Grafana orders the rest by
    value, so a step without one would be drawn nowhere."""
    for i, (value, _colour) in enumerate(panel.thresholds[1:], start=1):
        if value is None:
            report.error(
                panel.ref.pos("thresholds", i),
                "a threshold step without a value after the first",
                panel.ref.dotted("thresholds", i),
                "value: the number this colour starts at (only the first step may leave it out: the base colour)",
            )


def _check_names(written: list[Dashboard], report: Report) -> None:
    seen: dict[str, tuple[Dashboard, Position]] = {}
    for dash in written:
        for key, field in ((dash.name, ("metadata", "name")), (dash.uid, ("spec", "uid"))):
            where = dash.ref.doc.pos(field)
            if key in seen and seen[key][0] is not dash:
                report.error(
                    where,
                    f"dashboard {key!r} is declared twice",
                    ".".join(field),
                    f"a unique name and uid (first at {seen[key][1]})",
                )
            seen.setdefault(key, (dash, where))


def _check_scope(dash: Dashboard, ctx: Context, report: Report) -> bool:
    """False (and one error at spec.service or spec.backend) when the dashboard names an unknown one."""
    if dash.service and dash.service not in ctx.services:
        _unknown(report, dash.ref, "service", dash.service, ctx.services)
        return False
    if not dash.service and dash.backend and dash.backend not in ctx.backends:
        _unknown(report, dash.ref, "backend", dash.backend, ctx.backends)
        return False
    return True


def _unknown(report: Report, ref: Ref, field: str, name: str, known: Iterable[str]) -> None:
    hint = did_you_mean(name, known)
    report.error(
        ref.pos(field),
        f"unknown {field} {name!r}{hint}",
        ref.dotted(field),
        f"one of: {', '.join(sorted(known)) or 'none declared'}",
    )


def _check_variables(dash: Dashboard, ctx: Context, report: Report) -> None:
    for v in dash.variables:
        if v.name == "model" and not v.metric and not (dash.service or dash.backend):
            report.error(
                v.ref.pos(),
                "variable 'model' needs a metric to list models from",
                v.ref.dotted(),
                "{name: model, metric: <a metric with the model label>}, or spec.service / spec.backend",
            )


def _check_repeats(dash: Dashboard, targets: dict[Slot, list[Target]], report: Report) -> None:
    """A row's repeat names a variable of the dashboard (an error otherwise); a warning when no query of the
    row reads it, since Grafana would then draw the same series in every copy of the row."""
    defined = [v.name for v in dash.variables]
    for i, row in enumerate(dash.rows):
        if not row.repeat:
            continue
        if row.repeat not in defined:
            report.error(
                row.ref.pos("repeat"),
                f"row {row.title!r} repeats by ${row.repeat}, which is not a variable of this dashboard"
                + did_you_mean(row.repeat, defined),
                row.ref.dotted("repeat"),
                "one of: " + ", ".join(defined) if defined else "a variable declared in spec.variables",
            )
            continue
        if row.repeat == "datasource":
            continue  # every panel reads its data source through the variable
        read = {
            name
            for j in range(len(row.panels))
            for t in targets.get(Slot(row=i, panel=j), [])
            for name in variables_used(t.expr)
        }
        if row.repeat not in read:
            report.warn(
                row.ref.pos("repeat"),
                f"row {row.title!r} repeats by ${row.repeat}, but no query of the row reads ${row.repeat}: "
                "every copy of the row would show the same series",
                row.ref.dotted("repeat"),
                f"${row.repeat} in the row's queries (a signal query filters on it when the dashboard declares it)",
            )


def _needle_pos(query: Query, field: str, needle: str, written: bool) -> Position:
    """Where needle first occurs inside the query's written expression, else the field itself."""
    ref = query.ref
    if not written:  # a generated query: no expression of its own in the spec
        return ref.pos()
    return ref.doc.pos_of_word(ref.path + (field,), query.expr, needle, also_before="$") or ref.pos(field)


def _check_expr(
    query: Query,
    expr: str,
    defined: set[str],
    series: Series,
    report: Report,
    *,
    written: bool,
) -> None:
    field = "expr" if query.expr else "signal"
    try:
        a = panel_query(expr)
    except PromQLError as exc:
        report.error(
            query.ref.pos(field),
            f"PromQL parse error: {exc}",
            query.ref.dotted(field),
            "a valid PromQL expression (Grafana variables such as $job and $__rate_interval allowed)",
        )
        return
    for name in a.variables if not defined.issuperset(a.variables) else ():
        if name not in defined:
            report.error(
                _needle_pos(query, field, "$" + name, written) if query.expr else query.ref.pos(field),
                f"${name} is not a variable of this dashboard",
                query.ref.dotted(field),
                "one of: " + ", ".join(sorted(defined)) if defined else "variables: [...] in the dashboard",
            )
    if series.all_known(a.metrics):
        return
    for name in dict.fromkeys(a.metrics):
        if series.known(name):
            continue
        hint = did_you_mean(name, list(series.universe.labels) + sorted(series.recorded))
        report.error(
            _needle_pos(query, field, name, written) if query.expr else query.ref.pos(field),
            f"metric {name!r} is neither catalogued nor recorded{hint}",
            query.ref.dotted(field),
            "a catalogued metric, a recorded series, or a name in a Catalog's external list",
        )
