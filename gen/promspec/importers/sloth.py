"""Sloth prometheus/v1 (and its PrometheusServiceLevel CRD) -> promspec Service."""

from __future__ import annotations

import re

from ..spec.loader import Document
from .common import API, Draft, Note, percent

SLOTH_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")


def is_sloth(data) -> bool:
    return isinstance(data, dict) and (data.get("version") == "prometheus/v1" or (
        data.get("apiVersion") == "sloth.slok.dev/v1" and data.get("kind") == "PrometheusServiceLevel"))


def _tier_labels(draft: Draft, base: tuple, alert: dict, src: tuple, tiers: tuple, notes, doc) -> None:
    labels = dict(alert.get("labels", {}))
    severity = labels.pop("severity", None)
    for tier in tiers:
        where = base + ("alerting", "tiers", tier)
        if alert.get("disable"):
            draft.put(where + ("enabled",), False, src + ("disable",))
            continue
        if severity:
            if re.fullmatch(r"[a-z][a-z0-9_-]*", str(severity)):
                draft.put(where + ("severity",), str(severity), src + ("labels", "severity"))
            else:
                notes.append(Note(doc, src + ("labels", "severity"),
                                  f"severity {severity!r} is not a promspec severity; kept as label sloth_severity"))
                labels["sloth_severity"] = str(severity)
        if labels:
            draft.put(where + ("labels",), {k: str(v) for k, v in labels.items()}, src + ("labels",))
    if alert.get("annotations"):
        notes.append(Note(doc, src + ("annotations",), "per-alert annotations of page/ticket alerts are not kept: "
                          "promspec writes its own; add them under alerting.annotations"))


def convert(doc: Document) -> tuple[list[Document], list[Note]]:
    """One Sloth document -> one promspec Service document and the notes of what was not converted."""
    data = doc.data
    root: tuple = ()
    if data.get("apiVersion") == "sloth.slok.dev/v1":
        root = ("spec",)
        data = data.get("spec", {})
        name = (doc.data.get("metadata") or {}).get("name") or data.get("service", "service")
    else:
        name = data.get("service", "service")
    notes: list[Note] = []
    draft = Draft(doc, {"apiVersion": API, "kind": "Service"})
    draft.put(("metadata", "name"), str(data.get("service", name)), root + ("service",))
    if data.get("labels"):
        draft.put(("metadata", "labels"), {k: str(v) for k, v in data["labels"].items()}, root + ("labels",))
    out_i = 0
    for i, slo in enumerate(data.get("slos") or []):
        src = root + ("slos", i)
        base = ("spec", "slos", out_i)
        sli = slo.get("sli") or {}
        events = sli.get("events")
        if not events:
            kind = "raw" if "raw" in sli else "plugin" if "plugin" in sli else "unknown"
            notes.append(Note(doc, src + ("sli", kind if kind != "unknown" else ""),
                              f"SLO {slo.get('name')!r}: a {kind} SLI is not converted; promspec needs error and "
                              "total event queries (sli.events) to weight long windows by events"))
            continue
        draft.origins[base] = (doc, src)
        draft.put(base + ("name",), slo.get("name"), src + ("name",))
        if slo.get("description"):
            draft.put(base + ("description",), slo["description"], src + ("description",))
        draft.put(base + ("objective",), percent(doc, src + ("objective",), slo.get("objective"), 1),
                  src + ("objective",))
        draft.put(base + ("window",), "30d")
        draft.put(base + ("sli", "ratio", "errors"), SLOTH_WINDOW.sub("{{window}}", events.get("error_query", "")),
                  src + ("sli", "events", "error_query"))
        draft.put(base + ("sli", "ratio", "total"), SLOTH_WINDOW.sub("{{window}}", events.get("total_query", "")),
                  src + ("sli", "events", "total_query"))
        alerting = slo.get("alerting") or {}
        if alerting.get("name"):
            draft.put(base + ("alerting", "alert_name"), alerting["name"], src + ("alerting", "name"))
        labels = {**{k: str(v) for k, v in (slo.get("labels") or {}).items()},
                  **{k: str(v) for k, v in (alerting.get("labels") or {}).items()}}
        if slo.get("labels"):
            notes.append(Note(doc, src + ("labels",), "SLO labels are put on the alerts only, not on recorded series"))
        if labels:
            draft.put(base + ("alerting", "labels"), labels, src + ("alerting", "labels"))
        if alerting.get("annotations"):
            draft.put(base + ("alerting", "annotations"), {k: str(v) for k, v in alerting["annotations"].items()},
                      src + ("alerting", "annotations"))
        _tier_labels(draft, base, alerting.get("page_alert") or {}, src + ("alerting", "page_alert"),
                     ("page-fast", "page-slow"), notes, doc)
        _tier_labels(draft, base, alerting.get("ticket_alert") or {}, src + ("alerting", "ticket_alert"),
                     ("ticket-fast", "ticket-slow"), notes, doc)
        out_i += 1
    if out_i == 0:
        notes.append(Note(doc, root, "no SLO could be converted; no Service written"))
        return [], notes
    return [draft.document()], notes
