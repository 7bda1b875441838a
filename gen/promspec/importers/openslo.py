"""OpenSLO openslo/v1 (SLO, SLI, AlertPolicy, AlertCondition) and openslo/v1alpha SLO documents -> Services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import promql_parser as pp

from ..compile.promql import parse_duration
from ..model.loader import Document
from .common import API, Conversion, Draft, Importer, Note, Path, percent
from .sloth import SLOTH_WINDOW

VERSIONS = ("openslo/v1", "openslo/v1alpha")
# v1alpha spells a window as a count of units.
UNITS = {"Second": "s", "Minute": "m", "Hour": "h", "Day": "d", "Week": "w"}

KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "Service", "DataSource", "AlertNotificationTarget")
# promspec's tiers by their long window; an OpenSLO burn-rate condition maps onto the one with its lookback.
TIER_BY_WINDOW = {3600: "page-fast", 21600: "page-slow", 86400: "ticket-fast", 259200: "ticket-slow"}


def is_openslo(data: Any) -> bool:
    return isinstance(data, dict) and data.get("apiVersion") in VERSIONS and data.get("kind") in KINDS


def _name(doc: Document) -> str:
    return str((doc.data.get("metadata") or {}).get("name", ""))


def _rate_query(query: str, counter: bool) -> str | None:
    """A PromQL events-per-second query over {{window}}, or None when it cannot be built.

    A query that already holds Sloth's `{{.window}}` placeholder is windowed by its author: only the
    placeholder is translated."""
    if SLOTH_WINDOW.search(query):
        return SLOTH_WINDOW.sub("{{window}}", query).strip()
    if not counter:
        return query.strip()
    try:
        tree = pp.parse(query)
    except ValueError:
        return None
    if isinstance(tree, pp.VectorSelector):
        return f"sum(rate({query.strip()}[{{{{window}}}}]))"
    return None


def _query(side: Any) -> tuple[str, Path]:
    """The query of one side of a ratio and its path below the side (v1: metricSource.spec, v1alpha: flat)."""
    side = side if isinstance(side, dict) else {}
    if isinstance(side.get("query"), str):
        return side["query"], ("query",)
    source = side.get("metricSource") or {}
    spec = source.get("spec") or {}
    for key in ("query", "promql"):
        if isinstance(spec.get(key), str):
            return spec[key], ("metricSource", "spec", key)
    return "", ()


def _window(spec: dict[str, Any], slo_doc: Document, notes: list[Note]) -> tuple[str, Path, bool] | None:
    """(duration, its path, rolling) of the SLO's first time window: v1 timeWindow or v1alpha timeWindows."""
    if "timeWindows" in spec:
        first = (spec.get("timeWindows") or [{}])[0] or {}
        at = ("spec", "timeWindows", 0)
        unit = UNITS.get(str(first.get("unit", "")))
        if unit is None or isinstance(first.get("count"), bool) or not isinstance(first.get("count"), int):
            notes.append(
                Note(
                    slo_doc,
                    at,
                    f"time window {first!r} is not a count of Second, Minute, Hour, Day or Week",
                    True,
                    "count: 30, unit: Day",
                )
            )
            return None
        return f"{first['count']}{unit}", at + ("count",), bool(first.get("isRolling", True))
    first = (spec.get("timeWindow") or [{"duration": "30d", "isRolling": True}])[0] or {}
    return str(first.get("duration", "30d")), ("spec", "timeWindow", 0, "duration"), bool(first.get("isRolling", True))


class _Index:
    def __init__(self, docs: list[Document]):
        self.by_kind: dict[str, dict[str, Document]] = {}
        for doc in docs:
            self.by_kind.setdefault(doc.data["kind"], {})[_name(doc)] = doc

    def get(self, kind: str, name: str) -> Document | None:
        return self.by_kind.get(kind, {}).get(name)


def _indicator(slo_doc: Document, index: _Index, notes: list[Note]) -> tuple[Document, Path] | None:
    spec = slo_doc.data.get("spec") or {}
    if "indicator" in spec:
        return slo_doc, ("spec", "indicator", "spec")
    ref = spec.get("indicatorRef")
    if not ref:
        notes.append(
            Note(
                slo_doc,
                ("spec",),
                "the SLO has neither an inline `indicator` nor an `indicatorRef` naming an SLI document",
            )
        )
        return None
    sli = index.get("SLI", ref)
    if sli is None:
        known = sorted(index.by_kind.get("SLI", {}))
        listed = f"; the input has SLI {', '.join(map(repr, known))}" if known else "; the input has no SLI document"
        notes.append(
            Note(slo_doc, ("spec", "indicatorRef"), f"SLI {ref!r} not found among the input documents{listed}")
        )
        return None
    return sli, ("spec",)


def _alerting(draft: Draft, base: Path, slo_doc: Document, index: _Index, notes: list[Note]) -> None:
    policies = (slo_doc.data.get("spec") or {}).get("alertPolicies") or []
    if not policies:
        return
    enabled = set()
    for i, entry in enumerate(policies):
        at = ("spec", "alertPolicies", i)
        policy_doc: Document | None = slo_doc
        path: Path = at
        if isinstance(entry, str) or (isinstance(entry, dict) and "alertPolicyRef" in entry):
            ref = entry if isinstance(entry, str) else entry["alertPolicyRef"]
            policy_doc = index.get("AlertPolicy", ref)
            path = ("spec",)
            if policy_doc is None:
                notes.append(Note(slo_doc, at, f"AlertPolicy {ref!r} not found among the input documents"))
                continue
        else:
            path = at + ("spec",)
        assert policy_doc is not None
        policy: Any = policy_doc.data
        for key in path:
            if isinstance(policy, list) and isinstance(key, int) and key < len(policy):
                policy = policy[key]
            else:
                policy = policy.get(key) if isinstance(policy, dict) else {}
        for j, cond in enumerate((policy or {}).get("conditions") or []):
            cpath: Path = path + ("conditions", j)
            cond_doc: Document | None = policy_doc
            if "conditionRef" in cond:
                cond_doc = index.get("AlertCondition", cond["conditionRef"])
                if cond_doc is None:
                    notes.append(Note(policy_doc, cpath, f"AlertCondition {cond['conditionRef']!r} not found"))
                    continue
                cond, cpath = cond_doc.data, ()
            assert cond_doc is not None
            spec = cond.get("spec") or {}
            condition = spec.get("condition") or {}
            where = cpath + ("spec", "condition")
            if condition.get("kind") != "burnrate":
                notes.append(
                    Note(
                        cond_doc,
                        where + ("kind",),
                        f"condition kind {condition.get('kind')!r} is not converted (only burnrate)",
                    )
                )
                continue
            try:
                seconds = int(parse_duration(str(condition.get("lookbackWindow", ""))))
            except ValueError:
                seconds = -1
            tier = TIER_BY_WINDOW.get(seconds)
            if tier is None:
                notes.append(
                    Note(
                        cond_doc,
                        where + ("lookbackWindow",),
                        f"lookbackWindow {condition.get('lookbackWindow')!r} is not one of promspec's "
                        "burn windows (1h, 6h, 1d, 3d); condition not converted",
                    )
                )
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


def _ratio(
    objective: dict[str, Any], k: int, slo_doc: Document, indicator: tuple[Document, Path] | None
) -> tuple[Document, Path, dict[str, Any]] | None:
    """(document, path, ratio) of an objective's ratio: v1alpha objectives hold it, v1 reads the SLI."""
    if isinstance(objective.get("ratioMetrics"), dict):
        return slo_doc, ("spec", "objectives", k, "ratioMetrics"), objective["ratioMetrics"]
    if indicator is None:
        return None
    sli_doc, sli_path = indicator
    sli = sli_doc.data
    for key in sli_path:
        sli = sli.get(key) or {}
    if isinstance(sli.get("ratioMetric"), dict):
        return sli_doc, sli_path + ("ratioMetric",), sli["ratioMetric"]
    return None


def _parse_error(doc: Document, ratio_at: Path, sides: Iterable[tuple[str, Path, str]]) -> Note | None:
    """An error at the OpenSLO query that does not parse, rather than at the rule promspec builds from it."""
    from ..compile.promql import PromQLError, parse

    for side, sub, query in sides:
        try:
            parse(query.replace("{{window}}", "5m"))
        except PromQLError as exc:
            return Note(
                doc,
                ratio_at + (side,) + sub,
                f"PromQL parse error in the {side} query: {exc}",
                True,
                "a valid PromQL expression",
            )
    return None


def _slo(slo_doc: Document, index: _Index, draft: Draft, count: int, notes: list[Note]) -> int:
    """Add the objectives of one OpenSLO SLO to draft from spec.slos[count]; the new count."""
    spec = slo_doc.data.get("spec") or {}
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        notes.append(
            Note(
                slo_doc,
                ("spec", "budgetingMethod"),
                f"budgetingMethod {method} is not converted: promspec budgets events (Occurrences)",
            )
        )
        return count
    window = _window(spec, slo_doc, notes)
    if window is None:
        return count
    duration, window_at, rolling = window
    if not rolling:
        notes.append(
            Note(
                slo_doc,
                window_at[:-1] + ("isRolling",),
                "calendar-aligned windows are not converted: promspec windows are rolling",
            )
        )
        return count
    objectives = spec.get("objectives") or []
    alpha = any(isinstance(o, dict) and "ratioMetrics" in o for o in objectives)
    indicator = None if alpha else _indicator(slo_doc, index, notes)
    if indicator is None and not alpha:
        return count
    for k, objective in enumerate(objectives):
        objective = objective if isinstance(objective, dict) else {}
        found = _ratio(objective, k, slo_doc, indicator)
        if found is None:
            where_doc, where = indicator if indicator else (slo_doc, ("spec", "objectives", k))
            node = where_doc.data
            for key in where:
                node = node[key] if isinstance(node, (dict, list)) else {}
            kind = "a thresholdMetric" if isinstance(node, dict) and "thresholdMetric" in node else "this indicator"
            notes.append(
                Note(where_doc, where, f"{kind} is not converted: promspec SLIs count good/bad events (ratioMetric)")
            )
            continue
        ratio_doc, ratio_at, ratio = found
        target_at = ("spec", "objectives", k, "target")
        if "target" not in objective:
            notes.append(Note(slo_doc, ("spec", "objectives", k), "an objective without target is not converted"))
            continue
        objective_text = percent(slo_doc, target_at, objective["target"], 100)
        if objective_text is None:
            notes.append(
                Note(
                    slo_doc, target_at, f"target {objective['target']!r} is not a number", True, "a ratio such as 0.999"
                )
            )
            continue
        counter = bool(ratio.get("counter", ratio.get("incremental", True)))
        side = "bad" if "bad" in ratio else "good"
        side_query, side_sub = _query(ratio.get(side))
        total_query, total_sub = _query(ratio.get("total"))
        bad_or_good = _rate_query(side_query, counter)
        total = _rate_query(total_query, counter)
        if not side_query or not total_query or bad_or_good is None or total is None:
            notes.append(
                Note(
                    ratio_doc,
                    ratio_at,
                    "counter queries must be plain selectors (promspec wraps them in "
                    "sum(rate(...[{{window}}]))) or hold a {{.window}} placeholder",
                )
            )
            continue
        broken = _parse_error(ratio_doc, ratio_at, ((side, side_sub, bad_or_good), ("total", total_sub, total)))
        if broken is not None:
            notes.append(broken)
            continue
        base = ("spec", "slos", count)
        draft.origins[base] = (slo_doc, ("spec",))
        name = _name(slo_doc) if k == 0 else f"{_name(slo_doc)}-{k}"
        draft.put(base + ("name",), name, ("metadata", "name"), slo_doc)
        if spec.get("description"):
            draft.put(base + ("description",), spec["description"], ("spec", "description"), slo_doc)
        draft.put(base + ("objective",), objective_text, target_at, slo_doc)
        draft.put(base + ("window",), duration, window_at, slo_doc)
        draft.put(
            base + ("sli", "ratio", "errors" if side == "bad" else "good"),
            bad_or_good,
            ratio_at + (side,) + side_sub,
            ratio_doc,
        )
        draft.put(base + ("sli", "ratio", "total"), total, ratio_at + ("total",) + total_sub, ratio_doc)
        _alerting(draft, base, slo_doc, index, notes)
        count += 1
    return count


def convert_all(docs: list[Document]) -> tuple[list[Document], list[Note]]:
    """OpenSLO documents -> one promspec Service per OpenSLO service, with notes."""
    index = _Index(docs)
    notes: list[Note] = []
    drafts: dict[str, tuple[Draft, int]] = {}
    for slo_doc in index.by_kind.get("SLO", {}).values():
        spec = slo_doc.data.get("spec") or {}
        service = str(spec.get("service") or _name(slo_doc))
        draft, count = drafts.get(service, (None, 0))
        if draft is None:
            draft = Draft(slo_doc, {"apiVersion": API, "kind": "Service"})
            draft.put(("metadata", "name"), service, ("spec", "service"))
        drafts[service] = (draft, _slo(slo_doc, index, draft, count, notes))
    return [d.document() for d, count in drafts.values() if count], notes


def convert_documents(docs: list[Document]) -> Conversion:
    """OpenSLO documents together (an SLO names its SLI and alert policies in other documents).

    When nothing converts, each reason is an error rather than a warning beside an empty output."""
    out, notes = convert_all(docs)
    if not out:
        wrong_input = any(n.error for n in notes)
        for note in notes:
            note.error = True
        if not wrong_input:
            notes.append(
                Note(
                    docs[0],
                    (),
                    "no OpenSLO SLO could be converted: nothing would be generated",
                    True,
                    "an SLO with a ratioMetric indicator",
                )
            )
    return Conversion(documents=out, notes=notes)


IMPORTER = Importer(
    name="openslo",
    expected="an `apiVersion: openslo/v1` or `openslo/v1alpha` SLO, SLI or AlertPolicy",
    detect=is_openslo,
    convert=convert_documents,
)
