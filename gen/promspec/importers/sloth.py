"""Sloth prometheus/v1 (and its PrometheusServiceLevel CRD) -> promspec Services that keep Sloth's identity.

The converted Service says `conventions: sloth`: it renders Sloth's alert names, labels and series.
`promspec import sloth --conventions promspec` writes promspec's own conventions instead.
"""

from __future__ import annotations

import re
from typing import Any

from ..model.loader import Document
from ..model.services import SLOTH_SPEC_ANNOTATION
from .common import API, Conversion, Draft, Importer, Note, Path, labels_text, percent

SLOTH_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
K8S = "sloth.slok.dev/v1"
DENOMINATOR_PLUGIN = "sloth.dev/contrib/denominator_corrected_rules/v1"
# Plugins whose work promspec does itself: listing them changes nothing.
BUILTIN_PLUGINS = (
    "sloth.dev/core/sli_rules/v1",
    "sloth.dev/core/metadata_rules/v1",
    "sloth.dev/core/alert_rules/v1",
    "sloth.dev/core/validate/v1",
    "sloth.dev/core/noop/v1",
)
TIERS = {"page": ("page-fast", "page-slow"), "ticket": ("ticket-fast", "ticket-slow")}


# The fields promspec reads, per spelling; any other is a warning at its position, never dropped silently.
_SLO_FIELDS = {"name", "objective", "description", "labels", "sli", "alerting", "plugins"}


def _known(k8s: bool) -> dict[str, set[str]]:
    def pick(snake: str, camel: str) -> str:
        return camel if k8s else snake

    alert = {"disable", "labels", "annotations"}
    return {
        "root": {"service", "labels", "slos", pick("slo_plugins", "sloPlugins")} | (set() if k8s else {"version"}),
        "slo": _SLO_FIELDS,
        "sli": {"events", "raw", "plugin", "denominator_corrected"},
        "events": {
            pick("error_query", "errorQuery"),
            pick("total_query", "totalQuery"),
            pick("success_query", "successQuery"),
        },
        "alerting": {
            "name",
            "labels",
            "annotations",
            pick("page_alert", "pageAlert"),
            pick("ticket_alert", "ticketAlert"),
        },
        "alert": alert,
    }


def is_sloth(data: Any) -> bool:
    return isinstance(data, dict) and (
        data.get("version") == "prometheus/v1"
        or (data.get("apiVersion") == K8S and data.get("kind") == "PrometheusServiceLevel")
    )


def _field(node: Any, snake: str, camel: str, k8s: bool) -> Any:
    """(key as written, value): the CRD spells fields in camelCase, prometheus/v1 in snake_case."""
    if not isinstance(node, dict):
        return snake, None
    key = camel if k8s else snake
    return key, node.get(key)


class _Sloth:
    """One Sloth document, read with its spelling (snake_case or camelCase)."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.k8s = doc.data.get("apiVersion") == K8S
        self.root: Path = ("spec",) if self.k8s else ()
        self.data = doc.data.get("spec") or {} if self.k8s else doc.data
        self.spec_version = K8S if self.k8s else "prometheus/v1"
        self.notes: list[Note] = []

    def field(self, node: Any, snake: str, camel: str | None = None) -> Any:
        return _field(node, snake, camel or snake, self.k8s)

    def note(self, path: Path, message: str, error: bool = False, expected: str = "") -> None:
        self.notes.append(Note(self.doc, path, message, error, expected))

    def unknown(self, node: Any, path: Path, part: str) -> None:
        """A warning for each field of node that promspec does not read."""
        known = _known(self.k8s)[part]
        for key in node if isinstance(node, dict) else ():
            if key not in known:
                self.note(
                    path + (key,),
                    f"Sloth field {key!r} is not implemented by promspec: what it changes is not generated",
                )

    def plugins(self, node: Any, at: Path, key: tuple[str, str]) -> bool:
        """True when the chain holds the denominator-corrected plugin; others are warnings at their position."""
        name, chain_holder = self.field(node, *key)
        chain = (chain_holder or {}).get("chain") if isinstance(chain_holder, dict) else None
        corrected = False
        for j, plugin in enumerate(chain or []):
            where = at + (name, "chain", j, "id")
            pid = str((plugin or {}).get("id", ""))
            if pid == DENOMINATOR_PLUGIN:
                corrected = True
            elif pid not in BUILTIN_PLUGINS:
                self.note(
                    where,
                    f"Sloth plugin {pid!r} is not implemented by promspec: what it would add or change "
                    "is not generated",
                )
        return corrected


def _slo(s: _Sloth, draft: Draft, base: Path, slo: dict[str, Any], src: Path, corrected_everywhere: bool) -> bool:
    """Fill spec.slos[n] from one Sloth SLO; False when it cannot be converted (a note says why)."""
    doc = s.doc
    name = slo.get("name")
    sli = slo.get("sli") or {}
    events_key, events = s.field(sli, "events", "events")
    corrected_key, corrected_sli = s.field(sli, "denominator_corrected", "denominator_corrected")
    corrected = s.plugins(slo, src, ("plugins", "plugins")) or corrected_everywhere
    s.unknown(slo, src, "slo")
    s.unknown(sli, src + ("sli",), "sli")
    if events is None and isinstance(corrected_sli, dict):
        events_key, events, corrected = corrected_key, corrected_sli, True
    if not isinstance(events, dict):
        kind = next((k for k in ("raw", "plugin") if k in sli), "")
        s.note(
            src + ("sli",) + ((kind,) if kind else ()),
            f"SLO {name!r}: a {kind or 'missing'} SLI is not converted; promspec needs error and total event "
            "queries (sli.events)",
            expected="sli.events with error_query and total_query",
        )
        return False
    objective = percent(doc, src + ("objective",), slo.get("objective"), 1)
    if objective is None:
        s.note(
            src + ("objective",),
            f"objective {slo.get('objective')!r} is not a number",
            True,
            "a percentage as a number, such as 99.9 (no % sign, no quotes)",
        )
        return False
    ev = src + ("sli", events_key)
    s.unknown(events, ev, "events")
    error_key, error_query = s.field(events, "error_query", "errorQuery")
    total_key, total_query = s.field(events, "total_query", "totalQuery")
    success_key, success_query = s.field(events, "success_query", "successQuery")
    if not isinstance(total_query, str) or not (isinstance(error_query, str) or isinstance(success_query, str)):
        missing = total_key if not isinstance(total_query, str) else error_key
        s.note(ev, f"SLO {name!r}: the SLI has no {missing}", True, f"{error_key} and {total_key}: PromQL queries")
        return False
    draft.origins[base] = (doc, src)
    draft.put(base + ("name",), name, src + ("name",))
    if slo.get("description"):
        draft.put(base + ("description",), slo["description"], src + ("description",))
    draft.put(base + ("objective",), objective, src + ("objective",))
    draft.put(base + ("window",), "30d")
    if slo.get("labels"):
        draft.put(base + ("labels",), labels_text(doc, src + ("labels",), slo["labels"]), src + ("labels",))
    if isinstance(error_query, str):
        draft.put(base + ("sli", "ratio", "errors"), SLOTH_WINDOW.sub("{{window}}", error_query), ev + (error_key,))
    else:
        # Sloth computes 1 - success/total; errors = total - success is the same ratio.
        draft.put(
            base + ("sli", "ratio", "errors"),
            SLOTH_WINDOW.sub("{{window}}", f"({total_query}) - ({success_query})"),
            ev + (success_key,),
        )
    draft.put(base + ("sli", "ratio", "total"), SLOTH_WINDOW.sub("{{window}}", total_query), ev + (total_key,))
    if corrected:
        draft.put(base + ("sli", "ratio", "denominator_corrected"), True)
    alerting = slo.get("alerting") or {}
    at = src + ("alerting",)
    s.unknown(alerting, at, "alerting")
    if alerting.get("name"):
        draft.put(base + ("alerting", "alert_name"), str(alerting["name"]), at + ("name",))
    if alerting.get("labels"):
        draft.put(
            base + ("alerting", "labels"), labels_text(doc, at + ("labels",), alerting["labels"]), at + ("labels",)
        )
    if alerting.get("annotations"):
        draft.put(
            base + ("alerting", "annotations"),
            labels_text(doc, at + ("annotations",), alerting["annotations"]),
            at + ("annotations",),
        )
    for kind, tiers in TIERS.items():
        key, alert = s.field(alerting, f"{kind}_alert", f"{kind}Alert")
        alert = alert if isinstance(alert, dict) else {}
        where = at + (key,)
        s.unknown(alert, where, "alert")
        for tier in tiers:
            t = base + ("alerting", "tiers", tier)
            if alert.get("disable"):
                draft.put(t + ("enabled",), False, where + ("disable",))
            if alert.get("labels"):
                draft.put(t + ("labels",), labels_text(doc, where + ("labels",), alert["labels"]), where + ("labels",))
            if alert.get("annotations"):
                draft.put(
                    t + ("annotations",),
                    labels_text(doc, where + ("annotations",), alert["annotations"]),
                    where + ("annotations",),
                )
    return True


def convert(doc: Document) -> tuple[Document | None, list[Note]]:
    """One Sloth document -> (a Service document or None, notes).

    A service split across files becomes one Service document per file; build_services merges them."""
    s = _Sloth(doc)
    data = s.data if isinstance(s.data, dict) else {}
    service = str(data.get("service") or doc.name or "service")
    draft = Draft(doc, {"apiVersion": API, "kind": "Service"})
    draft.put(("metadata", "name"), service, s.root + ("service",))
    draft.put(("metadata", "annotations"), {SLOTH_SPEC_ANNOTATION: s.spec_version})
    if data.get("labels"):
        draft.put(("metadata", "labels"), labels_text(doc, s.root + ("labels",), data["labels"]), s.root + ("labels",))
    draft.put(("spec", "conventions"), "sloth")
    corrected_everywhere = s.plugins(data, s.root, ("slo_plugins", "sloPlugins"))
    s.unknown(data, s.root, "root")
    count = 0
    for i, slo in enumerate(data.get("slos") or []):
        if _slo(
            s,
            draft,
            ("spec", "slos", count),
            slo if isinstance(slo, dict) else {},
            s.root + ("slos", i),
            corrected_everywhere,
        ):
            count += 1
    if count == 0:
        wrong_input = any(n.error for n in s.notes)
        for note in s.notes:  # nothing converts: each reason is an error
            note.error = True
        if not wrong_input:
            s.note(
                s.root + ("slos",),
                "no SLO could be converted: nothing would be generated from this file",
                True,
                "at least one SLO with sli.events (error_query and total_query)",
            )
        return None, s.notes
    return draft.document(), s.notes


def convert_documents(docs: list[Document]) -> Conversion:
    """Each Sloth document on its own."""
    out: list[Document] = []
    notes: list[Note] = []
    for doc in docs:
        converted, found = convert(doc)
        out += [converted] if converted is not None else []
        notes += found
    return Conversion(documents=out, notes=notes)


IMPORTER = Importer(
    name="sloth",
    expected="Sloth `version: prometheus/v1` or `sloth.slok.dev/v1` PrometheusServiceLevel",
    detect=is_sloth,
    convert=convert_documents,
)
