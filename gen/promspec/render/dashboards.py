"""dashboards/: one Grafana JSON file per dashboard, by folder, and the provisioning file."""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _string  # C-accelerated; escapes as ensure_ascii=False does
from typing import TYPE_CHECKING, Any

from ..compile.dashboards.project import PROVISION_ROOT, provisioning
from .yamlout import dump_yaml, header

if TYPE_CHECKING:
    from ..compile.build import Build

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
        else:
            raise _NotPlain

    try:
        walk(data, "\n")
    except _NotPlain:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"  # dump_json's text
    return "".join(out) + "\n"


def render_dashboards(build: Build) -> dict[str, bytes]:
    """dashboards/<folder>/<uid>.json for every dashboard, and dashboards/provisioning.yml."""
    return {**render_dashboard_files(build), **render_provisioning(build)}


def render_dashboard_files(build: Build) -> dict[str, bytes]:
    """dashboards/<folder>/<uid>.json for every dashboard that built; each file reads its dashboard alone
    (generate renders them in slices: render/outputs.py)."""
    return {path: dashboard_json(data) for path, (_dash, data) in build.dashboards.rendered().items()}


def render_provisioning(build: Build) -> dict[str, bytes]:
    """dashboards/provisioning.yml: every folder of the dashboards that built, listed with their sources in
    its header; nothing when none did. Reads the models and paths, not the JSON."""
    written = {b.path: b.dashboard for b in build.dashboards.dashboards if b.data is not None}
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
