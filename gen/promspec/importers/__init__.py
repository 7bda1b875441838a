"""Sloth and OpenSLO documents converted to promspec Service documents."""

from __future__ import annotations

import re

from ..diagnostics import Report
from ..spec.loader import Document, dotted
from ..spec.services import SLOTH_SPEC_ANNOTATION
from . import openslo, sloth
from .common import API, Note, query_metrics

FORMATS = {"sloth": "Sloth", "openslo": "OpenSLO"}


def _report(notes: list[Note], report: Report) -> None:
    for note in notes:
        if note.error:
            report.error(note.doc.pos(note.path), note.message, dotted(note.path), note.expected)
        else:
            report.warn(note.doc.pos(note.path, key=True), f"not converted: {note.message}", dotted(note.path),
                        note.expected or "a construct promspec can express (see docs/migrating.md)")


def catalogued(docs: list[Document]) -> set[str]:
    """Sample names the Catalog documents among docs already declare (with their type's suffixes)."""
    suffixes = {"counter": ("", "_total"), "histogram": ("", "_bucket", "_count", "_sum"),
                "summary": ("", "_count", "_sum")}
    names: set[str] = set()
    for doc in docs:
        if doc.kind != "Catalog" or not isinstance(doc.data.get("spec"), dict):
            continue
        for metric in doc.data["spec"].get("metrics") or []:
            if isinstance(metric, dict) and isinstance(metric.get("name"), str):
                names.update(metric["name"] + s for s in suffixes.get(str(metric.get("type")), ("",)))
        names.update(str(n) for n in doc.data["spec"].get("external") or [])
    return names


def external_catalog(service: Document, known: frozenset | set = frozenset()) -> Document | None:
    """A Catalog naming the metrics a converted Service reads as external: foreign input brings no Catalog."""
    names: dict[str, None] = {}
    for slo in service.data["spec"]["slos"]:
        for query in (slo["sli"].get("ratio") or {}).values():
            if isinstance(query, str):
                names.update(dict.fromkeys(n for n in query_metrics(query) if n not in known))
    if not names:
        return None
    stem = re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"{service.name}-{service.file.rsplit('/', 1)[-1]}-{service.index}")
    data = {"apiVersion": API, "kind": "Catalog", "metadata": {"name": f"external-{stem.strip('-.')}"},
            "spec": {"external": sorted(names)}}
    doc = Document(service.file, service.index, data, source=service.source, lines=service.lines)
    doc.positions[()] = service.positions.get((), (0, 0))
    return doc


def convert_foreign(docs: list[Document], report: Report, catalogs: bool = True) -> list[Document]:
    """Replace Sloth and OpenSLO documents by promspec ones; what cannot be converted is a warning or an error.

    With catalogs, each converted file also gets a Catalog of its metrics as external, and one warning
    that says so: `promspec generate` on a Sloth file works without a Catalog, as `sloth generate` does."""
    native, sloth_docs, openslo_docs = [], [], []
    for doc in docs:
        if sloth.is_sloth(doc.data):
            sloth_docs.append(doc)
        elif openslo.is_openslo(doc.data):
            openslo_docs.append(doc)
        else:
            native.append(doc)
    converted, notes = [], []
    for doc in sloth_docs:
        out, found = sloth.convert(doc)
        converted += [out] if out is not None else []
        notes += found
    if openslo_docs:
        out_docs, found = openslo.convert_all(openslo_docs)
        converted += out_docs
        notes += found
        wrong_input = any(n.error for n in found)
        if not out_docs:
            # Nothing converts: each reason is an error, not a warning beside an empty output.
            for note in found:
                note.error = True
        if not out_docs and not wrong_input:
            notes.append(Note(openslo_docs[0], (), "no OpenSLO SLO could be converted: nothing would be generated",
                              True, "an SLO with a ratioMetric indicator"))
    _report(notes, report)
    extra = []
    if catalogs:
        warned: set[str] = set()
        known = catalogued(native)
        for doc in converted:
            catalog = external_catalog(doc, known)
            if catalog is None:
                continue
            extra.append(catalog)
            if doc.file not in warned:
                warned.add(doc.file)
                report.warn(doc.pos(()), "foreign input: the metrics its queries read are treated as external "
                            f"(not checked against a Catalog): {', '.join(catalog.data['spec']['external'])}",
                            "", "a Catalog listing them, to have their names and labels checked")
    return native + converted + extra


def import_documents(docs: list[Document], fmt: str, report: Report) -> list[Document]:
    """Convert documents of one declared format (sloth or openslo); others are an error."""
    check = sloth.is_sloth if fmt == "sloth" else openslo.is_openslo
    for doc in docs:
        if not check(doc.data):
            report.error(doc.pos(()), f"not {'an' if fmt == 'openslo' else 'a'} {fmt} document", "",
                         "Sloth `version: prometheus/v1` or `sloth.slok.dev/v1` PrometheusServiceLevel"
                         if fmt == "sloth" else "an `apiVersion: openslo/v1` or `openslo/v1alpha` SLO, SLI or "
                         "AlertPolicy")
    report.raise_if_errors()
    return convert_foreign(docs, report, catalogs=False)


def adopt_promspec(doc: Document) -> Document:
    """A converted Service switched to promspec's conventions, with the extras written out as fields.

    Every extra is explicit so that adopting them is a visible diff against the `keep` import."""
    data = doc.data
    if not isinstance(data.get("spec"), dict) or data["spec"].get("conventions") != "sloth":
        return doc
    data["spec"].pop("conventions")
    (data["metadata"].get("annotations") or {}).pop(SLOTH_SPEC_ANNOTATION, None)
    if not data["metadata"].get("annotations"):
        data["metadata"].pop("annotations", None)
    for slo in data["spec"]["slos"]:
        alerting = slo.setdefault("alerting", {})
        tiers = alerting.setdefault("tiers", {})
        for name in ("page-fast", "page-slow", "ticket-fast", "ticket-slow"):
            tiers.setdefault(name, {}).setdefault("enabled", True)
        alerting["budget_exhausted"] = {"enabled": True, "severity": "ticket", "for": "5m"}
    return doc
