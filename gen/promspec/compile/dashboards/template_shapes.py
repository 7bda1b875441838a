"""A template made once per object (slo-detail: one per SLO), laid out once per shape of its subject.

Two subjects of one template have the same *shape* when they have the same signals, the same number of
elements in every list the template repeats over (with the same fields), and the same values wherever a
value ends a metric name (`${window}`): then they make the same rows, panels and queries, and differ only
in the strings their values fill. So the walk of the template (`each`, `when`, description parts, which
queries say what they read) is done once per shape into a plan whose strings are str.format templates over
one flat set of fields per instance; each instance makes its records from the plan with its own fields.

An element's field is renamed `<field>__<index><list>` in the plan (a digit cannot occur in a placeholder,
so no written field can take that name); the instance's Fields hold the subject's values and every
element's under those names, and quote (L_) or check (M_) each the first time a string asks, as
instantiate_direct() does. Anything the plan cannot say (a missing field, a value that cannot end a metric
name, an unknown list) makes that instance directly, which raises the same TemplateError.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ...model.dashboards import Dashboard, Link, Panel, Query, Row, Variable, derive_uid
from .templated import (
    COMPUTED_PANELS,
    COMPUTED_ROWS,
    THRESHOLDS,
    DashboardTemplate,
    Fields,
    MetricsRead,
    Preset,
    Subject,
    TemplateError,
    Values,
    _LinkT,
    _PanelT,
    _Parts,
    _Repeat,
    _RowT,
    _Slot,
    _Text,
    instantiate_direct,
    literal,
)

Thresholds = list[tuple[float | None, str]]
_UNSET: Any = None  # the per-instance fields of a shape's records, until an instance sets them
_FORMATTER = string.Formatter()


@dataclass(frozen=True, kw_only=True)
class _S:
    """A string of an instance: text as it is when fmt is "", else fmt filled with the instance's fields."""

    text: str = ""
    fmt: str = ""


def _proto(record: object) -> dict[str, Any]:
    """record's fields, as the keyword arguments each instance's record starts from."""
    return dict(record.__dict__)


@dataclass(frozen=True, kw_only=True)
class _QueryP:
    proto: dict[str, Any]  # a Query of the shape: ref, expr and legend are each instance's
    expr: _S
    legend: _S
    # what the filled expr reads when every field of nonempty is non-empty (_Text.metrics_read); None: parse it
    names: tuple[str, ...] | None
    nonempty: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class _LinkP:
    title: _S
    dashboard: _S
    url: _S


@dataclass(frozen=True, kw_only=True)
class _PanelP:
    proto: dict[str, Any]  # a Panel of the shape: the fields below are each instance's
    title: _S
    description: _S
    content: _S
    compute: str  # "" or the THRESHOLDS entry, computed per instance
    thresholds: Thresholds  # the template's, when compute is ""
    links: tuple[_LinkP, ...]
    queries: tuple[_QueryP, ...]


@dataclass(frozen=True, kw_only=True)
class _RowP:
    rest: dict[str, Any]
    title: _S
    panels: tuple[_PanelP | _Slot, ...]
    optional: bool


@dataclass(frozen=True, kw_only=True)
class _Plan:
    template: DashboardTemplate  # held, so that the id in the key is this template's while the plan lives
    # per list the template repeats over, per element: (its field, that field's name in the instance's Fields)
    renames: tuple[tuple[str, tuple[tuple[tuple[str, str], ...], ...]], ...]
    name: _S
    title: _S
    description: _S
    folder: _S
    service: _S
    backend: _S
    tags: tuple[_S, ...]
    links: tuple[_LinkP, ...]
    rows: tuple[_RowP | _Slot, ...]


@dataclass(frozen=True, kw_only=True)
class _Uses:
    """What of a subject a template's shape depends on, read once per template."""

    template: DashboardTemplate
    lists: tuple[str, ...]  # the lists it repeats over
    tails: tuple[str, ...]  # the T_ fields that end a metric name somewhere


_PLANS: dict[tuple[Any, ...], _Plan | None] = {}
_USES: dict[int, _Uses] = {}
_PLANS_KEPT = 1024  # shapes are few (tiers, recorded windows, signals); a bound for long-lived processes


def instantiate_shaped(t: DashboardTemplate, subject: Subject, read: MetricsRead | None = None) -> Dashboard:
    """instantiate_direct(t, subject, read), from t's plan for subject's shape."""
    plan = _plan_of(t, subject)
    if plan is None:
        return instantiate_direct(t, subject, read)
    flat = _fields(plan, subject)
    try:
        return _made(plan, subject, flat, read)
    except KeyError:
        return instantiate_direct(t, subject, read)  # raises the TemplateError that says which field


def _plan_of(t: DashboardTemplate, subject: Subject) -> _Plan | None:
    """t's plan for subject's shape; None when there is none (the instance is then made directly)."""
    uses = _uses(t)
    try:
        key = _shape_key(t, uses, subject)
    except TemplateError:
        return None
    plan = _PLANS.get(key)
    if plan is None or plan.template is not t:
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(t, uses, subject)
    return plan


def _uses(t: DashboardTemplate) -> _Uses:
    got = _USES.get(id(t))
    if got is not None and got.template is t:
        return got
    lists: dict[str, None] = {}
    tails: dict[str, None] = {}

    def parts(p: _Parts) -> None:
        lists.update((part.each, None) for part in p.parts if isinstance(part, _Repeat))

    def links(ls: Iterable[_LinkT]) -> None:
        lists.update((link.each, None) for link in ls if link.each)

    parts(t.description)
    links(t.links)
    for r in t.rows:
        for p in r.panels if isinstance(r, _RowT) else ():
            if isinstance(p, _PanelT):
                parts(p.description)
                parts(p.content)
                links(p.links)
                for q in p.queries:
                    if q.each:
                        lists[q.each] = None
                    tails.update(("T_" + k[2:], None) for k in q.expr.metric_tails)
    got = _USES[id(t)] = _Uses(template=t, lists=tuple(lists), tails=tuple(tails))
    return got


def _shape_key(t: DashboardTemplate, uses: _Uses, subject: Subject) -> tuple[Any, ...]:
    """What the plan of subject depends on; TemplateError when it repeats over a list subject lacks."""
    tails = uses.tails
    values = subject.values
    return (
        id(t),
        subject.signals,
        tuple(values.get(k) for k in tails),
        # per element its fields, then its values of the metric-name ends (the last len(tails) entries)
        tuple(tuple((*item, *map(item.get, tails)) for item in subject.list(name)) for name in uses.lists),
    )


def _element_key(key: str, index: int, name: str) -> str:
    return f"{key}__{index}{name}"


def _fields(plan: _Plan, subject: Subject) -> Fields:
    """The instance's fields: its values as written, then every element's under its own name."""
    flat = Fields(subject.values)
    for name, elements in plan.renames:
        for item, pairs in zip(subject.lists[name], elements, strict=True):
            for k, own in pairs:
                flat[own] = item[k]
    return flat


# ------------------------------------------------------------------------------------ made lazily


@dataclass(frozen=True, kw_only=True)
class Lazily:
    """What instantiate_lazily asks of the presets' pruning (presets._Pruning), which must leave an instance
    made lazily as it is: the metric names it keeps, the fixed PromQL texts it keeps, the computed parts it
    keeps whole; and per plan what was found of the plan's own queries."""

    keeps: Callable[[tuple[str, ...]], bool]
    keeps_expr: Callable[[str], bool]  # a query's PromQL without placeholders ("": a signal's)
    # (computed parts' NAMEs, subject) -> the number of queries of those parts when the pruning keeps each as
    # it is, else None: asked of the parts' shapes, without making their records
    computed: Callable[[tuple[str, ...], Subject], int | None]
    verdicts: dict[int, _Verdict] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class _Verdict:
    """What the pruning makes of a plan's own rows, for every instance of it."""

    plan: _Plan  # held, so that the id in the key is this plan's while the verdict lives
    # every query's names follow from the shape and are kept, and every panel has a query or is text
    kept: bool
    queries: int
    nonempty: frozenset[str]  # fields that must be non-empty for the queries' names to be the shape's
    slots: tuple[str, ...]  # the computed parts in its rows (row and panel slots), in order
    # the fields the rows' strings read, as the values written that they are made from (all must be there), and
    # those that end a metric name (each value must be able to): an instance lacking one raises
    written: frozenset[str]
    tails: tuple[str, ...]


def instantiate_lazily(t: DashboardTemplate, subject: Subject, lazily: Lazily) -> Preset | None:
    """instantiate(t, subject) as a Preset whose rows are made on first use, when its plan shows that the
    pruning keeps the instance as it is and that making it cannot fail; None when it may not (the caller
    makes it at once). The head is what _made() gives without rows; make() is _made() with that head, whose
    fields it keeps (the worker that builds the instance makes only its rows)."""
    if t.mode != "each":
        return None
    plan = _plan_of(t, subject)
    if plan is None:
        return None
    verdict = _verdict(plan, lazily)
    if not verdict.kept:
        return None
    flat = _fields(plan, subject)
    # dict's own `in`: the fields as the instance has them before any string asks (_made()'s `empty`)
    if any(k in flat and not flat[k] for k in verdict.nonempty):
        return None
    queries = verdict.queries
    # every written value the strings' fields are made from is there (a conservative test: a quoted field
    # made already without its written value sends the instance to be made at once), and every metric-name end
    if not flat.keys() >= verdict.written or not all(flat.gives(k) for k in verdict.tails):
        return None
    if verdict.slots:
        computed = lazily.computed(verdict.slots, subject)
        if computed is None:
            return None
        queries += computed
    try:
        head = _dashboard(plan, subject, flat, [])
    except KeyError:
        return None
    if not queries:
        return None  # the pruning leaves it out
    return Preset(head=head, make=functools.partial(_made, plan, subject, flat, None, head))


def _verdict(plan: _Plan, lazily: Lazily) -> _Verdict:
    got = lazily.verdicts.get(id(plan))
    if got is not None and got.plan is plan:
        return got
    kept, queries, nonempty = True, 0, set[str]()
    strings: list[_S] = []
    slots: list[str] = []
    for r in plan.rows:
        if isinstance(r, _Slot):
            slots.append(r.compute)
            continue
        strings.append(r.title)
        for p in r.panels:
            if isinstance(p, _Slot):
                slots.append(p.compute)
                continue
            kept = kept and (bool(p.queries) or p.proto["type"] == "text")
            strings += [
                p.title,
                p.description,
                p.content,
                *(s for lp in p.links for s in (lp.title, lp.dashboard, lp.url)),
            ]
            for q in p.queries:
                queries += 1
                if q.expr.fmt:
                    kept = kept and q.names is not None and lazily.keeps(q.names)
                else:  # the same text in every instance: asked once here
                    kept = kept and lazily.keeps_expr(q.expr.text)
                nonempty.update(q.nonempty)
                strings += [q.expr, q.legend]
    fields = {name: None for s in strings if s.fmt for _t, name, _sp, _c in _FORMATTER.parse(s.fmt) if name is not None}
    got = lazily.verdicts[id(plan)] = _Verdict(
        plan=plan,
        kept=kept,
        queries=queries,
        nonempty=frozenset(nonempty),
        slots=tuple(slots),
        written=frozenset("T_" + k[2:] for k in fields),
        tails=tuple(k for k in fields if k.startswith("M_")),
    )
    return got


# ------------------------------------------------------------------------------------ the plan of a shape


def _renamed(fmt: str, item: Values, index: int, name: str) -> str:
    """fmt with the fields that the element `item` (element index of list name) gives renamed to its own."""
    out = []
    for text, field_name, _spec, _conv in _FORMATTER.parse(fmt):
        out.append(literal(text))
        if field_name is not None:
            own = "T_" + field_name[2:] in item
            out.append("{" + (_element_key(field_name, index, name) if own else field_name) + "}")
    return "".join(out)


def _s(text: _Text, element: tuple[Values, int, str] | None = None) -> _S:
    if not text.fmt:
        return _S(text=text.text)
    return _S(fmt=_renamed(text.fmt, *element) if element else text.fmt)


def _elements(subject: Subject, each: str) -> list[tuple[Values, int, str] | None]:
    if not each:
        return [None]
    return [(item, i, each) for i, item in enumerate(subject.list(each))]


def _parts_s(p: _Parts, subject: Subject) -> _S:
    """A description or content as one string: its repeated parts laid out for the shape's elements."""
    fmts: list[str] = []
    fields = False
    for part in p.parts:
        if isinstance(part, _Text):
            fmts.append(part.fmt or literal(part.text))
            fields = fields or bool(part.fmt)
            continue
        texts = [_s(part.text, e) for e in _elements(subject, part.each)]
        fmts.append(literal(part.join).join(s.fmt or literal(s.text) for s in texts))
        fields = fields or any(s.fmt for s in texts)
    if not fields:
        return _S(text="".join(fmts).format())  # the literal-escaped pieces, unescaped
    return _S(fmt="".join(fmts))


def _link_ps(links: Iterable[_LinkT], subject: Subject) -> tuple[_LinkP, ...]:
    return tuple(
        _LinkP(title=_s(lt.title, e), dashboard=_s(lt.dashboard, e), url=_s(lt.url, e))
        for lt in links
        for e in _elements(subject, lt.each)
    )


def _panel_p(p: _PanelT, subject: Subject) -> _PanelP | None:
    if not p.when <= subject.signals:
        return None
    queries = []
    conditional = bool(p.queries)
    for q in p.queries:
        conditional = conditional and bool(q.when)
        if not q.when <= subject.signals:
            continue
        for e in _elements(subject, q.each):
            values: Values = Fields({**subject.values, **e[0]}) if e else subject.values
            names = q.expr.shape_names(values)
            nonempty = tuple(_element_key(k, e[1], e[2]) if e and k in e[0] else k for k in q.expr.nonempty)
            queries.append(
                _QueryP(
                    proto=_proto(Query(**q.rest, ref=_UNSET, expr="", legend="")),
                    expr=_s(q.expr, e),
                    legend=_s(q.legend, e),
                    names=names,
                    nonempty=nonempty,
                )
            )
    if conditional and not queries:
        return None
    return _PanelP(
        proto=_proto(Panel(**p.rest, ref=_UNSET, title="")),
        title=_s(p.title),
        description=_parts_s(p.description, subject),
        content=_parts_s(p.content, subject),
        compute=p.compute,
        thresholds=p.panel.thresholds,
        links=_link_ps(p.links, subject),
        queries=tuple(queries),
    )


def _plan(t: DashboardTemplate, uses: _Uses, subject: Subject) -> _Plan | None:
    """t laid out for subject's shape; None when the walk fails (each instance then says why, directly)."""
    try:
        rows: list[_RowP | _Slot] = []
        for r in t.rows:
            if isinstance(r, _Slot):
                rows.append(r)
                continue
            panels: list[_PanelP | _Slot] = []
            for p in r.panels:
                made = p if isinstance(p, _Slot) else _panel_p(p, subject)
                if made is not None:
                    panels.append(made)
            rows.append(_RowP(rest=r.rest, title=_s(r.title), panels=tuple(panels), optional=r.optional))
        return _Plan(
            template=t,
            renames=tuple(
                (
                    name,
                    tuple(
                        tuple((k, _element_key(k, i, name)) for k in item if k.startswith("T_"))
                        for i, item in enumerate(subject.list(name))
                    ),
                )
                for name in uses.lists
            ),
            name=_s(t.name),
            title=_s(t.title),
            description=_parts_s(t.description, subject),
            folder=_s(t.folder),
            service=_s(t.service),
            backend=_s(t.backend),
            tags=tuple(_s(tag) for tag in t.tags),
            links=_link_ps(t.links, subject),
            rows=tuple(rows),
        )
    except (KeyError, TemplateError):
        return None


# ------------------------------------------------------------------------------------ one instance


def _made(
    plan: _Plan, subject: Subject, flat: Fields, read: MetricsRead | None, head: Dashboard | None = None
) -> Dashboard:
    """The instance of plan with flat's fields; KeyError when a string asks for a field flat cannot give.
    head: _dashboard(plan, subject, flat, []) made already (a lazily made instance's): its fields are taken as
    they are instead of being filled again, and its lists copied, as _dashboard() makes them afresh."""
    ref = subject.ref
    fill = _filler(flat)
    # the fields written empty: a query whose plain matcher reads one is left to its own parse (metrics_read)
    empty = {k for k, v in flat.items() if not v}
    rows: list[Row] = []
    for r in plan.rows:
        if isinstance(r, _Slot):
            rows += COMPUTED_ROWS[r.compute](subject, read)
            continue
        panels: list[Panel] = []
        for p in r.panels:
            if isinstance(p, _Slot):
                panels += COMPUTED_PANELS[p.compute](subject, read)
                continue
            queries = []
            for q in p.queries:
                expr = q.expr.fmt.format_map(flat) if q.expr.fmt else q.expr.text
                legend = q.legend.fmt.format_map(flat) if q.legend.fmt else q.legend.text
                fields = q.proto.copy()
                fields["ref"], fields["expr"], fields["legend"] = ref, expr, legend
                query = Query(**fields)
                queries.append(query)
                if read is not None and q.names is not None and (not empty or empty.isdisjoint(q.nonempty)):
                    read[expr] = q.names
            fields = p.proto.copy()
            fields["ref"] = ref
            fields["title"] = fill(p.title)
            fields["description"] = fill(p.description)
            fields["content"] = fill(p.content)
            fields["thresholds"] = THRESHOLDS[p.compute](subject) if p.compute else p.thresholds
            fields["links"] = _links(p.links, fill)
            fields["queries"] = queries
            panel = Panel(**fields)
            panels.append(panel)
        if panels or not r.optional:
            rows.append(Row(**r.rest, ref=ref, title=fill(r.title), panels=panels))
    if head is None:
        return _dashboard(plan, subject, flat, rows)
    return replace(head, variables=list(head.variables), links=list(head.links), rows=rows)


def _dashboard(plan: _Plan, subject: Subject, flat: Fields, rows: list[Row]) -> Dashboard:
    """The instance of plan with flat's fields and these rows (none: a lazily made instance's head)."""
    ref = subject.ref
    fill = _filler(flat)
    t = plan.template
    name = derive_uid(fill(plan.name))
    return Dashboard(
        **t.rest,
        name=name,
        uid=name,
        ref=ref,
        title=fill(plan.title),
        description=fill(plan.description),
        folder=fill(plan.folder),
        service=fill(plan.service),
        backend=fill(plan.backend),
        tags=tuple(fill(tag) for tag in plan.tags),
        variables=[Variable(**v, ref=ref) for v in t.variables],
        links=_links(plan.links, fill),
        rows=rows,
        source=ref.doc.source or ref.doc.file,
        generated=True,
    )


def _filler(flat: Fields) -> Callable[[_S], str]:
    return lambda s: s.fmt.format_map(flat) if s.fmt else s.text


def _links(links: Sequence[_LinkP], fill: Callable[[_S], str]) -> list[Link]:
    return [Link(title=fill(lp.title), dashboard=fill(lp.dashboard), url=fill(lp.url)) for lp in links] if links else []
