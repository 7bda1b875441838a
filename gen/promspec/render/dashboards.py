"""dashboards/: one Grafana JSON file per dashboard, by folder, and the provisioning file."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
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


def _template_text(template: JsonTemplate, indent: str, has_panels: bool) -> _HoledText:
    """template's text at indent, cut at its holes (value k is hole k); has_panels: its "panels" is one more
    hole, numbered len(template.holes) (a dashboard level, a collapsed row that holds panels)."""
    key = (template, indent, has_panels)
    text = _TEMPLATE_TEXT.get(key)
    if text is None:
        data: Any = template.data
        for i, path in enumerate(template.holes):
            data = replaced(data, path, _Hole(i))
        if has_panels:
            data = replaced(data, ("panels",), _Hole(len(template.holes)))
        if len(_TEMPLATE_TEXT) >= _TEMPLATE_TEXT_MAX:
            _TEMPLATE_TEXT.clear()
        text = _TEMPLATE_TEXT[key] = _holed(data, indent)
    return text


class _Joined:
    """A text being put together from templates' texts: parts, and the value (by number) between two parts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.order: list[int] = []
        self.current: list[str] = []  # the part being written

    def template(self, template: JsonTemplate, indent: str, base: int, panels: Callable[[], None] | None) -> None:
        """template's text at indent, its values numbered from base; panels writes its "panels" (or None)."""
        text = _template_text(template, indent, panels is not None)
        self.current.append(text.parts[0])
        own = len(template.holes)
        for index, part in zip(text.order, text.parts[1:], strict=True):
            if index < own:
                self.parts.append("".join(self.current))
                self.order.append(base + index)
                self.current = [part]
            else:
                cast("Callable[[], None]", panels)()
                self.current.append(part)

    def done(self) -> _HoledText:
        return _HoledText(parts=(*self.parts, "".join(self.current)), order=tuple(self.order))


def _shape_text(compiled: CompiledDashboard) -> _HoledText:
    """compiled's text cut where its values go, numbered as _dashboard_values lists them: each template's
    text (_template_text) at its indent, the panels' lists written between them."""
    joined = _Joined()
    base = len(compiled.outer.values)

    def panel_list(panels: Sequence[Filled | CompiledRow], indent: str) -> None:
        nonlocal base
        if not panels:
            joined.current.append("[]")
            return
        inner = indent + "  "
        sep = "[" + inner
        for p in panels:
            joined.current.append(sep)
            if isinstance(p, Filled):
                joined.template(p.template, inner, base, None)
                base += len(p.values)
            else:
                inside = functools.partial(panel_list, p.panels, inner + "  ") if p.panels else None
                joined.template(p.row, inner, base, inside)
            sep = "," + inner
        joined.current.append(indent + "]")

    joined.template(compiled.outer.template, "\n", 0, lambda: panel_list(compiled.panels, "\n  "))
    return joined.done()


# Dashboards' texts cut where their values go, by their shape (_dashboard_shape): a project's thousands
# of generated dashboards come in a few dozen shapes. Holds its templates (never freed and another made at
# the same address while a key is here). Bounded like _TEMPLATE_TEXT.
_DASHBOARD_TEXT: dict[tuple[object, ...], _HoledText] = {}
_DASHBOARD_TEXT_MAX = 1024


def _dashboard_values(compiled: CompiledDashboard) -> tuple[tuple[object, ...], list[str]]:
    """compiled's shape (its templates, in order: the level's, then each panel's, a row as its template and
    its panels') and its values (the level's, then each panel's, in the same order)."""
    values = list(compiled.outer.values)
    shape: list[object] = [compiled.outer.template]
    for p in compiled.panels:
        if isinstance(p, Filled):
            shape.append(p.template)
            values += p.values
        else:
            shape.append((p.row, *(f.template for f in p.panels)))
            for f in p.panels:
                values += f.values
    return tuple(shape), values


def compiled_text(compiled: CompiledDashboard) -> str:
    """dashboard_text(compiled.to_data()), built from its templates' texts with the values put in.

    A dashboard's text is cut where its values go once per shape (its templates, in order); each
    dashboard adds only its own values, escaped.
    """
    try:
        shape, values = _dashboard_values(compiled)
        text = _DASHBOARD_TEXT.get(shape)
        if text is None:
            if len(_DASHBOARD_TEXT) >= _DASHBOARD_TEXT_MAX:
                _DASHBOARD_TEXT.clear()
            text = _DASHBOARD_TEXT[shape] = _shape_text(compiled)
        if len(text.order) != len(values):
            raise ValueError("a dashboard's values do not match its templates' holes")
        out = [""] * (2 * len(values) + 1)
        out[0::2] = text.parts
        out[1::2] = map(_string, map(values.__getitem__, text.order))
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
    written = {b.path: b.head for b in build.dashboards.written_files()}
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
