"""Dashboards, offline: Grafana JSON against the Foundation SDK's JSON schemas, lint rules, spec checks.

Two entry points: check_dashboards(project, report) runs with the other semantic checks on specs;
validate_dashboard(data) checks rendered (or UI-exported) Grafana JSON, with lenient=True for
dashboards exported from the Grafana UI.
"""

from __future__ import annotations

import bisect
import copy
import datetime
import glob
import json
import os
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import jsonschema

from ..compile.dashboards.grafana_vars import MARKERS, substitute, variables_used
from ..compile.promql import PromQLError, parse
from ..diagnostics import did_you_mean

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "grafana-schemas")
PANEL_SCHEMAS = ("timeseries", "stat", "gauge", "bargauge", "heatmap", "table", "text")
# Exports from the Grafana UI carry these; they say where the file came from, not what it shows.
EXPORT_ONLY = ("__inputs", "__requires", "__elements", "iteration")
# Keys of older dashboard models that Grafana still loads and migrates away (schemaVersion
# migrations): exported dashboards of older Grafana versions carry them. --lenient ignores them.
LEGACY_DASHBOARD_KEYS = ("style", "gnetId")
LEGACY_VARIABLE_KEYS = ("tags", "tagsQuery", "tagValuesQuery", "useTags")
RATE_FUNCS = ("rate", "irate", "increase")
# Recording rules are named level:metric:operations; series named so are recorded, not scraped,
# and carry no job/instance of their own (the job/instance variable rules skip them).
RECORDED = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_]+:[a-zA-Z0-9_:]+$")

# Fields the SDK's schemas type as objects where real dashboards (older ones, and UI exports)
# carry strings. `datasource` of panels, variables and annotations (and of Prometheus queries) is a
# DataSourceRef object in the schema, but "$datasource", "-- Grafana --", a datasource name or null
# in the wild; a query variable's `query` object must hold only objects in the schema, but Grafana
# writes {"query": "label_values(...)", "refId": "...", "qryType": 1}. Patched at load time, so the
# vendored files stay byte-identical to upstream (docs/dashboards.md lists the patches).
DATASOURCE_PATCHES = (
    ("dashboard", ("definitions", "Panel", "properties", "datasource")),
    ("dashboard", ("definitions", "VariableModel", "properties", "datasource")),
    ("dashboard", ("definitions", "AnnotationQuery", "properties", "datasource")),
    ("prometheus", ("definitions", "Dataquery", "properties", "datasource")),
)
QUERY_PATCH = ("dashboard", ("definitions", "VariableModel", "properties", "query", "oneOf", 1, "additionalProperties"))
# Field overrides: Grafana's `byName` matcher takes the field name as a string and a property's value is
# whatever the property takes (a unit string, a number of decimals); the schemas type both as objects.
ANY_VALUE_PATCHES = (
    ("dashboard", ("definitions", "MatcherConfig", "properties", "options")),
    ("dashboard", ("definitions", "DynamicConfigValue", "properties", "value")),
)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a dashboard file: where (JSON path and line:col), which rule, what."""

    file: str
    line: int
    col: int
    path: str
    rule: str
    message: str
    severity: str = "error"

    def format(self) -> str:
        label = "" if self.severity == "error" else f"{self.severity}: "
        where = f" at {self.path}" if self.path else ""
        return f"{self.file}:{self.line or 1}:{self.col or 1}: {label}{self.message}{where} [{self.rule}]"


# ------------------------------------------------------------------------------ schemas


def _load(name: str) -> dict:
    with open(os.path.join(SCHEMA_DIR, f"{name}.jsonschema.json"), encoding="utf-8") as fh:
        return json.load(fh)


@cache
def schema(name: str) -> dict:
    """A vendored schema with promspec's documented patches applied."""
    data = _load(name)
    for file, path in DATASOURCE_PATCHES:
        if file != name:
            continue
        node = data
        for part in path[:-1]:
            node = node[part]
        original = node[path[-1]]
        described = {k: v for k, v in original.items() if k == "description"}
        ref = {k: v for k, v in original.items() if k != "description"}
        node[path[-1]] = {"anyOf": [ref, {"type": "string"}, {"type": "null"}], **described}
    for file, path in ANY_VALUE_PATCHES:
        if file == name:
            node = data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = {k: v for k, v in node[path[-1]].items() if k == "description"}
    if name == QUERY_PATCH[0]:
        node = data
        for key in QUERY_PATCH[1][:-1]:  # str keys and a list index
            node = node[key]
        node[QUERY_PATCH[1][-1]] = {}
    return data


def _without_required(node):
    """A schema with every `required` list dropped: UI exports omit fields whose value is the default."""
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


@cache
def _validator(name: str, definition: str = "", lenient: bool = False):
    data = copy.deepcopy(schema(name))
    if lenient:
        data = _without_required(data)
    if definition:
        data["$ref"] = f"#/definitions/{definition}"
    return jsonschema.Draft7Validator(data)


def _without_nulls(node):
    """JSON with null-valued object members dropped: Grafana reads a null field as an unset one."""
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


def lenient_view(data: dict) -> tuple[dict, list]:
    """What --lenient validates of a UI export, and (json path, rule, message, severity) notes on what it skipped.

    Dropped: export-only keys, null members, legacy keys Grafana migrates on load, and the
    type-specific keys of panel types with no vendored schema (graph, singlestat, ...), whose
    common panel fields (title, gridPos, datasource, targets, ...) are still checked. Each such
    panel type is one warning: its own options go unchecked.
    """
    panel_keys = set(schema("dashboard")["definitions"]["Panel"]["properties"])
    out = _without_nulls({k: v for k, v in data.items() if k not in EXPORT_ONLY + LEGACY_DASHBOARD_KEYS})
    if out.get("refresh") is False:  # older Grafana's "auto-refresh off"
        del out["refresh"]
    templating = out.get("templating")
    if isinstance(templating, dict) and isinstance(templating.get("list"), list):
        templating["list"] = [
            {k: v for k, v in var.items() if k not in LEGACY_VARIABLE_KEYS} if isinstance(var, dict) else var
            for var in templating["list"]
        ]
    unchecked: dict[str, tuple] = {}

    def trim(panel, path):
        ptype = panel.get("type", "")
        if ptype == "row" or ptype in PANEL_SCHEMAS or not isinstance(ptype, str):
            return panel
        unchecked.setdefault(ptype, path)
        return {k: v for k, v in panel.items() if k in panel_keys}

    panels = out.get("panels")
    if isinstance(panels, list):
        for i, p in enumerate(panels):
            if not isinstance(p, dict):
                continue
            panels[i] = p = trim(p, ("panels", i))
            if p.get("type") == "row" and isinstance(p.get("panels"), list):
                p["panels"] = [
                    trim(q, ("panels", i, "panels", j)) if isinstance(q, dict) else q for j, q in enumerate(p["panels"])
                ]
    notes = [
        (
            path + ("type",),
            "legacy-panel",
            f"panel type {ptype!r} has no vendored schema: only its common "
            "fields are checked (Grafana migrates it on load; re-export after that to check it fully)",
            "warning",
        )
        for ptype, path in sorted(unchecked.items())
    ]
    return out, notes


def _schema_values(node, keys: tuple[str, ...]) -> list:
    """Every value under any of keys (enum lists flattened) anywhere in a schema."""
    found: list = []
    if isinstance(node, dict):
        for k, v in node.items():
            if (k in keys and not isinstance(v, (dict, list))) or (k == "enum" and isinstance(v, list)):
                found.extend(v if isinstance(v, list) else [v])
            else:
                found.extend(_schema_values(v, keys))
    elif isinstance(node, list):
        for v in node:
            found.extend(_schema_values(v, keys))
    return found


@dataclass(frozen=True, kw_only=True)
class _ShapeKeys:
    """What the vendored schemas can tell apart in a value: enum/const strings and numeric bounds."""

    strings: frozenset
    bounds: tuple


@cache
def _shape_keys() -> _ShapeKeys:
    values: list = []
    for name in ("dashboard", "prometheus", *PANEL_SCHEMAS):
        values += _schema_values(
            schema(name), ("enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        )
    numbers = {v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return _ShapeKeys(strings=frozenset(v for v in values if isinstance(v, str)), bounds=tuple(sorted(numbers)))


_FREE_TEXT = object()  # a non-empty string outside every enum


def shape(value, keys: _ShapeKeys | None = None):
    """A fingerprint of value that the vendored schemas validate exactly as they validate value.

    The schemas constrain strings only by type, enum/const and minLength 1 (no pattern; formats are
    not checked), and numbers by type, enum/const and bounds: a string outside every enum becomes
    its emptiness, a number its integrality and its place among the bounds. Keys, list lengths,
    booleans and nulls stay as they are. Two dashboards the generator built from one preset differ
    in titles, queries and thresholds but share a shape, so the schema runs once per shape.
    """
    keys = keys or _shape_keys()
    strings, bounds = keys.strings, keys.bounds

    def walk(v):
        t = type(v)
        if t is str:
            return v if v in strings else (_FREE_TEXT if v else "")
        if t is dict:
            return ("{", tuple(v), tuple(map(walk, v.values())))
        if t is list:
            return ("[", tuple(map(walk, v)))
        if t is bool or v is None:
            return v
        if t is int or t is float:
            i = bisect.bisect_left(bounds, v)
            return ("n", t is int or v.is_integer(), i, i < len(bounds) and bounds[i] == v)
        return ("?", repr(v))

    return walk(value)


# Shapes of dashboards whose every schema check came back clean: the generator's own dashboards
# repeat a handful of shapes thousands of times. Only clean results are kept, so a rejection always
# comes from jsonschema itself, with its own message.
_CLEAN_SHAPES: set = set()


def _has_definition(name: str, definition: str) -> bool:
    return definition in schema(name).get("definitions", {})


def _path_text(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# ------------------------------------------------------------------------------ PromQL in panels


@dataclass(frozen=True, kw_only=True)
class PanelQuery:
    """What the dashboard checks read from one panel query, in one walk of its syntax tree."""

    metrics: tuple[str, ...]  # metric names read, in order of appearance
    bad_rates: tuple[tuple[str, str], ...]  # (function, range) of rate/irate/increase off $__rate_interval


@lru_cache(maxsize=65536)
def panel_query(expr: str) -> PanelQuery:
    """Metric names and off-interval rate ranges of a panel query (Grafana variables substituted).

    Cached, and one walk for both: the spec checks, the rendered-JSON lint and the preset pruning
    read every query of every dashboard, and walking a tree costs more than parsing it.
    PromQLError when the query does not parse."""
    import promql_parser as pp

    from ..compile.promql import _selector_name

    tree = parse(substitute(expr))
    markers = {int(v[:-1]): k for k, v in MARKERS.items()}
    metrics: list[str] = []
    bad: list[tuple[str, str]] = []

    def visit(node):
        if isinstance(node, pp.VectorSelector):
            name, _regex = _selector_name(node)
            if name:
                metrics.append(name)
        elif isinstance(node, pp.Call) and node.func.name in RATE_FUNCS and node.args:
            arg = node.args[0]
            seconds = int(arg.range.total_seconds()) if isinstance(arg, pp.MatrixSelector) else None
            which = markers.get(seconds) if seconds is not None else None
            if which == "__rate_interval" or (which == "__range" and node.func.name == "increase"):
                return
            bad.append((node.func.name, f"${which}" if which else _duration(arg)))

    pp.walk(tree, visit, None)
    return PanelQuery(metrics=tuple(metrics), bad_rates=tuple(bad))


def rate_ranges(expr: str) -> list[tuple[str, str]]:
    """(function, range) of every rate/irate/increase whose range is not $__rate_interval ($__range for increase)."""
    return list(panel_query(expr).bad_rates)


def _duration(arg) -> str:
    r = getattr(arg, "range", None)
    if isinstance(r, datetime.timedelta):
        from ..compile.promql import format_duration

        return format_duration(r.total_seconds())
    return "a subquery"


# ------------------------------------------------------------------------------ rendered JSON


def _panels(data: dict):
    """(json path, panel, row title) of every panel, collapsed rows' panels included."""
    row_title = ""
    for i, p in enumerate(data.get("panels") or []):
        if not isinstance(p, dict):
            continue
        if p.get("type") == "row":
            row_title = p.get("title", "")
            yield ("panels", i), p, row_title
            for j, q in enumerate(p.get("panels") or []):
                if isinstance(q, dict):
                    yield ("panels", i, "panels", j), q, row_title
            continue
        yield ("panels", i), p, row_title


def _is_var_ref(ds) -> bool:
    if isinstance(ds, str):
        return ds.startswith("$")
    if isinstance(ds, dict):
        return str(ds.get("uid", "")).startswith("$")
    return False


def _ds_type(ds) -> str:
    return ds.get("type", "") if isinstance(ds, dict) else ""


def validate_dashboard(data, lenient: bool = False, by_shape: bool = False) -> list[tuple[tuple, str, str, str]]:
    """(json path, rule, message, severity) for every schema error and lint finding of a dashboard.

    by_shape=True (for dashboards promspec built itself) skips the schema for a shape that already
    validated clean (see shape()); the lint rules run on every dashboard either way.
    """
    out: list = []
    lint = "warning" if lenient else "error"
    if not isinstance(data, dict):
        return [((), "schema", "a dashboard is a JSON object", "error")]
    if lenient:
        data, notes = lenient_view(data)
        out.extend(notes)
    # The panel and query schemas below check parts of the dashboard, so its shape covers them too.
    key = shape(data) if by_shape else None
    schema_checks = key not in _CLEAN_SHAPES
    for err in _validator("dashboard", "", lenient).iter_errors(data) if schema_checks else ():
        out.append((tuple(err.absolute_path), "schema", _schema_message(err), "error"))
    variables = {v.get("name"): v for v in (data.get("templating") or {}).get("list") or [] if isinstance(v, dict)}
    ds_vars = [v for v in variables.values() if v.get("type") == "datasource"]
    if not any(v.get("query") == "prometheus" for v in ds_vars):
        out.append(
            (
                ("templating",),
                "template-datasource",
                "no Prometheus datasource variable: add one (type datasource, query prometheus) and point "
                "every panel at it",
                lint,
            )
        )
    titles: dict = {}
    ids: dict = {}
    reads_scraped = False
    for path, panel, row in _panels(data):
        ptype = panel.get("type", "")
        pid = panel.get("id")
        if pid is None and not lenient:
            out.append(
                (
                    path,
                    "panel-id",
                    f"panel {panel.get('title', '')!r} has no id: ids keep links and diffs stable",
                    "error",
                )
            )
        elif pid is not None and pid in ids:
            out.append(
                (path + ("id",), "panel-id", f"panel id {pid} is used twice (also at {_path_text(ids[pid])})", lint)
            )
        else:
            ids[pid] = path
        if ptype == "row":
            continue
        title = panel.get("title", "")
        if title and (row, title) in titles:
            out.append(
                (
                    path + ("title",),
                    "panel-title-unique",
                    f"two panels titled {title!r} in row {row or '(top)'!r}",
                    lint,
                )
            )
        titles.setdefault((row, title), path)
        if ptype in PANEL_SCHEMAS:
            out.extend(_panel_schema(path, panel, ptype, lenient) if schema_checks else [])
        elif not lenient:
            out.append((path + ("type",), "schema", f"panel type {ptype!r} has no vendored schema", "error"))
        if ptype in ("timeseries", "stat", "gauge", "bargauge") and not (
            (panel.get("fieldConfig") or {}).get("defaults") or {}
        ).get("unit"):
            out.append((path + ("fieldConfig",), "panel-units", f"panel {title!r} sets no unit", lint))
        if ptype != "text" and panel.get("targets") and not _is_var_ref(panel.get("datasource")):
            out.append(
                (
                    path + ("datasource",),
                    "panel-datasource",
                    f"panel {title!r} does not read its datasource through a variable",
                    lint,
                )
            )
        for k, target in enumerate(panel.get("targets") or []):
            if not isinstance(target, dict):
                continue
            tpath = path + ("targets", k)
            ds = target.get("datasource", panel.get("datasource"))
            if "datasource" in target and not _is_var_ref(target["datasource"]):
                out.append(
                    (
                        tpath + ("datasource",),
                        "panel-datasource",
                        f"a query of panel {title!r} does not read its datasource through a variable",
                        lint,
                    )
                )
            if "expr" not in target or (_ds_type(ds) not in ("", "prometheus") and lenient):
                continue
            out.extend(_target_findings(tpath, target, title, variables, lint, not lenient and schema_checks))
            try:
                names = panel_query(target["expr"]).metrics
            except PromQLError:
                names = ()
            reads_scraped |= any(not RECORDED.match(n) and n != "ALERTS" for n in names)
    for name in ("job", "instance"):
        if reads_scraped and name not in variables:
            out.append(
                (
                    ("templating",),
                    f"template-{name}",
                    f"no {name!r} variable: dashboards of scraped series let readers pick the {name}",
                    lint,
                )
            )
    if key is not None and schema_checks and not any(rule == "schema" for _p, rule, _m, _s in out):
        _CLEAN_SHAPES.add(key)
    return out


def _panel_schema(path: tuple, panel: dict, ptype: str, lenient: bool = False) -> list:
    out = []
    if "options" in panel and _has_definition(ptype, "Options"):
        for err in _validator(ptype, "Options", lenient).iter_errors(panel["options"]):
            out.append((path + ("options",) + tuple(err.absolute_path), "schema", _schema_message(err), "error"))
    custom = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("custom")
    if custom is not None and _has_definition(ptype, "FieldConfig"):
        for err in _validator(ptype, "FieldConfig", lenient).iter_errors(custom):
            out.append(
                (
                    path + ("fieldConfig", "defaults", "custom") + tuple(err.absolute_path),
                    "schema",
                    _schema_message(err),
                    "error",
                )
            )
    return out


def _target_findings(tpath: tuple, target: dict, title: str, variables: dict, lint: str, prometheus: bool) -> list:
    out = []
    if prometheus:
        for err in _validator("prometheus", "Dataquery").iter_errors(target):
            out.append((tpath + tuple(err.absolute_path), "schema", _schema_message(err), "error"))
    expr = target.get("expr", "")
    if not isinstance(expr, str) or not expr.strip():
        return out + [(tpath + ("expr",), "target-promql", f"a query of panel {title!r} is empty", lint)]
    try:
        parse(substitute(expr))
    except PromQLError as exc:
        return out + [(tpath + ("expr",), "target-promql", f"PromQL parse error: {exc}", "error")]
    for name in variables_used(expr):
        if name not in variables:
            out.append((tpath + ("expr",), "template-undefined", f"${name} is not a variable of this dashboard", lint))
    for func, got in rate_ranges(expr):
        out.append(
            (
                tpath + ("expr",),
                "target-rate-interval",
                f"{func}() over {got}: use [$__rate_interval] so the window follows the scrape interval",
                lint,
            )
        )
    return out


def _schema_message(err) -> str:
    message = err.message
    if len(message) > 300:
        message = message[:297] + "..."
    return message


def _positions(text: str, file: str) -> dict:
    """JSON path -> (line, col), read with the spec loader (JSON is YAML)."""
    from ..diagnostics import Report
    from ..spec.loader import parse_text

    try:
        docs = parse_text(text, file, Report())
    except Exception:
        return {}
    return docs[0].positions if docs else {}


def check_file(path: str, lenient: bool = False, display: str | None = None) -> list[Finding]:
    """Findings for one dashboard JSON file, with line:col; a file that is not JSON is one finding."""
    display = display or path
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(display, 1, 1, "", "read", f"cannot read: {exc}")]
    except json.JSONDecodeError as exc:
        return [Finding(display, exc.lineno, exc.colno, "", "json", f"not JSON: {exc.msg}")]
    found = validate_dashboard(data, lenient)
    positions = _positions(text, display) if found else {}
    out = []
    for jpath, rule, message, severity in found:
        p = tuple(jpath)
        while p not in positions and p:
            p = p[:-1]
        line, col = positions.get(p, (1, 1))
        out.append(Finding(display, line, col, _path_text(jpath), rule, message, severity))
    return sorted(set(out))


def dashboard_files(directory: str) -> list[str]:
    """Every dashboard JSON file under directory/dashboards (or directory itself when it holds JSON)."""
    base = os.path.join(directory, "dashboards")
    root = base if os.path.isdir(base) else directory
    return sorted(glob.glob(os.path.join(root, "**", "*.json"), recursive=True))


def check_files(paths, lenient: bool = False, progress=lambda message: None) -> list:
    """ToolResult-like results, one per file; warnings go to progress."""
    from .tools import ToolResult

    results = []
    for path in paths:
        findings = check_file(path, lenient)
        errors = [f for f in findings if f.severity == "error"]
        for f in findings:
            if f.severity != "error":
                progress(f.format())
        results.append(
            ToolResult(["promspec", "dashboard", path], 1 if errors else 0, "\n".join(f.format() for f in errors))
        )
    return results


def exported_files(directory: str) -> set[str]:
    """Rendered dashboards that are Grafana exports (marked so in dashboards/provisioning.yml's header)."""
    from ..render.dashboards import EXPORTED_MARK

    try:
        with open(os.path.join(directory, "dashboards", "provisioning.yml"), encoding="utf-8") as fh:
            lines = [line for line in fh if line.startswith("#   ")]
    except OSError:
        return set()
    return {
        os.path.join(directory, "dashboards", line[4:].split(": ", 1)[0])
        for line in lines
        if line.rstrip().endswith(EXPORTED_MARK)
    }


def check_dashboard_dir(directory: str, progress=lambda message: None, lenient: bool = False) -> list:
    """Check every rendered dashboard of an output directory (strict unless lenient; exports leniently)."""
    files = dashboard_files(directory) if os.path.isdir(os.path.join(directory, "dashboards")) else []
    if files:
        progress(f"dashboards: {len(files)} files against the Grafana Foundation SDK schemas and lint rules")
    exported = exported_files(directory)
    return [r for path in files for r in check_files([path], lenient or path in exported, progress)]


# ------------------------------------------------------------------------------ specs


def check_dashboards(project, report) -> None:
    """Spec-level checks of every dashboard (written and generated): signals, series, titles, links, ids."""
    from ..compile.dashboards.compiler import resolve
    from ..compile.dashboards.project import dashboard_path, project_dashboards, remember_compiled
    from ..spec.dashboards import spec_dashboards
    from .semantic import Universe

    written = spec_dashboards(project.extra.get("Dashboard", []))
    _check_names(written, report)
    dashes = project_dashboards(project, written)
    from ..compile.dashboards.compiler import context_for

    ctx = context_for(project, dashes)
    universe = Universe(project)
    recorded = {r.record for g in project.groups for r in g.rules if getattr(r, "record", "")}
    compiled: dict = {}
    for dash in dashes:
        if dash.imported is not None or "file" in dash.ref.doc.data.get("spec", {}):
            continue  # a Grafana export: checked (leniently, at its own line:col) when it was read
        before = len(report.errors)
        targets, problems = resolve(ctx, dash)
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
        titles: dict = {}
        ids: dict = {}
        for row, panel in dash.panels():
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
            for query, target in zip(
                [q for q in panel.queries if not _failed(q, problems)], targets[id(panel)], strict=True
            ):  # one target per query that resolved (problems: all others)
                _check_expr(query, target.expr, defined, universe, recorded, report)
        for link in dash.links + [link for _r, p in dash.panels() for link in p.links]:
            if link.dashboard and link.dashboard not in ctx.uids:
                hint = did_you_mean(link.dashboard, ctx.uids)
                report.error(
                    dash.ref.pos("links"),
                    f"link to unknown dashboard {link.dashboard!r}{hint}",
                    dash.ref.dotted("links"),
                    "the name or uid of a dashboard of this project",
                )
        if len(report.errors) == before:
            compiled[dashboard_path(dash)] = (dash, _lint_compiled(ctx, dash, report))
    if len(compiled) == len(dashes):
        remember_compiled(project, ctx, compiled)


# Rules the spec checks above already report, with better positions and messages.
_SPEC_CHECKED = ("panel-units", "panel-title-unique", "panel-id", "target-promql", "template-undefined")
_EXPECTED = {
    "template-job": "variables: [datasource, job, instance, ...] (or read only recorded series)",
    "template-instance": "variables: [datasource, job, instance, ...] (or read only recorded series)",
    "template-datasource": "datasource among the variables: panels read their datasource through it",
    "target-rate-interval": "[$__rate_interval] as the range of rate(), irate() and increase()",
}


def _lint_compiled(ctx, dash, report) -> dict:
    """The rules `promspec check` applies to rendered JSON, applied before anything is written.

    Returns the Grafana JSON, which the renderer reuses. A preset's dashboards are checked against
    the schema once per shape (promspec built them); a written one is checked in full.
    """
    from ..compile.dashboards.compiler import build_dashboard, plan_dashboard

    plan = plan_dashboard(ctx, dash)
    data = build_dashboard(plan)
    by_id = {plan.ids[id(p)]: p for _r, p in dash.panels()}
    for jpath, rule, message, _severity in validate_dashboard(data, by_shape=dash.generated):
        if rule in _SPEC_CHECKED:
            continue
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
    return data


def _failed(query, problems) -> bool:
    return any(p.query is query for p in problems)


def _check_names(written, report) -> None:
    seen: dict = {}
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


def _check_scope(dash, ctx, report) -> bool:
    """False (and one error at spec.service or spec.backend) when the dashboard names an unknown one."""
    if dash.service and dash.service not in ctx.services:
        _unknown(report, dash.ref, "service", dash.service, ctx.services)
        return False
    if not dash.service and dash.backend and dash.backend not in ctx.backends:
        _unknown(report, dash.ref, "backend", dash.backend, ctx.backends)
        return False
    return True


def _unknown(report, ref, field: str, name: str, known) -> None:
    hint = did_you_mean(name, known)
    report.error(
        ref.pos(field),
        f"unknown {field} {name!r}{hint}",
        ref.dotted(field),
        f"one of: {', '.join(sorted(known)) or 'none declared'}",
    )


def _check_variables(dash, ctx, report) -> None:
    for v in dash.variables:
        if v.name == "model" and not v.metric and not (dash.service or dash.backend):
            report.error(
                v.ref.pos(),
                "variable 'model' needs a metric to list models from",
                v.ref.dotted(),
                "{name: model, metric: <a metric with the model label>}, or spec.service / spec.backend",
            )


def _needle_pos(ref, field: str, needle: str):
    """Where needle first occurs inside the expression field, else the field itself."""
    expr = ref.doc.data
    try:
        for part in ref.path + (field,):
            expr = expr[part]
    except (KeyError, IndexError, TypeError):  # a generated query: no expression of its own in the spec
        return ref.pos()
    return ref.doc.pos_of_word(ref.path + (field,), expr, needle, also_before="$") or ref.pos(field)


def _check_expr(query, expr: str, defined: set, universe, recorded: set, report) -> None:
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
    for name in variables_used(expr):
        if name not in defined:
            report.error(
                _needle_pos(query.ref, field, "$" + name) if query.expr else query.ref.pos(field),
                f"${name} is not a variable of this dashboard",
                query.ref.dotted(field),
                "one of: " + ", ".join(sorted(defined)) if defined else "variables: [...] in the dashboard",
            )
    for name in dict.fromkeys(a.metrics):
        if name in recorded or universe.known(name):
            continue
        hint = did_you_mean(name, list(universe.labels) + sorted(recorded))
        report.error(
            _needle_pos(query.ref, field, name) if query.expr else query.ref.pos(field),
            f"metric {name!r} is neither catalogued nor recorded{hint}",
            query.ref.dotted(field),
            "a catalogued metric, a recorded series, or a name in a Catalog's external list",
        )
