"""Dashboard documents that reference a Grafana JSON export: `spec: {file: exported/node.json}`.

The export is rendered as it is (uid, title, panels, every key: its identity is kept) into
dashboards/<folder>/<uid>.json, so it is provisioned and diffed with the generated dashboards.
It is checked like `promspec check --lenient`: errors at the JSON file's line:col, lint findings as
warnings. The path is relative to the spec file; a .json export inside specs/ is not read as a spec.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

from ..diagnostics import Position, Report
from .loader import Document

# Where the loaded export rides on its (schema-valid) Dashboard document until the model is built.
# The schema forbids keys it does not know, so no spec can set this one itself.
EXPORT_KEY = "__export__"
# With `file`, the export says what the dashboard is; only where it goes is the spec's to choose.
ALLOWED_WITH_FILE = ("file", "folder")
_INPUT_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _referencing(docs: list[Document]) -> Iterator[tuple[Document, str]]:
    """(document, the export file it names) for each Dashboard spec that names one."""
    for doc in docs:
        spec = doc.data.get("spec") if doc.kind == "Dashboard" else None
        if isinstance(spec, dict) and isinstance(spec.get("file"), str):
            yield doc, spec["file"]


def export_path(doc: Document, file: str) -> str:
    """The referenced file, relative to the directory of the spec file that names it."""
    return os.path.normpath(os.path.join(os.path.dirname(doc.file), file))


def looks_like_export(data: object) -> bool:
    """A Grafana dashboard JSON rather than a spec document: no apiVersion/kind, panels and a title or uid."""
    return (
        isinstance(data, dict)
        and "apiVersion" not in data
        and "kind" not in data
        and ("panels" in data or "__inputs" in data)
        and ("title" in data or "uid" in data)
    )


def without_exports(docs: list[Document], report: Report) -> list[Document]:
    """docs less Grafana exports: those a Dashboard references are read by attach_exports; any
    other is an error that says how to adopt it (rather than "apiVersion missing")."""
    referenced = {os.path.abspath(export_path(doc, file)) for doc, file in _referencing(docs)}
    kept = []
    for doc in docs:
        if os.path.abspath(doc.file) in referenced:
            continue
        if looks_like_export(doc.data):
            report.error(
                doc.pos(()),
                "a Grafana dashboard export, which no Dashboard spec references",
                "",
                "a Dashboard spec naming it (spec: {file: <its path relative to that spec>}), "
                "or the file kept outside the specs directory",
            )
            continue
        kept.append(doc)
    return kept


def attach_exports(docs: list[Document], report: Report) -> None:
    """Read and check every referenced export; attach it to its document (under EXPORT_KEY)."""
    from ..check.dashboards import _EXPECTED, check_file

    for doc, file in _referencing(docs):
        spec = doc.data["spec"]
        for key in spec:
            if key not in ALLOWED_WITH_FILE:
                report.error(
                    doc.pos(("spec", key), key=True),
                    f"{key!r} cannot be set with 'file': the export is rendered as it is",
                    f"spec.{key}",
                    "only file and folder (edit the dashboard in Grafana and export it again)",
                )
        path = export_path(doc, file)
        findings = check_file(path, lenient=True)
        for f in findings:
            pos = Position(f.file, f.line, f.col)
            if f.rule == "read":
                pos = doc.pos(("spec", "file"))
            (report.error if f.severity == "error" else report.warn)(
                pos, f"{f.message} [{f.rule}]", f.path, _EXPECTED.get(f.rule, "what Grafana's dashboard schema accepts")
            )
        if any(f.severity == "error" for f in findings):
            continue
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data.get("uid"), str) or not data["uid"]:
            report.error(
                doc.pos(("spec", "file")),
                f"{file} has no uid",
                "spec.file",
                "an export with its uid (Grafana keys links and provisioning on it)",
            )
            continue
        _warn_unsubstituted_inputs(doc, file, data, report)
        spec[EXPORT_KEY] = data


def _warn_unsubstituted_inputs(doc: Document, file: str, data: dict[str, Any], report: Report) -> None:
    """Provisioning does not fill in `__inputs`: a ${NAME} that is no variable stays literal in Grafana."""
    inputs = [str(i["name"]) for i in data.get("__inputs") or [] if isinstance(i, dict) and i.get("name")]
    variables = {v.get("name") for v in (data.get("templating") or {}).get("list") or [] if isinstance(v, dict)}
    text = json.dumps(data.get("panels", [])) + json.dumps(data.get("templating", {}))
    used = set(_INPUT_REF.findall(text))
    missing = sorted(n for n in inputs if n in used and n not in variables)
    if missing:
        report.warn(
            doc.pos(("spec", "file")),
            f"{file} reads ${{{missing[0]}}}, an import-time input that file provisioning does not substitute",
            "spec.file",
            f"a datasource variable named {missing[0]} in the dashboard, or an export made with "
            "'Export for sharing externally' off",
        )
