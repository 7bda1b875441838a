"""Sloth, OpenSLO and Pyrra documents converted to promspec documents."""

from __future__ import annotations

import re

from ..diagnostics import Report
from ..spec.loader import Document, dotted
from ..spec.services import SLOTH_SPEC_ANNOTATION
from . import openslo, pyrra, sloth
from .common import API, Note, query_metrics

FORMATS = {"sloth": "Sloth", "openslo": "OpenSLO", "pyrra": "Pyrra"}
CHECKS = {"sloth": sloth.is_sloth, "openslo": openslo.is_openslo, "pyrra": pyrra.is_pyrra}
EXPECTED = {
    "sloth": "Sloth `version: prometheus/v1` or `sloth.slok.dev/v1` PrometheusServiceLevel",
    "openslo": "an `apiVersion: openslo/v1` or `openslo/v1alpha` SLO, SLI or AlertPolicy",
    "pyrra": "a `pyrra.dev/v1alpha1` ServiceLevelObjective",
}


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
    doc: Document, known: frozenset | set = frozenset(), recorded: frozenset | set = frozenset()
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
    """Replace Sloth and OpenSLO documents by promspec ones; what cannot be converted is a warning or an error.

    With catalogs, each converted file also gets a Catalog of its metrics as external, and one warning
    that says so: `promspec generate` on a Sloth file works without a Catalog, as `sloth generate` does."""
    native, sloth_docs, openslo_docs = [], [], []
    converted, notes = [], []
    for doc in docs:
        if pyrra.is_pyrra(doc.data):
            out_docs, found = pyrra.convert(doc)
            converted += out_docs
            notes += found
        elif sloth.is_sloth(doc.data):
            sloth_docs.append(doc)
        elif openslo.is_openslo(doc.data):
            openslo_docs.append(doc)
        else:
            native.append(doc)
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
            notes.append(
                Note(
                    openslo_docs[0],
                    (),
                    "no OpenSLO SLO could be converted: nothing would be generated",
                    True,
                    "an SLO with a ratioMetric indicator",
                )
            )
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
    for doc in docs:
        if not CHECKS[fmt](doc.data):
            report.error(doc.pos(()), f"not {'an' if fmt == 'openslo' else 'a'} {fmt} document", "", EXPECTED[fmt])
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
