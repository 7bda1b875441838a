"""Dashboard model -> Grafana dashboard JSON (a plain dict) through grafana-foundation-sdk's builders."""

from __future__ import annotations

import dataclasses
import enum
import functools
import itertools
import operator
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from grafana_foundation_sdk.builders import bargauge, gauge, heatmap, prometheus, stat, table, text, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import heatmap as _heat
from grafana_foundation_sdk.models import text as _text

from ...model.dashboards import Dashboard, Panel, Row, Variable
from ..promql import matcher
from .plan import Grid, Plan, Target, variable_names
from .signals import Scope, anchor_metric

if TYPE_CHECKING:
    from grafana_foundation_sdk.models import prometheus as pm

    from ...model.dashboards import Link

# The SDK's panel builders share most setters but no base class that declares them; which one a panel
# gets is decided by panel.type (_panel_builder), which mypy cannot follow, so type-specific setters cast.
PanelBuilder = timeseries.Panel | stat.Panel | gauge.Panel | bargauge.Panel | heatmap.Panel | table.Panel | text.Panel

DATASOURCE = cm.DataSourceRef(type_val="prometheus", uid="${datasource}")
VARIABLE_LABELS = {"datasource": "Data source", "job": "Job", "instance": "Instance", "model": "Model", "gpu": "GPU"}
BUILTIN_ANNOTATION = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


# ---------------------------------------------------------------------------------------------
# The SDK's defaults that hurt, fixed in one place: it hides legends, emits no panel ids and no
# refIds, sorts tooltips ascending (the smallest series first), and leaves thresholds and
# datasources unset. house_style() is applied to every panel builder.


def house_style(builder: PanelBuilder, panel: Panel, ident: int, grid: Grid) -> None:
    """Apply promspec's panel defaults to an SDK panel builder."""
    x, y, w, h = grid
    builder.id(ident).title(panel.title).grid_pos(dm.GridPos(h=h, w=w, x=x, y=y))
    if panel.type != "text":
        builder.datasource(DATASOURCE)
        builder.thresholds(db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(threshold_steps(panel)))
    if panel.description:
        builder.description(panel.description)
    if panel.unit:
        builder.unit(panel.unit)
    if panel.decimals is not None:
        builder.decimals(panel.decimals)
    if panel.min is not None:
        builder.min(panel.min)
    if panel.max is not None:
        builder.max(panel.max)
    if panel.type in ("timeseries", "bargauge"):
        legend = panel.legend
        cast("timeseries.Panel | bargauge.Panel", builder).legend(
            cb.VizLegendOptions()
            .show_legend(legend.get("show", True))
            .display_mode(cm.LegendDisplayMode(legend.get("mode", "list")))
            .placement(cm.LegendPlacement(legend.get("placement", "bottom")))
            .calcs(list(legend.get("calcs", ())))
        )
    if panel.type == "timeseries" and any(v is not None for v, _c in panel.thresholds):
        # Grafana draws no threshold on a graph unless asked: a 14.4x page line nobody sees warns nobody.
        cast(timeseries.Panel, builder).thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE)
        )
    if panel.type == "timeseries":
        cast(timeseries.Panel, builder).tooltip(
            cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
        )


def threshold_steps(panel: Panel) -> list[dm.Threshold]:
    """Grafana's threshold steps: the base colour (green unless the panel's first step has no value) then
    each (value, colour) from that value up."""
    given = list(panel.thresholds)
    base = given.pop(0)[1] if given and given[0][0] is None else "green"
    return [dm.Threshold(value=None, color=base)] + [dm.Threshold(value=v, color=c) for v, c in given]


def _panel_builder(panel: Panel) -> PanelBuilder:
    kind = panel.type
    if kind == "timeseries":
        b = (
            timeseries.Panel()
            .line_width(1)
            .fill_opacity(panel.fill if panel.fill is not None else 10)
            .show_points(cm.VisibilityMode.NEVER)
            .span_nulls(False)
        )
        if panel.stack:
            b.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL).group("A"))
        return b
    if kind == "stat":
        return (
            stat.Panel()
            .graph_mode(cm.BigValueGraphMode.AREA)
            .color_mode(cm.BigValueColorMode.VALUE)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
    if kind == "gauge":
        return (
            gauge.Panel()
            .show_threshold_markers(True)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
    if kind == "bargauge":
        return (
            bargauge.Panel()
            .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
            .orientation(cm.VizOrientation.HORIZONTAL)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
    if kind == "heatmap":
        return (
            heatmap.Panel()
            .calculate(False)
            .cell_gap(1)
            .color(
                heatmap.HeatmapColorOptions()
                .mode(_heat.HeatmapColorMode.SCHEME)
                .scheme("Spectral")
                .scale(_heat.HeatmapColorScale.EXPONENTIAL)
                .exponent(0.5)
                .steps(64)
                .reverse(False)
            )
            .y_axis(heatmap.YAxisConfig().unit(panel.unit or "short"))
            .rows_frame(heatmap.RowsHeatmapOptions().layout(cm.HeatmapCellLayout.AUTO))
            .tooltip(heatmap.HeatmapTooltip().mode(cm.TooltipDisplayMode.SINGLE).y_histogram(True))
            .show_legend()
        )
    if kind == "table":
        return table.Panel().show_header(True)
    return text.Panel().mode(_text.TextMode.MARKDOWN).content(panel.content)


def _target(t: Target) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(t.expr).ref_id(t.ref_id).datasource(DATASOURCE).format(prometheus_format(t.format))
    if t.legend:
        q.legend_format(t.legend)
    if t.instant:
        q.instant()
    else:
        q.range()
    if t.hide:
        q.hide(True)
    return q


def prometheus_format(name: str) -> pm.PromQueryFormat:
    from grafana_foundation_sdk.models import prometheus as pm

    return pm.PromQueryFormat(name)


def _variable_query(v: Variable, chain: list[str], scope: Scope | None, default_metric: str) -> str | None:
    """A query variable's label_values() query; None for a datasource or custom variable."""
    if (v.name == "datasource" and not v.metric and not v.values) or v.values:
        return None
    model_label = scope.backend.model_label if scope else "model"
    target = model_label if v.name == "model" else v.name
    metric = v.metric or default_metric
    # Chained: each variable lists only the values that match the ones chosen before it.
    parts = [matcher(k, val) for k, val in (scope.selector.items() if scope else ())]
    pinned = scope.selector if scope else {}
    parts += [f'{_chain_label(c, model_label)}=~"${c}"' for c in chain if _chain_label(c, model_label) not in pinned]
    return f"label_values({metric}{{{', '.join(parts)}}}, {target})" if parts else f"label_values({metric}, {target})"


def _variable(v: Variable, query: str | None) -> cogbuilder.Builder[dm.VariableModel]:
    """A variable's builder; query is _variable_query's."""
    label = v.label or VARIABLE_LABELS.get(v.name, v.name)
    if v.name == "datasource" and not v.metric and not v.values:
        return (
            db.DatasourceVariable("datasource")
            .label(label)
            .type("prometheus")
            .current(dm.VariableOption(text="default", value="default", selected=True))
        )
    if v.values:
        custom = (
            db.CustomVariable(v.name)
            .label(label)
            .values(",".join(v.values))
            .current(dm.VariableOption(text=v.values[0], value=v.values[0], selected=True))
        )
        return custom.multi(v.multi).include_all(v.include_all)
    b = (
        db.QueryVariable(v.name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query or "")
        .definition(query or "")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(v.multi)
        .include_all(v.include_all)
    )
    if v.include_all:
        b.all_value(".*").current(dm.VariableOption(text="All", value="$__all", selected=True))
    return b


def _chain_label(name: str, model_label: str) -> str:
    return model_label if name == "model" else name


def _link_url(link: Link, uids: dict[str, str], datasource: bool = True) -> str:
    # includeVars would carry job/instance/model to a dashboard where they name other series (an engine's job
    # is not the GPU exporter's) and empty it; the data source is the one variable every dashboard shares.
    if not link.dashboard:
        return link.url
    url = f"/d/{uids.get(link.dashboard, link.dashboard)}"
    return url + "?${datasource:queryparam}" if datasource else url


def build_dashboard(plan: Plan) -> dict[str, Any]:
    """Grafana JSON from a plan through the SDK's builders (keys in the SDK's order): a new plain dict."""
    return build_compiled(plan).to_data()


def build_compiled(plan: Plan) -> CompiledDashboard:
    """A plan's Grafana JSON through the SDK's builders, as a frozen record (see CompiledDashboard)."""
    dash, ids, grid, targets = plan.dash, plan.ids, plan.grid, plan.targets
    has_datasource = "datasource" in variable_names(dash)
    frame = plan.frame  # its slots: the same objects every time (not made per panel)
    # Per panel in layout order: its id, position and targets, read without hashing a Slot where the plan's
    # are the frame's (resolve's targets are keyed by the frame's slots, in order).
    n = len(frame.slots)
    panel_ids = frame.panel_ids if ids is frame.ids else tuple(ids[s] for s in frame.slots)
    panel_grid = frame.panel_grid if grid is frame.grid else tuple(grid[s] for s in frame.slots)
    # Ids and positions all of type int: the panels' keys hold them as they are (see _panel_key).
    exact_place = frame.exact if panel_ids is frame.panel_ids and panel_grid is frame.panel_grid else False
    in_order = len(targets) == n and all(map(operator.is_, targets, frame.slots))
    panel_targets = list(targets.values()) if in_order else [targets.get(s, _NO_TARGETS) for s in frame.slots]
    k = 0
    panels: list[Filled | CompiledRow] = []
    for row, row_slot in zip(dash.rows, frame.rows, strict=True):
        built: list[Filled] = []
        for panel in row.panels:
            links = tuple(_link_url(link, plan.uids, has_datasource) for link in panel.links) if panel.links else ()
            built.append(_panel_json(panel, panel_ids[k], panel_grid[k], panel_targets[k], links, exact_place))
            k += 1
        if row.title:
            inside = tuple(built) if row.collapsed else ()
            panels.append(CompiledRow(row=_row_json(row, ids[row_slot], grid[row_slot], bool(inside)), panels=inside))
            if not row.collapsed:
                panels.extend(built)
        else:
            panels.extend(built)
    return CompiledDashboard(outer=_outer_json(plan), panels=tuple(panels))


_NO_TARGETS: list[Target] = []  # read only


JsonPath = tuple[str | int, ...]  # where in a JSON value: ("targets", 0, "expr")


@dataclass(frozen=True, kw_only=True, eq=False)
class JsonTemplate:
    """JSON the SDK built for one shape (of a panel, a row, a dashboard's level), shared by every instance.

    Never changed once built (nothing outside this module gets it but to read): the schema check keeps
    its fingerprint and the writer its text per template (by identity), so every instance costs only
    its own values there. holes: where an instance's values go (strings the SDK copies as given).
    """

    data: dict[str, Any]  # plain, keys sorted, with the values of the instance it was built for
    holes: tuple[JsonPath, ...] = ()

    def values(self) -> tuple[str, ...]:
        """The values the template holds at its holes."""
        return tuple(_at(self.data, path) for path in self.holes)


@dataclass(frozen=True, kw_only=True)
class Filled:
    """JSON that is a template with an instance's own values at its holes (one per hole, in order)."""

    template: JsonTemplate
    values: tuple[str, ...]

    def to_data(self) -> dict[str, Any]:
        """A new plain dict (new containers; the immutable leaves are the template's)."""
        data: dict[str, Any] = _containers_copied(self.template.data)
        for path, value in zip(self.template.holes, self.values, strict=True):
            node: Any = data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        return data

    def view(self) -> dict[str, Any]:
        """The same data for reading only: new containers on the way to each hole, the template's elsewhere."""
        data = self.template.data
        if not self.values:
            return data
        root: dict[str, Any] = dict(data)
        copied: dict[JsonPath, Any] = {(): root}  # the containers copied so far, by where they are
        for path, value in zip(self.template.holes, self.values, strict=True):
            node: Any = root
            for n in range(1, len(path)):
                inner = copied.get(path[:n])
                if inner is None:
                    child = node[path[n - 1]]
                    inner = copied[path[:n]] = dict(child) if type(child) is dict else list(child)
                    node[path[n - 1]] = inner
                node = inner
            node[path[-1]] = value
        return root


def replaced(node: Any, path: JsonPath, value: Any) -> Any:
    """node with value at path: new containers along the path, every other object node's own."""
    if not path:
        return value
    head = path[0]
    if type(node) is dict:
        return {**node, head: replaced(node[head], path[1:], value)}
    items = list(node)
    items[cast(int, head)] = replaced(items[cast(int, head)], path[1:], value)
    return items


def _at(node: Any, path: JsonPath) -> Any:
    for part in path:
        node = node[part]
    return node


@dataclass(frozen=True, kw_only=True)
class CompiledRow:
    """A row panel; a collapsed row holds its panels (an open row's follow it in the dashboard's list)."""

    row: JsonTemplate  # no holes; its "panels" is [] and stands for panels when there are any
    panels: tuple[Filled, ...]

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = _containers_copied(self.row.data)
        if self.panels:
            data["panels"] = [p.to_data() for p in self.panels]
        return data

    def view(self) -> dict[str, Any]:
        return {**self.row.data, "panels": [p.view() for p in self.panels]} if self.panels else self.row.data


@dataclass(frozen=True, kw_only=True)
class CompiledDashboard:
    """A dashboard's Grafana JSON as the compiler built it, frozen: the dashboard level and its panels.

    The schema check (check/dashboards.py validate_compiled) and the writer (render/dashboards.py
    compiled_text) both read this record, so what is checked is what is written; they do the work of a
    template once and per instance only put its values in. Whoever needs a dict (preview, collect,
    eject, the full check of a written dashboard) gets a new one from to_data().
    """

    outer: Filled  # the dashboard level; its "panels" is [] and stands for panels
    panels: tuple[Filled | CompiledRow, ...]

    def to_data(self) -> dict[str, Any]:
        """The dashboard as a new plain dict, keys sorted: what build_dashboard returns."""
        data = self.outer.to_data()
        data["panels"] = [p.to_data() for p in self.panels]
        return data

    def view(self) -> dict[str, Any]:
        """to_data()'s content for reading only (sharing the templates' containers: never change it)."""
        return {**self.outer.view(), "panels": [p.view() for p in self.panels]}


# Row panels by everything the SDK reads to build them (bounded like _PANEL_JSON).
_ROW_JSON: dict[tuple[object, ...], JsonTemplate] = {}


def _row_json(row: Row, ident: int, grid: Grid, holds_panels: bool) -> JsonTemplate:
    # With the types: True and 1, 8 and 8.0 are equal keys that write different JSON.
    key: tuple[object, ...] = (row.collapsed, row.title, ident, grid, row.repeat, holds_panels)
    key += (type(row.collapsed), type(row.title), type(ident), tuple(map(type, grid)), type(row.repeat))
    template = _ROW_JSON.get(key) if _PANEL_JSON_MAX else None
    if template is None:
        x, y, w, h = grid
        data: dict[str, Any] = plain(
            dm.RowPanel(
                collapsed=row.collapsed,
                title=row.title,
                id_val=ident,
                grid_pos=dm.GridPos(h=h, w=w, x=x, y=y),
                panels=[],
                repeat=row.repeat or None,
            )
        )
        if holds_panels:
            data["panels"] = []  # stands for them: the key keeps its sorted place
        template = JsonTemplate(data=data)
        if _PANEL_JSON_MAX:
            if len(_ROW_JSON) >= _PANEL_JSON_MAX:
                _ROW_JSON.clear()
            _ROW_JSON[key] = template
    return template


@dataclass(frozen=True, kw_only=True)
class _OuterValues:
    """What a dashboard level's JSON holds as given (its holes' values), apart from everything else."""

    title: str
    uid: str
    description: str
    tags: list[str]
    queries: list[str | None]  # per variable: a query variable's query, else None
    link_titles: list[str]
    link_urls: list[str]

    def holes(self) -> tuple[tuple[JsonPath, str], ...]:
        out: list[tuple[JsonPath, str]] = [(("title",), self.title), (("uid",), self.uid)]
        if self.description:
            out.append((("description",), self.description))
        out += [(("tags", i), t) for i, t in enumerate(self.tags)]
        for k, q in enumerate(self.queries):
            if q is not None:
                out += [(("templating", "list", k, "definition"), q), (("templating", "list", k, "query"), q)]
        out += [(("links", i, "title"), t) for i, t in enumerate(self.link_titles)]
        out += [(("links", i, "url"), u) for i, u in enumerate(self.link_urls)]
        return tuple(out)


# Dashboard levels by everything the SDK reads to build one but the values of its holes; None for a key
# whose probe showed the SDK does more with those values than copy them (see _outer_json).
_OUTER_JSON: dict[str, JsonTemplate | None] = {}
_VARIABLE_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(Variable) if f.name != "ref"))


def _outer_json(plan: Plan) -> Filled:
    """The dashboard level (everything but the panels), built through the SDK once per shape.

    Dashboards of one preset differ there in their title, uid, description, tags, variables' queries
    (the service's selector) and links; those are the template's holes, everything else is the key. A
    new key is built twice, the second time with other values (a probe): unless the probe equals the
    template with those values put in its holes, the key's dashboards are each built in full.
    """
    dash, scope = plan.dash, plan.scope
    chain: list[str] = []
    queries: list[str | None] = []
    for v in dash.variables:
        queries.append(_variable_query(v, list(chain), scope, default_metric(v, scope)))
        if v.name in ("job", "instance", "model") and not v.values:
            chain.append(v.name)
    has_datasource = "datasource" in variable_names(dash)
    values = _OuterValues(
        title=dash.title,
        uid=dash.uid,
        description=dash.description,
        tags=sorted(set(dash.tags) | {"promspec"}),
        queries=queries,
        link_titles=[link.title or link.dashboard or link.url for link in dash.links],
        link_urls=[_link_url(link, plan.uids, has_datasource) for link in dash.links],
    )
    holes = values.holes()
    own = tuple(v for _p, v in holes)
    if not _PANEL_JSON_MAX or any(type(v) is not str for v in own):
        return Filled(template=JsonTemplate(data=_sdk_outer(dash, values)), values=())
    key = repr(
        (
            dash.time_from,
            dash.time_to,
            dash.refresh,
            bool(dash.description),
            len(values.tags),
            [(_VARIABLE_FIELDS(v), q is None) for v, q in zip(dash.variables, queries, strict=True)],
            [bool(link.dashboard) for link in dash.links],
        )
    )
    if key not in _OUTER_JSON:
        if len(_OUTER_JSON) >= _PANEL_JSON_MAX:
            _OUTER_JSON.clear()
        _OUTER_JSON[key] = _outer_template(dash, values)
    template = _OUTER_JSON[key]
    if template is None:
        return Filled(template=JsonTemplate(data=_sdk_outer(dash, values)), values=())
    return Filled(template=template, values=own)


def _outer_template(dash: Dashboard, values: _OuterValues) -> JsonTemplate | None:
    """The template of a dashboard level, or None when the SDK does not just copy the holes' values."""
    holes = values.holes()
    template = JsonTemplate(data=_sdk_outer(dash, values), holes=tuple(p for p, _v in holes))
    try:
        if template.values() != tuple(v for _p, v in holes):
            return None
    except (KeyError, IndexError, TypeError):
        return None
    probe = _OuterValues(
        title=_probe(values.title, 0),
        uid=_probe(values.uid, 1),
        description=_probe(values.description, 2) if values.description else "",
        tags=[_probe(t, 3 + i) for i, t in enumerate(values.tags)],
        queries=[_probe(q, 100 + k) if q is not None else None for k, q in enumerate(values.queries)],
        link_titles=[_probe(t, 1000 + i) for i, t in enumerate(values.link_titles)],
        link_urls=[_probe(u, 2000 + i) for i, u in enumerate(values.link_urls)],
    )
    probed = Filled(template=template, values=tuple(v for _p, v in probe.holes()))
    return template if _sdk_outer(dash, probe) == probed.to_data() else None


def _probe(value: str, n: int) -> str:
    return f"{value}\x00probe{n}"


def _sdk_outer(dash: Dashboard, values: _OuterValues) -> dict[str, Any]:
    """The dashboard level through the SDK's builders, with values where the template has holes."""
    builder = (
        db.Dashboard(values.title)
        .uid(values.uid)
        .tags(list(values.tags))
        .time(dash.time_from, dash.time_to)
        .refresh(dash.refresh)
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
    )
    if values.description:
        builder.description(values.description)
    for v, query in zip(dash.variables, values.queries, strict=True):
        builder.with_variable(_variable(v, query))
    for link, title, url in zip(dash.links, values.link_titles, values.link_urls, strict=True):
        internal = bool(link.dashboard)
        builder.link(
            db.DashboardLink(title)
            .type(dm.DashboardLinkType.LINK)
            .url(url)
            .icon("dashboard" if internal else "external link")
            .tooltip("")
            .tags([])
            .as_dropdown(False)
            .target_blank(not internal)
            .include_vars(False)
            .keep_time(internal)
        )
    model = builder.build()
    model.panels = []
    data: dict[str, Any] = plain(model)
    data["panels"] = []  # the panels are kept apart (CompiledDashboard.panels): the key keeps its sorted place
    for link in data.get("links") or []:
        link.pop("placement", None)  # the SDK's default hides links in the controls menu; Grafana's own is the top bar
    # The SDK writes an empty annotations object; Grafana expects the built-in list.
    data["annotations"] = canonical({"list": [BUILTIN_ANNOTATION]})
    return data


# A panel's JSON by everything the SDK reads to build it except its query expressions (see _panel_json).
# Bounded: a long-lived process (preview, tests) builds many projects.
_PANEL_JSON: dict[Hashable, JsonTemplate] = {}
_PANEL_JSON_MAX = 4096


# Every field of a panel but its queries (the targets stand for them) and its ref (where it was written,
# which the SDK never sees): a field added to Panel is part of the key without a change here. Its lists and
# dicts apart: they are keyed by their repr, and only when one is not empty (a generated panel's usually are).
_KEYED = [f for f in dataclasses.fields(Panel) if f.name not in ("ref", "queries")]
_PANEL_FIELDS = operator.attrgetter(*(f.name for f in _KEYED))
_PANEL_CONTAINERS = operator.attrgetter(*(f.name for f in _KEYED if f.default_factory is not dataclasses.MISSING))
_PANEL_SCALARS = operator.attrgetter(*(f.name for f in _KEYED if f.default_factory is dataclasses.MISSING))
_TARGET_STATICS = operator.attrgetter("ref_id", "legend", "format", "instant", "hide")
# Values a key holds as they are, with their types: equal values of one of these types write the same JSON
# (with the type, 1, 1.0 and True are three keys). A float is keyed by its repr: 0.0 and -0.0 are equal.
_ATOMS = frozenset({str, int, bool, type(None)})
_ATOMS_AND_FLOAT = _ATOMS | {float}
# A target's statics held as they are: strings, and booleans (instant and hide are only tested for truth).
_STATIC_TYPES = frozenset({str, bool})


def _panel_key(
    panel: Panel, ident: int, grid: Grid, targets: list[Target], link_urls: tuple[str, ...], exact_place: bool
) -> Hashable:
    """What the SDK reads to build the panel, but its queries' expressions: equal keys build equal JSON.
    exact_place: ident and grid are of type int (with another type, 1 and True or 12 and 12.0 are keys
    that are equal and write different JSON: the key is then the repr of it all)."""
    statics = tuple(map(_TARGET_STATICS, targets))
    scalars = _PANEL_SCALARS(panel)
    types = tuple(map(type, scalars))
    plain = (
        exact_place
        and _STATIC_TYPES.issuperset(map(type, itertools.chain.from_iterable(statics)))
        and (not link_urls or all(type(u) is str for u in link_urls))
    )
    if plain and not _ATOMS.issuperset(types) and _ATOMS_AND_FLOAT.issuperset(types):
        scalars = tuple(repr(v) if type(v) is float else v for v in scalars)
    elif not (plain and _ATOMS.issuperset(types)):
        return repr((_PANEL_FIELDS(panel), ident, grid, link_urls, statics))
    containers = _PANEL_CONTAINERS(panel)
    return (
        scalars,
        types,
        ident,
        grid,
        link_urls,
        statics,
        repr(containers) if any(containers) else tuple(map(type, containers)),
    )


def _panel_json(
    panel: Panel,
    ident: int,
    grid: Grid,
    targets: list[Target],
    link_urls: tuple[str, ...],
    exact_place: bool = False,
) -> Filled:
    """One panel's Grafana JSON (plain, keys sorted), built through the SDK once per shape.

    A generated project repeats a few hundred panel shapes thousands of times, differing only in the
    PromQL of their queries (each service's selector). The SDK builds the first panel of a shape (its
    JsonTemplate); every panel of that shape is the template with its own expressions in its holes, each
    target's "expr", the one place the SDK writes an expression (Dataquery.expr, copied as given). The key holds
    everything else the SDK reads: the panel's fields, id, position, resolved link URLs and each
    target's refId, legend, format, instant and hide. tests/unit/test_unit_dashboard_shapes.py compares
    this with building every panel.
    """
    exprs = tuple(map(_EXPR, targets))
    if not _PANEL_JSON_MAX:  # off (the tests' reference): every panel through the SDK
        return Filled(
            template=JsonTemplate(
                data=_sdk_panel(panel, ident, grid, targets, link_urls), holes=_expr_holes(len(targets))
            ),
            values=exprs,
        )
    key = _panel_key(panel, ident, grid, targets, link_urls, exact_place)
    template = _PANEL_JSON.get(key)
    if template is None:
        template = JsonTemplate(
            data=_sdk_panel(panel, ident, grid, targets, link_urls), holes=_expr_holes(len(targets))
        )
        # The key holds the number of targets: checked once, for every panel of the key.
        if len(template.data.get("targets") or []) != len(exprs):
            raise ValueError(f"panel {panel.title!r}: {len(exprs)} queries built into another number of targets")
        if len(_PANEL_JSON) >= _PANEL_JSON_MAX:
            _PANEL_JSON.clear()
        _PANEL_JSON[key] = template
    return Filled(template=template, values=exprs)


_EXPR = operator.attrgetter("expr")


@functools.cache
def _expr_holes(n: int) -> tuple[JsonPath, ...]:
    """A panel template's holes: each of its n targets' "expr"."""
    return tuple(("targets", k, "expr") for k in range(n))


def _containers_copied(value: Any) -> Any:  # plain JSON data in, the same data out
    """New dicts and lists all the way down; the leaves (str, numbers, bool, None) are the same objects."""
    t = type(value)
    if t is dict:
        return {k: v if type(v) in _LEAVES else _containers_copied(v) for k, v in value.items()}
    if t is list:
        return [v if type(v) in _LEAVES else _containers_copied(v) for v in value]
    return value


def _sdk_panel(
    panel: Panel, ident: int, grid: Grid, targets: list[Target], link_urls: tuple[str, ...]
) -> dict[str, Any]:
    """A panel's JSON through the SDK's builders."""
    b = _panel_builder(panel)
    house_style(b, panel, ident, grid)
    for t in targets:
        b.with_target(_target(t))
    for ident_, options in panel.transformations:
        b.with_transformation(dm.DataTransformerConfig(id_val=ident_, options=options))
    for name, properties in panel.overrides:
        b.override_by_name(name, [dm.DynamicConfigValue(id_val=k, value=v) for k, v in sorted(properties.items())])
    built_panel = b.build()
    if panel.links:
        # Set on the model: the SDK's links() calls build() on each link, which models lack.
        built_panel.links = [
            dm.DashboardLink(
                title=link.title or link.dashboard or link.url,
                type_val=dm.DashboardLinkType.LINK,
                url=url,
                icon="dashboard",
                tooltip="",
                tags=[],
                as_dropdown=False,
                target_blank=not link.dashboard,
                include_vars=False,
                keep_time=bool(link.dashboard),
            )
            for link, url in zip(panel.links, link_urls, strict=True)
        ]
    data: dict[str, Any] = plain(built_panel)
    return data


# Most values in a dashboard are these exact types, which plain() returns as they are; checking the exact
# type before calling saves a call per leaf (subclasses such as str enums still go through plain()).
_LEAVES = frozenset({str, int, float, bool, type(None)})


def plain(value: object) -> Any:  # JSON data of whatever shape the SDK model has
    """SDK model objects as plain JSON data, keys sorted (one pass; what JSONEncoder does, faster)."""
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        value = to_json()
    if isinstance(value, dict):
        return {k: v if type(v) in _LEAVES else plain(v) for k, v in ((k, value[k]) for k in sorted(value))}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _LEAVES else plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def default_metric(v: Variable, scope: Scope | None) -> str:
    """The series a query variable lists values from when the spec names none."""
    if v.metric:
        return v.metric
    if v.name == "gpu":
        return "promspec_gpu_up"
    return anchor_metric(scope) if scope else "up"


def canonical(value: Any) -> Any:  # JSON data in, the same data out
    """Keys sorted at every level (Grafana's own export order), so equal dashboards are equal bytes."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value
