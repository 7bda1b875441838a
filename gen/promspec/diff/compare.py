"""Semantic differences between two sets of rendered files: rules, alerts, SLOs and dashboards."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import yaml

SECTIONS = ("Alerts", "Recording rules", "SLOs", "Dashboards", "Fleet")  # Fleet: gen/promspec/fleet/diff.py
# Keys Grafana rewrites on every save or export; they say nothing about what a dashboard shows.
VOLATILE = ("id", "version", "iteration", "__inputs", "__requires", "__elements", "gnetId", "created", "updated")
PANEL_VOLATILE = ("pluginVersion",)
VARIABLE_VOLATILE = ("current", "options")
SLO_SERIES_LABELS = ("slo_id", "slo_service", "slo")


@dataclass(frozen=True)
class Change:
    """One change a reviewer should read: where, what, before and after."""

    section: str
    subject: str  # e.g. "alert `HighErrorRate`" or "dashboard **GPU fleet**, panel 'Power draw'"
    message: str  # e.g. "for 5m -> 10m", "expression changed", "added"
    before: str = ""
    after: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------ rules


def _load_yaml(data: bytes):
    try:
        return yaml.safe_load(data) or {}
    except yaml.YAMLError:
        return {}


def _rules(files: dict) -> dict:
    """(kind, name, identifying labels) -> (group name, rule dict) for every rule in rules/*.yml."""
    out = {}
    for path, data in sorted(files.items()):
        if (
            not path.startswith("rules/")
            or not path.endswith(".yml")
            or "/tests/" in path
            or path.endswith(".test.yml")
        ):
            continue
        for group in _load_yaml(data).get("groups") or []:
            for rule in group.get("rules") or []:
                kind = "alert" if "alert" in rule else "record"
                labels = rule.get("labels") or {}
                ident = tuple(sorted((k, str(v)) for k, v in labels.items() if k in SLO_SERIES_LABELS + ("burn_tier",)))
                key = (kind, rule.get(kind, ""), ident)
                while key in out:  # the same name twice (e.g. per severity): keep both, in file order
                    key = key[:2] + (key[2] + (("#", ""),),)
                out[key] = (group.get("name", ""), group.get("interval", ""), rule)
    return out


def _subject(kind: str, name: str, ident: tuple) -> str:
    labels = dict(ident)
    extra = f" ({labels['burn_tier']})" if "burn_tier" in labels else ""
    word = "alert" if kind == "alert" else "recording rule"
    where = f" of SLO {labels['slo_id']}" if "slo_id" in labels and kind == "record" else ""
    return f"{word} `{name}`{extra}{where}"


def _flat(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def compare_rules(base: dict, head: dict) -> list[Change]:
    """Changes to alerts, recording rules and SLOs between two rendered trees."""
    a, b = _rules(base), _rules(head)
    changes: list[Change] = []
    slo_changes = _slo_changes(a, b)
    changes += slo_changes
    explained = {c.subject for c in slo_changes}
    follow: dict = {}  # slo_id -> alerts whose expression or wording only follows a changed SLO
    for key in sorted(set(a) | set(b)):
        kind, name, ident = key
        section = "Alerts" if kind == "alert" else "Recording rules"
        if dict(ident).get("slo_id") and kind == "record":
            continue  # SLO series follow from the SLO; _slo_changes says what changed in words
        subject = _subject(kind, name, ident)
        if key not in a:
            changes.append(Change(section, subject, "added", "", _flat(b[key][2].get("expr"))))
            continue
        if key not in b:
            changes.append(Change(section, subject, "removed", _flat(a[key][2].get("expr")), ""))
            continue
        (ga, ia, ra), (gb, ib, rb) = a[key], b[key]
        slo_id = dict(ident).get("slo_id")
        if slo_id and f"SLO `{slo_id}`" in explained:
            derived = {k: v for k, v in rb.items() if k not in ("expr", "annotations")}
            if derived == {k: v for k, v in ra.items() if k not in ("expr", "annotations")} and ra != rb:
                follow.setdefault(slo_id, []).append(subject)
                continue
        if _flat(ra.get("expr")) != _flat(rb.get("expr")):
            changes.append(
                Change(
                    section,
                    subject,
                    "expression changed",
                    str(ra.get("expr", "")).strip(),
                    str(rb.get("expr", "")).strip(),
                )
            )
        for field in ("for", "keep_firing_for"):
            if ra.get(field) != rb.get(field):
                changes.append(
                    Change(
                        section,
                        subject,
                        f"{field} {ra.get(field) or '(none)'} -> {rb.get(field) or '(none)'}",
                        ra.get(field) or "",
                        rb.get(field) or "",
                    )
                )
        for field in ("labels", "annotations"):
            for k in sorted(set(ra.get(field) or {}) | set(rb.get(field) or {})):
                va, vb = (ra.get(field) or {}).get(k), (rb.get(field) or {}).get(k)
                if va != vb:
                    changes.append(
                        Change(
                            section,
                            subject,
                            f"{field[:-1]} {k}: {_show(va)} -> {_show(vb)}",
                            "" if va is None else str(va),
                            "" if vb is None else str(vb),
                        )
                    )
        if ga != gb or ia != ib:
            if ga != gb:
                changes.append(Change(section, subject, f"moved from group {ga} to {gb}"))
            else:
                changes.append(
                    Change(section, subject, f"group {ga} interval {ia or '(default)'} -> {ib or '(default)'}")
                )
    for slo_id, subjects in sorted(follow.items()):
        changes.append(
            Change(
                "SLOs",
                f"SLO `{slo_id}`",
                f"{len(subjects)} alert{'s' if len(subjects) != 1 else ''} "
                "follow in expression and wording: " + ", ".join(s.split(" ", 1)[1] for s in subjects),
            )
        )
    return changes


def _show(value) -> str:
    if value is None:
        return "(none)"
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _slo_changes(a: dict, b: dict) -> list[Change]:
    """SLOs added/removed, and what their slo:info labels (objective, window, SLI) say changed."""

    def infos(rules):
        return {
            dict(ident)["slo_id"]: rule.get("labels") or {}
            for (kind, name, ident), (_g, _i, rule) in rules.items()
            if kind == "record" and name == "slo:info" and "slo_id" in dict(ident)
        }

    ia, ib = infos(a), infos(b)
    out = []
    for slo in sorted(set(ia) | set(ib)):
        subject = f"SLO `{slo}`"
        if slo not in ia:
            out.append(Change("SLOs", subject, "added", "", _slo_text(ib[slo])))
            continue
        if slo not in ib:
            out.append(Change("SLOs", subject, "removed", _slo_text(ia[slo]), ""))
            continue
        for k in sorted(set(ia[slo]) | set(ib[slo])):
            if k in SLO_SERIES_LABELS:
                continue
            if ia[slo].get(k) != ib[slo].get(k):
                out.append(
                    Change(
                        "SLOs",
                        subject,
                        f"{k} {_show(ia[slo].get(k))} -> {_show(ib[slo].get(k))}",
                        str(ia[slo].get(k) or ""),
                        str(ib[slo].get(k) or ""),
                    )
                )
        recorded_a = {key: r for key, r in a.items() if dict(key[2]).get("slo_id") == slo and key[0] == "record"}
        recorded_b = {key: r for key, r in b.items() if dict(key[2]).get("slo_id") == slo and key[0] == "record"}
        if not any(c.subject == subject for c in out):
            changed = sorted(
                k[1]
                for k in set(recorded_a) | set(recorded_b)
                if _flat(_rule_of(recorded_a, k).get("expr")) != _flat(_rule_of(recorded_b, k).get("expr"))
            )
            if changed:
                out.append(
                    Change(
                        "SLOs",
                        subject,
                        "SLI query changed"
                        if any("sli_" in n for n in changed)
                        else "recording rules changed: " + ", ".join(changed),
                    )
                )
    return out


def _rule_of(rules: dict, key: tuple) -> dict:
    """The rule document at key (rules map key -> (group, index, rule)), or {} when that side lacks it."""
    found = rules.get(key)
    return found[2] if found else {}


def _slo_text(labels: dict) -> str:
    return ", ".join(f"{k} {labels[k]}" for k in ("objective", "window", "sli", "signal", "threshold") if k in labels)


# ------------------------------------------------------------------------------ dashboards


def normalise(dash: dict) -> dict:
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


def panels(dash: dict) -> list[tuple]:
    """(key, row title, panel) in layout order; key is the panel id, or its title when it has none."""
    out: list[tuple] = []
    row = ""
    for p in dash.get("panels") or []:
        if not isinstance(p, dict):
            continue
        if p.get("type") == "row":
            row = p.get("title", "")
            out.extend((_key(q), row, q) for q in p.get("panels") or [] if isinstance(q, dict))
            continue
        out.append((_key(p), row, p))
    return out


def _key(panel: dict):
    return ("id", panel["id"]) if isinstance(panel.get("id"), int) else ("title", panel.get("title", ""))


def _dashboards(files: dict) -> dict:
    out = {}
    for path, data in sorted(files.items()):
        if not path.startswith("dashboards/") or not path.endswith(".json"):
            continue
        try:
            dash = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(dash, dict):
            out[dash.get("uid") or path] = (path, normalise(dash))
    return out


def _lcs_keys(a: list, b: list) -> set:
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


def compare_dashboards(base: dict, head: dict) -> list[Change]:
    """Dashboards added/removed, and per dashboard: settings, variables, panels, queries."""
    a, b = _dashboards(base), _dashboards(head)
    changes: list[Change] = []
    for uid in sorted(set(a) | set(b)):
        if uid not in a:
            changes.append(
                Change("Dashboards", f"dashboard **{b[uid][1].get('title', uid)}** (`{uid}`)", "added", "", b[uid][0])
            )
            continue
        if uid not in b:
            changes.append(
                Change("Dashboards", f"dashboard **{a[uid][1].get('title', uid)}** (`{uid}`)", "removed", a[uid][0], "")
            )
            continue
        changes += _dashboard_changes(uid, a[uid], b[uid])
    return changes


def _dashboard_changes(uid: str, old: tuple, new: tuple) -> list[Change]:
    (path_a, da), (path_b, db) = old, new
    name = f"dashboard **{db.get('title', uid)}**"
    out = []
    if path_a != path_b:
        out.append(Change("Dashboards", name, f"moved from {path_a} to {path_b}"))
    for field in ("title", "description", "tags", "refresh", "time", "links", "timezone", "graphTooltip"):
        if da.get(field) != db.get(field):
            out.append(Change("Dashboards", name, f"{field} changed", _short(da.get(field)), _short(db.get(field))))
    va = {v.get("name"): v for v in da["templating"]["list"]}
    vb = {v.get("name"): v for v in db["templating"]["list"]}
    for var in sorted(set(va) | set(vb), key=str):
        if var not in va:
            out.append(Change("Dashboards", f"{name}, variable ${var}", "added", "", _short(vb[var].get("query"))))
        elif var not in vb:
            out.append(Change("Dashboards", f"{name}, variable ${var}", "removed", _short(va[var].get("query")), ""))
        elif va[var] != vb[var]:
            keys = sorted(k for k in set(va[var]) | set(vb[var]) if va[var].get(k) != vb[var].get(k))
            out.append(
                Change(
                    "Dashboards",
                    f"{name}, variable ${var}",
                    "changed: " + ", ".join(keys),
                    _short(va[var].get("query")),
                    _short(vb[var].get("query")),
                )
            )
    pa, pb = panels(da), panels(db)
    ma = {k: (row, p) for k, row, p in pa}
    mb = {k: (row, p) for k, row, p in pb}
    common_a = [k for k, _r, _p in pa if k in mb]
    common_b = [k for k, _r, _p in pb if k in ma]
    steady = _lcs_keys(common_a, common_b)
    for key, row, p in pb:
        if key not in ma:
            out.append(
                Change(
                    "Dashboards",
                    f"{name}, panel '{p.get('title', '')}'",
                    f"added to row '{row}'" if row else "added",
                    "",
                    _queries_text(p),
                )
            )
    for key, _row, p in pa:
        if key not in mb:
            out.append(Change("Dashboards", f"{name}, panel '{p.get('title', '')}'", "removed", _queries_text(p), ""))
    for key, row, p in pb:
        if key not in ma:
            continue
        row_a, q = ma[key]
        subject = f"{name}, panel '{p.get('title', '')}'"
        if row_a != row:
            out.append(Change("Dashboards", subject, f"moved from row '{row_a}' to '{row}'"))
        elif key not in steady:
            out.append(Change("Dashboards", subject, "moved"))
        out += _panel_changes(subject, q, p)
    return out


def _panel_changes(subject: str, old: dict, new: dict) -> list[Change]:
    out = []
    if old.get("title") != new.get("title"):
        out.append(Change("Dashboards", subject, f"renamed from '{old.get('title', '')}'"))
    if old.get("type") != new.get("type"):
        out.append(Change("Dashboards", subject, f"type {old.get('type')} -> {new.get('type')}"))
    da = (old.get("fieldConfig") or {}).get("defaults") or {}
    dn = (new.get("fieldConfig") or {}).get("defaults") or {}
    for field in ("unit", "decimals", "min", "max"):
        if da.get(field) != dn.get(field):
            out.append(Change("Dashboards", subject, f"{field} {_show(da.get(field))} -> {_show(dn.get(field))}"))
    if da.get("thresholds") != dn.get("thresholds"):
        out.append(
            Change(
                "Dashboards", subject, "thresholds changed", _steps(da.get("thresholds")), _steps(dn.get("thresholds"))
            )
        )
    ga, gn = old.get("gridPos") or {}, new.get("gridPos") or {}
    if (ga.get("w"), ga.get("h")) != (gn.get("w"), gn.get("h")):
        out.append(Change("Dashboards", subject, f"size {ga.get('w')}x{ga.get('h')} -> {gn.get('w')}x{gn.get('h')}"))
    for field in ("description", "options", "transformations", "links"):
        if old.get(field) != new.get(field):
            out.append(
                Change("Dashboards", subject, f"{field} changed", _short(old.get(field)), _short(new.get(field)))
            )
    ta = {t.get("refId", str(i)): t for i, t in enumerate(old.get("targets") or []) if isinstance(t, dict)}
    tn = {t.get("refId", str(i)): t for i, t in enumerate(new.get("targets") or []) if isinstance(t, dict)}
    for ref in sorted(set(ta) | set(tn)):
        label = f"query {ref}"
        if ref not in ta:
            out.append(Change("Dashboards", subject, f"{label} added", "", tn[ref].get("expr", "")))
        elif ref not in tn:
            out.append(Change("Dashboards", subject, f"{label} removed", ta[ref].get("expr", ""), ""))
        else:
            if ta[ref].get("expr") != tn[ref].get("expr"):
                out.append(
                    Change(
                        "Dashboards",
                        subject,
                        f"{label}: expression changed",
                        ta[ref].get("expr", ""),
                        tn[ref].get("expr", ""),
                    )
                )
            if ta[ref].get("legendFormat") != tn[ref].get("legendFormat"):
                out.append(
                    Change(
                        "Dashboards",
                        subject,
                        f"{label}: legend {_show(ta[ref].get('legendFormat'))} -> {_show(tn[ref].get('legendFormat'))}",
                    )
                )
            rest = sorted(
                k
                for k in set(ta[ref]) | set(tn[ref])
                if k not in ("expr", "legendFormat") and ta[ref].get(k) != tn[ref].get(k)
            )
            if rest:
                out.append(Change("Dashboards", subject, f"{label}: {', '.join(rest)} changed"))
    return out


def _steps(thresholds) -> str:
    steps = (thresholds or {}).get("steps") or []
    return ", ".join(f"{s.get('color')}@{'base' if s.get('value') is None else s.get('value')}" for s in steps)


def _queries_text(panel: dict) -> str:
    return "\n".join(t.get("expr", "") for t in panel.get("targets") or [] if isinstance(t, dict))


def _short(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value is not None else ""


def compare(base: dict, head: dict) -> list[Change]:
    """Every semantic change from base to head, grouped by section in a stable order."""
    from ..fleet.diff import compare_fleet  # fleet/ (issue 16): files per cluster and global tier

    changes = compare_rules(base, head) + compare_dashboards(base, head) + compare_fleet(base, head)
    order = {s: i for i, s in enumerate(SECTIONS)}
    return sorted(changes, key=lambda c: order[c.section])
