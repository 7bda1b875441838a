"""Foreign SLO formats converted to promspec documents: one module per format behind one interface.

IMPORTERS is the one table: each entry detects a document of its format and converts all of them
(positions kept, what cannot be converted as notes). convert_foreign walks it for `generate`;
`promspec import FORMAT` uses one entry. To add a format: a module exposing IMPORTER (common.Importer)
and a line here. Plain rule files and PrometheusRule manifests are not converted (they render as
written): model/rule_files.py passes them through.
"""

from __future__ import annotations

import re

from ..diagnostics import Report
from ..model.loader import Document, dotted
from ..model.services import SLOTH_SPEC_ANNOTATION
from . import openslo, pyrra, sloth
from .common import API, Importer, Note, query_metrics

# Detection and output order: a document belongs to the first importer that detects it; the
# converted documents come importer by importer, in this order.
IMPORTERS: dict[str, Importer] = {i.name: i for i in (pyrra.IMPORTER, sloth.IMPORTER, openslo.IMPORTER)}


def _report(notes: list[Note], report: Report) -> None:
    for note in notes:
        if note.error:
            report.error(note.doc.pos(note.path), note.message, dotted(note.path), note.expected)
        else:
            report.warn(
                note.doc.pos(note.path, key=True),
                f"not converted: {note.message}",
                dotted(note.path),
                note.expected or "a construct promspec can express (see docs/migrating.md)",
            )


def catalogued(docs: list[Document]) -> set[str]:
    """Sample names the Catalog documents among docs already declare (with their type's suffixes)."""
    suffixes = {
        "counter": ("", "_total"),
        "histogram": ("", "_bucket", "_count", "_sum"),
        "summary": ("", "_count", "_sum"),
    }
    names: set[str] = set()
    for doc in docs:
        if doc.kind != "Catalog" or not isinstance(doc.data.get("spec"), dict):
            continue
        for metric in doc.data["spec"].get("metrics") or []:
            if isinstance(metric, dict) and isinstance(metric.get("name"), str):
                names.update(metric["name"] + s for s in suffixes.get(str(metric.get("type")), ("",)))
        names.update(str(n) for n in doc.data["spec"].get("external") or [])
    return names


def _queries(doc: Document) -> list[str]:
    spec = doc.data.get("spec") or {}
    if doc.kind == "Service":
        return [
            q for slo in spec.get("slos") or [] for q in (slo["sli"].get("ratio") or {}).values() if isinstance(q, str)
        ]
    return [r["expr"] for r in (spec.get("rules") or spec.get("alerts") or []) if isinstance(r.get("expr"), str)]


def external_catalog(
    doc: Document,
    known: frozenset[str] | set[str] = frozenset(),
    recorded: frozenset[str] | set[str] = frozenset(),
) -> Document | None:
    """A Catalog naming the metrics a converted document reads as external: foreign input brings no Catalog."""
    names: dict[str, None] = {}
    for query in _queries(doc):
        names.update(dict.fromkeys(n for n in query_metrics(query) if n not in known and n not in recorded))
    if not names:
        return None
    stem = re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"{doc.name}-{doc.file.rsplit('/', 1)[-1]}-{doc.index}")
    data = {
        "apiVersion": API,
        "kind": "Catalog",
        "metadata": {"name": f"external-{stem.strip('-.')}"},
        "spec": {"external": sorted(names)},
    }
    doc = Document(doc.file, doc.index, data, source=doc.source, lines=doc.lines)
    doc.positions[()] = doc.positions.get((), (0, 0))
    return doc


def convert_foreign(docs: list[Document], report: Report, catalogs: bool = True) -> list[Document]:
    """Replace documents of a foreign format (IMPORTERS) by promspec ones; what cannot be converted is a
    warning or an error.

    With catalogs, each converted file also gets a Catalog of its metrics as external, and one warning
    that says so: `promspec generate` on a Sloth file works without a Catalog, as `sloth generate` does."""
    native: list[Document] = []
    by_format: dict[str, list[Document]] = {name: [] for name in IMPORTERS}
    for doc in docs:
        found = next((i for i in IMPORTERS.values() if i.detect(doc.data)), None)
        (native if found is None else by_format[found.name]).append(doc)
    converted: list[Document] = []
    notes: list[Note] = []
    for name, importer in IMPORTERS.items():
        if by_format[name]:
            conversion = importer.convert(by_format[name])
            converted += conversion.documents
            notes += conversion.notes
    _report(notes, report)
    extra = []
    first_doc: dict[str, Document] = {}
    if catalogs:
        known = catalogued(native)
        recorded = recorded_series(converted)
        by_file: dict[str, list[str]] = {}
        for doc in converted:
            catalog = external_catalog(doc, known, recorded)
            if catalog is None:
                continue
            extra.append(catalog)
            if doc.file not in by_file:
                by_file[doc.file] = []
                first_doc[doc.file] = doc
            by_file[doc.file] += [n for n in catalog.data["spec"]["external"] if n not in by_file[doc.file]]
        for file, names in by_file.items():
            report.warn(
                first_doc[file].pos(()),
                "foreign input: the metrics its queries read are treated as "
                f"external (not checked against a Catalog): {', '.join(sorted(names))}",
                "",
                "a Catalog listing them, to have their names and labels checked",
            )
    return native + converted + extra


def recorded_series(docs: list[Document]) -> set[str]:
    """Series the converted recording groups record: their readers need no Catalog for them."""
    return {
        str(r.get("record"))
        for d in docs
        if d.kind == "RecordingGroup"
        for r in (d.data.get("spec") or {}).get("rules") or []
    }


def import_documents(docs: list[Document], fmt: str, report: Report) -> list[Document]:
    """Convert documents of one declared format (sloth, openslo or pyrra); others are an error."""
    importer = IMPORTERS[fmt]
    for doc in docs:
        if not importer.detect(doc.data):
            report.error(doc.pos(()), f"not {'an' if fmt == 'openslo' else 'a'} {fmt} document", "", importer.expected)
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
        # A Sloth SLO whose alerts are all disabled stays silent: no budget-exhausted alert either.
        paging = any(tier.get("enabled", True) for tier in tiers.values())
        alerting["budget_exhausted"] = {"enabled": paging, "severity": "ticket", "for": "5m"}
    return doc
