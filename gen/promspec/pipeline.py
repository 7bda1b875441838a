"""The one path from spec files to a checked model: load, schema, model, semantics."""

from __future__ import annotations

from typing import Iterable, Mapping

from .check.semantic import check_project
from .diagnostics import Report
from .spec.loader import load_paths
from .spec.model import Project, build_project
from .spec.validate import validate_documents


def load_project(paths: Iterable[str], env: Mapping[str, str] | None = None,
                 strict: bool = False) -> tuple[Project, Report]:
    """Load and check specs; raises SpecError with every problem found."""
    from .check.tools import locate_parse_errors

    report = Report()
    docs = load_paths(list(paths), report)
    good = validate_documents(docs, report)
    report.raise_if_errors()
    project = build_project(good, report, env)
    report.raise_if_errors()
    check_project(project, report, locate=locate_parse_errors)
    if strict:
        for w in report.warnings:
            report.error(w.pos, w.message, w.path, w.expected)
    report.raise_if_errors()
    return project, report
