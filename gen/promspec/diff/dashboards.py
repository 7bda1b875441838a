"""Changes to Grafana dashboards in words: settings, variables, panels (matched by id, then by query or
place, so a rename reads as a rename) and queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .model import Change, Subject
from .text import leaf_changes, selector_words, show, text_of

# Keys Grafana rewrites on every save or export; they say nothing about what a dashboard shows.
VOLATILE = ("id", "version", "iteration", "__inputs", "__requires", "__elements", "gnetId", "created", "updated")
VARIABLE_VOLATILE = ("current", "options")
SETTINGS = ("title", "description", "tags", "refresh", "time", "links", "timezone", "graphTooltip")
# Panel fields said in their own words; every other field is compared as nested leaves.
OWN_WORDS = ("id", "title", "type", "gridPos", "targets", "pluginVersion", "panels", "collapsed")
SECTION = "Dashboards"


def normalise(dash: dict[str, Any]) -> dict[str, Any]:
    """A dashboard without what changes on every export: ids, versions, variable selections."""
    out = {k: v for k, v in dash.items() if k not in VOLATILE}
    templating = out.get("templating") or {}
    out["templating"] = {
        "list": [
            {k: v for k, v in var.items() if k not in VARIABLE_VOLATILE}
            for var in templating.get("list") or []
            if isinstance(var, dict)
        ]
    }
    return out


@dataclass(frozen=True, kw_only=True)
class Placed:
    """A panel with its row and its key (its id, or its title when it has none)."""

    key: tuple[str, Any]
    row: str
    panel: dict[str, Any]


def panels(dash: dict[str, Any]) -> list[Placed]:
    """Every panel in layout order, with its row title."""
    out: list[Placed] = []
    row = ""
    for p in dash.get("panels") or []:
        if not isinstance(p, dict):
            continue
        if p.get("type") == "row":
            row = p.get("title", "")
            out.extend(Placed(key=_key(q), row=row, panel=q) for q in p.get("panels") or [] if isinstance(q, dict))
            continue
        out.append(Placed(key=_key(p), row=row, panel=p))
    return out


def _key(panel: dict[str, Any]) -> tuple[str, Any]:
    return ("id", panel["id"]) if isinstance(panel.get("id"), int) else ("title", panel.get("title", ""))


@dataclass(frozen=True, kw_only=True)
class Side:
    path: str
    dash: dict[str, Any]


def read_dashboards(files: dict[str, bytes]) -> dict[str, Side]:
    """uid -> (path, normalised dashboard) for every dashboards/**.json."""
    out: dict[str, Side] = {}
    for path, data in sorted(files.items()):
        if not path.startswith("dashboards/") or not path.endswith(".json"):
            continue
        try:
            dash = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(dash, dict):
            out[str(dash.get("uid") or path)] = Side(path=path, dash=normalise(dash))
    return out


def is_dashboard_file(path: str) -> bool:
    return path.startswith("dashboards/") and path.endswith(".json")


def _lcs_keys(a: list[Any], b: list[Any]) -> set[Any]:
    """Keys on a longest common subsequence of two orders: the panels that did not move."""
    m, n = len(a), len(b)
    table = [[0] * (n + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
    keep, i, j = set(), 0, 0
    while i < m and j < n:
        if a[i] == b[j]:
            keep.add(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return keep


def compare_dashboards(base: dict[str, bytes], head: dict[str, bytes]) -> list[Change]:
    """Dashboards added/removed, and per dashboard: settings, variables, panels, queries."""
    a, b = read_dashboards(base), read_dashboards(head)
    changes: list[Change] = []
    for uid in sorted(set(a) | set(b)):
        side = b.get(uid) or a[uid]
        title = side.dash.get("title", uid)
        who = Subject(plain=f"dashboard '{title}' ({uid})", md=f"dashboard **{title}** (`{uid}`)", extra={"uid": uid})
        if uid not in a:
            changes.append(
                who.change(section=SECTION, file=side.path, change="added", message="added", after=side.path)
            )
        elif uid not in b:
            changes.append(
                who.change(section=SECTION, file=side.path, change="removed", message="removed", before=side.path)
            )
        else:
            changes += _dashboard_changes(uid, a[uid], b[uid])
    return changes


def _dashboard_changes(uid: str, old: Side, new: Side) -> list[Change]:
    da, db = old.dash, new.dash
    title = db.get("title", uid)
    who = Subject(plain=f"dashboard '{title}'", md=f"dashboard **{title}**", extra={"uid": uid})
    file = new.path
    out: list[Change] = []
    if old.path != new.path:
        out.append(
            who.change(
                section=SECTION,
                file=file,
                change="moved",
                message=f"moved from {old.path} to {new.path}",
                field="path",
                before=old.path,
                after=new.path,
            )
        )
    for name in SETTINGS:
        if da.get(name) != db.get(name):
            out.append(
                who.change(
                    section=SECTION,
                    file=file,
                    change="changed",
                    message=f"{name} changed",
                    field=name,
                    before=text_of(da.get(name)),
                    after=text_of(db.get(name)),
                )
            )
    out += _variable_changes(who, file, da, db)
    out += _row_changes(who, file, da, db)
    out += _panels_changes(who, file, da, db)
    return out


def rows(dash: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's rows, in layout order."""
    return [p for p in dash.get("panels") or [] if isinstance(p, dict) and p.get("type") == "row"]


def match_rows(ra: list[dict[str, Any]], rb: list[dict[str, Any]]) -> list[tuple[int | None, int | None]]:
    """(base index, head index) of each row: paired by id (a row renamed in Grafana keeps it), then by title
    (promspec hashes a row's id from its title); None on the side a row is missing from."""
    pairs: list[tuple[int | None, int | None]] = []
    free_a = list(range(len(ra)))
    for j, row in enumerate(rb):
        same = (
            next((i for i in free_a if isinstance(row.get("id"), int) and ra[i].get("id") == row.get("id")), None)
            if isinstance(row.get("id"), int)
            else None
        )
        if same is None:
            same = next((i for i in free_a if ra[i].get("title") == row.get("title")), None)
        if same is not None:
            free_a.remove(same)
        pairs.append((same, j))
    return [(i, None) for i in free_a] + pairs


def repeat_words(variable: str) -> str:
    """How Grafana draws a row: once, or once per selected value of a variable."""
    return f"once per value of ${variable}" if variable else "once"


def _row_changes(who: Subject, file: str, da: dict[str, Any], db: dict[str, Any]) -> list[Change]:
    """A row's repeat in words: what the panels' changes cannot say (each copy of the row is the same panels)."""
    ra, rb = rows(da), rows(db)
    out: list[Change] = []
    for i, j in match_rows(ra, rb):
        old = ra[i] if i is not None else {}
        new = rb[j] if j is not None else {}
        before, after = str(old.get("repeat") or ""), str(new.get("repeat") or "")
        if before == after:
            continue
        row = new or old
        title = str(row.get("title", ""))
        sub = Subject(
            plain=f"{who.plain}, row '{title}'",
            md=f"{who.md}, row '{title}'",
            extra={**who.extra, "panel_id": row.get("id") if isinstance(row.get("id"), int) else None},
        )
        if j is None:
            kind, message = "removed", f"removed (it was drawn {repeat_words(before)})"
        elif i is None:
            kind, message = "added", f"added, drawn {repeat_words(after)}"
        else:
            kind, message = "changed", f"drawn {repeat_words(after)} (was {repeat_words(before)})"
        out.append(
            sub.change(
                section=SECTION, file=file, change=kind, message=message, field="repeat", before=before, after=after
            )
        )
    return out


def _variable_changes(who: Subject, file: str, da: dict[str, Any], db: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    va = {v.get("name"): v for v in da["templating"]["list"]}
    vb = {v.get("name"): v for v in db["templating"]["list"]}
    for var in sorted(set(va) | set(vb), key=str):
        sub = Subject(plain=f"{who.plain}, variable ${var}", md=f"{who.md}, variable ${var}", extra=who.extra)
        field = f"templating.{var}"
        if var not in va:
            out.append(
                sub.change(
                    section=SECTION,
                    file=file,
                    change="added",
                    message="added",
                    field=field,
                    after=text_of(vb[var].get("query")),
                )
            )
        elif var not in vb:
            out.append(
                sub.change(
                    section=SECTION,
                    file=file,
                    change="removed",
                    message="removed",
                    field=field,
                    before=text_of(va[var].get("query")),
                )
            )
        else:
            for leaf in leaf_changes(va[var], vb[var]):
                out.append(
                    sub.change(
                        section=SECTION,
                        file=file,
                        change="changed",
                        message=f"{leaf.path} changed"
                        if _long(leaf)
                        else f"{leaf.path} {show(leaf.before)} -> {show(leaf.after)}",
                        field=f"{field}.{leaf.path}",
                        before=text_of(leaf.before),
                        after=text_of(leaf.after),
                    )
                )
    return out


def _long(leaf: Any) -> bool:
    return any(len(text_of(v)) > 40 or "\n" in text_of(v) for v in (leaf.before, leaf.after))


def _exprs(panel: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(t.get("expr", "")) for t in panel.get("targets") or [] if isinstance(t, dict))


def _place(panel: dict[str, Any]) -> tuple[Any, ...]:
    g = panel.get("gridPos") or {}
    return (panel.get("type"), g.get("x"), g.get("y"), g.get("w"), g.get("h"))


def _same_queries(x: Placed, y: Placed) -> bool:
    return bool(_exprs(x.panel)) and _exprs(x.panel) == _exprs(y.panel) and x.panel.get("type") == y.panel.get("type")


def _same_place(x: Placed, y: Placed) -> bool:
    return _place(x.panel) == _place(y.panel) and x.row == y.row


def match_panels(pa: list[Placed], pb: list[Placed]) -> dict[tuple[str, Any], tuple[str, Any]]:
    """head key -> base key for panels that are the same panel: same id; else (ids hash titles, so a rename
    or a move to another row changes the id) the same queries, or the same type and place with the same
    title or queries. Each base panel pairs once."""
    ka = {p.key for p in pa}
    pairs = {p.key: p.key for p in pb if p.key in ka}
    free_a = [p for p in pa if p.key not in pairs.values()]
    free_b = [p for p in pb if p.key not in pairs]
    for same in (_same_queries, _same_place):
        for q in list(free_b):
            found = next((p for p in free_a if same(p, q)), None)
            if found is not None:
                pairs[q.key] = found.key
                free_a.remove(found)
                free_b.remove(q)
    return pairs


def _panel_subject(who: Subject, panel: dict[str, Any]) -> Subject:
    title = panel.get("title", "")
    pid = panel.get("id") if isinstance(panel.get("id"), int) else None
    return Subject(
        plain=f"{who.plain}, panel '{title}'",
        md=f"{who.md}, panel '{title}'",
        extra={**who.extra, "panel_id": pid, "panel": title},
    )


def _panels_changes(who: Subject, file: str, da: dict[str, Any], db: dict[str, Any]) -> list[Change]:
    pa, pb = panels(da), panels(db)
    pairs = match_panels(pa, pb)
    ma = {p.key: p for p in pa}
    paired_b = [p for p in pb if p.key in pairs]
    order_a = [p.key for p in pa if p.key in set(pairs.values())]
    order_b = [pairs[p.key] for p in paired_b]
    steady = _lcs_keys(order_a, order_b)
    out: list[Change] = []
    for p in pb:
        if p.key not in pairs:
            out.append(
                _panel_subject(who, p.panel).change(
                    section=SECTION,
                    file=file,
                    change="added",
                    message=f"added to row '{p.row}'" if p.row else "added",
                    after="\n".join(_exprs(p.panel)),
                )
            )
    for p in pa:
        if p.key not in set(pairs.values()):
            out.append(
                _panel_subject(who, p.panel).change(
                    section=SECTION, file=file, change="removed", message="removed", before="\n".join(_exprs(p.panel))
                )
            )
    for p in paired_b:
        q = ma[pairs[p.key]]
        sub = _panel_subject(who, p.panel)
        if q.panel.get("title") != p.panel.get("title"):
            out.append(
                sub.change(
                    section=SECTION,
                    file=file,
                    change="renamed",
                    message=f"renamed from '{q.panel.get('title', '')}'",
                    field="title",
                    before=str(q.panel.get("title", "")),
                    after=str(p.panel.get("title", "")),
                )
            )
        if q.row != p.row:
            out.append(
                sub.change(
                    section=SECTION,
                    file=file,
                    change="moved",
                    message=f"moved from row '{q.row}' to '{p.row}'",
                    field="row",
                    before=q.row,
                    after=p.row,
                )
            )
        elif q.key not in steady:
            out.append(sub.change(section=SECTION, file=file, change="moved", message="moved", field="gridPos"))
        out += _panel_changes(sub, file, q.panel, p.panel)
    return out


def _panel_changes(sub: Subject, file: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out: list[Change] = []

    def add(message: str, field: str, before: Any = None, after: Any = None) -> None:
        out.append(
            sub.change(
                section=SECTION,
                file=file,
                change="changed",
                message=message,
                field=field,
                before=text_of(before),
                after=text_of(after),
            )
        )

    if old.get("type") != new.get("type"):
        add(f"type {old.get('type')} -> {new.get('type')}", "type", old.get("type"), new.get("type"))
    ga, gn = old.get("gridPos") or {}, new.get("gridPos") or {}
    if (ga.get("w"), ga.get("h")) != (gn.get("w"), gn.get("h")):
        add(f"size {ga.get('w')}x{ga.get('h')} -> {gn.get('w')}x{gn.get('h')}", "gridPos")
    rest_a = {k: v for k, v in old.items() if k not in OWN_WORDS}
    rest_b = {k: v for k, v in new.items() if k not in OWN_WORDS}
    for leaf in leaf_changes(rest_a, rest_b):
        if leaf.path.endswith("thresholds.steps"):
            add("thresholds changed", leaf.path, _steps(leaf.before), _steps(leaf.after))
        elif leaf.path == "options.content":
            add("text changed", leaf.path, leaf.before, leaf.after)
        elif _long(leaf):
            add(f"{leaf.path} changed", leaf.path, leaf.before, leaf.after)
        else:
            add(f"{leaf.path} {show(leaf.before)} -> {show(leaf.after)}", leaf.path, leaf.before, leaf.after)
    out += _target_changes(sub, file, old, new)
    return out


def _target_changes(sub: Subject, file: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    ta = {t.get("refId", str(i)): t for i, t in enumerate(old.get("targets") or []) if isinstance(t, dict)}
    tn = {t.get("refId", str(i)): t for i, t in enumerate(new.get("targets") or []) if isinstance(t, dict)}
    for ref in sorted(set(ta) | set(tn), key=str):
        label, field = f"query {ref}", f"targets.{ref}"
        if ref not in ta:
            out.append(
                sub.change(
                    section=SECTION,
                    file=file,
                    change="added",
                    message=f"{label} added",
                    field=field,
                    after=str(tn[ref].get("expr", "")),
                )
            )
            continue
        if ref not in tn:
            out.append(
                sub.change(
                    section=SECTION,
                    file=file,
                    change="removed",
                    message=f"{label} removed",
                    field=field,
                    before=str(ta[ref].get("expr", "")),
                )
            )
            continue
        for leaf in leaf_changes(ta[ref], tn[ref]):
            if leaf.path == "expr":
                words = selector_words(str(leaf.before or ""), str(leaf.after or ""))
                message = f"{label}: expression changed" + (": " + "; ".join(words) if words else "")
            elif leaf.path == "legendFormat":
                message = f"{label}: legend {show(leaf.before)} -> {show(leaf.after)}"
            else:
                message = f"{label}: {leaf.path} {show(leaf.before)} -> {show(leaf.after)}"
            out.append(
                sub.change(
                    section=SECTION,
                    file=file,
                    change="changed",
                    message=message,
                    field=f"{field}.{leaf.path}",
                    before=text_of(leaf.before),
                    after=text_of(leaf.after),
                )
            )
    return out


def _steps(steps: Any) -> str:
    steps = steps if isinstance(steps, list) else []
    return ", ".join(f"{s.get('color')}@{'base' if s.get('value') is None else s.get('value')}" for s in steps)
