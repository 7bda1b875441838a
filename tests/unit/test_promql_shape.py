"""analyse() is computed once per shape: label equality values replaced by a placeholder.

The oracle is the analysis of the expression as written (`_analyse_tree(parse(expr))`), which reads the
tree the parser builds from the text itself; every case compares the two, errors included.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile import promql
from promspec.compile.promql import PromQLError, _analyse_tree, analyse, parse, shape

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _direct(expr: str) -> promql.Analysis:
    return _analyse_tree(parse(expr))


def _outcome(fn, expr: str) -> object:
    try:
        return fn(expr)
    except PromQLError as exc:
        return ("error", str(exc))


def _rendered_exprs() -> list[str]:
    """Every expression of the committed rule files (bundled specs rendered), SLO and spec rules alike."""
    exprs = []
    for path in sorted(glob.glob(os.path.join(REPO, "rules", "*.yml"))):
        with open(path, encoding="utf-8") as fh:
            for group in yaml.safe_load(fh)["groups"]:
                exprs += [rule["expr"] for rule in group["rules"]]
    return exprs


def test_every_bundled_rule_analyses_as_written() -> None:
    exprs = _rendered_exprs()
    assert len(exprs) > 100
    for expr in exprs:
        assert analyse(expr) == _direct(expr), expr


CASES = [
    # values of every kind of matcher, and literals that only look like matchers
    'sum by (job) (rate(x_total{job="svc1",__name__="x_total", a!="b"}[5m]))',
    '{__name__="llm_requests_total", job="a"}',
    '{__name__=~"llm_.*", job="a"}',
    'x{job=""}',
    '{job=""}',
    '{job="a"}',
    'x{a=~"("}',
    'x{a=~"(", b="c"}',
    'x{a="v\\"w"}',
    "x{a='q', b=`r`}",
    'label_replace(x{job="a"}, "dst", "$1", "src", "a=\\"(.*)\\"")',
    'label_replace(x{job="a"}, "dst", "$1", "src", "(")',
    'label_join(x{job="a"}, "joined", ",", "job", "instance")',
    'x{job="a"} # a comment with y{job="b"} and a quote "',
    'x{job="a"} / on(job) group_left y{job="b"}',
    'x{job = "a" , le!= "0.5"}',
    'x{job="a"',
    'x{job="a}',
    'x{job="a"} + ',
    'x{job="a"} == "b"',
    'x{job="a"} != "b"',
    'x{job="a"}[5m:]',
    'histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="a",model="m\\nn"}[5m])))',
]


@pytest.mark.parametrize("expr", CASES)
def test_analysis_and_errors_match_the_expression_as_written(expr: str) -> None:
    assert _outcome(analyse, expr) == _outcome(_direct, expr)


def test_shape_keeps_what_the_analysis_reads() -> None:
    assert shape('x{job="a",__name__="n",b!="c",d=~"e",f=""}') == 'x{job="_",__name__="n",b!="_",d=~"e",f=""}'
    # a matcher's text inside another literal or a comment is not a matcher
    assert shape('f("a=\\"b\\"") # g{h="i"}') == 'f("a=\\"b\\"") # g{h="i"}'


def test_services_that_differ_only_in_label_values_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = promql.pp.parse

    def counting(text: str):  # type: ignore[no-untyped-def]
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(promql.pp, "parse", counting)
    promql.parse.cache_clear()
    promql._analyse_shape.cache_clear()
    template = 'sum(rate(never_seen_total{{job="svc{i}",slo_id="svc{i}-ttft"}}[5m])) > 0.5'
    results = [analyse(template.format(i=i)) for i in range(50)]
    assert len(parsed) == 1
    assert all(r == results[0] for r in results)
    results[0].metrics.append("mutated")  # each caller owns its copy
    assert analyse(template.format(i=0)).metrics == ["never_seen_total"]


FRAGMENTS = [
    "x",
    "sum(",
    "rate(",
    ")",
    "{",
    "}",
    "[5m]",
    "job",
    "__name__",
    "=",
    "!=",
    "=~",
    '"',
    "'",
    "`",
    "\\",
    '"a"',
    '"("',
    '""',
    ",",
    " ",
    "\n",
    "#",
    " by (job) ",
    " / on(job) ",
    "label_replace(",
    '"dst"',
    " > 0.5",
]


@settings(max_examples=examples(300), derandomize=True, deadline=None, database=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join))
def test_any_text_analyses_as_written(expr: str) -> None:
    assert _outcome(analyse, expr) == _outcome(_direct, expr)
