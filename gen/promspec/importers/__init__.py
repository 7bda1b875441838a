"""Sloth and OpenSLO documents converted to promspec Service documents."""

from __future__ import annotations

from ..diagnostics import Report
from ..spec.loader import Document, dotted
from . import openslo, sloth


def convert_foreign(docs: list[Document], report: Report) -> list[Document]:
    """Replace Sloth and OpenSLO documents by promspec ones; what cannot be converted is a warning."""
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
        converted += out
        notes += found
    if openslo_docs:
        out, found = openslo.convert_all(openslo_docs)
        converted += out
        notes += found
    for note in notes:
        report.warn(note.doc.pos(note.path, key=True), f"not converted: {note.message}", dotted(note.path),
                    "a construct promspec can express (see docs/SLO.md)")
    return native + converted


def import_documents(docs: list[Document], fmt: str, report: Report) -> list[Document]:
    """Convert documents of one declared format (sloth or openslo); others are an error."""
    check = sloth.is_sloth if fmt == "sloth" else openslo.is_openslo
    for doc in docs:
        if not check(doc.data):
            report.error(doc.pos(()), f"not {'an' if fmt == 'openslo' else 'a'} {fmt} document", "",
                         "Sloth `version: prometheus/v1` or `sloth.slok.dev/v1` PrometheusServiceLevel"
                         if fmt == "sloth" else "an `apiVersion: openslo/v1` SLO, SLI or AlertPolicy")
    report.raise_if_errors()
    return convert_foreign(docs, report)
