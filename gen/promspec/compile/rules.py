"""Model -> Prometheus rule files (plain data; rendering happens elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..model.project import Alert, RecordingRule, RuleGroup
from ..model.rule_files import PassthroughGroup


def alert_rule(alert: Alert) -> dict[str, Any]:
    """One Prometheus alerting rule."""
    # PromQL ignores surrounding whitespace: a block scalar's final newline is no part of the query.
    out: dict[str, Any] = {"alert": alert.name, "expr": alert.expr.rstrip()}
    if alert.for_:
        out["for"] = alert.for_
    if alert.keep_firing_for:
        out["keep_firing_for"] = alert.keep_firing_for
    if alert.severity:
        out["labels"] = {"severity": alert.severity, **{k: v for k, v in alert.labels.items() if k != "severity"}}
    elif alert.labels:  # foreign alerts (Sloth's) carry only the labels they were written with
        out["labels"] = dict(alert.labels)
    if alert.annotations:
        out["annotations"] = dict(alert.annotations)
    return out


def _record_rule(rule: RecordingRule) -> dict[str, Any]:
    """One Prometheus recording rule."""
    item: dict[str, Any] = {"record": rule.record, "expr": rule.expr.rstrip()}
    if rule.labels:
        item["labels"] = dict(rule.labels)
    return item


def group_dict(group: RuleGroup) -> dict[str, Any]:
    """One Prometheus rule group."""
    if isinstance(group, PassthroughGroup):  # an adopted rule file's group renders as it was written
        return group.original
    out: dict[str, Any] = {"name": group.name}
    if group.interval:
        out["interval"] = group.interval
    if group.limit is not None:
        out["limit"] = group.limit
    out["rules"] = [alert_rule(rule) if isinstance(rule, Alert) else _record_rule(rule) for rule in group.rules]
    return out


def rule_file_name(source: str) -> str:
    """rules/<path of the spec below its specs root, '/' as '-'>.yml: one file per spec file."""
    parts = source.replace("\\", "/").split("/")
    stem = "-".join(parts[1:] if len(parts) > 1 else parts)
    return "rules/" + stem.rsplit(".", 1)[0] + ".yml"


@dataclass(frozen=True, kw_only=True)
class RuleFile:
    """One rule file before it becomes bytes: the spec file it comes from and its groups.

    Its content (the groups as Prometheus reads them) is made on first use, in the process that reads it:
    generate's parent reads only the paths, and forks its workers before any is made, so each file's is made
    by the worker that renders it (0.4 s of the parent's serial time at 1,000 services).
    """

    source: str
    groups: tuple[RuleGroup, ...]

    @cached_property
    def content(self) -> dict[str, list[dict[str, Any]]]:
        """{"groups": [...]}, as Prometheus reads it."""
        return {"groups": [group_dict(group) for group in self.groups]}

    @property
    def group_names(self) -> list[str]:
        """content's group names, in its order, without making content."""
        return [group.original["name"] if isinstance(group, PassthroughGroup) else group.name for group in self.groups]


def rule_files(groups: list[RuleGroup]) -> dict[str, RuleFile]:
    """rules/<spec>.yml -> its RuleFile: the groups of each spec file, in spec order."""
    by_file: dict[str, list[RuleGroup]] = {}
    sources: dict[str, str] = {}
    for group in groups:
        source = group.ref.doc.source or group.ref.file
        name = rule_file_name(source)
        sources.setdefault(name, source)
        by_file.setdefault(name, []).append(group)
    return {name: RuleFile(source=sources[name], groups=tuple(by_file[name])) for name in sorted(by_file)}
