"""The one PromQL module: parsing and analysis, label selectors with escaping, durations and number text.

Every label value that enters PromQL goes through `quote` (via `matcher`/`selector`), every duration
is read by `parse_duration` and printed by `format_duration`, and every spec number is printed by
`number_text`, so one spelling rule holds everywhere the output is generated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

import promql_parser as pp

# ------------------------------------------------------------------------------ text

# A Prometheus duration: units in decreasing order, each at most once (the schema's pattern).
DURATION_PATTERN = r"^([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"ms": 0.001, "y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration string; ValueError when it is not one."""
    if type(text) is not str:
        # Not cached: an unhashable value must still be a ValueError, a str subclass stays uncached.
        return _duration_seconds(text)
    return _cached_duration_seconds(text)


def _duration_seconds(text: str) -> float:
    if not isinstance(text, str) or len(text) < 2 or not _DURATION_RE.fullmatch(text):
        raise ValueError(f"not a duration: {text!r}")
    total = 0.0
    for number, unit in re.findall(r"([0-9]+)(ms|y|w|d|h|m|s)", text):
        total += int(number) * _UNIT_SECONDS[unit]
    return total


# Specs repeat a few durations (windows, tiers, intervals): 65,000 reads at 200 services. A ValueError is
# not cached, so a bad duration is read (and reported) again each time.
_cached_duration_seconds = lru_cache(maxsize=4096)(_duration_seconds)


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration for a number of seconds (e.g. 5400 -> 1h30m)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def number_text(value: Decimal) -> str:
    """A Decimal printed plainly, without exponent or trailing zeros (0.010 -> 0.01, 14.40 -> 14.4)."""
    return format(value.normalize(), "f")


def quote(value: str) -> str:
    """A PromQL (and Alertmanager matcher) double-quoted string: backslash, quote and newline escaped.

    PromQL reads string literals with Go's unquoting, so any other character, unicode included,
    stands for itself between the quotes.
    """
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def matcher(name: str, value: str, op: str = "=") -> str:
    """One label matcher such as job="vllm" (op: =, !=, =~, !~), with the value escaped."""
    return f"{name}{op}{quote(value)}"


def selector(
    labels: Mapping[str, str] | Iterable[tuple[str, str]], extra: str | Iterable[str] = "", *, sep: str = ","
) -> str:
    """A label selector body such as {job="vllm",finished_reason="error"}; "" when there is nothing to match.

    extra holds matchers already written as PromQL text (from a spec's `matchers:` field or from
    `matcher`), appended after the equality matchers built from labels.
    """
    items = labels.items() if isinstance(labels, Mapping) else labels
    parts = [matcher(k, v) for k, v in items]
    parts += [e for e in ([extra] if isinstance(extra, str) else extra) if e]
    return "{" + sep.join(parts) + "}" if parts else ""


# ------------------------------------------------------------------------------ analysis


@dataclass
class Grouping:
    """One by()/without()/on()/ignoring() clause and the metric names read beneath it."""

    clause: str  # "by", "without", "on", "ignoring", "group_left", "group_right"
    labels: tuple[str, ...]
    metrics: frozenset[str]


@dataclass
class Analysis:
    metrics: list[str] = field(default_factory=list)  # metric names read, in order of appearance
    name_regexes: list[str] = field(default_factory=list)  # selectors matching __name__ by regex
    groupings: list[Grouping] = field(default_factory=list)
    produced_labels: set[str] = field(default_factory=set)  # labels created by label_replace/label_join


class PromQLError(ValueError):
    """An expression that does not parse."""


# Each cached tree holds its Rust-side AST: at 65,536 entries the cache was most of generate's memory
# (1,000 services: 1.6 GB peak). 4,096 keeps the repeats (bundled and preset queries) and is as fast
# (bench/generate.py, 300 services: 790 -> 356 MiB, 30.3 -> 29.2 s CPU; 1,024 entries: 270 MiB, 32.4 s).
@lru_cache(maxsize=4096)
def parse(expr: str) -> pp.Expr:
    """Parse an expression (cached: the same expression appears in many specs)."""
    try:
        return pp.parse(expr)
    except ValueError as exc:
        raise PromQLError(str(exc)) from None


def _selector_name(vs: pp.VectorSelector) -> tuple[str | None, str | None]:
    """(the metric name it selects, or else the regex it matches __name__ with)."""
    if vs.name:
        return vs.name, None
    for m in vs.matchers.matchers:
        if m.name == "__name__":
            if m.op == pp.MatchOp.Equal:
                return m.value, None
            return None, m.value
    return None, None


def _metrics_under(node: pp.Expr) -> frozenset[str]:
    names: set[str] = set()

    def visit(n: pp.Expr) -> None:
        if isinstance(n, pp.VectorSelector):
            name, _ = _selector_name(n)
            if name:
                names.add(name)

    pp.walk(node, visit, None)
    return frozenset(names)


# One lexical pass over an expression: a label's equality matcher with a double-quoted value (group 1: the
# name and operator, group 3: the value), or any other string literal or comment, matched whole so that
# nothing inside one is mistaken for a matcher. The lexer's own rules: escapes inside "..." and '...',
# none inside `...`, a comment runs to the end of the line.
_LITERALS = re.compile(
    # The lookbehind and possessive quantifiers: a label name is tried from its first character only,
    # and nothing backtracks (the scan is linear in the expression).
    r'(?<![A-Za-z0-9_])((?P<label>[A-Za-z_][A-Za-z0-9_]*+)\s*+!?=\s*+)"([^"\\\n]++)"'
    r'|"(?:[^"\\\n]|\\.)*+"'
    r"|'(?:[^'\\\n]|\\.)*+'"
    r"|`[^`]*+`"
    r"|#[^\n]*+"
)


# A value Grafana substitutes nothing into: no `$`, no `[[` (dashboards' queries keep those as written).
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.:-]+")


def _matcher_shape(m: re.Match[str]) -> str:
    if m.group(3) is None or m.group("label") == "__name__":
        return m.group(0)
    return m.group(1) + '"_"'


def _plain_matcher_shape(m: re.Match[str]) -> str:
    if m.group(3) is None or m.group("label") == "__name__" or not _PLAIN_VALUE.fullmatch(m.group(3)):
        return m.group(0)
    return m.group(1) + '"_"'


# The same shape, by pieces, for an expression whose only literals are "..." strings without an escape or a
# line break (every generated query and rule): its quotes then pair up in order, so split('"') gives the code
# and the strings in turn, and a string is a matcher's value exactly when it is not empty and the code just
# before it ends in `label=` or `label!=` (spaces allowed around the operator), the label's whole run of word
# characters starting with no digit and not being __name__. That decision reads only the code piece, and
# generated expressions repeat a few code pieces thousands of times, so it is made once per piece; the scan
# over the reversed text it replaces cost twice as much per expression. The classes are _LITERALS'.
_LABEL_BEFORE = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*+)\s*+!?=\s*+\Z")
_VALUE_AFTER: dict[str, bool] = {}
_VALUE_AFTER_MAX = 16384


def _value_after(code: str) -> bool:
    """Whether a "..." string right after this code piece is a label matcher's value (not __name__'s)."""
    known = _VALUE_AFTER.get(code)
    if known is None:
        if len(_VALUE_AFTER) >= _VALUE_AFTER_MAX:
            _VALUE_AFTER.clear()
        m = _LABEL_BEFORE.search(code)
        known = _VALUE_AFTER[code] = m is not None and m.group(1) != "__name__"
    return known


# The places of the values a shape replaces, by the expression's code pieces (parts[0::2] of its split('"')):
# _value_after decides each from the piece before it alone, so an expression's code pieces decide them all,
# and generated expressions repeat a few hundred such skeletons over 190,000 expressions at 1,000 services.
# One lookup per expression instead of one call per value. Bounded like _VALUE_AFTER.
_SLOTS: dict[tuple[str, ...], tuple[int, ...]] = {}


def _slots(code: tuple[str, ...]) -> tuple[int, ...]:
    """The indexes in split('"') of the strings right after a code piece that ends in `label=`/`label!=`."""
    if len(_SLOTS) >= _VALUE_AFTER_MAX:
        _SLOTS.clear()
    found = _SLOTS[code] = tuple(2 * k + 1 for k in range(len(code) - 1) if _value_after(code[k]))
    return found


# Whether a value is _PLAIN_VALUE, by value: a dashboard query's values are services' names, repeated across
# their queries (a dict lookup costs a fifth of the match). Bounded like _VALUE_AFTER.
_PLAIN: dict[str, bool] = {}


def _plain_value(value: str) -> bool:
    known = _PLAIN.get(value)
    if known is None:
        if len(_PLAIN) >= _VALUE_AFTER_MAX:
            _PLAIN.clear()
        known = _PLAIN[value] = _PLAIN_VALUE.fullmatch(value) is not None
    return known


def _plain_pieces(expr: str) -> list[str] | None:
    """expr.split('"') when expr's only literals are "..." strings without escapes or line breaks, each
    closed; else None."""
    if "\\" in expr or "'" in expr or "`" in expr or "#" in expr or expr.count('"') % 2:
        return None
    parts = expr.split('"')
    return None if "\n" in expr and "\n" in "".join(parts[1::2]) else parts


def shape(expr: str, plain_values_only: bool = False) -> str:
    """The expression with the value of every label equality matcher (job="x", job!="x") replaced by one
    placeholder: generated rules differ from service to service only there, and analyse() reads no such
    value. Kept as written: __name__ matchers (they name metrics), empty values (`{job=""}` alone is an
    error), regex matchers (their regex is checked), values with escapes, and every other literal.
    plain_values_only also keeps every value with a character outside [A-Za-z0-9_.:-] (a dashboard query's
    `$job` or `[[job]]` is a Grafana variable, which the dashboard checks read)."""
    if '"' not in expr:
        return expr  # no "..." value to replace
    parts = _plain_pieces(expr)
    if parts is None:
        return _LITERALS.sub(_plain_matcher_shape if plain_values_only else _matcher_shape, expr)
    return _shaped_pieces(parts, plain_values_only)


def _shaped_pieces(parts: list[str], plain_values_only: bool) -> str:
    """shape() of the text whose split('"') is parts, a text of plain strings only (_plain_pieces)."""
    code = tuple(parts[0::2])
    slots = _SLOTS.get(code)
    if slots is None:
        slots = _slots(code)
    if plain_values_only and _all_plain([parts[i] for i in slots]):
        for i in slots:  # each value non-empty and plain: one match for them all, not one lookup each
            parts[i] = "_"
        return '"'.join(parts)
    for i in slots:
        value = parts[i]
        if value and (not plain_values_only or _plain_value(value)):
            parts[i] = "_"
    return '"'.join(parts)


# Values joined by \x01, each a non-empty _PLAIN_VALUE.
_ALL_PLAIN = re.compile(r"(?:[A-Za-z0-9_.:-]+\x01)*[A-Za-z0-9_.:-]+")


def _all_plain(values: list[str]) -> bool:
    r"""Whether each value is a non-empty _PLAIN_VALUE, in one match. A value may hold \x01 itself (a YAML
    "\x01" escape in a selector), which the match alone would read as two plain values: there are exactly
    len(values) - 1 separators when none does."""
    joined = "\x01".join(values)
    return joined.count("\x01") == len(values) - 1 and _ALL_PLAIN.fullmatch(joined) is not None


# Between the expressions of joined_shape: a character no lexer rule of PromQL reads as part of a label name,
# an operator or white space, so a matcher's name and operator before a value never reach across it.
JOINED_BY = "\x00"


def joined_shape(exprs: Sequence[str]) -> str | None:
    """The shape(e, plain_values_only=True) of each expression, joined by \\x00, made in one pass over their
    joined text.

    Generated dashboards hold tens of queries each, all of them "..." strings only: one split and one lookup
    of their joined skeleton (the code between the strings) instead of one shape() call per query. Exact:
    _value_after reads the end of the code before a value, and a name, operator or space never holds \\x00,
    so what it finds there is what it finds in the expression alone (\\x00 stands for its start). None when
    that is not so: some expression holds \\x00 itself, has another kind of literal, or an odd number of
    quotes (its strings would pair across the join). None for no expression at all.
    """
    text = JOINED_BY.join(exprs)
    if not exprs or text.count(JOINED_BY) != len(exprs) - 1:
        return None
    parts = _plain_pieces(text)
    if parts is None or JOINED_BY in "".join(parts[1::2]):  # a join inside a string: quotes pair across it
        return None
    return _shaped_pieces(parts, True)


def analyse(expr: str) -> Analysis:
    """Selectors, grouping clauses and produced labels of an expression.

    Computed once per shape(): the analysis of the shape is the analysis of the expression. An
    expression whose shape does not parse is parsed as written, so its error is its own."""
    try:
        found = _analyse_shape(shape(expr))
    except PromQLError:
        found = _analyse_tree(parse(expr))
    # A copy: callers own their Analysis, the cache keeps its own.
    return Analysis(
        metrics=list(found.metrics),
        name_regexes=list(found.name_regexes),
        groupings=list(found.groupings),
        produced_labels=set(found.produced_labels),
    )


def shared_analysis(expr: str) -> Analysis:
    """analyse(expr) without its copy: the analysis cached for the expression's shape, shared by every rule
    of that shape (generated rules differ only in their selectors' values). For reading only: the rule
    checks (check/semantic.py) never change an Analysis. A shape that does not parse falls back to
    analyse, so an error is the expression's own."""
    try:
        return _analyse_shape(shape(expr))
    except PromQLError:
        return analyse(expr)


@lru_cache(maxsize=4096)
def _analyse_shape(text: str) -> Analysis:
    return _analyse_tree(parse(text))


def _analyse_tree(tree: pp.Expr) -> Analysis:
    out = Analysis()

    def visit(n: pp.Expr) -> None:
        if isinstance(n, pp.VectorSelector):
            name, regex = _selector_name(n)
            if name:
                out.metrics.append(name)
            elif regex:
                out.name_regexes.append(regex)
        elif isinstance(n, pp.AggregateExpr) and n.modifier is not None:
            clause = "by" if n.modifier.type == pp.AggModifierType.By else "without"
            out.groupings.append(Grouping(clause, tuple(n.modifier.labels), _metrics_under(n.expr)))
        elif isinstance(n, pp.BinaryExpr) and n.modifier is not None:
            matching = n.modifier.matching
            if matching is not None and matching.labels:
                clause = "on" if matching.type == pp.LabelModifierType.Include else "ignoring"
                out.groupings.append(Grouping(clause, tuple(matching.labels), _metrics_under(n)))
        elif isinstance(n, pp.Call) and n.func.name in ("label_replace", "label_join"):
            args = list(n.args)
            if len(args) > 1 and isinstance(args[1], pp.StringLiteral):
                out.produced_labels.add(args[1].val)

    pp.walk(tree, visit, None)
    return out
