"""The bundled dashboards that are plain `kind: Dashboard` specs: read through the same loader, schema and reader
as a user's spec, then made to look like the preset they replace.

gen/promspec/data/dashboards/<name>.yml are specs in the public Dashboard language (what `promspec dashboards
eject` writes), so a user can copy one into specs/ and change it (the same uid replaces the bundled one). What is
not in the file is the little that depends on the project, applied here and in presets.py:
- which exist: STATIC, each made when its anchor metric is catalogued (presets.preset_dashboards);
- where they point: every Ref is the anchor's catalog, so a warning about a panel, and the `source` header, name
  the catalog that made the dashboard, as they did when these were Python builders;
- links to bundled dashboards that were not made, and queries on series no catalog lists, are dropped by the
  presets' pruning (presets._prune), which names what it left out.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace

from ...diagnostics import Report
from ...model.dashboards import Dashboard, Panel, Query, Row, dashboard_from_document
from ...model.loader import Document, load_file
from ...model.project import Ref

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "data", "dashboards")


@dataclass(frozen=True, kw_only=True)
class Anchored:
    """Bundled dashboards made when a catalog lists their anchor metric (a catalog without it: left out, with a
    warning after a likely rename)."""

    anchor: str
    names: tuple[str, ...]  # bundled files (without .yml), in output order


# In the order the presets are written after the LLM serving dashboards.
STATIC = (
    Anchored(anchor="llm_request_total", names=("llm-performance", "llm-errors")),
    Anchored(anchor="promspec_gpu_up", names=("gpu-fleet",)),
    Anchored(anchor="node_cpu_seconds_total", names=("host-overview",)),
)


def bundled_path(name: str) -> str:
    return os.path.join(BUNDLED_DIR, f"{name}.yml")


def bundled_document(name: str) -> Document:
    """The bundled file name as a loaded document (a broken bundled file is a packaging bug: it raises)."""
    report = Report()
    docs = load_file(bundled_path(name), report, display=f"<bundled>/dashboards/{name}.yml")
    report.raise_if_errors()
    if len(docs) != 1 or docs[0].kind != "Dashboard":
        raise ValueError(f"{bundled_path(name)}: expected one Dashboard document")
    docs[0].source = f"promspec:dashboards/{name}.yml"
    return docs[0]


@functools.cache
def _read(name: str) -> Dashboard:
    # Parsed once per process: a project makes each at most once, a test session many times.
    return dashboard_from_document(bundled_document(name))


def bundled_title(name: str) -> str:
    return _read(name).title


def bundled_dashboard(name: str, ref: Ref) -> Dashboard:
    """The bundled dashboard name, generated, with every Ref (and the source header) at ref."""
    dash = _read(name)
    return replace(
        dash,
        ref=ref,
        variables=[replace(v, ref=ref) for v in dash.variables],
        links=list(dash.links),
        rows=[_row(row, ref) for row in dash.rows],
        source=ref.doc.source or ref.doc.file,
        generated=True,
    )


def _row(row: Row, ref: Ref) -> Row:
    return replace(row, ref=ref, panels=[_panel(p, ref) for p in row.panels])


def _panel(panel: Panel, ref: Ref) -> Panel:
    return replace(panel, ref=ref, queries=[_query(q, ref) for q in panel.queries])


def _query(query: Query, ref: Ref) -> Query:
    return replace(query, ref=ref)
