"""Small text helpers of the diff: values in one line, line diffs, nested-field diffs, PromQL selector diffs."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

SHOW_LIMIT = 80
# Alertmanager and scrape fields whose values are credentials: named as changed, never printed.
SECRET_KEY = re.compile(r"(password|secret|token|api_key|api_url|routing_key|service_key|credentials|authorization)")


def load_yaml_docs(data: bytes) -> list[Any]:
    """Every document of a YAML file ([] when it does not parse: the diff then compares its lines)."""
    try:
        return [d for d in yaml.safe_load_all(data) if d is not None]
    except yaml.YAMLError:
        return []


def load_yaml(data: bytes) -> Any:
    docs = load_yaml_docs(data)
    return docs[0] if docs else {}


def flat(value: Any) -> str:
    """A value on one line, whitespace collapsed ('' for None)."""
    return " ".join(str(value).split()) if value is not None else ""


def show(value: Any) -> str:
    """A value short enough for a sentence: '(none)' when unset, cut at SHOW_LIMIT characters."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= SHOW_LIMIT else text[: SHOW_LIMIT - 3] + "..."


def text_of(value: Any) -> str:
    """A value as the text a before/after field holds: strings as they are, the rest as sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def line_diff(before: str, after: str, context: int = 3) -> list[str]:
    """Lines of a unified-style diff without headers: ' ' kept, '-' removed, '+' added; '...' between hunks."""
    a, b = before.splitlines(), after.splitlines()
    if not a or not b:
        return [f"- {line}" for line in a] + [f"+ {line}" for line in b]
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if out:
            out.append("  ...")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [f"  {line}" for line in a[i1:i2]]
                continue
            out += [f"- {line}" for line in a[i1:i2]]
            out += [f"+ {line}" for line in b[j1:j2]]
    return out


def line_counts(before: bytes, after: bytes) -> tuple[int, int]:
    """(lines added, lines removed) from before to after."""
    a = before.decode("utf-8", "replace").splitlines()
    b = after.decode("utf-8", "replace").splitlines()
    added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


@dataclass(frozen=True, kw_only=True)
class Leaf:
    """One nested field that differs: its dotted path and both values (None: absent on that side)."""

    path: str
    before: Any
    after: Any


def leaf_changes(a: Any, b: Any, path: str = "") -> list[Leaf]:
    """The deepest fields that differ between two nested values; lists compare whole (their order matters)."""
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[Leaf] = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += leaf_changes(a.get(key), b.get(key), sub)
        return out
    return [Leaf(path=path, before=a, after=b)]


def secret(path: str) -> bool:
    return bool(SECRET_KEY.search(path.rsplit(".", 1)[-1].lower()))


HIDDEN = "(hidden)"
# Grafana variables in a matcher's value: named stand-ins while parsing, put back in the words.
VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")
UNVAR = re.compile(r"__var_(\w+?)__")


def redact(value: Any) -> Any:
    """value with every field under a credential-like key replaced by HIDDEN (files holding them stay)."""
    if isinstance(value, dict):
        return {k: HIDDEN if secret(str(k)) and not str(k).endswith("_file") else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Selector:
    """One vector selector of an expression: metric name and its matchers as PromQL text."""

    name: str
    matchers: frozenset[str]


def selectors(expr: str) -> list[Selector] | None:
    """The vector selectors of an expression in order, or None when it does not parse."""
    import promql_parser as pp

    from ..compile.dashboards.grafana_vars import substitute
    from ..compile.promql import PromQLError, parse

    try:
        # Dashboard queries hold Grafana variables; both sides get the same stand-ins, so they cancel out.
        named = VARIABLE.sub(lambda m: m.group(0) if m.group(1).startswith("__") else f"__var_{m.group(1)}__", expr)
        tree = parse(substitute(named, {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "": "5m"}, ".*"))
    except PromQLError:
        return None
    out: list[Selector] = []

    def visit(node: Any) -> None:
        if isinstance(node, pp.VectorSelector):
            matchers = frozenset(UNVAR.sub(r"$\1", str(m)) for m in node.matchers.matchers if m.name != "__name__")
            out.append(Selector(name=node.name or "", matchers=matchers))

    pp.walk(tree, visit, None)
    return out


def selector_words(before: str, after: str) -> list[str]:
    """What changed in the series an expression reads, in words: 'vllm:x{finished_reason="error"} now
    finished_reason="abort"'. [] when the selectors are the same or cannot be paired (the expression then
    speaks for itself)."""
    a, b = selectors(before), selectors(after)
    if a is None or b is None or len(a) != len(b):
        return []
    words: list[str] = []
    for sa, sb in zip(a, b, strict=True):
        if sa == sb:
            continue
        parts = []
        if sa.name != sb.name:
            parts.append(f"reads {sb.name} instead of {sa.name}")
        gone, new = sorted(sa.matchers - sb.matchers), sorted(sb.matchers - sa.matchers)
        by_label_gone = {_label(m): m for m in gone}
        for m in new:
            old = by_label_gone.pop(_label(m), None)
            parts.append(f"{old} -> {m}" if old else f"matcher {m} added")
        parts += [f"matcher {m} removed" for m in by_label_gone.values()]
        phrase = f"{sb.name or sa.name}: " + ", ".join(parts)
        if phrase not in words:
            words.append(phrase)
    return words


def _label(matcher: str) -> str:
    return re.split(r"[=!~]", matcher, maxsplit=1)[0]
