"""dashboards/: one Grafana JSON file per dashboard, by folder, and the provisioning file."""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _string  # C-accelerated; escapes as ensure_ascii=False does
from typing import TYPE_CHECKING, Any

from ..compile.dashboards.compiler import CompiledDashboard, CompiledPanel, CompiledRow, PanelTemplate
from ..compile.dashboards.project import PROVISION_ROOT, BuiltDashboard, provisioning
from .yamlout import dump_yaml, header

if TYPE_CHECKING:
    from ..compile.build import Build
    from ..model.dashboards import Dashboard

# Marks a Grafana UI export (spec.file) in the provisioning header: `promspec check` reads it and
# checks that file leniently, as the spec check did.
EXPORTED_MARK = "(Grafana export, as it is)"


class _NotPlain(Exception):
    """A value outside plain JSON data (a key that is not a string, a subclass): the stdlib encoder takes it."""


def _float(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return float.__repr__(v)


def dashboard_json(data: Any) -> bytes:
    """The bytes dump_json writes (json.dumps, indent 2, ensure_ascii off, trailing newline), built ~2x faster."""
    return dashboard_text(data).encode("utf-8")


def dashboard_text(data: Any) -> str:
    """dashboard_json's text (what a Kubernetes ConfigMap holds).

    json.dumps with an indent runs the pure-Python encoder; dashboards are most of generate's output
    (4 per service at scale), so this walks plain data directly and falls back to json.dumps otherwise.
    """
    try:
        return "".join(_pieces(data, "\n", [])) + "\n"
    except _NotPlain:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"  # dump_json's text


class _Hole:
    """Marks where a value goes in a text made with holes (_holed)."""


_HOLE = _Hole()


def _pieces(data: Any, indent: str, holes: list[int]) -> list[str]:
    """json.dumps(data, indent=2, ensure_ascii=False)'s text, in pieces, data starting at indent ("\n" and
    spaces); each _HOLE in data is an empty piece whose index is appended to holes."""
    out: list[str] = []
    append = out.append

    def walk(v: Any, indent: str) -> None:
        t = type(v)
        if t is str:
            append(_string(v))
        elif t is dict:
            if not v:
                append("{}")
                return
            inner = indent + "  "
            sep = "{" + inner
            for k, x in v.items():
                if type(k) is not str:
                    raise _NotPlain
                append(sep)
                append(_string(k))
                append(": ")
                walk(x, inner)
                sep = "," + inner
            append(indent + "}")
        elif t is list:
            if not v:
                append("[]")
                return
            inner = indent + "  "
            sep = "[" + inner
            for x in v:
                append(sep)
                walk(x, inner)
                sep = "," + inner
            append(indent + "]")
        elif v is None:
            append("null")
        elif v is True:
            append("true")
        elif v is False:
            append("false")
        elif t is int:
            append(int.__repr__(v))
        elif t is float:
            append(_float(v))
        elif v is _HOLE:
            holes.append(len(out))
            append("")
        else:
            raise _NotPlain

    walk(data, indent)
    return out


def _holed(data: Any, indent: str) -> tuple[str, ...]:
    """The text of data at indent cut at its holes: n holes give n + 1 parts."""
    holes: list[int] = []
    pieces = _pieces(data, indent, holes)
    parts: list[str] = []
    start = 0
    for h in holes:
        parts.append("".join(pieces[start:h]))
        start = h + 1
    parts.append("".join(pieces[start:]))
    return tuple(parts)


# A panel template's text at an indent, cut where its expressions go (by template identity: a template is
# never changed, see PanelTemplate). Bounded like the compiler's own template cache.
_PANEL_TEXT: dict[tuple[PanelTemplate, str], tuple[str, ...]] = {}
_PANEL_TEXT_MAX = 8192


def _panel_text(panel: CompiledPanel, indent: str, out: list[str]) -> None:
    template = panel.template
    parts = _PANEL_TEXT.get((template, indent))
    if parts is None:
        data = template.data
        holed = {**data, "targets": [{**t, "expr": _HOLE} for t in data["targets"]]} if panel.exprs else data
        if len(_PANEL_TEXT) >= _PANEL_TEXT_MAX:
            _PANEL_TEXT.clear()
        parts = _PANEL_TEXT[(template, indent)] = _holed(holed, indent)
    out.append(parts[0])
    for expr, part in zip(panel.exprs, parts[1:], strict=True):
        out.append(_string(expr))  # escaped here: an expression is any text
        out.append(part)


def _panels_text(panels: tuple[CompiledPanel | CompiledRow, ...] | tuple[CompiledPanel, ...], indent: str) -> str:
    """The text of a list of panels whose own text starts at indent."""
    if not panels:
        return "[]"
    inner = indent + "  "
    out: list[str] = []
    sep = "[" + inner
    for p in panels:
        out.append(sep)
        if isinstance(p, CompiledPanel):
            _panel_text(p, inner, out)
        elif p.panels:
            before, after = _holed({**p.row, "panels": _HOLE}, inner)
            out += (before, _panels_text(p.panels, inner + "  "), after)
        else:
            out.append("".join(_pieces(p.row, inner, [])))
        sep = "," + inner
    out.append(indent + "]")
    return "".join(out)


def compiled_text(compiled: CompiledDashboard) -> str:
    """dashboard_text(compiled.to_data()), built from each panel template's text with the expressions put in.

    The dashboard level is written as dashboard_text writes it; a panel's text is its template's, cut where
    the expressions go, once per template and indent; each panel adds only its expressions, escaped.
    """
    try:
        before, after = _holed({**compiled.outer, "panels": _HOLE}, "\n")
        return before + _panels_text(compiled.panels, "\n  ") + after + "\n"
    except _NotPlain:  # not plain data somewhere: the whole dashboard as dashboard_text writes it
        return dashboard_text(compiled.to_data())


def built_text(built: BuiltDashboard) -> str:
    """A written dashboard's file text (a Grafana export's as it is)."""
    if built.compiled is not None:
        return compiled_text(built.compiled)
    return dashboard_text(built.data)


def dashboard_texts(build: Build) -> dict[str, tuple[Dashboard, str]]:
    """{output path: (dashboard model, file text)} of every dashboard written (DashboardBuild.rendered()'s)."""
    return {b.path: (b.dashboard, built_text(b)) for b in build.dashboards.written_files()}


def render_dashboards(build: Build) -> dict[str, bytes]:
    """dashboards/<folder>/<uid>.json for every dashboard, and dashboards/provisioning.yml."""
    compiled = dashboard_texts(build)
    files = {path: text.encode("utf-8") for path, (_dash, text) in compiled.items()}
    if not compiled:
        return files
    sources = [
        f"{path[len('dashboards/') :]}: {dash.source}"
        + (" (generated)" if dash.generated else "")
        + (f" {EXPORTED_MARK}" if dash.imported is not None else "")
        for path, (dash, _data) in sorted(compiled.items())
    ]
    extra = (
        f"Copy or mount this dashboards/ directory at {PROVISION_ROOT} and put this file in",
        "Grafana's provisioning/dashboards/. Dashboards and the specs they come from:",
        *(f"  {line}" for line in sources),
    )
    head = header(sorted({dash.source for dash, _ in compiled.values()}), extra)
    files["dashboards/provisioning.yml"] = dump_yaml(provisioning([d for d, _ in compiled.values()]), head)
    return files
