"""The output checks' fast paths (check/semantic.py, check/dashboard_specs.py) held to the plain code each
replaced, written out here as it was:

- duplicate rules found by their key's hash (no lasting key per rule) report what a dict of whole keys
  reported, also when every hash collides (the hash is forced, so the collision path is the one run);
- a panel query that _reads_well skips is one _check_expr would have reported nothing on, and the report
  of the fast path then the full one is the report of the full one alone, on hostile queries.

The key must hold kind, name and every label: rules differing in only one of those, forced into one hash
bucket, are not duplicates (a key that forgot one would report them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promspec.check import dashboard_specs, semantic
from promspec.check.dashboard_specs import Series, _check_expr, _reads_well
from promspec.check.semantic import Universe
from promspec.compile.promql import quote
from promspec.diagnostics import Report
from promspec.model.dashboards import Query
from promspec.model.loader import Document
from promspec.model.project import Alert, RecordingRule, Ref, Rule, RuleGroup

HOSTILE = st.text(alphabet="ab\"\\\n:{}=,#`'$ é", max_size=4)


def _ref(i: int = 0) -> Ref:
    return Ref(doc=Document(file="r.yml", index=0, data={}), path=("spec", "rules", i))


def _oracle_check_names(rule_groups: list[RuleGroup], report: Report) -> None:
    """check/semantic.py's _check_names before the hash-keyed dict, verbatim."""
    groups: dict[str, RuleGroup] = {}
    rules: dict[tuple[str, str, frozenset[tuple[str, str]]], Rule] = {}
    for group in rule_groups:
        if group.name in groups:
            report.error(
                group.ref.doc.pos(("metadata", "name")),
                f"duplicate rule group name {group.name!r}",
                "metadata.name",
                f"a unique name (also used at {groups[group.name].ref.doc.pos(('metadata', 'name'))})",
            )
        else:
            groups[group.name] = group
        for rule in group.rules:
            is_alert = isinstance(rule, Alert)
            name = rule.name if isinstance(rule, Alert) else rule.record
            key = ("alert" if is_alert else "record", name, frozenset(rule.labels.items()))
            field = "name" if is_alert else "record"
            if key in rules:
                what = "alert" if is_alert else "recording rule"
                report.error(
                    rule.ref.pos(field),
                    f"duplicate {what} {name!r}",
                    rule.ref.dotted(field),
                    f"a unique name, or different labels (first defined at {rules[key].ref.pos(field)})",
                )
            else:
                rules[key] = rule


def _said(report: Report) -> list[tuple[str, str, str, str, str]]:
    return [(d.severity, str(d.pos), d.message, d.path, d.expected) for d in report.items]


_NAMES = st.sampled_from(("a", "b", "r:a"))
_LABEL_NAMES = st.sampled_from(("x", "y", "le", "é"))


@st.composite
def _groups(draw: st.DrawFn) -> list[RuleGroup]:
    rules: list[Rule] = []
    for i in range(draw(st.integers(1, 12))):
        labels = {name: draw(st.sampled_from(("", "1", "v"))) for name in draw(st.lists(_LABEL_NAMES, max_size=3))}
        if draw(st.booleans()):
            # Label order varies: equal sets in any order are duplicates.
            labels = dict(reversed(labels.items()))
        name = draw(_NAMES)
        if draw(st.booleans()):
            rules.append(RecordingRule(record=name, expr="1", ref=_ref(i), labels=labels, sources=[]))
        else:
            rules.append(Alert(name=name, expr="1", ref=_ref(i), labels=labels, sources=[]))
    cuts = sorted(draw(st.lists(st.integers(0, len(rules)), max_size=2)))
    bounds = [0, *cuts, len(rules)]
    return [
        RuleGroup(name=draw(st.sampled_from(("g", "h"))), kind="RecordingGroup", ref=_ref(), rules=rules[a:b])
        for a, b in pairwise(bounds)
    ]


_HASHES: dict[str, Callable[[object], int] | None] = {
    "real": None,
    "all collide": lambda key: 0,
    "two buckets": lambda key: len(str(key)) % 2,
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=_groups())
@pytest.mark.parametrize("forced", list(_HASHES))
def test_duplicates_by_hash_are_the_duplicates_of_whole_keys(
    groups: list[RuleGroup], forced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = Report()
    _oracle_check_names(groups, expected)
    with monkeypatch.context() as m:
        if _HASHES[forced] is not None:
            m.setattr(semantic, "hash", _HASHES[forced], raising=False)  # the module's global shadows the builtin
        got = Report()
        semantic._check_names(groups, got)
    assert _said(got) == _said(expected)


@pytest.mark.parametrize(
    "other",
    [
        Alert(name="a", expr="1", ref=_ref(1), labels={"x": "1"}, sources=[]),  # kind
        RecordingRule(record="b", expr="1", ref=_ref(1), labels={"x": "1"}, sources=[]),  # name
        RecordingRule(record="a", expr="1", ref=_ref(1), labels={"x": "2"}, sources=[]),  # a label's value
        RecordingRule(record="a", expr="1", ref=_ref(1), labels={"y": "1"}, sources=[]),  # a label's name
        RecordingRule(record="a", expr="1", ref=_ref(1), labels={"x": "1", "y": "1"}, sources=[]),  # one more
    ],
)
def test_rules_one_key_part_apart_in_one_bucket_are_not_duplicates(
    other: Rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = RecordingRule(record="a", expr="1", ref=_ref(0), labels={"x": "1"}, sources=[])
    monkeypatch.setattr(semantic, "hash", lambda key: 0, raising=False)
    report = Report()
    semantic._check_names([RuleGroup(name="g", kind="RecordingGroup", ref=_ref(), rules=[first, other])], report)
    assert report.items == []
    # ...and the same rule twice is one (the bucket is still searched by the whole key).
    semantic._check_names([RuleGroup(name="g", kind="RecordingGroup", ref=_ref(), rules=[first, other, other])], report)
    assert len(report.errors) == 1


def _series() -> Series:
    universe = Universe.__new__(Universe)  # the universe's state only: no project to read it from
    universe.labels = {"llm_request_total": {"model", "job"}, "up": {"job", "instance"}}
    universe.external = [re.compile("node_.*")]
    universe.target_labels = {"job", "instance"}
    return Series(universe=universe, recorded={"r:a"})


_METRICS = st.sampled_from(("llm_request_total", "up", "node_load1", "r:a", "nope_total", "r:b"))
_VARS = st.sampled_from(("$job", "$model", "${job}", "[[job]]", "$__rate_interval", "$nope"))


@st.composite
def _queries(draw: st.DrawFn) -> str:
    metric = draw(_METRICS)
    value = draw(st.one_of(_VARS, HOSTILE.map(lambda v: quote(v)[1:-1])))
    inner = f'{metric}{{job="{value}"}}'
    form = draw(st.integers(0, 4))
    if form == 0:
        return inner
    if form == 1:
        return f"sum(rate({inner}[{draw(st.sampled_from(('5m', '$__rate_interval', '$__range')))}]))"
    if form == 2:
        return f"{inner} / on(job) {draw(_METRICS)}"
    if form == 3:
        return inner + draw(st.sampled_from((" +", "(", "{", '"')))  # does not parse
    return draw(st.text(alphabet='ab{}()"$=_ ', max_size=10))


@settings(max_examples=150, deadline=None)
@given(
    expr=_queries(),
    defined=st.sets(st.sampled_from(("job", "model", "datasource"))),
    written=st.booleans(),
    signal=st.booleans(),
)
def test_a_query_the_fast_path_skips_is_one_the_full_check_says_nothing_of(
    expr: str, defined: set[str], written: bool, signal: bool
) -> None:
    query = Query(ref=_ref(), expr="" if signal else expr, signal="latency" if signal else "")
    series = _series()
    alone = Report()
    _check_expr(query, expr, defined, series, alone, written=written)
    both = Report()
    if not _reads_well(expr, defined, series):
        _check_expr(query, expr, defined, series, both, written=written)
    assert _said(both) == _said(alone)
    if _reads_well(expr, defined, series):
        assert alone.items == []


def test_the_fast_path_is_taken_for_a_clean_query() -> None:
    """Not vacuous: a clean query is skipped, and one reading an unknown series or variable is not."""
    series = _series()
    assert _reads_well('sum(rate(llm_request_total{job="$job"}[$__rate_interval]))', {"job"}, series)
    assert not _reads_well('nope_total{job="a"}', {"job"}, series)
    assert not _reads_well('up{job="$nope"}', {"job"}, series)
    assert not _reads_well("up{", set(), series)
    assert dashboard_specs._reads_well is _reads_well
