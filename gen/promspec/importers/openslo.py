"""OpenSLO openslo/v1 SLO, SLI, AlertPolicy and AlertCondition documents -> promspec Services."""

from __future__ import annotations

import promql_parser as pp

from ..spec.loader import Document
from ..spec.model import parse_duration
from .common import API, Draft, Note, percent

KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "Service", "DataSource", "AlertNotificationTarget")
# promspec's tiers by their long window; an OpenSLO burn-rate condition maps onto the one with its lookback.
TIER_BY_WINDOW = {3600: "page-fast", 21600: "page-slow", 86400: "ticket-fast", 259200: "ticket-slow"}


def is_openslo(data) -> bool:
    return isinstance(data, dict) and data.get("apiVersion") == "openslo/v1" and data.get("kind") in KINDS


def _name(doc: Document) -> str:
    return str((doc.data.get("metadata") or {}).get("name", ""))


def _rate_query(query: str, counter: bool) -> str | None:
    """A PromQL events-per-second query over {{window}}, or None when it cannot be built."""
    if not counter:
        return query.strip()
    try:
        tree = pp.parse(query)
    except ValueError:
        return None
    if isinstance(tree, pp.VectorSelector):
        return f"sum(rate({query.strip()}[{{{{window}}}}]))"
    return None


def _query(side: dict) -> str:
    source = (side or {}).get("metricSource") or {}
    spec = source.get("spec") or {}
    return spec.get("query") or spec.get("promql") or ""


class _Index:
    def __init__(self, docs: list[Document]):
        self.by_kind: dict[str, dict[str, Document]] = {}
        for doc in docs:
            self.by_kind.setdefault(doc.data["kind"], {})[_name(doc)] = doc

    def get(self, kind: str, name: str) -> Document | None:
        return self.by_kind.get(kind, {}).get(name)


def _indicator(slo_doc: Document, index: _Index, notes: list) -> tuple[Document, tuple] | None:
    spec = slo_doc.data.get("spec") or {}
    if "indicator" in spec:
        return slo_doc, ("spec", "indicator", "spec")
    ref = spec.get("indicatorRef")
    sli = index.get("SLI", ref) if ref else None
    if sli is None:
        notes.append(Note(slo_doc, ("spec", "indicatorRef"), f"SLI {ref!r} not found among the input documents"))
        return None
    return sli, ("spec",)


def _alerting(draft: Draft, base: tuple, slo_doc: Document, index: _Index, notes: list) -> None:
    policies = (slo_doc.data.get("spec") or {}).get("alertPolicies") or []
    if not policies:
        return
    enabled = set()
    for i, entry in enumerate(policies):
        at = ("spec", "alertPolicies", i)
        policy_doc, path = slo_doc, at
        if isinstance(entry, str) or (isinstance(entry, dict) and "alertPolicyRef" in entry):
            ref = entry if isinstance(entry, str) else entry["alertPolicyRef"]
            policy_doc = index.get("AlertPolicy", ref)
            path = ("spec",)
            if policy_doc is None:
                notes.append(Note(slo_doc, at, f"AlertPolicy {ref!r} not found among the input documents"))
                continue
        else:
            path = at + ("spec",)
        policy = policy_doc.data
        for key in path:
            policy = policy[key] if isinstance(policy, (dict, list)) else {}
        for j, cond in enumerate((policy or {}).get("conditions") or []):
            cpath = path + ("conditions", j)
            cond_doc = policy_doc
            if "conditionRef" in cond:
                cond_doc = index.get("AlertCondition", cond["conditionRef"])
                if cond_doc is None:
                    notes.append(Note(policy_doc, cpath, f"AlertCondition {cond['conditionRef']!r} not found"))
                    continue
                cond, cpath = cond_doc.data, ()
            spec = cond.get("spec") or {}
            condition = spec.get("condition") or {}
            where = cpath + ("spec", "condition")
            if condition.get("kind") != "burnrate":
                notes.append(Note(cond_doc, where + ("kind",),
                                  f"condition kind {condition.get('kind')!r} is not converted (only burnrate)"))
                continue
            try:
                seconds = int(parse_duration(str(condition.get("lookbackWindow", ""))))
            except ValueError:
                seconds = -1
            tier = TIER_BY_WINDOW.get(seconds)
            if tier is None:
                notes.append(Note(cond_doc, where + ("lookbackWindow",),
                                  f"lookbackWindow {condition.get('lookbackWindow')!r} is not one of promspec's "
                                  "burn windows (1h, 6h, 1d, 3d); condition not converted"))
                continue
            t = base + ("alerting", "tiers", tier)
            enabled.add(tier)
            draft.put(t + ("enabled",), True)
            if "threshold" in condition:
                draft.put(t + ("burn_rate",), condition["threshold"], where + ("threshold",), cond_doc)
            if condition.get("alertAfter"):
                draft.put(t + ("for",), str(condition["alertAfter"]), where + ("alertAfter",), cond_doc)
            if spec.get("severity"):
                draft.put(t + ("severity",), str(spec["severity"]).lower(), cpath + ("spec", "severity"), cond_doc)
    for tier in TIER_BY_WINDOW.values():
        if tier not in enabled:
            draft.put(base + ("alerting", "tiers", tier, "enabled"), False)


def convert_all(docs: list[Document]) -> tuple[list[Document], list[Note]]:
    """OpenSLO documents -> one promspec Service per OpenSLO service, with notes."""
    index = _Index(docs)
    notes: list[Note] = []
    drafts: dict[str, tuple[Draft, int]] = {}
    for slo_doc in index.by_kind.get("SLO", {}).values():
        spec = slo_doc.data.get("spec") or {}
        service = str(spec.get("service") or _name(slo_doc))
        found = _indicator(slo_doc, index, notes)
        if found is None:
            continue
        sli_doc, sli_path = found
        sli = sli_doc.data
        for key in sli_path:
            sli = sli.get(key) or {}
        ratio = sli.get("ratioMetric")
        if not ratio:
            kind = "thresholdMetric" if "thresholdMetric" in sli else "this indicator"
            notes.append(Note(sli_doc, sli_path, f"{kind} is not converted: promspec SLIs count good/bad events "
                              "(ratioMetric)"))
            continue
        method = spec.get("budgetingMethod", "Occurrences")
        if method != "Occurrences":
            notes.append(Note(slo_doc, ("spec", "budgetingMethod"),
                              f"budgetingMethod {method} is not converted: promspec budgets events (Occurrences)"))
            continue
        windows = spec.get("timeWindow") or [{"duration": "30d", "isRolling": True}]
        if not windows[0].get("isRolling", True):
            notes.append(Note(slo_doc, ("spec", "timeWindow", 0, "isRolling"),
                              "calendar-aligned windows are not converted: promspec windows are rolling"))
            continue
        counter = bool(ratio.get("counter", True))
        side = "bad" if "bad" in ratio else "good"
        bad_or_good = _rate_query(_query(ratio.get(side)), counter)
        total = _rate_query(_query(ratio.get("total")), counter)
        if bad_or_good is None or total is None:
            notes.append(Note(sli_doc, sli_path + ("ratioMetric",), "counter queries must be plain selectors "
                              "(promspec wraps them in sum(rate(...[{{window}}])))"))
            continue
        draft, count = drafts.get(service, (None, 0))
        if draft is None:
            draft = Draft(slo_doc, {"apiVersion": API, "kind": "Service"})
            draft.put(("metadata", "name"), service, ("spec", "service"))
        for k, objective in enumerate(spec.get("objectives") or []):
            base = ("spec", "slos", count)
            draft.origins[base] = (slo_doc, ("spec",))
            name = _name(slo_doc) if k == 0 else f"{_name(slo_doc)}-{k}"
            draft.put(base + ("name",), name, ("metadata", "name"), slo_doc)
            if spec.get("description"):
                draft.put(base + ("description",), spec["description"], ("spec", "description"), slo_doc)
            target = ("spec", "objectives", k, "target")
            if "target" not in objective:
                notes.append(Note(slo_doc, ("spec", "objectives", k), "an objective without target is not converted"))
                continue
            draft.put(base + ("objective",), percent(slo_doc, target, objective["target"], 100), target, slo_doc)
            draft.put(base + ("window",), str(windows[0].get("duration", "30d")), ("spec", "timeWindow", 0, "duration"),
                      slo_doc)
            query_at = sli_path + ("ratioMetric",)
            draft.put(base + ("sli", "ratio", "errors" if side == "bad" else "good"), bad_or_good,
                      query_at + (side,), sli_doc)
            draft.put(base + ("sli", "ratio", "total"), total, query_at + ("total",), sli_doc)
            _alerting(draft, base, slo_doc, index, notes)
            count += 1
        drafts[service] = (draft, count)
    return [d.document() for d, count in drafts.values() if count], notes
