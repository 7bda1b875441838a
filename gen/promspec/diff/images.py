"""Before and after pictures of every changed panel, drawn by `promspec preview`'s renderer."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from .dashboards import panels, read_dashboards
from .model import Change, with_images

PANEL_WIDTH_MIN = 800  # px: narrow stats stay legible, and the page header fits on its lines
PAGE_WIDTH = 1600  # px: the preview's dashboard width, so a panel keeps its proportions


@dataclass(frozen=True, kw_only=True)
class Shot:
    """One panel on one side: its dashboard, the panel JSON, and the PNG it becomes."""

    dash: dict[str, Any]
    panel: dict[str, Any]
    path: str


def _name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-") or "panel"


def single_panel(dash: dict[str, Any], panel: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A dashboard of this one panel at the top left (so the picture is the panel), and its page width."""
    g = dict(panel.get("gridPos") or {})
    w = max(int(g.get("w", 12) or 12), 1)
    width = max(PANEL_WIDTH_MIN, PAGE_WIDTH * w // 24)
    lone = {**panel, "gridPos": {**g, "x": 0, "y": 0, "w": 24}}
    title = f"{dash.get('title', '')}: {panel.get('title', '')}"
    # Without the variables: their chips wrap on a narrow page and push the panel out of the picture.
    return {**dash, "title": title, "panels": [lone], "templating": {"list": []}}, width


def _find(dash: dict[str, Any], title: str | None, panel_id: int | None) -> dict[str, Any] | None:
    for placed in panels(dash):
        p = placed.panel
        if panel_id is not None and p.get("id") == panel_id:
            return p
    for placed in panels(dash):
        if placed.panel.get("title") == title:
            return placed.panel
    return None


def plan_shots(
    changes: list[Change], base: dict[str, bytes], head: dict[str, bytes], directory: str
) -> dict[tuple[str, str], tuple[Shot | None, Shot | None]]:
    """(uid, panel title) -> the before and after shots of each changed panel (None: absent on that side)."""
    a, b = read_dashboards(base), read_dashboards(head)
    out: dict[tuple[str, str], tuple[Shot | None, Shot | None]] = {}
    for c in changes:
        if c.section != "Dashboards" or c.uid is None or c.panel is None or (c.uid, c.panel) in out:
            continue
        stem = f"{_name(c.uid)}-{c.panel_id if c.panel_id is not None else _name(c.panel)}"
        new = _find(b[c.uid].dash, c.panel, c.panel_id) if c.uid in b and c.change != "removed" else None
        # The base panel: the same id, else (renamed, moved to another row) the title the change names.
        old_title = c.before if c.change == "renamed" else c.panel
        old = None
        if c.uid in a:
            old = _find(a[c.uid].dash, old_title, c.panel_id if c.change != "renamed" else None)
            if old is None and new is not None:
                old = _find(a[c.uid].dash, new.get("title"), None)
        if c.change == "added":
            old = None
        before = (
            Shot(dash=a[c.uid].dash, panel=old, path=os.path.join(directory, f"{stem}-before.png")) if old else None
        )
        after = Shot(dash=b[c.uid].dash, panel=new, path=os.path.join(directory, f"{stem}-after.png")) if new else None
        out[(c.uid, c.panel)] = (before, after)
    return out


def render_shot(shot: Shot, prometheus: str | None, time_range: str) -> None:
    """Write shot.path: the panel as `promspec preview` draws it (data from Prometheus when given)."""
    from ..preview.html import page
    from ..preview.render import fetch_data, screenshot

    dash, width = single_panel(shot.dash, shot.panel)
    data = fetch_data(dash, prometheus, time_range) if prometheus else None
    note = f"data: {prometheus}, last {time_range}" if prometheus else "layout only (no --prometheus)"
    text, height = page(dash, data, width, note)
    screenshot(text, shot.path, width, height)


def render_images(
    changes: list[Change],
    base: dict[str, bytes],
    head: dict[str, bytes],
    directory: str,
    prometheus: str | None = None,
    time_range: str = "1h",
    url: str = "",
) -> list[Change]:
    """Draw every changed panel before and after into directory; the changes, with their images named
    (as url + file name when url is given, for a report whose images are published elsewhere)."""
    shots = plan_shots(changes, base, head, directory)
    done: set[str] = set()
    for before, after in shots.values():
        for shot in (before, after):
            if shot is not None and shot.path not in done:
                render_shot(shot, prometheus, time_range)
                done.add(shot.path)

    def named(shot: Shot | None) -> str | None:
        if shot is None:
            return None
        return url.rstrip("/") + "/" + os.path.basename(shot.path) if url else shot.path

    out = []
    for c in changes:
        pair = shots.get((c.uid or "", c.panel or ""))
        out.append(with_images(c, named(pair[0]), named(pair[1])) if pair else c)
    return out
