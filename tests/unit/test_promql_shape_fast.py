"""shape() reads an expression of plain "..." strings backwards (compile/promql.py): its output must be the
one the forward scan gives, for every input, with both value classes.

The oracle is the forward scan as it was before the backwards reading existed, copied here verbatim (one
regex over every literal and comment, a Python callback per match), so a change to the module's own
fallback cannot move the oracle with it. Hypothesis builds expressions from hostile pieces: escaped quotes,
backslashes, unicode (spaces and letters), `}` `,` `=` inside values, unclosed and empty strings, the
other literals and comments, line breaks inside and outside strings, labels next to digits and __name__.
"""

from __future__ import annotations

import glob
import json
import os
import re

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile import promql

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_ORACLE = re.compile(
    r'(?<![A-Za-z0-9_])((?P<label>[A-Za-z_][A-Za-z0-9_]*+)\s*+!?=\s*+)"([^"\\\n]++)"'
    r'|"(?:[^"\\\n]|\\.)*+"'
    r"|'(?:[^'\\\n]|\\.)*+'"
    r"|`[^`]*+`"
    r"|#[^\n]*+"
)
_ORACLE_PLAIN = re.compile(r"[A-Za-z0-9_.:-]+")


def _oracle(expr: str, plain_values_only: bool) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(3) is None or m.group("label") == "__name__":
            return m.group(0)
        if plain_values_only and not _ORACLE_PLAIN.fullmatch(m.group(3)):
            return m.group(0)
        return m.group(1) + '"_"'

    return _ORACLE.sub(one, expr)


def _same(expr: str) -> None:
    for plain in (False, True):
        assert promql.shape(expr, plain) == _oracle(expr, plain), (expr, plain)


_LABELS = st.sampled_from(
    ["job", "a", "_", "le", "__name__", "__name__x", "x__name__", "9a", "a9", "é", "job9", "slo_id", "model_name"]
)
_OPS = st.sampled_from(["=", "!=", "=~", "!~", "==", "! =", " = ", "\t!=\n", "\u00a0=\u2003", "=\n", "~", "<=", ">="])
_VALUES = st.one_of(
    st.sampled_from(["", "svc-1", "a.b:c", "$job", "[[job]]", "}", ",", "a,b}", "=", 'x="', "\\", "é", "a b", "\n"]),
    st.text(alphabet="ab1_.:-$}{,=\\\"' \n\té\u00a0", max_size=6),
)


@st.composite
def _pieces(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 6))
    if kind == 0:  # a matcher, its value quoted as written (may hold quotes, escapes, breaks)
        return draw(_LABELS) + draw(_OPS) + '"' + draw(_VALUES) + '"'
    if kind == 1:
        return '"' + draw(_VALUES) + '"'
    if kind == 2:
        return draw(st.sampled_from(["'a=\"b\"'", '`x="y"`', '# c="d"\n', "#", "'", "`", '\\"', '"', "\\"]))
    if kind == 3:
        return draw(st.sampled_from(["{", "}", ",", "(", ")", " ", "\n", "x", "rate(", "[5m]", "sum by (le) ", "1"]))
    if kind == 4:
        return draw(_LABELS)
    if kind == 5:
        return draw(_OPS)
    return draw(st.text(max_size=4))


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(_pieces(), max_size=12).map("".join))
@example('x{job="a"} # a comment with y{job="b"} and a quote "')
@example('label_replace(x{job="a"}, "dst", "a=", "src", "(.*)")')
@example('x{a="v\\"w", b="c"}')
@example('x{__name__="m", job="a"}')
@example('9a="b" a9 ="c" _ != "d"')
@example('x{job="a\nb", le="c"}')
@example('x{job="a"')
@example('"a"b="c"')
@example('" x="y"')  # an odd number of quotes: the forward scan pairs them from the start only
@example('"a\nb" x="y"')  # a break inside a string: it is no string, its closing quote opens one
@example('# x="y"')
@example("'x=\"y\"'")
@example('`x="y"`')
@example('x="a\\" y="b"')
@example('x="\\" y="b"')
def test_shape_is_the_forward_scan(expr: str) -> None:
    _same(expr)


@settings(max_examples=examples(200), deadline=None)
@given(st.text(alphabet="ab_9=!~\"\\'`#\n {},é\u2003", max_size=40))
def test_shape_of_any_text_is_the_forward_scan(expr: str) -> None:
    _same(expr)


def test_shape_of_every_bundled_rule_and_dashboard_query() -> None:
    """The committed output: every rule's expression and every dashboard target's, as generate makes them."""
    exprs: list[str] = []
    for path in sorted(glob.glob(os.path.join(REPO, "rules", "*.yml"))):
        with open(path, encoding="utf-8") as fh:
            exprs += [rule["expr"] for group in yaml.safe_load(fh)["groups"] for rule in group["rules"]]
    for path in sorted(glob.glob(os.path.join(REPO, "dashboards", "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            exprs += [t["expr"] for t in _targets(json.load(fh)) if "expr" in t]
    assert len(exprs) > 300
    for expr in exprs:
        _same(expr)


def _targets(node: object) -> list[dict[str, str]]:
    if isinstance(node, dict):
        return list(node.get("targets", [])) + [t for v in node.values() for t in _targets(v)]
    if isinstance(node, list):
        return [t for v in node for t in _targets(v)]
    return []


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "up",
        'up{job=""}',
        'x{job = "a" , le!= "0.5"}',
        'x{job="a"} == "b"',
        'x{job="a"} + y != "b"',
        'histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="a",model="m\\nn"}[5m])))',
        'sum_over_time(slo:sli_errors:rate5m{slo_id="svc-e2e"}[3d])\n/\nsum_over_time(slo:sli_total:rate5m{slo_id="svc-e2e"}[3d])',
    ],
)
def test_shape_cases(expr: str) -> None:
    _same(expr)


def test_slots_key_holds_every_code_piece() -> None:
    """shape() finds the values it replaces by the expression's code pieces (promql._SLOTS). Each pair below
    shares its values and every code piece but one, which decides a value's place differently: a key that
    forgot that piece (or the number of pieces) would give the second expression the first one's places.
    Both orders, from empty caches (each cut of the key to part of the code fails here)."""
    pairs = [
        ('x{job="a",le="b", src="c"}', 'f(job+"a",le="b", src="c"}'),  # the first piece
        ('x{job="a",le="b", src="c"}', 'x{job="a",le~"b", src="c"}'),  # a middle piece
        ('x{job="a",le="b", src="c"}', 'x{job="a",le="b", __name__="c"}'),  # the last piece before a value
        ('x{job="a"}', 'x{job="a"} == "b"'),  # one piece more (whose value no matcher holds)
        ('x{job="a"} + y{s="b"}', 'x{job="a"}'),  # one piece less
    ]
    for first, second in pairs:
        for order in ((first, second), (second, first)):
            promql._SLOTS.clear()
            promql._VALUE_AFTER.clear()
            for expr in order:
                _same(expr)


def test_plain_value_cache_is_by_value() -> None:
    """The plain-value decision is remembered per value: one plain and one not, under the same code."""
    promql._PLAIN.clear()
    for expr in ('x{job="svc-1"}', 'x{job="$job"}', 'x{job="svc-1"}', 'x{job="[[job]]"}'):
        _same(expr)
