"""Everything decided about a dashboard before the Grafana SDK is called: each query resolved to the PromQL
Grafana sends (resolve), panel ids, the grid layout, and the links' uids (Plan). compiler.py builds the JSON."""

from __future__ import annotations

import functools
import itertools
import operator
import zlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ...model.dashboards import Dashboard, Query, Slot
from ..promql import matcher
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


def resolve(
    ctx: Context, dash: Dashboard, frame: Frame | None = None
) -> tuple[dict[Slot, list[Target]], list[Problem]]:
    """Targets of every panel (by its Slot: frame's, in its order) and the queries that could not be resolved.
    frame: frame_of(dash), when the caller has it."""
    frame = frame or frame_of(dash)
    lists: list[list[Target]] = []
    problems: list[Problem] = []
    # By query service: scope_of is pure in (ctx, dash, name); with the scope, its selector's matchers.
    scopes: dict[str, tuple[Scope | str, tuple[str, ...]]] = {}
    letter_table = _ref_letter_table()
    for row in dash.rows:
        for panel in row.panels:
            queries = panel.queries
            targets: list[Target] = []
            lists.append(targets)
            if not queries:
                continue
            default_format = _DEFAULT_FORMATS.get(panel.type, "time_series")
            # No refId written (the usual case): A, B, C, ... in order, what the search below hands out then;
            # a panel of more queries than the table takes the search's endless letters.
            written = any(map(_REF_ID, queries)) or len(queries) > len(letter_table)
            used = {q.ref_id for q in queries if q.ref_id} if written else set()
            letters = map(ref_letters, itertools.count())
            for n, q in enumerate(queries):
                if not written:
                    ref_id = letter_table[n]
                else:
                    ref_id = q.ref_id or next(x for x in letters if x not in used)
                    used.add(ref_id)
                if q.expr:
                    targets.append(
                        Target(
                            expr=q.expr.strip(),
                            ref_id=ref_id,
                            legend=q.legend,
                            format=q.format or default_format,
                            instant=q.instant,
                            hide=q.hide,
                        )
                    )
                    continue
                known = scopes.get(q.service)
                if known is None:
                    scope_found = scope_of(ctx, dash, q.service)
                    known = scopes[q.service] = (
                        scope_found,
                        tuple(matcher(k, v) for k, v in scope_found.selector.items())
                        if isinstance(scope_found, Scope)
                        else (),
                    )
                scope, matchers = known
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
                    expr, legend, fmt = _signal_query(scope, matchers, q, panel.type == "heatmap")
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
    return dict(zip(frame.slots, lists, strict=True)), problems


_REF_ID = operator.attrgetter("ref_id")
_DEFAULT_FORMATS = {"heatmap": "heatmap", "table": "table"}  # by panel type; else time_series


@dataclass(frozen=True, kw_only=True)
class _SignalShape:
    """signal_query's answer for one query shape under one scope shape (the same backend, version, renaming,
    variables and selector labels; any selector values): the expression cut where the selector's matchers go.
    """

    backend: Backend  # the backend it was made with: a cached answer is used only for this very object
    parts: tuple[str, ...]  # the expression: parts[0], matchers[order[0]], parts[1], ...
    order: tuple[int, ...]  # per cut, the index of the selector item whose matcher goes there
    legend: str
    format: str
    error: SignalError | None = None  # the query's error under this shape (it names no selector value)


# Query shapes by _signal_key; None: the probe showed the selector's values are not just copied in (the
# query goes through signal_query every time). Bounded: a long-lived process builds many projects.
_SIGNAL_SHAPES: dict[tuple[object, ...], _SignalShape | None] = {}
_SIGNAL_SHAPES_MAX = 4096


def _signal_key(scope: Scope, q: Query, heatmap_panel: bool) -> tuple[object, ...]:
    # The quantile's type too: 1 and 1.0 are equal keys but print differently (repr).
    return (
        scope.backend.name,
        scope.version,
        scope.rename,
        scope.variables,
        tuple(scope.selector),
        q.signal,
        type(q.quantile),
        q.quantile,
        q.quantile_text,
        bool(q.mean),
        bool(q.ratio),
        q.by,
        heatmap_panel and q.quantile is None and not q.mean,
    )


def _signal_query(scope: Scope, matchers: tuple[str, ...], q: Query, heatmap_panel: bool) -> tuple[str, str, str]:
    """signal_query(scope, ...) of q, made once per query and scope shape and filled with the scope's matchers
    (matcher(k, v) of each selector item, in order)."""
    key = _signal_key(scope, q, heatmap_panel)
    shape = _SIGNAL_SHAPES.get(key, _MISSING)
    if shape is _MISSING or (shape is not None and shape.backend is not scope.backend):
        if len(_SIGNAL_SHAPES) >= _SIGNAL_SHAPES_MAX:
            _SIGNAL_SHAPES.clear()
        shape = _SIGNAL_SHAPES[key] = _signal_shape(scope, q, heatmap_panel)
    if shape is None:
        return _direct_signal_query(scope, q, heatmap_panel)
    if shape.error is not None:
        raise SignalError(str(shape.error), shape.error.expected)
    parts = shape.parts
    expr = parts[0]
    for n, index in enumerate(shape.order, 1):
        expr += matchers[index] + parts[n]
    return expr, shape.legend, shape.format


_MISSING: Any = object()


def _direct_signal_query(scope: Scope, q: Query, heatmap_panel: bool) -> tuple[str, str, str]:
    return signal_query(
        scope,
        q.signal,
        quantile=q.quantile,
        quantile_written=q.quantile_text,
        mean=q.mean,
        ratio=q.ratio,
        by=q.by,
        heatmap=heatmap_panel and q.quantile is None and not q.mean,
    )


def _probe_value(n: int, k: int) -> str:
    # Private-use characters: quote() keeps them as they are, and no engine's metric or label holds them.
    return f"\ue000probe{n}.{k}\ue001"


def _signal_shape(scope: Scope, q: Query, heatmap_panel: bool) -> _SignalShape | None:
    """The shape of q under scope's shape, or None when putting matchers in does not reproduce signal_query.

    Built with probe values for the selector and cut at their matchers; a second set of probe values, put
    into the cuts, must give what signal_query gives for them (else the values are used some other way).
    """
    labels = tuple(scope.selector)
    answers: list[tuple[str, str, str] | SignalError] = []
    for n in (0, 1):
        probe = replace(scope, selector={k: _probe_value(n, i) for i, k in enumerate(labels)})
        try:
            answers.append(_direct_signal_query(probe, q, heatmap_panel))
        except SignalError as exc:
            answers.append(exc)
    first, second = answers
    if isinstance(first, SignalError) and isinstance(second, SignalError):
        if (str(first), first.expected) != (str(second), second.expected):
            return None  # the message names a selector value: made per query
        return _SignalShape(backend=scope.backend, parts=(), order=(), legend="", format="", error=first)
    if isinstance(first, SignalError) or isinstance(second, SignalError):
        return None
    expr, legend, fmt = first
    cuts = [matcher(k, _probe_value(0, i)) for i, k in enumerate(labels)]
    parts: list[str] = []
    order: list[int] = []
    rest = expr
    while True:
        found = [(rest.find(c), i) for i, c in enumerate(cuts) if c in rest]
        if not found:
            break
        at, index = min(found)
        parts.append(rest[:at])
        order.append(index)
        rest = rest[at + len(cuts[index]) :]
    parts.append(rest)
    shape = _SignalShape(backend=scope.backend, parts=tuple(parts), order=tuple(order), legend=legend, format=fmt)
    second_matchers = [matcher(k, _probe_value(1, i)) for i, k in enumerate(labels)]
    filled = parts[0] + "".join(second_matchers[i] + part for i, part in zip(order, parts[1:], strict=True))
    return shape if (filled, legend, fmt) == second else None


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


def _panel_ids(dash: Dashboard) -> dict[Slot, int]:
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


def _layout(dash: Dashboard) -> dict[Slot, Grid]:
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
class Frame:
    """What a dashboard's ids and layout are a function of, worked out once per frame: many generated
    dashboards share one (the same rows and panels by title, id, type and size; other strings differ)."""

    slots: tuple[Slot, ...]  # every panel's slot, in layout order (dash.slots()'s)
    rows: tuple[Slot, ...]  # every row's slot, in order
    ids: dict[Slot, int]  # panel_ids(): shared by the frame's dashboards, never changed
    grid: dict[Slot, Grid]  # layout(): the same
    panel_ids: tuple[int, ...]  # ids[slot] of each of slots (read in order, without hashing a Slot each)
    panel_grid: tuple[Grid, ...]  # grid[slot] of each of slots
    exact: bool  # every id and position in panel_ids and panel_grid is of type int (not bool, not float)


# Frames by _frame_key. Bounded like the compiler's caches.
_FRAMES: dict[tuple[object, ...], Frame] = {}
_FRAMES_MAX = 4096


def _frame_key(dash: Dashboard) -> tuple[object, ...]:
    # Types too, where a value could be a bool as well as an int (True and 1 are equal keys).
    return tuple(
        (
            row.title,
            tuple(
                (p.title, p.type, p.id, type(p.id), p.width, type(p.width), p.height, type(p.height))
                for p in row.panels
            ),
        )
        for row in dash.rows
    )


def frame_of(dash: Dashboard) -> Frame:
    """The dashboard's Frame (its slots, ids and layout), made once per distinct frame key."""
    key = _frame_key(dash)
    frame = _FRAMES.get(key)
    if frame is None:
        if len(_FRAMES) >= _FRAMES_MAX:
            _FRAMES.clear()
        slots = tuple(slot for slot, _r, _p in dash.slots())
        ids, grid = _panel_ids(dash), _layout(dash)
        frame = _FRAMES[key] = Frame(
            slots=slots,
            rows=tuple(Slot(row=i) for i in range(len(dash.rows))),
            ids=ids,
            grid=grid,
            panel_ids=tuple(ids[slot] for slot in slots),
            panel_grid=tuple(grid[slot] for slot in slots),
            exact=all(type(v) is int for slot in slots for v in (ids[slot], *grid[slot])),
        )
    return frame


def panel_ids(dash: Dashboard) -> dict[Slot, int]:
    """A stable id per row and panel (see _panel_ids): a shared dict, never to be changed."""
    return frame_of(dash).ids


def layout(dash: Dashboard) -> dict[Slot, Grid]:
    """gridPos per row and panel (see _layout): a shared dict, never to be changed."""
    return frame_of(dash).grid


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything decided about a dashboard before the SDK is called: queries, ids, positions."""

    dash: Dashboard
    scope: Scope | None
    targets: dict[Slot, list[Target]]
    ids: dict[Slot, int]  # row or panel -> panel id
    grid: dict[Slot, tuple[int, int, int, int]]  # row or panel -> (x, y, w, h)
    uids: dict[str, str]  # dashboard name or uid -> uid, for links
    frame: Frame  # frame_of(dash): its slots (ids and grid above are the frame's unless a test replaced them)


def plan_dashboard(ctx: Context, dash: Dashboard) -> Plan:
    """Resolve queries, assign ids and lay panels out: the spec layer's own work."""
    targets, _problems = resolve(ctx, dash)
    return plan_with(ctx, dash, targets)


def plan_with(ctx: Context, dash: Dashboard, targets: dict[Slot, list[Target]], frame: Frame | None = None) -> Plan:
    """The plan of a dashboard whose queries resolve() already resolved (ids and layout assigned here);
    frame: frame_of(dash), when the caller has it."""
    scope = scope_of(ctx, dash, "") if dash.service or dash.backend else None
    frame = frame or frame_of(dash)
    return Plan(
        dash=dash,
        scope=scope if isinstance(scope, Scope) else None,
        targets=targets,
        ids=frame.ids,
        grid=frame.grid,
        uids=ctx.uids,
        frame=frame,
    )
