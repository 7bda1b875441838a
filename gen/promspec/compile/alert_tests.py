"""promtool unit test files for alerts of a kind: each fires under its condition and stays quiet just short of it.

The cases come from each kind's module (alert_kinds/); this module lays them out in rules/tests/.
Input series are synthesised from the alert's selectors, so an alert whose metric is an expression
rather than a series selector gets no test (the file header lists it).
"""

from __future__ import annotations

from typing import Any

from ..alert_kinds import AlertKind, kind_cases
from ..alert_kinds.promtool_cases import LONG_EVAL, Untestable
from ..model.project import Alert, Project, RuleGroup
from .promql import format_duration, parse_duration
from .rules import RuleFile, rule_file_name


def alert_test_files(
    project: Project, groups: list[RuleGroup], rendered: dict[str, RuleFile]
) -> dict[str, tuple[str, dict[str, Any], list[str]]]:
    """rules/tests/<spec>.test.yml (and <spec>.long.test.yml) -> (source spec, test file, alerts left untested);
    groups: every rule group, rendered: the rule files they make."""
    by_file: dict[str, tuple[str, list[tuple[Alert, AlertKind]], list[float]]] = {}
    default = parse_duration(project.settings.evaluation_interval)
    for group in groups:
        interval = parse_duration(group.interval) if group.interval else default
        for rule in group.rules:
            if not isinstance(rule, Alert) or rule.kind is None:
                continue
            source = rule.ref.doc.source or rule.ref.file
            entry = by_file.setdefault(rule_file_name(source), (source, [], []))
            entry[1].append((rule, rule.kind))
            entry[2].append(interval)
    files: dict[str, tuple[str, dict[str, Any], list[str]]] = {}
    for rule_path, (source, alerts, intervals) in sorted(by_file.items()):
        interval = min(intervals)
        tests: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        untested: list[str] = []
        for alert, kind in alerts:
            try:
                cases = kind_cases(alert, kind, interval)
            except Untestable as why:
                untested.append(f"{alert.name}: {why}")
                continue
            tests[cases.long].extend(cases.groups)
        stem = rule_path[len("rules/") : -len(".yml")]
        rule_file = f"../{stem}.yml"
        injected = _injected_names(tests[False] + tests[True])
        rules = rendered[rule_path].content
        if injected & _recorded_names(rules):
            rule_file = f"{stem}.rules.yml"
            files[f"rules/tests/{rule_file}"] = (source, rules_without(rules, injected), [])
        for long, suffix, evaluation in ((False, "", interval), (True, ".long", LONG_EVAL)):
            if tests[long]:
                content = {
                    "rule_files": [rule_file],
                    "evaluation_interval": format_duration(evaluation),
                    "tests": tests[long],
                }
                files[f"rules/tests/{stem}{suffix}.test.yml"] = (source, content, untested)
                untested = []  # listed once, in the first file
    return files


def _injected_names(cases: list[dict[str, Any]]) -> set[str]:
    return {item["series"].split("{", 1)[0] for case in cases for item in case["input_series"]}


def _recorded_names(content: dict[str, Any]) -> set[str]:
    return {rule["record"] for group in content["groups"] for rule in group["rules"] if "record" in rule}


def rules_without(content: dict[str, Any], injected: set[str]) -> dict[str, Any]:
    """A rule file's content without the recording rules of series the tests inject.

    A test that injects a series the file also records would get two samples per timestamp ("duplicate
    sample for timestamp") whenever the recording yields a value without input (`or on() vector(0)`);
    without the rule, the injected series stands in for it, as the real rule does when its input is missing.
    """
    groups = []
    for group in content["groups"]:
        rules = [r for r in group["rules"] if r.get("record") not in injected]
        if rules:
            groups.append({**group, "rules": rules})
    return {**content, "groups": groups}
