"""Plain Prometheus rule files and PrometheusRule manifests kept in specs/, passed through as they are.

Detection (before schema validation, so no apiVersion is needed):
- a document with a top-level `groups:` and no `apiVersion`/`kind` is a Prometheus rule file;
- `apiVersion: monitoring.coreos.com/v1` with `kind: PrometheusRule` is a prometheus-operator
  manifest, whose `spec.groups` are the rule groups.
Their groups render into rules/<spec file>.yml exactly as written (names, labels, annotations, no
severity added); they are checked like native rules (the fields promtool 2.42 accepts, PromQL with
positions, duplicates, by/on labels), except that a metric no Catalog lists is a warning, once per
file and metric: an adopted file reads what it read before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..compile.promql import parse_duration
from ..diagnostics import Diagnostic, Position, Report, did_you_mean
from .loader import Document, dotted
from .project import Alert, RecordingRule, Ref, Rule, RuleGroup, SpecPath, SpecText

OPERATOR_API = "monitoring.coreos.com/v1"
GROUP_FIELDS = ("name", "interval", "limit", "rules")
RULE_FIELDS = {
    "record": ("record", "expr", "labels"),
    "alert": ("alert", "expr", "for", "keep_firing_for", "labels", "annotations"),
}
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# The semantic check's wording for an uncatalogued metric; an adopted file gets a warning instead.
UNCATALOGUED = re.compile(r"^metric '([^']+)' is not in any Catalog")


@dataclass(frozen=True, kw_only=True)
class PassthroughGroup(RuleGroup):
    """A rule group from a plain rule file or PrometheusRule: rendered from `original`, as written."""

    original: dict[str, Any] = field(default_factory=dict)


def is_rule_file(data: object) -> bool:
    return isinstance(data, dict) and "groups" in data and "apiVersion" not in data and "kind" not in data


def is_prometheus_rule(data: object) -> bool:
    return isinstance(data, dict) and data.get("apiVersion") == OPERATOR_API and data.get("kind") == "PrometheusRule"


def split_rule_documents(docs: list[Document]) -> tuple[list[Document], list[Document]]:
    """(promspec documents, rule-file and PrometheusRule documents)."""
    native: list[Document] = []
    rules: list[Document] = []
    for doc in docs:
        (rules if is_rule_file(doc.data) or is_prometheus_rule(doc.data) else native).append(doc)
    return native, rules


def _groups_path(doc: Document) -> SpecPath:
    return ("spec", "groups") if is_prometheus_rule(doc.data) else ("groups",)


def _at(data: Any, path: SpecPath) -> Any:
    # Document data has whatever shape was written; the checker below decides what it may be.
    for part in path:
        if isinstance(data, dict):
            data = data.get(part) if isinstance(part, str) else None
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:  # `spec: [...]` has no `groups`: the caller reports the missing list, not a TypeError
            data = None
    return data


class _Checker:
    """Shape checks with positions: the fields and values promtool 2.42's rule loader accepts."""

    def __init__(self, doc: Document, report: Report):
        self.doc = doc
        self.report = report
        self.ok = True

    def error(self, path: SpecPath, message: str, expected: str, key: bool = False) -> None:
        self.ok = False
        self.report.error(self.doc.pos(path, key=key), message, dotted(path), expected)

    def unknown(self, node: dict[str, Any], path: SpecPath, allowed: tuple[str, ...], what: str) -> None:
        for key in node:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                self.error(
                    path + (key,),
                    f"field {key!r} is not a field of a {what}{hint}",
                    "one of: " + ", ".join(allowed),
                    key=True,
                )

    def duration(self, node: dict[str, Any], path: SpecPath, name: str) -> None:
        if name in node:
            try:
                parse_duration(node[name])
            except ValueError:
                self.error(
                    path + (name,),
                    f"{name}: {node[name]!r} is not a duration",
                    "a Prometheus duration such as 30s, 5m or 1h30m",
                )

    def strings(self, node: dict[str, Any], path: SpecPath, name: str, label_names: bool) -> None:
        value = node.get(name)
        if value is None:
            return
        if not isinstance(value, dict):
            self.error(path + (name,), f"{name} must be a mapping", f"{name}: {{name: value, ...}}")
            return
        for k, v in value.items():
            if label_names and not _LABEL.match(str(k)):
                self.error(path + (name, k), f"invalid label name {k!r}", "[a-zA-Z_][a-zA-Z0-9_]*", key=True)
            if not isinstance(v, str):
                self.error(
                    path + (name, k), f"{name}.{k} must be a string (got {v!r})", 'a quoted string, e.g. "true" or "5"'
                )

    def rule(self, node: object, path: SpecPath) -> None:
        if not isinstance(node, dict):
            self.error(path, "a rule must be a mapping", "{record: ..., expr: ...} or {alert: ..., expr: ...}")
            return
        kinds = [k for k in ("record", "alert") if k in node]
        if len(kinds) != 1:
            self.error(
                path,
                "a rule has exactly one of record and alert" if kinds else "a rule has no record or alert",
                "record: <metric name> or alert: <name>",
            )
            return
        kind = kinds[0]
        self.unknown(node, path, RULE_FIELDS[kind], "recording rule" if kind == "record" else "alerting rule")
        name = node[kind]
        if kind == "record" and (not isinstance(name, str) or not _METRIC.match(name)):
            self.error(
                path + (kind,), f"invalid recording rule name {name!r}", "a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
            )
        if kind == "alert" and (not isinstance(name, str) or not name.strip()):
            self.error(path + (kind,), "an alert needs a name", "alert: <a non-empty name>")
        if not isinstance(node.get("expr"), str) or not node["expr"].strip():
            self.error(path + ("expr",), "a rule needs an expression", "expr: <PromQL>")
        for name in ("for", "keep_firing_for"):
            self.duration(node, path, name)
        self.strings(node, path, "labels", label_names=True)
        self.strings(node, path, "annotations", label_names=True)

    def group(self, node: object, path: SpecPath) -> None:
        if not isinstance(node, dict):
            self.error(path, "a rule group must be a mapping", "{name: ..., rules: [...]}")
            return
        self.unknown(node, path, GROUP_FIELDS, "rule group")
        if not isinstance(node.get("name"), str) or not node["name"]:
            self.error(path + ("name",), "a rule group needs a name", "name: <a unique group name>")
        self.duration(node, path, "interval")
        if "limit" in node and (
            not isinstance(node["limit"], int) or isinstance(node["limit"], bool) or node["limit"] < 0
        ):
            self.error(path + ("limit",), f"limit: {node['limit']!r} is not a count", "an integer >= 0")
        rules = node.get("rules")
        if not isinstance(rules, list):
            self.error(path + ("rules",), "a rule group needs a list of rules", "rules: [...]")
            return
        for j, rule in enumerate(rules):
            self.rule(rule, path + ("rules", j))


def check_rule_document(doc: Document, report: Report) -> bool:
    """True when the document's groups have the shape Prometheus loads; errors go to report."""
    checker = _Checker(doc, report)
    path = _groups_path(doc)
    groups = _at(doc.data, path)
    if not isinstance(groups, list):
        checker.error(path, "groups must be a list of rule groups", "groups: [{name: ..., rules: [...]}]")
        return False
    seen: dict[str, Position] = {}
    for i, group in enumerate(groups):
        checker.group(group, path + (i,))
        name = group.get("name") if isinstance(group, dict) else None
        if isinstance(name, str) and name in seen:
            checker.error(
                path + (i, "name"),
                f"duplicate rule group name {name!r} in this file",
                f"a unique name (first at {seen[name]})",
            )
        elif isinstance(name, str):
            seen[name] = doc.pos(path + (i, "name"))
    return checker.ok


def _verbatim_mapping(node: dict[str, Any]) -> dict[str, Any]:
    """A deep copy with every string marked to render exactly as written."""
    from ..render.yamlout import Verbatim

    return {Verbatim(k) if isinstance(k, str) else k: _verbatim(v) for k, v in node.items()}


def _verbatim(node: object) -> object:
    from ..render.yamlout import Verbatim

    if isinstance(node, dict):
        return _verbatim_mapping(node)
    if isinstance(node, list):
        return [_verbatim(v) for v in node]
    return Verbatim(node) if isinstance(node, str) else node


def passthrough_groups(doc: Document) -> list[PassthroughGroup]:
    """The groups of a (shape-checked) rule document, with Refs to where each rule was written."""
    path = _groups_path(doc)
    out: list[PassthroughGroup] = []
    for i, raw in enumerate(_at(doc.data, path)):
        gref = Ref(doc, path + (i,))
        rules: list[Rule] = []
        for j, r in enumerate(raw["rules"]):
            ref = gref.at("rules", j)
            labels = dict(r.get("labels") or {})
            label_paths: dict[str, SpecPath] = {k: ref.path + ("labels", k) for k in labels}
            sources = [SpecText(path=ref.path + ("expr",), text=r["expr"])]
            if "record" in r:
                rules.append(
                    RecordingRule(
                        record=r["record"],
                        expr=r["expr"],
                        ref=ref,
                        labels=labels,
                        label_paths=label_paths,
                        sources=sources,
                    )
                )
            else:
                annotations = dict(r.get("annotations") or {})
                rules.append(
                    Alert(
                        name=r["alert"],
                        expr=r["expr"],
                        ref=ref,
                        for_=r.get("for", ""),
                        keep_firing_for=r.get("keep_firing_for", ""),
                        severity=labels.get("severity", ""),
                        labels=labels,
                        annotations=annotations,
                        label_paths=label_paths,
                        annotation_paths={k: ref.path + ("annotations", k) for k in annotations},
                        sources=sources,
                    )
                )
        group = PassthroughGroup(
            name=raw["name"],
            kind="Passthrough",
            ref=gref,
            interval=raw.get("interval", ""),
            limit=raw.get("limit"),
            rules=rules,
            original=_verbatim_mapping(raw),
        )
        out.append(group)
    return out


def demote_uncatalogued(report: Report, groups: list[PassthroughGroup]) -> None:
    """An adopted file's uncatalogued metrics: one warning per file and metric instead of errors."""
    files = {g.ref.doc.file for g in groups}
    seen: set[tuple[str, str]] = set()
    kept: list[Diagnostic] = []
    for d in report.items:
        m = UNCATALOGUED.match(d.message) if d.severity == "error" and d.pos.file in files else None
        if m is None:
            kept.append(d)
            continue
        if (d.pos.file, m.group(1)) in seen:
            continue
        seen.add((d.pos.file, m.group(1)))
        kept.append(
            replace(
                d,
                severity="warning",
                message=d.message + " (an adopted rule file: add it to a "
                "Catalog, or to a Catalog's external list, to silence this)",
            )
        )
    report.items[:] = kept
