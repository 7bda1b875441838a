"""The dashboard model -> a `kind: Dashboard` spec document: the inverse of model/dashboards.py.

`promspec dashboards eject` writes a bundled dashboard, as the presets built it for a project, as a spec a
user can copy into specs/ and edit. Reading the document back (dashboard_from_document) gives the same
model, so the same Grafana JSON: only what differs from the reader's defaults is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...model.dashboard_schema import VARIABLES
from ...model.dashboards import (
    DEFAULT_FOLDER,
    DEFAULT_VARIABLES,
    Dashboard,
    Link,
    Panel,
    Query,
    Row,
    Variable,
    derive_uid,
)

if TYPE_CHECKING:
    from .project import DashboardBuild

API_VERSION = "promspec/v1"


class NotExpressible(ValueError):
    """A model a Dashboard spec cannot say (no preset builds one; raised rather than written wrong)."""


class Number(str):
    """A number to be written exactly as this text (a quantile as its preset wrote it: 0.990 stays 0.990)."""


def dashboard_document(dash: Dashboard) -> dict[str, Any]:
    """The Dashboard document that reads back as dash (its refs, source and `generated` mark aside)."""
    if dash.imported is not None or dash.file:
        raise NotExpressible(f"dashboard {dash.uid!r} is a Grafana export (spec.file), not a model to write")
    spec: dict[str, Any] = {}
    _put(spec, "title", dash.title, dash.name)
    _put(spec, "description", dash.description, "")
    _put(spec, "uid", dash.uid, derive_uid(dash.name))
    _put(spec, "folder", dash.folder, DEFAULT_FOLDER)
    if dash.tags:
        spec["tags"] = list(dash.tags)
    _put(spec, "service", dash.service, "")
    _put(spec, "backend", dash.backend, "")
    time: dict[str, str] = {}
    _put(time, "from", dash.time_from, "now-6h")
    _put(time, "to", dash.time_to, "now")
    if time:
        spec["time"] = time
    _put(spec, "refresh", dash.refresh, "1m")
    variables = [_variable(v) for v in dash.variables]
    if variables != list(DEFAULT_VARIABLES):
        spec["variables"] = variables
    if dash.links:
        spec["links"] = [_link(link) for link in dash.links]
    rows = list(dash.rows)
    if rows and not rows[0].title:
        spec["panels"] = [_panel(p) for p in rows.pop(0).panels]
    if rows:
        spec["rows"] = [_row(row, dash.uid) for row in rows]
    return {"apiVersion": API_VERSION, "kind": "Dashboard", "metadata": {"name": dash.name}, "spec": spec}


def _put(out: dict[str, Any], key: str, value: object, default: object) -> None:
    if value != default:
        out[key] = value


def _variable(v: Variable) -> str | dict[str, Any]:
    plain = not (v.label or v.metric or v.values) and v.multi and v.include_all
    if plain and v.name in VARIABLES:
        return v.name
    out: dict[str, Any] = {"name": v.name}
    _put(out, "label", v.label, "")
    _put(out, "metric", v.metric, "")
    if v.values:
        out["values"] = list(v.values)
    _put(out, "multi", v.multi, True)
    _put(out, "include_all", v.include_all, True)
    return out


def _link(link: Link) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "title", link.title, "")
    _put(out, "dashboard", link.dashboard, "")
    _put(out, "url", link.url, "")
    return out


def _row(row: Row, uid: str) -> dict[str, Any]:
    if not row.title:
        raise NotExpressible(f"dashboard {uid!r}: a row without a title after the first row")
    out: dict[str, Any] = {"title": row.title}
    _put(out, "collapsed", row.collapsed, False)
    _put(out, "repeat", row.repeat, "")
    out["panels"] = [_panel(p) for p in row.panels]
    return out


def _panel(p: Panel) -> dict[str, Any]:
    out: dict[str, Any] = {"title": p.title}
    _put(out, "type", p.type, "timeseries")
    _put(out, "id", p.id, None)
    _put(out, "description", p.description, "")
    _put(out, "width", p.width, None)
    _put(out, "height", p.height, None)
    _put(out, "unit", p.unit, "")
    _put(out, "decimals", p.decimals, None)
    _put(out, "min", p.min, None)
    _put(out, "max", p.max, None)
    if p.thresholds:
        out["thresholds"] = [{"color": c} if v is None else {"value": v, "color": c} for v, c in p.thresholds]
    if p.legend:
        out["legend"] = dict(p.legend)
    _put(out, "stack", p.stack, False)
    _put(out, "fill", p.fill, None)
    _put(out, "content", p.content, "")
    if p.links:
        out["links"] = [_link(link) for link in p.links]
    if p.queries:
        out["queries"] = [_query(q) for q in p.queries]
    if p.transformations:
        out["transformations"] = [
            {"id": ident, "options": options} if options else {"id": ident} for ident, options in p.transformations
        ]
    if p.overrides:
        out["overrides"] = [{"field": name, "properties": dict(props)} for name, props in p.overrides]
    return out


def _query(q: Query) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "expr", q.expr, "")
    _put(out, "signal", q.signal, "")
    if q.quantile is not None:
        out["quantile"] = Number(q.quantile_text or repr(q.quantile))
    _put(out, "mean", q.mean, False)
    _put(out, "ratio", q.ratio, False)
    if q.by:
        out["by"] = list(q.by)
    _put(out, "service", q.service, "")
    _put(out, "legend", q.legend, "")
    _put(out, "ref", q.ref_id, "")
    _put(out, "instant", q.instant, False)
    _put(out, "format", q.format, "")
    _put(out, "hide", q.hide, False)
    return out


def dashboard_yaml(dash: Dashboard, head: str = "") -> bytes:
    """The spec document of dash as YAML bytes (keys in the reader's order, strings as written), after the
    comment head."""
    import yaml

    from ...render.yamlout import _Dumper

    class _SpecDumper(_Dumper):
        pass

    def number(dumper: yaml.SafeDumper, value: Number) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))

    _SpecDumper.add_representer(Number, number)
    body = yaml.dump(
        dashboard_document(dash),
        Dumper=_SpecDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )
    return (head + body).encode()


class EjectError(ValueError):
    """What `promspec dashboards eject` cannot write, in words for the command line."""


def bundled_dashboards(dashboards: DashboardBuild) -> dict[str, Dashboard]:
    """uid -> every bundled dashboard of a project as built for it, those a spec replaced included."""
    found = {b.dashboard.uid: b.dashboard for b in dashboards.dashboards if b.dashboard.generated}
    found.update({r.uid: r.bundled for r in dashboards.replaced})
    return dict(sorted(found.items()))


def eject(dashboards: DashboardBuild, uid: str, specs: str) -> bytes:
    """The bundled dashboard uid of a project as a Dashboard spec file (specs: the paths it was built from,
    named in the file's head)."""
    from ...diagnostics import did_you_mean

    bundled = bundled_dashboards(dashboards)
    dash = bundled.get(uid)
    if dash is None:
        written = {d.uid: d for d in dashboards.written} | {d.name: d for d in dashboards.written}
        if uid in written:
            where = written[uid].ref.doc.pos(("metadata", "name"))
            raise EjectError(f"dashboard {uid!r} is a spec already ({where}): edit it there")
        known = ", ".join(bundled) or "none"
        raise EjectError(f"no bundled dashboard {uid!r}{did_you_mean(uid, bundled)}; bundled dashboards: {known}")
    head = "\n".join(
        [
            f"# The bundled dashboard {dash.uid!r}, as promspec builds it for {specs}.",
            "# Copy this file into your specs and edit it: a Dashboard spec with this uid replaces the bundled",
            "# dashboard (generate prints a note saying so). The panels the bundled one computes from your services,",
            "# backends and SLOs are written out here, so this copy no longer follows them: eject again after adding",
            "# a service or an SLO, and carry your edits over.",
            "",
        ]
    )
    return dashboard_yaml(with_pinned_ids(dash), head)


def with_pinned_ids(dash: Dashboard) -> Dashboard:
    """A copy of dash whose every panel names the id the compiler gives it: editing a title in the ejected spec
    then keeps the panel's id (and the links and annotations Grafana keys by it). The JSON is the same."""
    from dataclasses import replace

    from ...model.dashboards import Slot
    from .plan import panel_ids

    ids = panel_ids(dash)
    rows = [
        replace(row, panels=[replace(p, id=ids[Slot(row=i, panel=j)]) for j, p in enumerate(row.panels)])
        for i, row in enumerate(dash.rows)
    ]
    return replace(dash, rows=rows)
