"""Everything decided about a dashboard before the Grafana SDK is called: each query resolved to the PromQL
Grafana sends (resolve), panel ids, the grid layout, and the links' uids (Plan). compiler.py builds the JSON."""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...model.dashboards import Dashboard, Panel, Query, Slot
from .signals import Scope, SignalError, service_scope, signal_query

if TYPE_CHECKING:
    from ...backends.adapter import Backend
    from ...model.project import Project
    from ...model.services import Service

Grid = tuple[int, int, int, int]  # x, y, w, h in grid units
GRID_WIDTH = 24
ID_SPACE = 100000  # panel ids are 1..99999: short enough to read in a diff, rarely colliding
FILTER_VARIABLES = ("job", "instance", "model")  # the variables a signal query filters on
# Default sizes by panel type (grid columns x rows): graphs two per line, single values four per line.
SIZES = {
    "timeseries": (12, 8),
    "heatmap": (12, 8),
    "table": (12, 8),
    "bargauge": (12, 8),
    "stat": (6, 5),
    "gauge": (6, 5),
    "text": (24, 3),
}


@dataclass(frozen=True, kw_only=True)
class Target:
    """A resolved panel query: what Grafana sends to Prometheus."""

    expr: str
    ref_id: str
    legend: str = ""
    format: str = "time_series"
    instant: bool = False
    hide: bool = False


@dataclass(frozen=True, kw_only=True)
class Problem:
    """A query that could not be resolved, with the spec field it came from."""

    query: Query
    field: str
    message: str
    expected: str


@dataclass(frozen=True, kw_only=True)
class Context:
    """What compiling a project's dashboards needs to know besides the dashboards themselves."""

    backends: dict[str, Backend] = field(default_factory=dict)  # name -> Backend
    services: dict[str, Service] = field(default_factory=dict)  # name -> Service
    uids: dict[str, str] = field(default_factory=dict)  # dashboard name or uid -> uid, for links


def context_for(project: Project, dashboards: list[Dashboard]) -> Context:
    """The compile context of a project and its dashboards."""
    uids: dict[str, str] = {}
    for d in dashboards:
        uids.setdefault(d.name, d.uid)
        uids.setdefault(d.uid, d.uid)
    return Context(
        backends=dict(getattr(project, "backends", {}) or {}),
        services={s.name: s for s in getattr(project, "services", []) or []},
        uids=uids,
    )


def variable_names(dash: Dashboard) -> tuple[str, ...]:
    return tuple(v.name for v in dash.variables)


def scope_of(ctx: Context, dash: Dashboard, service_name: str) -> Scope | str:
    """The signal scope of a query (its service, else the dashboard's service or backend), or why there is none."""
    name = service_name or dash.service
    filters = tuple(v for v in variable_names(dash) if v in FILTER_VARIABLES)
    if not name:
        if not dash.backend:
            return "a signal query needs a service or backend (spec.service, spec.backend, or service: in the query)"
        backend = ctx.backends.get(dash.backend)
        known = ", ".join(sorted(ctx.backends)) or "none"
        return (
            Scope(backend=backend, variables=filters)
            if backend
            else f"unknown backend {dash.backend!r} (backends: {known})"
        )
    service = ctx.services.get(name)
    if service is None:
        known = ", ".join(sorted(ctx.services)) or "none"
        return f"unknown service {name!r} (services: {known})"
    backend = ctx.backends.get(service.backend)
    if backend is None:
        return f"service {name!r} has no backend to resolve signals through"
    return service_scope(service, backend, filters)


def resolve(ctx: Context, dash: Dashboard) -> tuple[dict[Slot, list[Target]], list[Problem]]:
    """Targets of every panel (by its Slot) and the queries that could not be resolved."""
    out: dict[Slot, list[Target]] = {}
    problems: list[Problem] = []
    scopes: dict[str, Scope | str] = {}  # by query service: scope_of is pure in (ctx, dash, name)
    for slot, _row, panel in dash.slots():
        targets: list[Target] = []
        used = {q.ref_id for q in panel.queries if q.ref_id}
        letters = iter(_ref_letter_table())
        for q in panel.queries:
            ref_id = q.ref_id or next(x for x in letters if x not in used)
            used.add(ref_id)
            if q.expr:
                targets.append(
                    Target(
                        expr=q.expr.strip(),
                        ref_id=ref_id,
                        legend=q.legend,
                        format=q.format or _default_format(panel),
                        instant=q.instant,
                        hide=q.hide,
                    )
                )
                continue
            scope = scopes.get(q.service)
            if scope is None:
                scope = scopes[q.service] = scope_of(ctx, dash, q.service)
            if isinstance(scope, str):
                problems.append(
                    Problem(
                        query=q,
                        field="signal",
                        message=scope,
                        expected="service: <a Service name> on the dashboard or query",
                    )
                )
                continue
            try:
                expr, legend, fmt = signal_query(
                    scope,
                    q.signal,
                    quantile=q.quantile,
                    quantile_written=q.quantile_text,
                    mean=q.mean,
                    ratio=q.ratio,
                    by=q.by,
                    heatmap=panel.type == "heatmap" and q.quantile is None and not q.mean,
                )
            except SignalError as exc:
                problems.append(Problem(query=q, field="signal", message=str(exc), expected=exc.expected))
                continue
            targets.append(
                Target(
                    expr=expr,
                    ref_id=ref_id,
                    legend=q.legend or legend,
                    format=q.format or fmt,
                    instant=q.instant,
                    hide=q.hide,
                )
            )
        out[slot] = targets
    return out, problems


def ref_letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: Grafana's refId sequence."""
    out = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        out = chr(65 + rem) + out
    return out


@functools.cache
def _ref_letter_table() -> tuple[str, ...]:
    """The refIds resolve hands out, computed once (not per query of every dashboard)."""
    return tuple(ref_letters(i) for i in range(10000))


def _default_format(panel: Panel) -> str:
    return "heatmap" if panel.type == "heatmap" else "table" if panel.type == "table" else "time_series"


def panel_ids(dash: Dashboard) -> dict[Slot, int]:
    """A stable id per row and panel: explicit ids kept, others hashed from row and panel titles.

    Hashing the titles (not the position) keeps every other panel's id when one is added, removed
    or moved; a collision probes upward, deterministically, in layout order.
    """
    taken = {p.id for _r, p in dash.panels() if p.id}
    ids: dict[Slot, int] = {}
    items: list[tuple[Slot, str]] = []
    for i, row in enumerate(dash.rows):
        if row.title:
            items.append((Slot(row=i), f"row/{row.title}"))
        for j, panel in enumerate(row.panels):
            if panel.id:
                ids[Slot(row=i, panel=j)] = panel.id
            else:
                items.append((Slot(row=i, panel=j), f"{row.title}/{panel.title}"))
    for slot, key in items:
        n = zlib.crc32(key.encode()) % (ID_SPACE - 1) + 1
        while n in taken:
            n = n % (ID_SPACE - 1) + 1
        taken.add(n)
        ids[slot] = n
    return ids


def layout(dash: Dashboard) -> dict[Slot, Grid]:
    """gridPos per row and panel (by Slot), flowing left to right in spec order."""
    pos: dict[Slot, Grid] = {}
    y = 0
    for i, row in enumerate(dash.rows):
        if row.title:
            pos[Slot(row=i)] = (0, y, GRID_WIDTH, 1)
            y += 1
        x, line_h = 0, 0
        for j, panel in enumerate(row.panels):
            w0, h0 = SIZES[panel.type]
            w, h = panel.width or w0, panel.height or h0
            if x + w > GRID_WIDTH:
                x, y, line_h = 0, y + line_h, 0
            pos[Slot(row=i, panel=j)] = (x, y, w, h)
            x += w
            line_h = max(line_h, h)
        y += line_h
    return pos


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything decided about a dashboard before the SDK is called: queries, ids, positions."""

    dash: Dashboard
    scope: Scope | None
    targets: dict[Slot, list[Target]]
    ids: dict[Slot, int]  # row or panel -> panel id
    grid: dict[Slot, tuple[int, int, int, int]]  # row or panel -> (x, y, w, h)
    uids: dict[str, str]  # dashboard name or uid -> uid, for links


def plan_dashboard(ctx: Context, dash: Dashboard) -> Plan:
    """Resolve queries, assign ids and lay panels out: the spec layer's own work."""
    targets, _problems = resolve(ctx, dash)
    return plan_with(ctx, dash, targets)


def plan_with(ctx: Context, dash: Dashboard, targets: dict[Slot, list[Target]]) -> Plan:
    """The plan of a dashboard whose queries resolve() already resolved (ids and layout assigned here)."""
    scope = scope_of(ctx, dash, "") if dash.service or dash.backend else None
    return Plan(
        dash=dash,
        scope=scope if isinstance(scope, Scope) else None,
        targets=targets,
        ids=panel_ids(dash),
        grid=layout(dash),
        uids=ctx.uids,
    )
