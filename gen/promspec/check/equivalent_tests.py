"""promtool unit-test files that are the same test up to names: run one of each class, not all.

Every SLO of the same shape (objective, windows, burn tiers, alerting options) gets unit tests that differ from
another SLO's only in strings Prometheus compares by equality: label values, alert names, group names and the
file names that tie them together. When the rules use no regex matcher and no function that reads or orders
label values, a one-to-one renaming of those strings cannot change what promtool evaluates, so two files whose
canonical forms (every such string replaced by a placeholder numbered by first appearance) are equal pass or
fail together. `promspec check` runs one file of each class and runs the rest too when that one fails, so a
failure is always reported against the file that has it.

Anything this module does not fully understand (an unknown key, single-quoted strings, a regex matcher,
`label_replace`, annotations a test can observe, ...) makes the file a class of its own: it is run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import yaml

# Functions and operators that read label values other than by equality, or order series by them.
_UNSAFE_EXPR = re.compile(
    r"=~|!~|'|`|\b(?:label_replace|label_join|sort|sort_desc|sort_by_label|sort_by_label_desc|topk|bottomk|"
    r"count_values|limitk|limit_ratio|info)\s*\("
)
_NAME_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
# Alert names must stay valid metric names after renaming (Prometheus refuses the rule file otherwise).
_ALERT_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class _Unsafe(Exception):
    """The file holds something a renaming might change the meaning of: it is its own class."""


class _Renamer:
    """Replaces opaque strings with placeholders numbered by first appearance, the same string always alike."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def name(self, value: object) -> str:
        if not isinstance(value, str):
            raise _Unsafe(f"non-string name {value!r}")
        return self.names.setdefault(value, f"\x00{len(self.names)}")

    def alert(self, value: object) -> str:
        if not isinstance(value, str) or not _ALERT_NAME.match(value):
            raise _Unsafe(f"alert name {value!r}")
        return self.name(value)

    def expr(self, value: object) -> str:
        """A PromQL expression or series text: each double-quoted label value renamed, the rest kept."""
        if not isinstance(value, str) or _UNSAFE_EXPR.search(value):
            raise _Unsafe(f"expression {value!r}")
        return _QUOTED.sub(lambda m: '"' + self.name(m.group(1)) + '"', value)


def _mapping(node: object, known: Iterable[str]) -> dict[str, Any]:
    if not isinstance(node, dict) or not set(node) <= set(known):
        raise _Unsafe(f"unexpected keys in {node!r}")
    return node


def _items(node: object) -> list[Any]:
    if node is None:
        return []
    if not isinstance(node, list):
        raise _Unsafe(f"not a list: {node!r}")
    return node


def _read_names(texts: Iterable[str]) -> set[str]:
    """Every metric-name-like token of the expressions: the series some rule or test reads."""
    return {m.group(0) for text in texts for m in _NAME_TOKEN.finditer(text)}


def _rules(doc: object, rename: _Renamer, observes_annotations: bool, read: set[str]) -> list[Any]:
    groups = []
    for group in _items(_mapping(doc, ("groups",)).get("groups")):
        group = _mapping(group, ("name", "interval", "limit", "query_offset", "rules"))
        name = rename.name(group.get("name"))
        rules = []
        for rule in _items(group.get("rules")):
            rule = _mapping(rule, ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"))
            out: dict[str, Any] = {key: rule[key] for key in ("record", "for", "keep_firing_for") if key in rule}
            if "alert" in rule:
                out["alert"] = rename.alert(rule["alert"])
            out["expr"] = rename.expr(rule.get("expr"))
            labels = sorted((rule.get("labels") or {}).items())
            if "alert" in rule or rule.get("record") in read:
                out["labels"] = {str(k): rename.name(str(v)) for k, v in labels}
            else:
                # A recorded series nothing reads (slo:info) shows its label values to no test, and constant
                # values cannot make its samples collide or not: only the label names count.
                out["labels"] = {str(k): "\x00unread" for k, _ in labels}
            if observes_annotations:
                out["annotations"] = rule.get("annotations") or {}
            rules.append(out)
        form: dict[str, Any] = {"name": name, "rules": rules}
        form.update((k, group[k]) for k in ("interval", "limit", "query_offset") if k in group)
        groups.append(form)
    return groups


def _test(case: object, rename: _Renamer) -> dict[str, Any]:
    # `name` only labels the output of a failure: it is not part of what is tested.
    case = _mapping(case, ("name", "interval", "input_series", "promql_expr_test", "alert_rule_test"))
    out: dict[str, Any] = {"interval": case.get("interval")}
    out["input_series"] = [
        {"series": rename.expr(s.get("series")), "values": s.get("values")}
        for s in (_mapping(s, ("series", "values")) for s in _items(case.get("input_series")))
    ]
    checks = []
    for check in _items(case.get("promql_expr_test")):
        check = _mapping(check, ("expr", "eval_time", "exp_samples"))
        samples = [
            {"labels": rename.expr(s.get("labels", "")), "value": s.get("value")}
            for s in (_mapping(s, ("labels", "value")) for s in _items(check.get("exp_samples")))
        ]
        checks.append({"expr": rename.expr(check.get("expr")), "eval_time": check.get("eval_time"), "exp": samples})
    out["promql_expr_test"] = checks
    alerts = []
    for check in _items(case.get("alert_rule_test")):
        check = _mapping(check, ("eval_time", "alertname", "exp_alerts"))
        expected = [
            {
                "labels": {str(k): rename.name(str(v)) for k, v in sorted((a.get("exp_labels") or {}).items())},
                "annotations": a.get("exp_annotations") or {},
            }
            for a in (_mapping(a, ("exp_labels", "exp_annotations")) for a in _items(check.get("exp_alerts")))
        ]
        alerts.append(
            {"eval_time": check.get("eval_time"), "alertname": rename.alert(check.get("alertname")), "exp": expected}
        )
    out["alert_rule_test"] = alerts
    return out


def canonical_form(test_path: str, read: Callable[[str], str] | None = None) -> str | None:
    """The test file and the rule files it loads with every opaque name replaced, as one string; None when
    the file cannot be proven to behave like another with the same form (it must run on its own)."""
    read = read or _read
    try:
        doc = _mapping(
            yaml.safe_load(read(test_path)),
            ("rule_files", "evaluation_interval", "group_eval_order", "tests"),
        )
        observes_annotations = any(
            isinstance(case, dict) and case.get("alert_rule_test") for case in _items(doc.get("tests"))
        )
        rename = _Renamer()
        base = os.path.dirname(test_path)
        names = _items(doc.get("rule_files"))
        if not all(isinstance(name, str) for name in names):
            raise _Unsafe(f"rule files {names!r}")
        loaded = [yaml.safe_load(read(os.path.join(base, name))) for name in names]
        read_by = _read_names(_expressions(doc, loaded))
        rule_files = [
            {"file": rename.name(name), "groups": _rules(rules, rename, observes_annotations, read_by)}
            for name, rules in zip(names, loaded, strict=True)
        ]
        form = {
            "rule_files": rule_files,
            "evaluation_interval": doc.get("evaluation_interval"),
            "group_eval_order": [rename.name(g) for g in _items(doc.get("group_eval_order"))],
            "tests": [_test(case, rename) for case in _items(doc.get("tests"))],
        }
    except (_Unsafe, OSError, yaml.YAMLError, AttributeError, TypeError):
        return None
    return json.dumps(form, sort_keys=True, default=str)


def _expressions(test: dict[str, Any], rule_docs: list[Any]) -> list[str]:
    """Every PromQL text of the rules and the tests (rule and test expressions, input series)."""
    found = [
        str(rule.get("expr", ""))
        for doc in rule_docs
        for group in _items(_mapping(doc, ("groups",)).get("groups"))
        for rule in _items(_mapping(group, ("name", "interval", "limit", "query_offset", "rules")).get("rules"))
        if isinstance(rule, dict)
    ]
    for case in _items(test.get("tests")):
        if isinstance(case, dict):
            found += [str(c.get("expr", "")) for c in _items(case.get("promql_expr_test")) if isinstance(c, dict)]
    return found


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def equivalence_classes(test_paths: list[str]) -> list[list[str]]:
    """The files grouped into classes that pass or fail together, each in input order; classes ordered by
    their first file. A file whose form is None is a class of its own."""
    classes: dict[str, list[str]] = {}
    order: list[list[str]] = []
    for path in test_paths:
        form = canonical_form(path)
        if form is None:
            order.append([path])
        elif form in classes:
            classes[form].append(path)
        else:
            classes[form] = [path]
            order.append(classes[form])
    return order
