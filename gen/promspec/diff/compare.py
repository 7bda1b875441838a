"""Semantic differences between two sets of rendered files: every file kind `generate` writes."""

from __future__ import annotations

from ..fleet.diff import ROOT as FLEET_ROOT
from ..fleet.diff import compare_fleet
from .configs import ALERTMANAGER, PROMETHEUS, compare_alertmanager, compare_files, compare_prometheus, section_of
from .dashboards import compare_dashboards, is_dashboard_file, normalise, panels
from .model import SECTIONS, Change, Subject
from .rules import compare_rules, is_rule_file
from .text import line_counts

__all__ = ["SECTIONS", "Change", "compare", "normalise", "panels"]
BOOKKEEPING = ".promspec-manifest"  # generate's list of the files it owns: not output anyone reads


def _dedicated(path: str) -> bool:
    """Files a dedicated comparer reads in words."""
    return (
        is_rule_file(path)
        or is_dashboard_file(path)
        or path in (PROMETHEUS, ALERTMANAGER)
        or (path.startswith("prometheus/") and path.endswith(".json"))
        or path.startswith(FLEET_ROOT + "/")
    )


def compare(base: dict[str, bytes], head: dict[str, bytes]) -> list[Change]:
    """Every change from base to head, grouped by section in a stable order. A file whose bytes differ
    with no change in words (a comment, formatting) is still named, with its line counts."""
    base = {p: d for p, d in base.items() if not p.endswith(BOOKKEEPING)}
    head = {p: d for p, d in head.items() if not p.endswith(BOOKKEEPING)}
    paths = sorted(set(base) | set(head))
    changes = (
        compare_rules(base, head)
        + compare_dashboards(base, head)
        + compare_prometheus(base, head)
        + compare_alertmanager(base, head)
        + compare_fleet(base, head)
        + compare_files(base, head, [p for p in paths if not _dedicated(p)])
    )
    told = {c.file for c in changes}
    for path in paths:
        if path in told or base.get(path) == head.get(path):
            continue
        who = Subject(plain=path, md=f"`{path}`")
        if path not in base or path not in head:
            kind = "added" if path not in base else "removed"
            changes.append(who.change(section=section_of(path), file=path, change=kind, message=f"file {kind}"))
            continue
        added, removed = line_counts(base[path], head[path])
        changes.append(
            who.change(
                section=section_of(path),
                file=path,
                change="changed",
                message=f"changed in comments or layout only (+{added} -{removed} lines)",
            )
        )
    order = {s: i for i, s in enumerate(SECTIONS)}
    return sorted(changes, key=lambda c: order[c.section])
