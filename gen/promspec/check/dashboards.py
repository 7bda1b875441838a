"""Grafana dashboard JSON, offline: the Foundation SDK's JSON schemas (grafana_schemas.py) and lint rules.

validate_dashboard(data) checks rendered (or UI-exported) Grafana JSON, with lenient=True for
dashboards exported from the Grafana UI; check_file/check_files/check_dashboard_dir read files for
`promspec check`. The spec-level checks that run before anything is written are in dashboard_specs.py.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..compile.promql import PromQLError
from .grafana_schemas import PANEL_ITEM, PANEL_SCHEMAS, schema, shape, string_shape, validator
from .panel_queries import panel_query, rate_ranges

if TYPE_CHECKING:
    from ..compile.dashboards.compiler import CompiledDashboard, Filled, JsonTemplate
    from ..model.loader import Mark, NodeIndex, Path
    from .tools import Progress, ToolResult

JsonPath = tuple[str | int, ...]  # where in a dashboard's JSON: ("panels", 3, "targets", 0, "expr")
# One schema error or lint finding: (json path, rule, message, severity).
JsonFinding = tuple[JsonPath, str, str, str]

# Exports from the Grafana UI carry these; they say where the file came from, not what it shows.
EXPORT_ONLY = ("__inputs", "__requires", "__elements", "iteration")
# Keys of older dashboard models that Grafana still loads and migrates away (schemaVersion
# migrations): exported dashboards of older Grafana versions carry them. --lenient ignores them.
LEGACY_DASHBOARD_KEYS = ("style", "gnetId")
LEGACY_VARIABLE_KEYS = ("tags", "tagsQuery", "tagValuesQuery", "useTags")
# Recording rules are named level:metric:operations; series named so are recorded, not scraped,
# and carry no job/instance of their own (the job/instance variable rules skip them).
RECORDED = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_]+:[a-zA-Z0-9_:]+$")


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


def _without_nulls(node: Any) -> Any:
    """JSON with null-valued object members dropped: Grafana reads a null field as an unset one."""
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


def lenient_view(data: dict[str, Any]) -> tuple[dict[str, Any], list[JsonFinding]]:
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
    unchecked: dict[str, JsonPath] = {}

    def trim(panel: dict[str, Any], path: JsonPath) -> dict[str, Any]:
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
    notes: list[JsonFinding] = [
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


# Shapes of dashboard parts (the dashboard without its panels, and each top-level panel with the rows'
# panels inside it) whose every schema check came back clean: the generator's own dashboards repeat a
# handful of shapes thousands of times, and their panels repeat across dashboards. Only clean results
# are kept, so a rejection always comes from jsonschema itself, with its own message.
_CLEAN_SHAPES: set[Hashable] = set()


def _has_definition(name: str, definition: str) -> bool:
    return definition in schema(name).get("definitions", {})


def _path_text(parts: Iterable[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# ------------------------------------------------------------------------------ rendered JSON


def _panels(data: dict[str, Any]) -> Iterator[tuple[JsonPath, dict[str, Any], str]]:
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


def _is_var_ref(ds: Any) -> bool:
    if isinstance(ds, str):
        return ds.startswith("$")
    if isinstance(ds, dict):
        return str(ds.get("uid", "")).startswith("$")
    return False


def _ds_type(ds: Any) -> str:
    return str(ds.get("type", "")) if isinstance(ds, dict) else ""


def validate_compiled(compiled: CompiledDashboard) -> tuple[dict[str, Any], list[JsonFinding]]:
    """validate_dashboard(compiled.to_data(), by_shape=True), and the data it read (for reading only).

    A dashboard promspec built itself: the fingerprint of each part (the dashboard level, each panel)
    is its template's, computed once per template, since an instance differs from its template only in
    the strings at its holes; one whose values fingerprint otherwise (an enum word, an empty string) is
    fingerprinted as it is.
    """
    from ..compile.dashboards.compiler import Filled

    data = compiled.view()
    outer = {**data, "panels": []}
    parts: list[Hashable] = [("dashboard", _filled_shape(compiled.outer, outer))]
    for entry, node in zip(compiled.panels, data["panels"], strict=True):
        if isinstance(entry, Filled):
            parts.append(("panel", _filled_shape(entry, node)))
        elif entry.panels:  # a collapsed row: its panels are part of it
            parts.append(("panel", shape(node)))
        else:
            parts.append(("panel", _filled_shape(Filled(template=entry.row, values=()), node)))
    return data, validate_dashboard(data, by_shape=True, part_shapes=parts)


# A template's fingerprint, and the fingerprint of each of its holes' values, by template identity (a
# template is never changed, see JsonTemplate). Bounded like the compiler's own template caches.
_TEMPLATE_SHAPES: dict[JsonTemplate, tuple[tuple[Hashable, ...], Hashable]] = {}
_TEMPLATE_SHAPES_MAX = 8192


def _filled_shape(filled: Filled, node: dict[str, Any]) -> Hashable:
    """shape(node), where node is filled's data."""
    template = filled.template
    known = _TEMPLATE_SHAPES.get(template)
    if known is None:
        if len(_TEMPLATE_SHAPES) >= _TEMPLATE_SHAPES_MAX:
            _TEMPLATE_SHAPES.clear()
        known = _TEMPLATE_SHAPES[template] = (tuple(map(string_shape, template.values())), shape(template.data))
    values, fingerprint = known
    return fingerprint if tuple(map(string_shape, filled.values)) == values else shape(node)


def validate_dashboard(
    data: Any, lenient: bool = False, by_shape: bool = False, part_shapes: list[Hashable] | None = None
) -> list[JsonFinding]:
    """(json path, rule, message, severity) for every schema error and lint finding of a dashboard.

    by_shape=True (for dashboards promspec built itself) skips the schema for a shape that already
    validated clean (see shape()); the lint rules run on every dashboard either way. part_shapes, from
    validate_compiled only: the fingerprints of the dashboard's parts, known without walking them.
    """
    out: list[JsonFinding] = []
    lint = "warning" if lenient else "error"
    if not isinstance(data, dict):
        return [((), "schema", "a dashboard is a JSON object", "error")]
    if lenient:
        data, notes = lenient_view(data)
        out.extend(notes)
    schema_checks = not (by_shape and not lenient and _clean_by_parts(data, part_shapes))
    for err in validator("dashboard", "", lenient).iter_errors(data) if schema_checks else ():
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
    titles: dict[tuple[str, str], JsonPath] = {}
    ids: dict[object, JsonPath] = {}
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
    return out


def _clean_by_parts(data: dict[str, Any], part_shapes: list[Hashable] | None = None) -> bool:
    """True when every part of the dashboard has a shape whose schema checks came back clean (its parts
    not seen yet are checked here); False sends the whole dashboard through every schema check.

    The Dashboard schema checks `panels` with `items` alone (each element against oneOf Panel/RowPanel,
    independently of the others and of the rest), and nothing else in it reads the panels: a dashboard is
    valid exactly when it is valid without its panels and each panel is a valid item. A panel part's checks
    are the item schema, its type's options and field config schemas, and the Dataquery schema of each of
    its targets (of every panel of a row): a superset of what validate_dashboard runs on it, so a part
    clean here is clean there.
    """
    panels = data.get("panels")
    if not isinstance(panels, list):
        return False
    outer = {k: [] if k == "panels" else v for k, v in data.items()}
    keys: list[Hashable] = [("dashboard", shape(outer))] if part_shapes is None else part_shapes
    if part_shapes is None:
        keys += [("panel", shape(p)) for p in panels]
    parts: list[tuple[Hashable, Any, Callable[[Any], bool]]] = [(keys[0], outer, _outer_clean)]
    parts += [(key, p, _panel_clean) for key, p in zip(keys[1:], panels, strict=True)]
    for key, node, clean in parts:
        if key in _CLEAN_SHAPES:
            continue
        if not clean(node):
            return False
        _CLEAN_SHAPES.add(key)
    return True


def _outer_clean(outer: dict[str, Any]) -> bool:
    return not any(True for _ in validator("dashboard").iter_errors(outer))


def _panel_clean(panel: dict[str, Any]) -> bool:
    if any(True for _ in validator("dashboard", PANEL_ITEM).iter_errors(panel)):
        return False
    for path, node, _row in _panels({"panels": [panel]}):
        ptype = node.get("type", "")
        if ptype != "row" and ptype in PANEL_SCHEMAS and _panel_schema(path, node, ptype):
            return False
        for target in node.get("targets") or []:
            if isinstance(target, dict) and any(True for _ in validator("prometheus", "Dataquery").iter_errors(target)):
                return False
    return True


def _panel_schema(path: JsonPath, panel: dict[str, Any], ptype: str, lenient: bool = False) -> list[JsonFinding]:
    out: list[JsonFinding] = []
    if "options" in panel and _has_definition(ptype, "Options"):
        for err in validator(ptype, "Options", lenient).iter_errors(panel["options"]):
            out.append((path + ("options",) + tuple(err.absolute_path), "schema", _schema_message(err), "error"))
    custom = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("custom")
    if custom is not None and _has_definition(ptype, "FieldConfig"):
        for err in validator(ptype, "FieldConfig", lenient).iter_errors(custom):
            out.append(
                (
                    path + ("fieldConfig", "defaults", "custom") + tuple(err.absolute_path),
                    "schema",
                    _schema_message(err),
                    "error",
                )
            )
    return out


def _target_findings(
    tpath: JsonPath, target: dict[str, Any], title: str, variables: dict[Any, Any], lint: str, prometheus: bool
) -> list[JsonFinding]:
    out: list[JsonFinding] = []
    if prometheus:
        for err in validator("prometheus", "Dataquery").iter_errors(target):
            out.append((tpath + tuple(err.absolute_path), "schema", _schema_message(err), "error"))
    expr = target.get("expr", "")
    if not isinstance(expr, str) or not expr.strip():
        return out + [(tpath + ("expr",), "target-promql", f"a query of panel {title!r} is empty", lint)]
    try:
        read = panel_query(expr)  # parses substitute(expr), cached: the spec checks and rate_ranges read it too
    except PromQLError as exc:
        return out + [(tpath + ("expr",), "target-promql", f"PromQL parse error: {exc}", "error")]
    for name in read.variables:
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


def _schema_message(err: Any) -> str:  # a jsonschema ValidationError
    message = str(err.message)
    if len(message) > 300:
        message = message[:297] + "..."
    return message


def _positions(text: str, file: str) -> NodeIndex[Mark] | dict[Path, Mark]:
    """JSON path -> (line, col), read with the spec loader (JSON is YAML)."""
    from ..diagnostics import Report
    from ..model.loader import parse_text

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


def check_files(
    paths: Iterable[str], lenient: bool = False, progress: Progress = lambda message: None
) -> list[ToolResult]:
    """ToolResult-like results, one per file; warnings go to progress."""
    from .tools import ToolResult

    results: list[ToolResult] = []
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


def check_dashboard_dir(
    directory: str, progress: Progress = lambda message: None, lenient: bool = False
) -> list[ToolResult]:
    """Check every rendered dashboard of an output directory (strict unless lenient; exports leniently)."""
    files = dashboard_files(directory) if os.path.isdir(os.path.join(directory, "dashboards")) else []
    if files:
        progress(f"dashboards: {len(files)} files against the Grafana Foundation SDK schemas and lint rules")
    exported = exported_files(directory)
    return [r for path in files for r in check_files([path], lenient or path in exported, progress)]


# Expected values for the lint rules, where a finding is reported against a spec.
_EXPECTED = {
    "template-job": "variables: [datasource, job, instance, ...] (or read only recorded series)",
    "template-instance": "variables: [datasource, job, instance, ...] (or read only recorded series)",
    "template-datasource": "datasource among the variables: panels read their datasource through it",
    "target-rate-interval": "[$__rate_interval] as the range of rate(), irate() and increase()",
}
