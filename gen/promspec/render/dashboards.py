"""dashboards/: one Grafana JSON file per dashboard, by folder, and the provisioning file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring as _string  # C-accelerated; escapes as ensure_ascii=False does
from typing import TYPE_CHECKING, Any, cast

from ..compile.dashboards.compiler import CompiledDashboard, CompiledRow, Filled, JsonTemplate, replaced
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


def dashboard_text(data: Any) -> str:
    """A dashboard file's text: json.dumps(data, indent=2, ensure_ascii=False) and a newline (what a Kubernetes
    ConfigMap holds too).

    json.dumps with an indent runs the pure-Python encoder; dashboards are most of generate's output
    (4 per service at scale), so this walks plain data directly and falls back to json.dumps otherwise.
    """
    try:
        return "".join(_pieces(data, "\n", [])) + "\n"
    except _NotPlain:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"  # dump_json's text


class _Hole:
    """Marks where a value goes in a text made with holes (_holed): the index-th value."""

    def __init__(self, index: int) -> None:
        self.index = index


def _pieces(data: Any, indent: str, holes: list[tuple[int, int]]) -> list[str]:
    """json.dumps(data, indent=2, ensure_ascii=False)'s text, in pieces, data starting at indent ("\n" and
    spaces); each _Hole in data is an empty piece, listed in holes as (piece index, hole index)."""
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
        elif t is _Hole:
            holes.append((len(out), v.index))
            append("")
        else:
            raise _NotPlain

    walk(data, indent)
    return out


@dataclass(frozen=True, kw_only=True)
class _HoledText:
    """A template's text cut at its holes: parts[0], value order[0], parts[1], value order[1], ..."""

    parts: tuple[str, ...]
    order: tuple[int, ...]  # the index of the value each hole takes, in text order


def _holed(data: Any, indent: str) -> _HoledText:
    holes: list[tuple[int, int]] = []
    pieces = _pieces(data, indent, holes)
    parts: list[str] = []
    start = 0
    for at, _index in holes:
        parts.append("".join(pieces[start:at]))
        start = at + 1
    parts.append("".join(pieces[start:]))
    return _HoledText(parts=tuple(parts), order=tuple(index for _at, index in holes))


# A template's text at an indent (and with its "panels" a hole or not), cut where its values go, by
# template identity (a template is never changed, see JsonTemplate). Bounded like the compiler's caches.
_TEMPLATE_TEXT: dict[tuple[JsonTemplate, str, bool], _HoledText] = {}
_TEMPLATE_TEXT_MAX = 8192


def _filled_text(filled: Filled, indent: str, out: list[str], panels: str | None = None) -> None:
    """Append filled's text at indent; panels: the text of its "panels" (a dashboard level, a collapsed row)."""
    template = filled.template
    key = (template, indent, panels is not None)
    text = _TEMPLATE_TEXT.get(key)
    if text is None:
        data: Any = template.data
        for i, path in enumerate(template.holes):
            data = replaced(data, path, _Hole(i))
        if panels is not None:
            data = replaced(data, ("panels",), _Hole(len(template.holes)))
        if len(_TEMPLATE_TEXT) >= _TEMPLATE_TEXT_MAX:
            _TEMPLATE_TEXT.clear()
        text = _TEMPLATE_TEXT[key] = _holed(data, indent)
    values = filled.values
    out.append(text.parts[0])
    for index, part in zip(text.order, text.parts[1:], strict=True):
        # A value is any text: escaped here. The panels are text already.
        out.append(_string(values[index]) if index < len(values) else cast(str, panels))
        out.append(part)


def _panels_text(panels: tuple[Filled | CompiledRow, ...], indent: str) -> str:
    """The text of a list of panels whose own text starts at indent."""
    if not panels:
        return "[]"
    inner = indent + "  "
    out: list[str] = []
    sep = "[" + inner
    for p in panels:
        out.append(sep)
        if isinstance(p, Filled):
            _filled_text(p, inner, out)
        else:
            row = Filled(template=p.row, values=())
            _filled_text(row, inner, out, _panels_text(p.panels, inner + "  ") if p.panels else None)
        sep = "," + inner
    out.append(indent + "]")
    return "".join(out)


def compiled_text(compiled: CompiledDashboard) -> str:
    """dashboard_text(compiled.to_data()), built from its templates' texts with the values put in.

    A template's text is cut where its values go, once per template and indent; each dashboard adds
    only its own values (escaped) and its panels' texts.
    """
    try:
        out: list[str] = []
        _filled_text(compiled.outer, "\n", out, _panels_text(compiled.panels, "\n  "))
        return "".join(out) + "\n"
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
    return {**render_dashboard_files(build), **render_provisioning(build)}


def render_dashboard_files(build: Build) -> dict[str, bytes]:
    """dashboards/<folder>/<uid>.json for every dashboard written; each file reads its dashboard alone
    (generate renders them in slices: render/outputs.py)."""
    return {path: text.encode("utf-8") for path, (_dash, text) in dashboard_texts(build).items()}


def render_provisioning(build: Build) -> dict[str, bytes]:
    """dashboards/provisioning.yml: every folder of the dashboards written, listed with their sources in
    its header; nothing when none is. Reads the models and paths, not the JSON."""
    written = {b.path: b.dashboard for b in build.dashboards.written_files()}
    if not written:
        return {}
    sources = [
        f"{path[len('dashboards/') :]}: {dash.source}"
        + (" (generated)" if dash.generated else "")
        + (f" {EXPORTED_MARK}" if dash.imported is not None else "")
        for path, dash in sorted(written.items())
    ]
    extra = (
        f"Copy or mount this dashboards/ directory at {PROVISION_ROOT} and put this file in",
        "Grafana's provisioning/dashboards/. Dashboards and the specs they come from:",
        *(f"  {line}" for line in sources),
    )
    head = header(sorted({dash.source for dash in written.values()}), extra)
    return {"dashboards/provisioning.yml": dump_yaml(provisioning(list(written.values())), head)}
