"""Preset content that is not drawn because a series it reads is in no catalog, and where the cause is
(the catalogued metric a rename most likely made, else the document the dashboard is generated from).

Three sizes of loss: a whole preset dashboard (nothing it reads is catalogued), a panel, or some of a
panel's queries (the panel is drawn with the others). `generate` warns when a rename is likely: a
catalogued name no preset reads is close to the missing one. A project whose catalog never listed the
metric (part of a catalog, on purpose) gets the rest of the preset without a warning; `promspec diff`
names every loss with its cause."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..diagnostics import Position, Report, suggestions
from ..model.dashboards import Dashboard, DroppedDashboard

Part = Literal["dashboard", "panel", "queries"]


@dataclass(frozen=True, kw_only=True)
class Vanished:
    """Preset content left out: the dashboard, the panel (empty for a whole dashboard), why, and where the
    cause is."""

    uid: str
    dashboard: str
    row: str
    panel: str
    part: Part  # the whole dashboard, the whole panel, or some of the panel's queries
    lost: tuple[str, ...]  # the series that no catalog lists
    reason: str  # "it reads X, which no Catalog lists (did you mean 'Y'?)"
    pos: Position | None  # None: a preset whose anchor metric no catalog lists has no document of its own
    renamed: bool  # a catalogued name is close to a missing one: most likely a rename


def _catalogued(project: Any) -> dict[str, Any]:
    """Catalogued metric name -> the Ref of its entry."""
    return {m.name: m.ref for catalog in project.catalogs for m in catalog.metrics}


def _read_by_presets(dashes: Iterable[Dashboard]) -> set[str]:
    """Every series the generated dashboards still read: none of them can be what a lost series became."""
    from .panel_queries import panel_query

    return {
        name
        for dash in dashes
        if dash.generated
        for _row, panel in dash.panels()
        for q in panel.queries
        if q.expr
        for name in panel_query(q.expr).metrics
    }


def _namespace(metric: str) -> str:
    return re.split(r"[_:]", metric, maxsplit=1)[0]


def _lost_words(metrics: tuple[str, ...], names: Mapping[str, Any]) -> tuple[str, Position | None]:
    """("X, which no Catalog lists (did you mean 'Y'?)", the position of Y), or the words and None when
    no catalogued name is close."""
    hints = []
    pos = None
    for metric in metrics:
        # A rename keeps the metric's namespace (vllm:, promspec_, node_): a close name from another exporter
        # (vllm_request_success_total for llm_request_total) is that exporter's metric, not this one renamed.
        close = [c for c in suggestions(metric, names) if _namespace(c) == _namespace(metric)]
        if close:
            hints.append(f"{metric}, which no Catalog lists (did you mean {close[0]!r}?)")
            pos = pos or names[close[0]].pos("name")
        else:
            hints.append(f"{metric}, which no Catalog lists")
    return "; ".join(hints), pos


def _dashboard_reason(gone: DroppedDashboard, words: str) -> str:
    if gone.anchored:
        return f"it is generated for {words}"
    return f"nothing it reads is catalogued: it reads {words}"


def vanished_panels(project: Any, dashes: list[Dashboard], left_out: Iterable[DroppedDashboard] = ()) -> list[Vanished]:
    """Every preset dashboard, panel and query the pruning left out, with its cause."""
    left_out = list(left_out)
    if not left_out and not any(dash.dropped for dash in dashes):
        return []  # nothing left out: no cause to look for, so no query of every dashboard to read for one
    read = _read_by_presets(dashes)
    names = {name: ref for name, ref in _catalogued(project).items() if name not in read}
    out: list[Vanished] = []
    for gone in left_out:
        words, close = _lost_words(gone.metrics, names)
        out.append(
            Vanished(
                uid=gone.uid,
                dashboard=gone.title,
                row="",
                panel="",
                part="dashboard",
                lost=gone.metrics,
                reason=_dashboard_reason(gone, words),
                pos=close or (gone.ref.pos() if gone.ref else None),
                renamed=close is not None,
            )
        )
    for dash in dashes:
        for dropped in dash.dropped:
            words, close = _lost_words(dropped.metrics, names)
            out.append(
                Vanished(
                    uid=dash.uid,
                    dashboard=dash.title,
                    row=dropped.row,
                    panel=dropped.title,
                    part="queries" if dropped.partial else "panel",
                    lost=dropped.metrics,
                    reason=f"it is drawn without its queries on {words}" if dropped.partial else f"it reads {words}",
                    pos=close or dash.ref.pos(),
                    renamed=close is not None,
                )
            )
    return out


def _message(v: Vanished) -> str:
    where = f" in row {v.row!r}" if v.row else ""
    head = f"generated dashboard {v.dashboard!r} ({v.uid})"
    if v.part == "dashboard":
        return f"{head} is left out: {v.reason}"
    if v.part == "queries":
        return f"{head}, panel {v.panel!r}{where}: {v.reason}"
    return f"{head} leaves out panel {v.panel!r}{where}: {v.reason}"


def warn_vanished(
    project: Any, dashes: list[Dashboard], report: Report, left_out: Iterable[DroppedDashboard] = ()
) -> None:
    """A warning per preset dashboard, panel or query left out after a likely rename: generate still writes
    the rest."""
    for v in vanished_panels(project, dashes, left_out):
        if not v.renamed or v.pos is None:
            continue
        report.warn(
            v.pos,
            _message(v),
            "",
            f"the metric in a Catalog (spec.metrics or spec.external), or a Dashboard spec of uid {v.uid} of your own",
        )
