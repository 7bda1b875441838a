"""Preset panels that are not drawn because a series they read is in no catalog, and where the cause is
(the catalogued metric a rename most likely made, else the document the dashboard is generated from).

`generate` warns when a rename is likely (a catalogued name is close to the missing one): the panel's
signal vanished. A project whose catalog never listed the metric (part of a catalog, on purpose) gets
the rest of the preset without a warning; `promspec diff` names every left-out panel with its cause."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..diagnostics import Position, Report, suggestions


@dataclass(frozen=True, kw_only=True)
class Vanished:
    """One preset panel left out: the dashboard, the panel, why, and where the cause is."""

    uid: str
    dashboard: str
    row: str
    panel: str
    reason: str  # "it reads X, which no Catalog lists (did you mean 'Y'?)"
    pos: Position
    renamed: bool  # a catalogued name is close to a missing one: most likely a rename


def _catalogued(project: Any) -> dict[str, Any]:
    """Catalogued metric name -> the Ref of its entry."""
    return {m.name: m.ref for catalog in project.catalogs for m in catalog.metrics}


def vanished_panels(project: Any, dashes: list[Any]) -> list[Vanished]:
    """Every preset panel _prune left out of these dashboards, with its cause."""
    names = _catalogued(project)
    out: list[Vanished] = []
    for dash in dashes:
        for dropped in getattr(dash, "dropped", ()):
            pos = dash.ref.pos()
            hints = []
            renamed = False
            for metric in dropped.metrics:
                close = suggestions(metric, names)
                if close:
                    hints.append(f"{metric}, which no Catalog lists (did you mean {close[0]!r}?)")
                    pos = names[close[0]].pos("name")
                    renamed = True
                else:
                    hints.append(f"{metric}, which no Catalog lists")
            out.append(
                Vanished(
                    uid=dash.uid,
                    dashboard=dash.title,
                    row=dropped.row,
                    panel=dropped.title,
                    reason="it reads " + "; ".join(hints),
                    pos=pos,
                    renamed=renamed,
                )
            )
    return out


def warn_vanished(project: Any, dashes: list[Any], report: Report) -> None:
    """A warning per preset panel left out after a likely rename: generate still writes the rest."""
    for v in (v for v in vanished_panels(project, dashes) if v.renamed):
        where = f" in row {v.row!r}" if v.row else ""
        report.warn(
            v.pos,
            f"generated dashboard {v.dashboard!r} ({v.uid}) leaves out panel {v.panel!r}{where}: {v.reason}",
            "",
            f"the metric in a Catalog (spec.metrics or spec.external), or a Dashboard spec of uid {v.uid} of your own",
        )
