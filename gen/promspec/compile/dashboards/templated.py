"""Templated bundled dashboards: read once, made once per object of a project (slo_dashboards.py: one per SLO,
the SLO overview), from `kind: Dashboard` specs shipped in gen/promspec/data/dashboards/templates/.

A template is the public Dashboard spec plus five internal constructs (docs/dashboards.md, "Templated
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
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from ...model.dashboards import Dashboard, Link, Panel, Query, Row, Variable, dashboard_from_document, derive_uid
from ..promql import quote
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

# Beside the static bundled specs (bundled.py), in their own folder: a template is not a spec to copy.
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "data", "dashboards", "templates")
Values = Mapping[str, str]  # prepared(): the fields of placeholders (slo.id, tier.name, window, ...) as written

# A template placeholder: its root names a value of the model. Any other ${...} is Grafana's (${datasource}).
PLACEHOLDER = re.compile(r"\$\{((?:slo|tier|serving)\.[a-z_]+|window)\}")
_METRIC_TAIL = re.compile(r"[a-zA-Z0-9_:]")
_METRIC_PART = re.compile(r"[a-zA-Z0-9_:]+")


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
        mode, base = key[:2], key[2:]
        if mode == "T_" or "T_" + base not in self:
            raise KeyError(key)  # no such placeholder in this instance
        value = self["T_" + base]
        if mode == "L_":
            out = quote(value)
        elif mode == "M_" and _METRIC_PART.fullmatch(value):
            out = value
        else:
            raise KeyError(key)
        self[key] = out
        return out


def prepared(values: Mapping[str, str]) -> Fields:
    """values (placeholder name -> value) as the fields a compiled template string reads."""
    return Fields({"T_" + name.replace(".", "_"): value for name, value in values.items()})


@dataclass(frozen=True, kw_only=True)
class _Text:
    """A template string compiled once into a str.format template over prepared() values."""

    text: str  # as written, returned as it is when there is no placeholder
    fmt: str = ""  # "" when there is no placeholder

    def fill(self, values: Values) -> str:
        if not self.fmt:
            return self.text
        try:
            return self.fmt.format_map(values)
        except KeyError as exc:
            raise TemplateError(
                f"no value for {exc.args[0]} in {self.text!r} (or it cannot end a metric name)"
            ) from None


@functools.cache
def _text(text: str, expr: bool = False) -> _Text:
    """text compiled; expr: text is PromQL, where a placeholder must be a whole label value ("${slo.id}",
    quotes included, written as quote() writes it) or the end of a metric name."""
    if not PLACEHOLDER.search(text):
        return _Text(text=text)
    parts: list[str] = []
    last = 0
    for m in PLACEHOLDER.finditer(text):
        start, end = m.start(), m.end()
        mode = "T"
        if expr:
            if text[start - 1 : start] == '"' and text[end : end + 1] == '"':
                mode, start, end = "L", start - 1, end + 1
            elif start and _METRIC_TAIL.fullmatch(text[start - 1]):
                mode = "M"
            else:
                raise TemplateError(
                    f'{m.group(0)} in {text!r} is neither a whole label value ("{m.group(0)}") nor the end of a '
                    "metric name"
                )
        parts += [_literal(text[last:start]), "{" + _key(m.group(1), mode) + "}"]
        last = end
    parts.append(_literal(text[last:]))
    return _Text(text=text, fmt="".join(parts))


def _literal(text: str) -> str:
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
                out.append(
                    part.join.join(part.text.fill(Fields({**values, **item})) for item in subject.list(part.each))
                )
        return "".join(out)


# ------------------------------------------------------------------------------------ the template model


@dataclass(frozen=True, kw_only=True)
class _QueryT:
    query: Query
    each: str  # "" or the list it is repeated over
    expr: _Text
    legend: _Text
    rest: dict[str, Any]  # the query's other fields: an instance is Query(**rest, ...), faster than replace()


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


@dataclass(frozen=True, kw_only=True)
class _RowT:
    row: Row
    title: _Text
    panels: tuple[_PanelT, ...]
    rest: dict[str, Any]


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
    tags: tuple[_Text, ...]
    links: tuple[_LinkT, ...]
    rows: tuple[_RowT, ...]
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

    def list(self, name: str) -> Sequence[Values]:
        try:
            return self.lists[name]
        except KeyError:
            raise TemplateError(f"no list {name!r} to repeat over (known: {', '.join(sorted(self.lists))})") from None


# ------------------------------------------------------------------------------------ computed values

# `thresholds: {compute: NAME}` in a template: NAME -> the steps for the instance's subject.
THRESHOLDS: dict[str, Callable[[Subject], Thresholds]] = {
    "sli": lambda s: sli_thresholds(s.slos[0].objective),
    "burn": lambda s: burn_thresholds(s.slos[0]),
    "exhaustion": lambda s: exhaustion_thresholds(s.slos[0]),
    "first_tier": lambda s: first_tier_threshold(s.slos[0]),
    "fastest_tier": lambda s: fastest_tier_thresholds(s.slos),
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
class _Split:
    """A template's data with its constructs taken out (spec: a Dashboard spec), and the constructs."""

    spec: dict[str, Any]
    mode: Literal["each", "any"]
    over: str
    links: list[str]  # each link's `each`
    description: _Parts
    # per row, per panel: (compute, description, content, each query's `each`, each link's `each`)
    rows: list[list[tuple[str, _Parts, _Parts, list[str], list[str]]]]


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
    rows: list[list[tuple[str, _Parts, _Parts, list[str], list[str]]]] = []
    for i, row in enumerate(spec.get("rows", [])):
        panels = []
        for j, panel in enumerate(row.get("panels", [])):
            thresholds = panel.get("thresholds")
            compute = ""
            if isinstance(thresholds, dict):
                compute = thresholds.get("compute", "")
                if compute not in THRESHOLDS:
                    raise TemplateError(
                        f"{file}: spec.rows[{i}].panels[{j}].thresholds: no computed thresholds {compute!r} "
                        f"(known: {', '.join(THRESHOLDS)})"
                    )
                del panel["thresholds"]
            panels.append(
                (
                    compute,
                    _take_parts(panel, "description"),
                    _take_parts(panel, "content"),
                    [_take_each(q) for q in panel.get("queries", [])],
                    [_take_each(link) for link in panel.get("links", [])],
                )
            )
        rows.append(panels)
    return _Split(spec=spec_doc, mode=mode, over=over, links=links, description=description, rows=rows)


def read_template(data: Mapping[str, Any], source: str) -> DashboardTemplate:
    """A template as a DashboardTemplate: the constructs are taken out, the rest (a Dashboard spec) is read by
    the reader of user specs, and the two are kept side by side."""
    from ...model.loader import Document

    split = split_template(data, source)
    mode, over, links, description, rows = split.mode, split.over, split.links, split.description, split.rows
    dash = dashboard_from_document(Document(source, 0, split.spec, source=source))
    return DashboardTemplate(
        file=source,
        mode=mode,
        over=over,
        dashboard=dash,
        name=_text(dash.name),
        title=_text(dash.title),
        description=description,
        folder=_text(dash.folder),
        tags=tuple(_text(t) for t in dash.tags),
        links=tuple(_link_t(link, each) for link, each in zip(dash.links, links, strict=True)),
        rows=tuple(
            _RowT(
                row=row,
                title=_text(row.title),
                panels=tuple(
                    _PanelT(
                        panel=panel,
                        title=_text(panel.title),
                        description=desc,
                        content=content,
                        compute=compute,
                        queries=tuple(
                            _QueryT(
                                query=q,
                                each=e,
                                expr=_text(q.expr, expr=True),
                                legend=_text(q.legend),
                                rest=_rest(q, _FILLED_QUERY),
                            )
                            for q, e in zip(panel.queries, query_each, strict=True)
                        ),
                        links=tuple(_link_t(link, e) for link, e in zip(panel.links, link_each, strict=True)),
                        rest=_rest(panel, _FILLED_PANEL),
                    )
                    for panel, (compute, desc, content, query_each, link_each) in zip(row.panels, made, strict=True)
                ),
                rest=_rest(row, _FILLED_ROW),
            )
            for row, made in zip(dash.rows, rows, strict=True)
        ),
        variables=tuple(_rest(v, _FILLED_VARIABLE) for v in dash.variables),
        rest=_rest(dash, _FILLED_DASHBOARD),
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


def instantiate(t: DashboardTemplate, subject: Subject) -> Dashboard:
    """One dashboard of the template for subject; every record points at subject.ref. Records are made from
    their template's other fields (rest), not by dataclasses.replace(): this runs once per SLO."""
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
        tags=tuple(tag.fill(values) for tag in t.tags),
        variables=[Variable(**v, ref=ref) for v in t.variables],
        links=_links(t.links, subject, values),
        rows=[
            Row(**r.rest, ref=ref, title=r.title.fill(values), panels=[_panel(p, subject, values) for p in r.panels])
            for r in t.rows
        ],
        source=ref.doc.source or ref.doc.file,
        generated=True,
    )


def _each(each: str, subject: Subject, values: Values) -> Iterable[Values]:
    return [Fields({**values, **item}) for item in subject.list(each)] if each else [values]


def _links(links: Iterable[_LinkT], subject: Subject, values: Values) -> list[Link]:
    return [
        Link(title=lt.title.fill(v), dashboard=lt.dashboard.fill(v), url=lt.url.fill(v))
        for lt in links
        for v in _each(lt.each, subject, values)
    ]


def _panel(p: _PanelT, subject: Subject, values: Values) -> Panel:
    ref = subject.ref
    queries = []
    for q in p.queries:  # a loop, not _each(): most queries repeat over nothing, and this runs per SLO
        if not q.each:
            queries.append(Query(**q.rest, ref=ref, expr=q.expr.fill(values), legend=q.legend.fill(values)))
            continue
        for item in subject.list(q.each):
            v = Fields({**values, **item})
            queries.append(Query(**q.rest, ref=ref, expr=q.expr.fill(v), legend=q.legend.fill(v)))
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
