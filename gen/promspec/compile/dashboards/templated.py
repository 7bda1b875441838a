"""Templated bundled dashboards: read once, made once per object of a project (slo_dashboards.py: one per SLO,
the SLO overview), from `kind: Dashboard` specs shipped in gen/promspec/data/dashboards/templates/.

A template is the public Dashboard spec plus a few internal constructs (docs/dashboards.md, "Templated
bundled dashboards"). It is read once per process into the same dashboard model a user's spec gives, with
the constructs kept beside it (DashboardTemplate), and instantiated per object by substitution in that
model: 3,000 SLOs cost 3,000 walks over a few dozen records, not 3,000 YAML parses.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast

from ...model.dashboards import Dashboard, Link, Panel, Query, Row, Variable, dashboard_from_document, derive_uid
from ...model.schema_parts import SIGNALS
from ..promql import PromQLError, parse_duration, quote
from .slo_thresholds import (
    Thresholds,
    burn_thresholds,
    exhaustion_thresholds,
    fastest_tier_thresholds,
    first_tier_threshold,
    sli_thresholds,
)

if TYPE_CHECKING:
    from ...diagnostics import Report
    from ...model.project import Ref
    from ...model.services import SLO
    from .signals import Scope

# Beside the static bundled specs (bundled.py), in their own folder: a template is not a spec to copy.
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "data", "dashboards", "templates")
# expr -> the metric names it reads, for the queries whose names follow from their template's shape
# (_Text.metrics_read): what the presets' pruning would otherwise parse out of every instance's text.
MetricsRead = dict[str, tuple[str, ...]]
Values = Mapping[str, str]  # prepared(): the fields of placeholders (slo.id, tier.name, window, ...) as written

# A template placeholder: its root names a value of the model. Any other ${...} is Grafana's (${datasource}).
PLACEHOLDER = re.compile(r"\$\{((?:slo|tier|serving)\.[a-z_]+|window)\}")
_METRIC_TAIL = re.compile(r"[a-zA-Z0-9_:]")
_METRIC_PART = re.compile(r"[a-zA-Z0-9_:]+")
# What stands before a label value's opening quote in a plain equality matcher: `slo_id="`, `job != "`.
PLAIN_MATCHER_BEFORE = re.compile(r"(?<![A-Za-z0-9_:])([A-Za-z_][A-Za-z0-9_]*)\s*!?=\s*\Z")


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A generated dashboard: its model, or (made lazily: template_shapes.instantiate_lazily) its model's every
    field but its rows, and how to make the whole model, in the process that builds the dashboard."""

    head: Dashboard  # the model, or when make is set the model without its rows
    make: Callable[[], Dashboard] | None = field(default=None, compare=False, repr=False)

    def model(self) -> Dashboard:
        return self.head if self.make is None else self.make()


class TemplateError(ValueError):
    """A bundled template that cannot be read or instantiated: a defect of the package, not of the specs."""


# ------------------------------------------------------------------------------------ text with placeholders


# How a placeholder's value is written where it lands: T as it is; L a whole PromQL label value, quoted and
# escaped as promql.quote() does; M the end of a metric name (letters, digits, _ and : only).
def _key(name: str, mode: str) -> str:
    """The str.format field of a placeholder written in a mode: slo.id as a label value -> L_slo_id."""
    return f"{mode}_{name.replace('.', '_')}"


class Fields(dict[str, str]):
    """The values of placeholders as a compiled template string reads them: T_slo_id is slo.id as written;
    L_slo_id (quoted) and M_window (checked) are made the first time a template asks, then kept."""

    def __missing__(self, key: str) -> str:
        if not self.gives(key):
            raise KeyError(key)  # no such placeholder in this instance, or a value that cannot end a metric name
        value = self["T_" + key[2:]]
        out = self[key] = quote(value) if key[:2] == "L_" else value
        return out

    def gives(self, key: str) -> bool:
        """Whether a template string may ask for key (it is here, or made on first ask), without making it."""
        if key in self:
            return True
        mode, written = key[:2], "T_" + key[2:]
        if mode == "T_" or written not in self:
            return False
        return mode == "L_" or (mode == "M_" and _METRIC_PART.fullmatch(self[written]) is not None)


def prepared(values: Mapping[str, str]) -> Fields:
    """values (placeholder name -> value) as the fields a compiled template string reads."""
    return Fields({"T_" + name.replace(".", "_"): value for name, value in values.items()})


@dataclass(frozen=True, kw_only=True)
class _Text:
    """A template string compiled once into a str.format template over prepared() values."""

    text: str  # as written, returned as it is when there is no placeholder
    fmt: str = ""  # "" when there is no placeholder
    # PromQL only: the label-value fields (L_) that sit in a `label="..."` or `label!="..."` matcher of a label
    # other than __name__, the same as written (T_: they must be non-empty), and the metric-name fields (M_).
    # Any other label-value field makes `opaque` true.
    values_in_matchers: tuple[str, ...] = ()
    nonempty: tuple[str, ...] = ()
    metric_tails: tuple[str, ...] = ()
    opaque: bool = False
    # metric-name ends -> the names the shape reads; a text is compiled once per process and shared
    names: dict[tuple[str, ...], tuple[str, ...] | None] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def fill(self, values: Values) -> str:
        if not self.fmt:
            return self.text
        try:
            return self.fmt.format_map(values)
        except KeyError as exc:
            raise TemplateError(
                f"no value for {exc.args[0]} in {self.text!r} (or it cannot end a metric name)"
            ) from None

    def metrics_read(self, values: Values) -> tuple[str, ...] | None:
        """The metric names the PromQL fill(values) reads, from one parse per shape: None when that needs the
        filled text's own parse (no placeholder, a value outside a plain matcher, an empty value). Call it
        after fill(values).

        A non-empty value of a plain `=`/`!=` matcher is a string literal that quote() escapes: it names no
        metric, and the selector parses with it exactly when it parses with any other non-empty value (it
        cannot match the empty string either way). Grafana's variables inside it stay inside the string."""
        if self.opaque or not self.fmt:
            return None
        for key in self.nonempty:
            if not values[key]:
                return None
        return self.shape_names(values)

    def shape_names(self, values: Values) -> tuple[str, ...] | None:
        """metrics_read(values) as if every plain matcher value were non-empty: what the metric-name ends in
        values give (the per-shape instantiation checks emptiness per instance)."""
        if self.opaque or not self.fmt:
            return None
        tails = tuple(values[k] for k in self.metric_tails) if self.metric_tails else ()
        try:
            return self.names[tails]
        except KeyError:
            filled = dict.fromkeys(self.values_in_matchers, REPRESENTATIVE)
            filled.update(zip(self.metric_tails, tails, strict=True))
            names = self.names[tails] = shape_metrics(self.fmt.format_map(filled))
            return names


# One representative value for every plain matcher value: see _Text.metrics_read.
REPRESENTATIVE = quote("x")


def shape_metrics(expr: str) -> tuple[str, ...] | None:
    """The metric names expr reads; None when it does not parse (the instance's own text then says why)."""
    from ...check.panel_queries import panel_query

    try:
        return panel_query(expr).metrics
    except PromQLError:
        return None


@functools.cache
def _text(text: str, expr: bool = False) -> _Text:
    """text compiled; expr: text is PromQL, where a placeholder must be a whole label value ("${slo.id}",
    quotes included, written as quote() writes it) or the end of a metric name."""
    if not PLACEHOLDER.search(text):
        return _Text(text=text)
    parts: list[str] = []
    in_matchers: list[str] = []
    tails: list[str] = []
    opaque = False
    last = 0
    for m in PLACEHOLDER.finditer(text):
        start, end = m.start(), m.end()
        mode = "T"
        if expr:
            if text[start - 1 : start] == '"' and text[end : end + 1] == '"':
                mode, start, end = "L", start - 1, end + 1
                matched = PLAIN_MATCHER_BEFORE.search(text, 0, start)
                if matched and matched.group(1) != "__name__":
                    in_matchers.append(_key(m.group(1), mode))
                else:
                    opaque = True
            elif start and _METRIC_TAIL.fullmatch(text[start - 1]):
                mode = "M"
                tails.append(_key(m.group(1), mode))
            else:
                raise TemplateError(
                    f'{m.group(0)} in {text!r} is neither a whole label value ("{m.group(0)}") nor the end of a '
                    "metric name"
                )
        parts += [literal(text[last:start]), "{" + _key(m.group(1), mode) + "}"]
        last = end
    parts.append(literal(text[last:]))
    in_matchers = list(dict.fromkeys(in_matchers))
    return _Text(
        text=text,
        fmt="".join(parts),
        values_in_matchers=tuple(in_matchers),
        nonempty=tuple("T_" + key[2:] for key in in_matchers),
        metric_tails=tuple(dict.fromkeys(tails)),
        opaque=opaque or not expr,
    )


def literal(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True, kw_only=True)
class _Repeat:
    """A part of a description or content written once per element of a list, joined."""

    each: str
    text: _Text
    join: str


@dataclass(frozen=True, kw_only=True)
class _Parts:
    """A description or content: its parts (a plain string is one part) concatenated."""

    parts: tuple[_Text | _Repeat, ...]

    def fill(self, subject: Subject, values: Values) -> str:
        if not self.parts:
            return ""
        out = []
        for part in self.parts:
            if isinstance(part, _Text):
                out.append(part.fill(values))
            else:
                out.append(part.join.join(part.text.fill(item) for item in subject.each(part.each, values)))
        return "".join(out)


# ------------------------------------------------------------------------------------ the template model


@dataclass(frozen=True, kw_only=True)
class _QueryT:
    query: Query
    each: str  # "" or the list it is repeated over
    expr: _Text
    legend: _Text
    rest: dict[str, Any]  # the query's other fields: an instance is Query(**rest, ...), faster than replace()
    when: frozenset[str] = frozenset()  # made only when the subject has every one of these signals


@dataclass(frozen=True, kw_only=True)
class _LinkT:
    link: Link
    each: str
    title: _Text
    dashboard: _Text
    url: _Text


@dataclass(frozen=True, kw_only=True)
class _PanelT:
    panel: Panel
    title: _Text
    description: _Parts
    content: _Parts
    compute: str  # "" or the THRESHOLDS entry that computes its steps
    queries: tuple[_QueryT, ...]
    links: tuple[_LinkT, ...]
    rest: dict[str, Any]  # the panel's fields that no placeholder or construct fills
    when: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class _Slot:
    """`- compute: NAME` in a template's rows or a row's panels: what COMPUTED_ROWS or COMPUTED_PANELS makes there."""

    compute: str


@dataclass(frozen=True, kw_only=True)
class _RowT:
    row: Row
    title: _Text
    panels: tuple[_PanelT | _Slot, ...]
    rest: dict[str, Any]
    # a row of computed or conditional (`when`) panels is left out when none is made, as a preset's row is
    optional: bool = False


@dataclass(frozen=True, kw_only=True)
class DashboardTemplate:
    """A templated bundled dashboard, read once: the model of its spec, and its constructs beside it."""

    file: str  # where it was read from, for messages
    # each: one dashboard per element of `over`; any: one dashboard, made when `over` has an element
    mode: Literal["each", "any"]
    over: str
    dashboard: Dashboard  # the spec's model, placeholders unfilled
    name: _Text
    title: _Text
    description: _Parts
    folder: _Text
    service: _Text
    backend: _Text
    tags: tuple[_Text, ...]
    links: tuple[_LinkT, ...]
    rows: tuple[_RowT | _Slot, ...]
    variables: tuple[dict[str, Any], ...]  # each variable's fields but its ref
    rest: dict[str, Any]  # the dashboard's fields that no placeholder or construct fills


@dataclass(frozen=True, kw_only=True)
class Subject:
    """What one instance of a template is made for: its values, the lists its `each` items repeat over, the
    SLOs its computed thresholds read, and the document every record of the instance points at."""

    ref: Ref
    values: Values
    lists: Mapping[str, Sequence[Values]]
    slos: tuple[SLO, ...]
    signals: frozenset[str] = frozenset()  # the canonical signals `when` reads: those the subject's engine exposes
    scope: Scope | None = None  # what the computed rows and panels read: the engine's adapter and the selector

    # list name -> its elements with the subject's values under them (each()), made once per instance
    merged: dict[str, list[Fields]] = field(default_factory=dict, compare=False, repr=False)

    def list(self, name: str) -> Sequence[Values]:
        try:
            return self.lists[name]
        except KeyError:
            raise TemplateError(f"no list {name!r} to repeat over (known: {', '.join(sorted(self.lists))})") from None

    def each(self, name: str, values: Values) -> Sequence[Values]:
        """The fields of each element of list `name` over values: those of the subject's own values are made
        once per instance, so a value one query quotes is quoted for every query of the instance."""
        got = self.merged.get(name) if values is self.values else None
        if got is None:
            # the values as written only: a value quoted already is quoted again where an element replaces it
            written = {k: v for k, v in values.items() if k.startswith("T_")}
            got = [Fields({**written, **item}) for item in self.list(name)]
            if values is self.values:
                self.merged[name] = got
        return got


# ------------------------------------------------------------------------------------ computed values

# `thresholds: {compute: NAME}` in a template: NAME -> the steps for the instance's subject.
THRESHOLDS: dict[str, Callable[[Subject], Thresholds]] = {
    "sli": lambda s: sli_thresholds(s.slos[0].objective),
    "burn": lambda s: burn_thresholds(s.slos[0]),
    "exhaustion": lambda s: exhaustion_thresholds(s.slos[0]),
    "first_tier": lambda s: first_tier_threshold(s.slos[0]),
    "fastest_tier": lambda s: fastest_tier_thresholds(s.slos),
    "ttft": lambda s: ttft_thresholds(s.slos),
}


def ttft_thresholds(slos: Sequence[SLO]) -> Thresholds:
    """The TTFT stat's colours: red at the service's TTFT SLO threshold when it has one, else 1 s / 5 s."""

    def seconds(text: str) -> float:  # a threshold written as a bare number is in seconds, as the SLO reads it
        try:
            return float(text)
        except ValueError:
            return parse_duration(text)

    limits = sorted(seconds(slo.threshold) for slo in slos if slo.signal == "ttft" and slo.threshold)
    if limits:
        return [(limits[0], "red")]
    return [(1, "orange"), (5, "red")]


def _computed() -> ModuleType:
    """The LLM serving dashboards' computed parts (presets.py): imported late, presets.py imports us."""
    from . import presets

    return presets


# `- compute: NAME` in a template's rows (or a row's panels): NAME -> what is made there for the subject. These
# are the parts computed from an engine's adapter (which labels it lists, which extra histograms, its own rows).
# Each is made once per shape of the subject's scope and filled with its values (presets.per_shape), noting
# in `read` what its queries read.
_ROWS_MADE_BY = {"replicas": "replicas_rows", "request_shape": "request_shape_rows", "engine": "engine_rows"}
_PANELS_MADE_BY = {"errors_by": "errors_by_panels", "finish_reason": "finish_reason_panels"}


def computed_maker(name: str) -> Callable[[Subject], list[Any]]:
    """The function of presets.py that makes the computed part NAME for a subject (as it is, not per shape)."""
    return cast(Callable[[Subject], list[Any]], getattr(_computed(), {**_ROWS_MADE_BY, **_PANELS_MADE_BY}[name]))


def _computed_part(name: str, subject: Subject, read: MetricsRead | None) -> list[Any]:
    return cast(list[Any], _computed().per_shape(computed_maker(name), subject, read))


COMPUTED_ROWS: dict[str, Callable[[Subject, MetricsRead | None], list[Row]]] = {
    name: functools.partial(_computed_part, name) for name in _ROWS_MADE_BY
}
COMPUTED_PANELS: dict[str, Callable[[Subject, MetricsRead | None], list[Panel]]] = {
    name: functools.partial(_computed_part, name) for name in _PANELS_MADE_BY
}


# ------------------------------------------------------------------------------------ reading a template


def template_path(name: str) -> str:
    return os.path.join(DATA_DIR, f"{name}.yml")


@functools.cache
def template(name: str) -> DashboardTemplate:
    """The bundled template `name` (gen/promspec/data/dashboards/templates/<name>.yml), read once per process."""
    return read_template(template_data(name), f"promspec:dashboards/templates/{name}.yml")


def template_data(name: str) -> dict[str, Any]:
    """The bundled template `name` as plain data. Package data, not a spec of the project: it is read here,
    with no positions, and a defect in it is a TemplateError (tests read every template)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where installed: ~10x the pure-Python one
    with open(template_path(name), encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=loader)
    if not isinstance(data, dict) or data.get("kind") != "Dashboard" or not isinstance(data.get("spec"), dict):
        raise TemplateError(f"bundled dashboard template {name!r} is not one Dashboard document")
    return data


@dataclass(frozen=True, kw_only=True)
class _PanelC:
    """One panel's constructs, taken out of its spec."""

    compute: str  # "" or the THRESHOLDS entry that computes its steps
    description: _Parts
    content: _Parts
    queries: list[tuple[str, frozenset[str]]]  # each query's `each` and `when`
    links: list[str]  # each link's `each`
    when: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class _Split:
    """A template's data with its constructs taken out (spec: a Dashboard spec), and the constructs."""

    spec: dict[str, Any]
    mode: Literal["each", "any"]
    over: str
    links: list[str]  # each link's `each`
    description: _Parts
    # per row in the template's order, a computed slot or its panels' (a computed slot's or a panel's) constructs
    rows: list[_Slot | list[_Slot | _PanelC]]


def split_template(data: Mapping[str, Any], file: str = "template") -> _Split:
    """data's constructs taken out of a copy: what remains is a Dashboard spec (with ${...} in its strings)."""
    spec_doc: dict[str, Any] = copy.deepcopy(dict(data))
    head = spec_doc.pop("template", None)
    if not isinstance(head, dict) or len(head) != 1 or next(iter(head)) not in ("each", "any"):
        raise TemplateError(f"{file}: a template needs `template: {{each: LIST}}` or `{{any: LIST}}`")
    mode, over = next(iter(head.items()))
    spec = spec_doc["spec"]
    if "uid" in spec or "panels" in spec:
        raise TemplateError(f"{file}: a template's uid is its name (spec.uid), and its panels go in rows")
    links = [_take_each(link) for link in spec.get("links", [])]
    description = _take_parts(spec, "description")
    rows: list[_Slot | list[_Slot | _PanelC]] = []
    for i, row in enumerate(spec.get("rows", [])):
        if "compute" in row:
            rows.append(_take_slot(row, COMPUTED_ROWS, f"{file}: spec.rows[{i}]"))
            continue
        panels: list[_Slot | _PanelC] = []
        for j, panel in enumerate(row.get("panels", [])):
            where = f"{file}: spec.rows[{i}].panels[{j}]"
            if "compute" in panel:
                panels.append(_take_slot(panel, COMPUTED_PANELS, where))
                continue
            thresholds = panel.get("thresholds")
            compute = ""
            if isinstance(thresholds, dict):
                compute = thresholds.get("compute", "")
                if compute not in THRESHOLDS:
                    raise TemplateError(
                        f"{where}.thresholds: no computed thresholds {compute!r} (known: {', '.join(THRESHOLDS)})"
                    )
                del panel["thresholds"]
            panels.append(
                _PanelC(
                    compute=compute,
                    when=_take_when(panel, where),
                    description=_take_parts(panel, "description"),
                    content=_take_parts(panel, "content"),
                    queries=[
                        (_take_each(q), _take_when(q, f"{where}.queries[{k}]"))
                        for k, q in enumerate(panel.get("queries", []))
                    ],
                    links=[_take_each(link) for link in panel.get("links", [])],
                )
            )
        row["panels"] = [p for p in row.get("panels", []) if "compute" not in p]
        rows.append(panels)
    spec["rows"] = [row for row in spec.get("rows", []) if "compute" not in row]
    return _Split(spec=spec_doc, mode=mode, over=over, links=links, description=description, rows=rows)


def _take_slot(item: dict[str, Any], table: Mapping[str, object], where: str) -> _Slot:
    """A computed slot (`compute: NAME` alone): NAME must be in table (COMPUTED_ROWS or COMPUTED_PANELS)."""
    name = item.get("compute")
    if len(item) != 1 or not isinstance(name, str) or name not in table:
        raise TemplateError(
            f"{where}: a computed slot is `compute: NAME` alone, NAME one of {', '.join(table)}; got {item!r}"
        )
    return _Slot(compute=name)


# The signals `when` may name, the canonical ones: Backend.variant() answers for any name, so a misspelt one
# would quietly never match.
WHEN_SIGNALS = frozenset(SIGNALS)


def _take_when(item: dict[str, Any], where: str) -> frozenset[str]:
    """`when: {signals: [...]}` taken out of item: the signals the subject must have for item to be made."""
    if "when" not in item:
        return frozenset()
    when = item.pop("when")
    signals = when.get("signals") if isinstance(when, dict) and len(when) == 1 else None
    if not isinstance(signals, list) or not signals or not all(isinstance(s, str) for s in signals):
        raise TemplateError(f"{where}.when: expected `when: {{signals: [SIGNAL, ...]}}`, got {when!r}")
    unknown = sorted(set(signals) - WHEN_SIGNALS)
    if unknown:
        raise TemplateError(
            f"{where}.when: no signal {', '.join(map(repr, unknown))} (known: {', '.join(sorted(WHEN_SIGNALS))})"
        )
    return frozenset(signals)


def read_template(data: Mapping[str, Any], source: str) -> DashboardTemplate:
    """A template as a DashboardTemplate: the constructs are taken out, the rest (a Dashboard spec) is read by
    the reader of user specs, and the two are kept side by side."""
    from ...model.loader import Document

    split = split_template(data, source)
    dash = dashboard_from_document(Document(source, 0, split.spec, source=source))
    written = iter(dash.rows)
    rows: list[_RowT | _Slot] = []
    for made in split.rows:
        if isinstance(made, _Slot):
            rows.append(made)
            continue
        row = next(written)
        panels = iter(row.panels)
        rows.append(
            _RowT(
                row=row,
                title=_text(row.title),
                panels=tuple(c if isinstance(c, _Slot) else _panel_t(next(panels), c) for c in made),
                rest=_rest(row, _FILLED_ROW),
                optional=any(isinstance(c, _Slot) or c.when or any(w for _e, w in c.queries) for c in made),
            )
        )
    return DashboardTemplate(
        file=source,
        mode=split.mode,
        over=split.over,
        dashboard=dash,
        name=_text(dash.name),
        title=_text(dash.title),
        description=split.description,
        folder=_text(dash.folder),
        service=_text(dash.service),
        backend=_text(dash.backend),
        tags=tuple(_text(t) for t in dash.tags),
        links=tuple(_link_t(link, each) for link, each in zip(dash.links, split.links, strict=True)),
        rows=tuple(rows),
        variables=tuple(_rest(v, _FILLED_VARIABLE) for v in dash.variables),
        rest=_rest(dash, _FILLED_DASHBOARD),
    )


def _panel_t(panel: Panel, c: _PanelC) -> _PanelT:
    return _PanelT(
        panel=panel,
        title=_text(panel.title),
        description=c.description,
        content=c.content,
        compute=c.compute,
        when=c.when,
        queries=tuple(
            _QueryT(
                query=q,
                each=e,
                when=w,
                expr=_text(q.expr, expr=True),
                legend=_text(q.legend),
                rest=_rest(q, _FILLED_QUERY),
            )
            for q, (e, w) in zip(panel.queries, c.queries, strict=True)
        ),
        links=tuple(_link_t(link, e) for link, e in zip(panel.links, c.links, strict=True)),
        rest=_rest(panel, _FILLED_PANEL),
    )


_FILLED_QUERY = frozenset({"ref", "expr", "legend"})
_FILLED_ROW = frozenset({"ref", "title", "panels"})
_FILLED_VARIABLE = frozenset({"ref"})
_FILLED_DASHBOARD = frozenset(
    {
        "name",
        "uid",
        "ref",
        "title",
        "description",
        "folder",
        "service",
        "backend",
        "tags",
        "variables",
        "links",
        "rows",
        "source",
        "generated",
    }
)
_FILLED_PANEL = frozenset({"ref", "title", "description", "content", "thresholds", "links", "queries"})


def _rest(record: Query | Panel | Row | Variable | Dashboard, filled: frozenset[str]) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record) if f.name not in filled}


def _take_each(item: dict[str, Any]) -> str:
    return str(item.pop("each", ""))


def _take_parts(holder: dict[str, Any], key: str) -> _Parts:
    """holder[key] (a string, or a list of strings and {each, text, join}) as _Parts; the list is taken out."""
    value = holder.get(key, "")
    if isinstance(value, str):
        return _Parts(parts=(_text(value),) if value else ())
    del holder[key]
    return _Parts(
        parts=tuple(
            _text(p)
            if isinstance(p, str)
            else _Repeat(each=p["each"], text=_text(p["text"]), join=str(p.get("join", "")))
            for p in value
        )
    )


def _link_t(link: Link, each: str) -> _LinkT:
    return _LinkT(link=link, each=each, title=_text(link.title), dashboard=_text(link.dashboard), url=_text(link.url))


# ------------------------------------------------------------------------------------ instantiating


def instantiate(t: DashboardTemplate, subject: Subject, read: MetricsRead | None = None) -> Dashboard:
    """One dashboard of the template for subject; every record points at subject.ref.
    read: where to note the metric names of the queries made, when their template's shape tells them.

    A template made once per object (`each`: one per SLO) is laid out once per shape of its subject
    (template_shapes.py) and each subject fills its values in; one made once per project (`any`) is made directly."""
    if t.mode == "each":
        from .template_shapes import instantiate_shaped

        return instantiate_shaped(t, subject, read)
    return instantiate_direct(t, subject, read)


def instantiate_direct(t: DashboardTemplate, subject: Subject, read: MetricsRead | None = None) -> Dashboard:
    """instantiate() walking the template for this subject alone: the oracle of the per-shape path, and its
    fallback. Records are made from their template's other fields (rest), not by dataclasses.replace()."""
    ref, values = subject.ref, subject.values
    name = derive_uid(t.name.fill(values))
    return Dashboard(
        **t.rest,
        name=name,
        uid=name,
        ref=ref,
        title=t.title.fill(values),
        description=t.description.fill(subject, values),
        folder=t.folder.fill(values),
        service=t.service.fill(values),
        backend=t.backend.fill(values),
        tags=tuple(tag.fill(values) for tag in t.tags),
        variables=[Variable(**v, ref=ref) for v in t.variables],
        links=_links(t.links, subject, values),
        rows=_rows(t.rows, subject, values, read),
        source=ref.doc.source or ref.doc.file,
        generated=True,
    )


def _rows(rows: Iterable[_RowT | _Slot], subject: Subject, values: Values, read: MetricsRead | None) -> list[Row]:
    out: list[Row] = []
    for r in rows:
        if isinstance(r, _Slot):
            out += COMPUTED_ROWS[r.compute](subject, read)
            continue
        panels: list[Panel] = []
        for p in r.panels:
            if isinstance(p, _Slot):
                panels += COMPUTED_PANELS[p.compute](subject, read)
            elif (panel := _panel(p, subject, values, read)) is not None:
                panels.append(panel)
        if panels or not r.optional:
            out.append(Row(**r.rest, ref=subject.ref, title=r.title.fill(values), panels=panels))
    return out


def _each(each: str, subject: Subject, values: Values) -> Iterable[Values]:
    return subject.each(each, values) if each else [values]


def _links(links: Iterable[_LinkT], subject: Subject, values: Values) -> list[Link]:
    return [
        Link(title=lt.title.fill(v), dashboard=lt.dashboard.fill(v), url=lt.url.fill(v))
        for lt in links
        for v in _each(lt.each, subject, values)
    ]


def _panel(p: _PanelT, subject: Subject, values: Values, read: MetricsRead | None) -> Panel | None:
    """The panel for subject; None when its `when` names a signal the subject lacks, or when every one of its
    queries has a `when` it fails (a panel drawn with no query would be an empty frame)."""
    if not p.when <= subject.signals:
        return None
    ref = subject.ref
    queries = []
    conditional = bool(p.queries)
    for q in p.queries:  # a loop, not _each(): most queries repeat over nothing, and this runs per SLO
        conditional = conditional and bool(q.when)
        if not q.when <= subject.signals:
            continue
        for v in subject.each(q.each, values) if q.each else (values,):
            expr = q.expr.fill(v)
            queries.append(Query(**q.rest, ref=ref, expr=expr, legend=q.legend.fill(v)))
            if read is not None and (names := q.expr.metrics_read(v)) is not None:
                read[expr] = names
    if conditional and not queries:
        return None
    return Panel(
        **p.rest,
        ref=ref,
        title=p.title.fill(values),
        description=p.description.fill(subject, values),
        content=p.content.fill(subject, values),
        thresholds=THRESHOLDS[p.compute](subject) if p.compute else p.panel.thresholds,
        links=_links(p.links, subject, values) if p.links else [],
        queries=queries,
    )


# ------------------------------------------------------------------------------------ user specs


def check_user_placeholders(written: Iterable[Dashboard], report: Report) -> None:
    """A template placeholder in a user's Dashboard spec is an error at its file:line:col: the constructs are
    internal to the bundled templates, and Grafana would draw `${slo.name}` literally."""
    for dash in written:
        if dash.imported is not None or dash.file:
            continue
        declared = {v.name for v in dash.variables}
        for ref, path, text in _user_strings(dash):
            for m in PLACEHOLDER.finditer(text) if "${" in text else ():
                if m.group(1).split(".")[0] in declared:
                    continue  # a variable of the dashboard: Grafana's ${var.field}
                before = text[: m.start()]
                report.error(
                    ref.doc.pos_in_scalar(
                        ref.path + path, before.count("\n") + 1, m.start() - (before.rfind("\n") + 1) + 1
                    ),
                    f"{m.group(0)} is a placeholder of promspec's bundled dashboard templates, not of Dashboard "
                    "specs: it would be drawn as written",
                    ref.dotted(*path),
                    "a value written out; to copy a bundled per-SLO dashboard as built for your specs, "
                    "`promspec dashboards eject UID`",
                )


def _user_strings(dash: Dashboard) -> Iterable[tuple[Ref, tuple[str | int, ...], str]]:
    """Every string of a written dashboard that a template could fill, with where it is written."""
    yield dash.ref, ("title",), dash.title
    yield dash.ref, ("description",), dash.description
    yield dash.ref, ("service",), dash.service  # the LLM serving template fills them
    yield dash.ref, ("backend",), dash.backend
    yield from ((dash.ref, ("tags", i), tag) for i, tag in enumerate(dash.tags))
    yield from _link_strings(dash.ref, dash.links)
    for row in dash.rows:
        yield row.ref, ("title",), row.title
        for panel in row.panels:
            yield from ((panel.ref, (f,), getattr(panel, f)) for f in ("title", "description", "content"))
            yield from _link_strings(panel.ref, panel.links)
            for query in panel.queries:
                yield query.ref, ("expr",), query.expr
                yield query.ref, ("legend",), query.legend


def _link_strings(ref: Ref, links: Iterable[Link]) -> Iterable[tuple[Ref, tuple[str | int, ...], str]]:
    for i, link in enumerate(links):
        yield ref, ("links", i, "title"), link.title
        yield ref, ("links", i, "url"), link.url
