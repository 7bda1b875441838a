"""Generated dashboards: LLM serving per service and engine (the template llm-serving.yml, and the parts of it
computed from the engine's adapter); which of the bundled spec files (the LLM guide's
two, GPU fleet, host: bundled.py) a project gets; and the SLO ones, templated bundled specs (slo_dashboards.py).

Each preset returns the same model a Dashboard document produces, so one compiler, one checker and
one layout serve both. A preset only charts what the project knows: signals its backend exposes,
metrics its catalogs list, series its rules record.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ...backends.adapter import Backend, Variant
from ...model.dashboards import Dashboard, DroppedDashboard, DroppedPanel, Panel, Query, Row, Variable
from ...model.project import Project, RecordingRule, Ref, RuleGroup
from ..promql import PromQLError, quote
from .bundled import STATIC, bundled_dashboard, bundled_title
from .signals import Scope, anchor_metric, service_scope, signal_query
from .slo_dashboards import slo_presets
from .template_shapes import Lazily, instantiate_lazily
from .templated import (
    PLAIN_MATCHER_BEFORE,
    REPRESENTATIVE,
    WHEN_SIGNALS,
    DashboardTemplate,
    MetricsRead,
    Preset,
    Subject,
    TemplateError,
    computed_maker,
    instantiate,
    literal,
    prepared,
    shape_metrics,
    template,
)

if TYPE_CHECKING:
    from ...model.project import Project
    from ...model.services import SLO


LLM_FOLDER = "llm"
RATE = "$__rate_interval"
WORST_REPLICAS = 5  # "worst replicas" panels: few enough lines that the sick one stands out

# Panels of vLLM's example Grafana dashboard that read engine metrics outside the canonical signals
# (examples/online_serving/prometheus_grafana/grafana.json): (key, title, unit, metrics by engine).
# SGLang exposes the same request-length histograms under its own names.
REQUEST_SHAPE = (
    (
        "prompt_length",
        "Request prompt length",
        "none",
        ("vllm:request_prompt_tokens", "sglang:prompt_tokens_histogram"),
    ),
    (
        "generation_length",
        "Request generation length",
        "none",
        ("vllm:request_generation_tokens", "sglang:generation_tokens_histogram"),
    ),
    ("prefill_time", "Prefill time per request", "s", ("vllm:request_prefill_time_seconds",)),
    ("decode_time", "Decode time per request", "s", ("vllm:request_decode_time_seconds",)),
    ("max_generation_tokens", "Max generation tokens per request", "none", ("vllm:request_max_num_generation_tokens",)),
)


class _Make:
    """Short constructors for model objects that all point at one source document."""

    def __init__(self, ref: Ref):
        self.ref = ref

    def q(self, expr: str, legend: str = "", **kw: Any) -> Query:
        return Query(ref=self.ref, expr=expr, legend=legend, **kw)

    def s(self, signal: str, legend: str = "", quantile: str = "", **kw: Any) -> Query:
        return Query(
            ref=self.ref,
            signal=signal,
            legend=legend,
            quantile=float(quantile) if quantile else None,
            quantile_text=quantile,
            **kw,
        )

    def panel(self, title: str, queries: Iterable[Query], type: str = "timeseries", **kw: Any) -> Panel:
        return Panel(title=title, ref=self.ref, type=type, queries=list(queries), **kw)

    def row(self, title: str, panels: Iterable[Panel | None]) -> Row | None:
        row = Row(title=title, ref=self.ref, panels=[p for p in panels if p is not None])
        return row if row.panels else None

    def dashboard(
        self,
        name: str,
        title: str,
        folder: str,
        rows: Iterable[Row | None],
        variables: Iterable[str | Variable],
        **kw: Any,
    ) -> Dashboard:
        return Dashboard(
            name=name,
            ref=self.ref,
            title=title,
            uid=name,
            folder=folder,
            tags=tuple(kw.pop("tags", ())),
            variables=[Variable(name=v, ref=self.ref) if isinstance(v, str) else v for v in variables],
            rows=[r for r in rows if r is not None],
            source=self.ref.doc.source or self.ref.doc.file,
            generated=True,
            **kw,
        )


def _catalogued(project: Project, name: str) -> bool:
    for catalog in project.catalogs:
        if any(m.name == name for m in catalog.metrics):
            return True
        if any(re.fullmatch(p, name) for p in catalog.external):
            return True
    return False


def _catalog_ref(project: Project, name: str) -> Ref | None:
    for catalog in project.catalogs:
        for m in catalog.metrics:
            if m.name == name:
                return catalog.ref
        if any(re.fullmatch(p, name) for p in catalog.external):
            return catalog.ref
    return None


# ------------------------------------------------------------------------------------ LLM serving

# The LLM serving dashboards are the bundled template data/dashboards/templates/llm-serving.yml, made per engine
# and per service; what follows is what it cannot write: the parts computed from the engine's adapter
# (templated.COMPUTED_ROWS and COMPUTED_PANELS name them).
LLM_SERVING = "llm-serving"
LLM_VARIABLES = ("job", "instance", "model")


def llm_subject(ref: Ref, scope: Scope, values: dict[str, str], slos: tuple[SLO, ...] = ()) -> Subject:
    """What the LLM serving template is instantiated for: one engine's or one service's scope and values."""
    return Subject(
        ref=ref,
        values=prepared(values),
        lists={},
        slos=slos,
        signals=frozenset(s for s in WHEN_SIGNALS if scope.variant(s) is not None),
        scope=scope,
    )


def _scope(subject: Subject) -> Scope:
    if subject.scope is None:
        raise TemplateError("a computed LLM serving part needs a subject with an engine scope")
    return subject.scope


def replicas_rows(subject: Subject) -> list[Row]:
    m = _Make(subject.ref)
    return _rows(m.row("Replicas", _replica_panels(m, _scope(subject))))


def request_shape_rows(subject: Subject) -> list[Row]:
    m = _Make(subject.ref)
    return _rows(m.row("Request shape", _shape_panels(m, _scope(subject))))


def engine_rows(subject: Subject) -> list[Row]:
    m = _Make(subject.ref)
    return _rows(*_coverage().engine_rows(m, _scope(subject)))


def errors_by_panels(subject: Subject) -> list[Panel]:
    scope = _scope(subject)
    return [_errors_by(_Make(subject.ref), scope)] if _has(scope, "errors") else []


def finish_reason_panels(subject: Subject) -> list[Panel]:
    """Requests by how they ended, on the first outcome label the engine's requests signal lists."""
    scope = _scope(subject)
    requests = scope.variant("requests")
    outcome = next(
        (label for label in ("finished_reason", "status", "code") if requests and label in requests.labels), ""
    )
    if not outcome:
        return []
    m = _Make(subject.ref)
    return [m.panel("Finish reason", [m.s("requests", by=(outcome,))], unit="reqps", stack=True)]


# ------------------------------------------------------------------------------------ computed parts per shape

# The computed parts read a scope's selector values only through selector_text(), which quotes each into a
# matcher: so they are made once per shape of the scope (engine, version, renaming, variables, the selector's
# labels) with a marker for each value, and each service's copy is that shape with its values filled in.
# Printable, so that repr() of a record shows it where it landed.
_MARKER = "@promspec-selector-"
_QUOTED_MARKER = re.compile('"' + re.escape(_MARKER) + r'(\d+)@"')


@dataclass(frozen=True, kw_only=True)
class _QueryShape:
    rest: dict[str, Any]  # the query's fields but ref and expr
    expr: str  # a str.format template over the selector's quoted values, by position
    names: tuple[str, ...] | None  # what it reads when every value is non-empty; None: parse each copy


@dataclass(frozen=True, kw_only=True)
class _PanelShape:
    rest: dict[str, Any]  # the panel's fields but ref and queries
    queries: tuple[_QueryShape, ...]


@dataclass(frozen=True, kw_only=True)
class _RowShape:
    rest: dict[str, Any]  # the row's fields but ref and panels
    panels: tuple[_PanelShape, ...]


@dataclass(frozen=True, kw_only=True)
class _Made:
    backend: Backend  # held, so that the id in the key is this backend's while the entry lives
    # None: a marker landed outside a matcher value, and each copy is made as it is
    parts: tuple[_RowShape | _PanelShape, ...] | None


_SHAPES: dict[tuple[Any, ...], _Made] = {}
_SHAPES_KEPT = 1024  # a bound for callers of per_shape outside preset_dashboards (which starts afresh)


def per_shape(make: Callable[[Subject], list[Any]], subject: Subject, read: MetricsRead | None) -> list[Any]:
    """make(subject) (a computed part: rows or panels), made once per shape of the subject's scope and filled
    with its selector's values; read: where to note what the copies' queries read."""
    scope = _scope(subject)
    made = _shape_of(make, subject)
    if made.parts is None:
        return make(subject)
    values = [quote(v) for v in scope.selector.values()]
    note = read if read is not None and all(scope.selector.values()) else None
    return [_filled(part, subject.ref, values, note) for part in made.parts]


def _scope_shape(scope: Scope) -> tuple[Any, ...]:
    """What of a scope the computed parts' shapes depend on (the selector's labels, not its values)."""
    return (id(scope.backend), scope.version, scope.rename, scope.variables, tuple(scope.selector))


def _shape_of(make: Callable[[Subject], list[Any]], subject: Subject, shape: tuple[Any, ...] | None = None) -> _Made:
    """The shape of make(subject): made once per shape of the subject's scope (shape: _scope_shape() of it)."""
    scope = _scope(subject)
    key = (make, _scope_shape(scope) if shape is None else shape)
    made = _SHAPES.get(key)
    if made is None or made.backend is not scope.backend:
        labels = tuple(scope.selector)
        markers = {label: f"{_MARKER}{i}@" for i, label in enumerate(labels)}
        parts = _shapes_of(make(replace(subject, scope=replace(scope, selector=markers))), len(labels))
        if len(_SHAPES) >= _SHAPES_KEPT:
            _SHAPES.clear()
        made = _SHAPES[key] = _Made(backend=scope.backend, parts=parts)
    return made


def _shapes_of(parts: list[Any], count: int) -> tuple[_RowShape | _PanelShape, ...] | None:
    try:
        return tuple(
            _RowShape(rest=_rest(p, "panels"), panels=tuple(_panel_shape(x, count) for x in p.panels))
            if isinstance(p, Row)
            else _panel_shape(p, count)
            for p in parts
        )
    except _Unshaped:
        return None


class _Unshaped(Exception):
    """A selector value landed where it is not a plain matcher's quoted value."""


def _rest(record: Row | Panel | Query, *filled: str) -> dict[str, Any]:
    rest = {f.name: getattr(record, f.name) for f in fields(record) if f.name not in ("ref", *filled)}
    if _MARKER in repr(rest):
        raise _Unshaped
    return rest


def _panel_shape(panel: Panel, count: int) -> _PanelShape:
    return _PanelShape(rest=_rest(panel, "queries"), queries=tuple(_query_shape(q, count) for q in panel.queries))


def _query_shape(query: Query, count: int) -> _QueryShape:
    expr, parts, last, plain = query.expr, [], 0, True
    for m in _QUOTED_MARKER.finditer(expr):
        before = PLAIN_MATCHER_BEFORE.search(expr, 0, m.start())
        plain = plain and before is not None and before.group(1) != "__name__"
        parts += [literal(expr[last : m.start()]), "{" + m.group(1) + "}"]
        last = m.end()
    parts.append(literal(expr[last:]))
    fmt = "".join(parts)
    if _MARKER in _QUOTED_MARKER.sub("", expr):
        raise _Unshaped
    names = shape_metrics(fmt.format(*[REPRESENTATIVE] * count)) if expr and plain else None
    return _QueryShape(rest=_rest(query, "expr"), expr=fmt, names=names)


def _filled(part: _RowShape | _PanelShape, ref: Ref, values: list[str], read: MetricsRead | None) -> Any:
    if isinstance(part, _RowShape):
        return Row(**part.rest, ref=ref, panels=[_filled_panel(p, ref, values, read) for p in part.panels])
    return _filled_panel(part, ref, values, read)


def _filled_panel(part: _PanelShape, ref: Ref, values: list[str], read: MetricsRead | None) -> Panel:
    queries = []
    for q in part.queries:
        expr = q.expr.format(*values)
        queries.append(Query(**q.rest, ref=ref, expr=expr))
        if read is not None and q.names is not None:
            read[expr] = q.names
    return Panel(**part.rest, ref=ref, queries=queries)


def _rows(*rows: Row | None) -> list[Row]:
    return [r for r in rows if r is not None]


def _has(scope: Scope, *signals: str) -> bool:
    return all(scope.variant(s) is not None for s in signals)


def _other(scope: Scope, names: tuple[str, ...]) -> Variant | None:
    """The first of an engine's extra histograms (from its Backend's `other` list) that it exposes."""
    found = {v.metric: v for v in scope.backend.other if v.type == "histogram"}
    for name in names:
        if name in found:
            return found[name]
    return None


def _shape_panels(m: _Make, scope: Scope) -> list[Panel]:
    panels = []
    for key, title, unit, names in REQUEST_SHAPE:
        variant = _other(scope, names)
        if variant is None:
            continue
        metric = scope.metric(variant)
        sel = scope.selector_text(variant.matchers)
        if key in ("prompt_length", "generation_length"):
            panels.append(
                m.panel(
                    title,
                    [m.q(f"sum by (le) (increase({metric}_bucket{sel}[{RATE}]))", "{{le}}", format="heatmap")],
                    type="heatmap",
                    unit=unit,
                )
            )
        else:
            panels.append(
                m.panel(
                    title,
                    [m.q(f"sum(rate({metric}_sum{sel}[{RATE}]))\n/\nsum(rate({metric}_count{sel}[{RATE}]))", "mean")],
                    unit=unit,
                )
            )
    return panels


def _coverage() -> ModuleType:
    """The LLM engines' coverage rows; imported late, it imports us."""
    from . import coverage

    return coverage


def _engine_targets(scope: Scope) -> str:
    """`up` of the scrape targets in the jobs that serve this engine.

    `$job` at All is `.*`, which would count every target Prometheus scrapes; the jobs are those that
    expose the engine's anchor series, so a dead replica (whose own series are gone) still counts in
    its job. Only the job and instance variables apply: `up` has no model label."""
    pinned = {k: v for k, v in scope.selector.items() if k in ("job", "instance")}
    sel = replace(scope, selector=pinned, variables=tuple(v for v in scope.variables if v != "model"))
    # Jobs, not instances: a chosen dead instance has no engine series left to match.
    jobs = replace(scope, variables=("job",))
    anchor = anchor_metric(scope)
    # Parenthesised: a comparison after it binds tighter than `and`.
    return f"(\n  up{sel.selector_text()}\nand on (job)\n  group by (job) ({anchor}{jobs.selector_text()})\n)"


def _worst(scope: Scope, signal: str, **kw: Any) -> str:
    """The WORST_REPLICAS highest series of a signal taken by instance."""
    expr, _legend, _format = signal_query(scope, signal, by=("instance",), **kw)
    return f"topk({WORST_REPLICAS},\n{expr}\n)"


def _replica_panels(m: _Make, scope: Scope) -> list[Panel | None]:
    """Replicas up, and each replica's latency, queue and errors as its worst few: the sick one stands out."""
    targets = _engine_targets(scope)
    panels: list[Panel | None] = [
        m.panel(
            "Replicas up",
            [m.q(f"count({targets} == 1) or vector(0)", "up"), m.q(f"count{targets}", "total")],
            "stat",
            unit="none",
            width=6,
            description="Scrape targets of the engine's jobs that answer (`up == 1`), and all of them.",
        ),
        m.panel(
            "Replicas down",
            [m.q(f"count({targets} == 0) or vector(0)", "down")],
            "stat",
            unit="none",
            width=6,
            thresholds=[(1, "red")],
            description="Targets of the engine's jobs whose last scrape failed: red when fewer than all are up.",
        ),
    ]
    if _has(scope, "ttft"):
        panels.append(
            m.panel(
                f"TTFT p95: worst {WORST_REPLICAS} replicas",
                [m.q(_worst(scope, "ttft", quantile=0.95, quantile_written="0.95"), "{{instance}}")],
                unit="s",
            )
        )
    if _has(scope, "waiting"):
        panels.append(
            m.panel(
                f"Waiting requests: worst {WORST_REPLICAS} replicas",
                [m.q(_worst(scope, "waiting"), "{{instance}}")],
                unit="short",
            )
        )
    if _has(scope, "errors", "requests"):
        panels.append(
            m.panel(
                f"Error ratio: worst {WORST_REPLICAS} replicas",
                [m.q(_worst(scope, "errors", ratio=True), "{{instance}}")],
                unit="percentunit",
                thresholds=[(0.01, "orange"), (0.05, "red")],
            )
        )
    return panels


def _errors_by(m: _Make, scope: Scope) -> Panel:
    errors = scope.variant("errors")
    kinds = tuple(label for label in ("type", "error_type") if errors and label in errors.labels)
    title = "Errors by type" if kinds else "Errors by model"
    return m.panel(title, [m.s("errors", by=kinds or ("model",))], unit="cps")


def _engine_title(backend: Backend) -> str:
    return backend.title


# ------------------------------------------------------------------------------------ all


@dataclass(frozen=True, kw_only=True)
class Presets:
    """The generated dashboards of a project, and those left out because nothing they read is catalogued."""

    made: list[Preset]  # in order; most made lazily (a template's instance that the pruning keeps as it is)
    left_out: list[DroppedDashboard]

    @property
    def dashboards(self) -> list[Dashboard]:
        """Every generated dashboard's whole model (made now, for the lazily made ones)."""
        return [p.model() for p in self.made]


@dataclass(frozen=True, kw_only=True)
class _SlotsKept:
    backend: Backend  # held, so that the id in the key is this backend's while the entry lives
    queries: int | None  # the parts' queries, when the pruning keeps every copy as it is; None: it may not


class _Pruning:
    """Which series a project lacks (it neither catalogues nor records them), and so which preset queries the
    pruning drops. read: the metric names of queries known from their template's shape (instantiate());
    any other query is parsed."""

    def __init__(self, project: Project, groups: list[RuleGroup], read: MetricsRead | None = None):
        from ...check.semantic import Universe

        self.universe = Universe(project)
        self.recorded = {r.record for g in groups for r in g.rules if isinstance(r, RecordingRule)}
        self.known = read if read is not None else {}
        # Per metric names read, then per name. Not per expression: an instance's expressions are its own (its
        # slo_id, its selector), but those of one template shape read the same names.
        self.lost_by_expr: dict[str, tuple[str, ...]] = {}
        self.lost_by_names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.missing: dict[str, bool] = {}
        # per computed parts and shape of the scope: what computed() found of them
        self.slots: dict[tuple[tuple[str, ...], tuple[Any, ...]], _SlotsKept] = {}

    def is_missing(self, name: str) -> bool:
        got = self.missing.get(name)
        if got is None:
            got = self.missing[name] = name not in self.recorded and not self.universe.known(name)
        return got

    def lost_of(self, names: tuple[str, ...]) -> tuple[str, ...]:
        lost = self.lost_by_names.get(names)
        if lost is None:
            lost = self.lost_by_names[names] = tuple(n for n in names if self.is_missing(n))
        return lost

    def unknown(self, query: Query) -> tuple[str, ...]:
        """The series query reads that the project lacks (signals resolve to their backend's metrics, which
        the backend catalogues)."""
        return self.unknown_expr(query.expr)

    def unknown_expr(self, expr: str) -> tuple[str, ...]:
        from ...check.panel_queries import panel_query

        if not expr:
            return ()
        names = self.known.get(expr)
        if names is not None:
            return self.lost_of(names)
        lost = self.lost_by_expr.get(expr)
        if lost is None:
            lost = self.lost_by_expr[expr] = self.lost_of(panel_query(expr).metrics)
        return lost

    def computed(self, names: tuple[str, ...], subject: Subject) -> int | None:
        """Lazily.computed: from the parts' shapes, whose queries' names are the copies' when every selector
        value is non-empty (per_shape notes them then; otherwise the pruning parses each copy). Asked once per
        instance of a template, answered once per shape of its scope."""
        scope = _scope(subject)
        if not all(scope.selector.values()):
            return None
        shape = _scope_shape(scope)
        got = self.slots.get((names, shape))
        if got is None or got.backend is not scope.backend:
            queries: int | None = 0
            for name in names:
                part = self._kept_queries(_shape_of(computed_maker(name), subject, shape))
                queries = None if part is None or queries is None else queries + part
            got = self.slots[(names, shape)] = _SlotsKept(backend=scope.backend, queries=queries)
        return got.queries

    def _kept_queries(self, made: _Made) -> int | None:
        if made.parts is None:
            return None  # each copy is made as it is
        queries = 0
        for part in made.parts:
            for panel in part.panels if isinstance(part, _RowShape) else (part,):
                if not panel.queries and panel.rest["type"] != "text":
                    return None
                for q in panel.queries:
                    # no names: no PromQL (a signal, which loses nothing), or one the copies' own parse reads
                    if (q.names is None and q.expr) or (q.names is not None and self.lost_of(q.names)):
                        return None
                    queries += 1
        return queries

    def keeps_panel(self, panel: Panel) -> bool:
        """Whether the pruning keeps panel as it is: it loses no query, and is text or has one."""
        return not any([self.unknown(q) for q in panel.queries]) and (bool(panel.queries) or panel.type == "text")

    def keeps_expr(self, expr: str) -> bool:
        """Whether a query of this PromQL (or none: a signal) loses nothing; False when it does not parse (the
        dashboard is then made at once, and the pruning raises where it always has)."""
        try:
            return not self.unknown_expr(expr)
        except PromQLError:
            return False

    def lazily(self) -> Lazily:
        return Lazily(keeps=lambda names: not self.lost_of(names), keeps_expr=self.keeps_expr, computed=self.computed)


def _prune(
    dashes: list[Dashboard], project: Project, groups: list[RuleGroup], read: MetricsRead | None = None
) -> Presets:
    """_pruned() of dashboards made at once."""
    return _pruned([Preset(head=d) for d in dashes], _Pruning(project, groups, read))


def _pruned(dashes: list[Preset], pruning: _Pruning) -> Presets:
    """Drop PromQL queries that read series the project neither catalogues nor records, then empty panels
    and rows: a project with part of a catalog (or none of the exporter's optional metrics) gets the rest.
    What is dropped is recorded (dash.dropped, Presets.left_out) for the warnings and `promspec diff`.
    A dashboard that loses nothing is kept as it is; one made lazily was made so because it loses nothing
    (template_shapes.instantiate_lazily asked the same pruning)."""
    unknown = pruning.unknown
    out: list[Preset] = []
    left_out = []
    for preset in dashes:
        if preset.make is not None:
            out.append(preset)
            continue
        dash = preset.head
        dropped = list(dash.dropped)
        rows = []
        changed = False
        for row in dash.rows:
            # most rows lose nothing: one pass over their queries keeps them as they are
            if all(pruning.keeps_panel(panel) for panel in row.panels):
                rows.append(row)
                continue
            panels = []
            for panel in row.panels:
                lost = [unknown(q) for q in panel.queries]
                if not any(lost):
                    if panel.queries or panel.type == "text":  # a chart with no query at all is an empty frame
                        panels.append(panel)
                    continue
                queries = [q for q, names in zip(panel.queries, lost, strict=True) if not names]
                metrics = tuple(sorted({n for names in lost for n in names}))
                if panel.type != "text":
                    dropped.append(
                        DroppedPanel(row=row.title, title=panel.title, metrics=metrics, partial=bool(queries))
                    )
                if queries or panel.type == "text":
                    panels.append(panel if len(queries) == len(panel.queries) else replace(panel, queries=queries))
            if len(panels) == len(row.panels) and all(a is b for a, b in zip(panels, row.panels, strict=True)):
                rows.append(row)
                continue
            changed = True
            if panels:
                rows.append(replace(row, panels=panels))
        pruned = replace(dash, rows=rows, dropped=dropped) if changed or len(dropped) != len(dash.dropped) else dash
        if any(p.queries for _r, p in pruned.panels()):
            out.append(Preset(head=pruned))
        else:
            metrics = tuple(sorted({n for d in dropped for n in d.metrics}))
            left_out.append(DroppedDashboard(uid=dash.uid, title=dash.title, metrics=metrics, ref=dash.ref))
    kept = {p.head.uid for p in out}
    return Presets(made=[_kept_links(p, kept) for p in out], left_out=left_out)


def _kept_links(preset: Preset, kept: set[str]) -> Preset:
    """preset without its links to dashboards not made; itself when it loses none."""
    if all(not link.dashboard or link.dashboard in kept for link in preset.head.links):
        return preset
    if preset.make is None:
        return Preset(head=_without_links(preset.head, kept))
    return Preset(
        head=_without_links(preset.head, kept), make=functools.partial(_made_without_links, preset.make, kept)
    )


def _without_links(dash: Dashboard, kept: set[str]) -> Dashboard:
    return replace(dash, links=[link for link in dash.links if not link.dashboard or link.dashboard in kept])


def _made_without_links(make: Callable[[], Dashboard], kept: set[str]) -> Dashboard:
    return _without_links(make(), kept)


def _unanchored(project: Project) -> list[DroppedDashboard]:
    """The presets not made at all because their anchor metric is in no catalog."""
    return [
        DroppedDashboard(uid=name, title=bundled_title(name), metrics=(static.anchor,), anchored=True)
        for static in STATIC
        if _catalog_ref(project, static.anchor) is None
        for name in static.names
    ]


def preset_dashboards(project: Project, groups: list[RuleGroup]) -> Presets:
    """Every generated dashboard for a project, in a stable order, and the presets left out; groups: all its
    rule groups (spec and generated), whose recorded series the SLO dashboards chart and the pruning keeps.

    An instance of a template that the pruning keeps as it is is made lazily (its head now, its rows where it
    is built: generate's workers), the others at once."""
    out: list[Preset] = []
    services = list(getattr(project, "services", []) or [])
    backends = dict(getattr(project, "backends", {}) or {})
    # The LLM serving template, per engine then per service; its links to the infrastructure and SLO dashboards
    # name them all, and the pruning drops those not made.
    serving = template(LLM_SERVING)
    read: MetricsRead = {}
    pruning = _Pruning(project, groups, read)
    lazily = pruning.lazily()
    # A service the synthetic probes watch gets a panel added to its whole model (probes.py): made at once.
    probed = getattr(project, "llm_probe_targets", None) or {}

    def made(t: DashboardTemplate, subject: Subject, lazy: bool = True) -> Preset:
        got = instantiate_lazily(t, subject, lazily) if lazy else None
        return got if got is not None else Preset(head=instantiate(t, subject, read))

    _SHAPES.clear()  # the shapes of this project's engines: a backend is the same object throughout one call
    for name in sorted(backends):
        backend = backends[name]
        values = {
            "serving.uid": f"llm-engine-{name}",
            "serving.name": name,
            "serving.summary": f"Every {_engine_title(backend)} replica Prometheus scrapes.",
            "serving.folder": LLM_FOLDER,
            "serving.service": "",
            "serving.backend": name,
            "serving.engine": backend.name,
        }
        subject = llm_subject(backend.ref, Scope(backend=backend, variables=LLM_VARIABLES), values)
        out.append(made(serving, subject))
    serving_uid = {}
    for service in sorted(services, key=lambda s: s.name):
        backend = backends.get(service.backend)
        if backend is None:
            continue
        values = {
            "serving.uid": f"llm-service-{service.name}",
            "serving.name": service.name,
            "serving.summary": f"Service {service.name} on {backend.name}.",
            "serving.folder": service.labels.get("team", LLM_FOLDER),
            "serving.service": service.name,
            "serving.backend": "",
            "serving.engine": backend.name,
        }
        scope = service_scope(service, backend, LLM_VARIABLES)
        # its uid: derived from the name as for a spec (Grafana refuses one over 40 characters or with a dot)
        preset = made(
            serving, llm_subject(service.ref, scope, values, tuple(service.slos)), not probed.get(service.name)
        )
        serving_uid[service.name] = preset.head.uid
        out.append(preset)
    # The static bundled dashboards: spec files, made when their anchor is catalogued; their links to one
    # another name every bundled one, and the pruning drops those not made.
    for static in STATIC:
        anchor_ref = _catalog_ref(project, static.anchor)
        if anchor_ref is not None:
            out.extend(Preset(head=bundled_dashboard(name, anchor_ref)) for name in static.names)
    out += slo_presets(services, groups, serving_uid, made)  # templated bundled specs: data/dashboards/templates/
    if getattr(project, "probes", None) or probed:
        from .probes import probe_dashboards  # synthetic probes: only when the specs declare them

        # It changes only the probed services' serving dashboards (made at once above), and adds its own.
        heads = probe_dashboards(project, [p.head for p in out])
        mine, board = heads[: len(out)], heads[len(out) :]
        out = [p if p.head is d else Preset(head=d) for p, d in zip(out, mine, strict=True)]
        out += [Preset(head=d) for d in board]
    presets = _pruned(out, pruning)
    return replace(presets, left_out=_unanchored(project) + presets.left_out)
