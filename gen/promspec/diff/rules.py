"""Changes to alerts, recording rules and SLOs between two rendered trees, in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import Change, Subject
from .text import flat, load_yaml, selector_words, show

SLO_SERIES_LABELS = ("slo_id", "slo_service", "slo")
RuleKey = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, kw_only=True)
class Placed:
    """A rule and where it sits: file, group and the group's interval."""

    file: str
    group: str
    interval: str
    rule: dict[str, Any]


def is_rule_file(path: str) -> bool:
    return path.startswith("rules/") and path.endswith(".yml") and "/tests/" not in path and ".test." not in path


def _rules(files: dict[str, bytes]) -> dict[RuleKey, Placed]:
    """(kind, name, identifying labels) -> the rule, for every rule in rules/*.yml."""
    out: dict[RuleKey, Placed] = {}
    for path, data in sorted(files.items()):
        if not is_rule_file(path):
            continue
        doc = load_yaml(data)
        for group in (doc.get("groups") if isinstance(doc, dict) else None) or []:
            for rule in group.get("rules") or []:
                kind = "alert" if "alert" in rule else "record"
                labels = rule.get("labels") or {}
                ident = tuple(sorted((k, str(v)) for k, v in labels.items() if k in SLO_SERIES_LABELS + ("burn_tier",)))
                key: RuleKey = (kind, str(rule.get(kind, "")), ident)
                while key in out:  # the same name twice (e.g. per severity): keep both, in file order
                    key = (key[0], key[1], key[2] + (("#", ""),))
                out[key] = Placed(
                    file=path, group=str(group.get("name", "")), interval=str(group.get("interval", "")), rule=rule
                )
    return out


def _subject(kind: str, name: str, ident: tuple[tuple[str, str], ...]) -> Subject:
    labels = dict(ident)
    tier = f" ({labels['burn_tier']})" if "burn_tier" in labels else ""
    word = "alert" if kind == "alert" else "recording rule"
    where = f" of SLO {labels['slo_id']}" if "slo_id" in labels and kind == "record" else ""
    return Subject(
        plain=f"{word} {name}{tier}{where}",
        md=f"{word} `{name}`{tier}{where}",
        extra={"rule": name, "slo": labels.get("slo_id")},
    )


def _slo_subject(slo: str) -> Subject:
    return Subject(plain=f"SLO {slo}", md=f"SLO `{slo}`", extra={"slo": slo})


def compare_rules(base: dict[str, bytes], head: dict[str, bytes]) -> list[Change]:
    """Changes to alerts, recording rules and SLOs between two rendered trees."""
    a, b = _rules(base), _rules(head)
    changes = _slo_changes(a, b)
    explained = {c.slo for c in changes}
    follow: dict[str, list[str]] = {}  # slo_id -> alerts whose expression or wording only follows a changed SLO
    follow_file: dict[str, str] = {}
    for key in sorted(set(a) | set(b)):
        kind, name, ident = key
        section = "Alerts" if kind == "alert" else "Recording rules"
        slo_id = dict(ident).get("slo_id")
        if slo_id and kind == "record":
            continue  # SLO series follow from the SLO; _slo_changes says what changed in words
        who = _subject(kind, name, ident)
        if key not in a:
            changes.append(
                who.change(
                    section=section,
                    file=b[key].file,
                    change="added",
                    message="added",
                    after=flat(b[key].rule.get("expr")),
                )
            )
            continue
        if key not in b:
            changes.append(
                who.change(
                    section=section,
                    file=a[key].file,
                    change="removed",
                    message="removed",
                    before=flat(a[key].rule.get("expr")),
                )
            )
            continue
        pa, pb = a[key], b[key]
        ra, rb = pa.rule, pb.rule
        if slo_id and slo_id in explained:
            derived = {k: v for k, v in rb.items() if k not in ("expr", "annotations")}
            if derived == {k: v for k, v in ra.items() if k not in ("expr", "annotations")} and ra != rb:
                follow.setdefault(slo_id, []).append(who.md.split(" ", 1)[1])
                follow_file[slo_id] = pb.file
                continue
        changes += _rule_changes(who, section, pa, pb)
    for slo_id, subjects in sorted(follow.items()):
        n = len(subjects)
        changes.append(
            _slo_subject(slo_id).change(
                section="SLOs",
                file=follow_file[slo_id],
                change="changed",
                message=f"{n} alert{'s' if n != 1 else ''} follow in expression and wording: " + ", ".join(subjects),
            )
        )
    return changes


def _rule_changes(who: Subject, section: str, pa: Placed, pb: Placed) -> list[Change]:
    ra, rb = pa.rule, pb.rule
    out: list[Change] = []

    def add(message: str, field: str, before: str = "", after: str = "") -> None:
        out.append(
            who.change(
                section=section,
                file=pb.file,
                change="changed",
                message=message,
                field=field,
                before=before,
                after=after,
            )
        )

    if flat(ra.get("expr")) != flat(rb.get("expr")):
        words = selector_words(str(ra.get("expr", "")), str(rb.get("expr", "")))
        add(
            "expression changed" + (": " + "; ".join(words) if words else ""),
            "expr",
            str(ra.get("expr", "")).strip(),
            str(rb.get("expr", "")).strip(),
        )
    for name in ("for", "keep_firing_for"):
        if ra.get(name) != rb.get(name):
            add(
                f"{name} {ra.get(name) or '(none)'} -> {rb.get(name) or '(none)'}",
                name,
                str(ra.get(name) or ""),
                str(rb.get(name) or ""),
            )
    for part in ("labels", "annotations"):
        for k in sorted(set(ra.get(part) or {}) | set(rb.get(part) or {})):
            va, vb = (ra.get(part) or {}).get(k), (rb.get(part) or {}).get(k)
            if va != vb:
                add(
                    f"{part[:-1]} {k}: {show(va)} -> {show(vb)}",
                    f"{part}.{k}",
                    "" if va is None else str(va),
                    "" if vb is None else str(vb),
                )
    if pa.file != pb.file:
        add(f"moved from {pa.file} to {pb.file}", "file", pa.file, pb.file)
    if pa.group != pb.group:
        add(f"moved from group {pa.group} to {pb.group}", "group", pa.group, pb.group)
    elif pa.interval != pb.interval:
        add(
            f"group {pa.group} interval {pa.interval or '(default)'} -> {pb.interval or '(default)'}",
            "interval",
            pa.interval,
            pb.interval,
        )
    return out


def _infos(rules: dict[RuleKey, Placed]) -> dict[str, Placed]:
    return {
        dict(ident)["slo_id"]: placed
        for (kind, name, ident), placed in rules.items()
        if kind == "record" and name == "slo:info" and "slo_id" in dict(ident)
    }


def _slo_text(labels: dict[str, Any]) -> str:
    return ", ".join(f"{k} {labels[k]}" for k in ("objective", "window", "sli", "signal", "threshold") if k in labels)


def _reads_raw_series(expr: str) -> bool:
    """An SLI query proper: it reads the service's own series, not other slo:* recordings."""
    from ..compile.promql import PromQLError, analyse

    try:
        metrics = analyse(expr).metrics
    except PromQLError:
        return False
    return any(not m.startswith("slo:") for m in metrics)


def _slo_changes(a: dict[RuleKey, Placed], b: dict[RuleKey, Placed]) -> list[Change]:
    """SLOs added/removed; what their slo:info labels say changed; the SLI queries' own before and after."""
    ia, ib = _infos(a), _infos(b)
    out: list[Change] = []
    for slo in sorted(set(ia) | set(ib)):
        who = _slo_subject(slo)
        if slo not in ia:
            labels = ib[slo].rule.get("labels") or {}
            out.append(
                who.change(section="SLOs", file=ib[slo].file, change="added", message="added", after=_slo_text(labels))
            )
            continue
        if slo not in ib:
            labels = ia[slo].rule.get("labels") or {}
            out.append(
                who.change(
                    section="SLOs", file=ia[slo].file, change="removed", message="removed", before=_slo_text(labels)
                )
            )
            continue
        la, lb = ia[slo].rule.get("labels") or {}, ib[slo].rule.get("labels") or {}
        file = ib[slo].file
        explained = False
        for k in sorted(set(la) | set(lb)):
            if k not in SLO_SERIES_LABELS and la.get(k) != lb.get(k):
                explained = True
                out.append(
                    who.change(
                        section="SLOs",
                        file=file,
                        change="changed",
                        message=f"{k} {show(la.get(k))} -> {show(lb.get(k))}",
                        field=f"labels.{k}",
                        before=str(la.get(k) or ""),
                        after=str(lb.get(k) or ""),
                    )
                )
        recorded = sorted(
            {key for key in set(a) | set(b) if key[0] == "record" and dict(key[2]).get("slo_id") == slo},
        )
        changed = [key for key in recorded if flat(_expr(a, key)) != flat(_expr(b, key)) and key[1] != "slo:info"]
        sli = [key for key in changed if _reads_raw_series(_expr(a, key)) or _reads_raw_series(_expr(b, key))]
        for key in sli:
            before, after = _expr(a, key), _expr(b, key)
            words = selector_words(before, after)
            out.append(
                who.change(
                    section="SLOs",
                    file=file,
                    change="changed",
                    message=f"SLI query {key[1]} changed" + (": " + "; ".join(words) if words else ""),
                    rule=key[1],
                    field="expr",
                    before=before,
                    after=after,
                )
            )
        rest = [key[1] for key in changed if key not in sli]
        if rest and not explained and not sli:
            out.append(
                who.change(
                    section="SLOs",
                    file=file,
                    change="changed",
                    message="recording rules changed: " + ", ".join(rest),
                )
            )
        elif rest:
            n = len(rest)
            out.append(
                who.change(
                    section="SLOs",
                    file=file,
                    change="changed",
                    message=f"{n} recording rule{'s' if n != 1 else ''} derived from it follow: " + ", ".join(rest),
                )
            )
    return out


def _expr(rules: dict[RuleKey, Placed], key: RuleKey) -> str:
    """The expression of the rule at key, '' when that side lacks it."""
    found = rules.get(key)
    return str(found.rule.get("expr", "")).strip() if found else ""
