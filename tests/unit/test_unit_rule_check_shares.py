"""The rule checks' work shared between rules of one shape (check/semantic.py), held to the per-rule
algorithm each replaced, written out here as it was: the recorded labels' fixed point stepping every rule,
and the reads of each rule checked on their own. Rules come from hypothesis: a few record names and
catalogued metrics, chains and cycles of rules reading rules, label sets, hostile selector values, unknown
metrics, name regexes and label_replace. In-process, no subprocess.
"""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.check import semantic
from promspec.check.semantic import Universe, check_project
from promspec.compile.promql import Analysis, PromQLError, quote, shared_analysis
from promspec.compile.slo import (
    _windows_needed,
    alert_group,
    burn_alert,
    camel,
    exhausted_alert,
    recording_groups,
    window_ratio,
)
from promspec.diagnostics import Report, did_you_mean
from promspec.model.loader import Document
from promspec.model.project import Alert, RecordingRule, Ref, Rule, RuleGroup
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI
from promspec.pipeline import load_model

CATALOG = ("llm_request_total", "llm_error_total", "node_load1")  # node_.* is external in the base fixture
RECORDS = ("r:a", "r:b", "r:c")
LABELS = ("model", "type", "operation", "user_id", "zone", "job", "le")
HOSTILE = st.text(alphabet="ab\"\\\n:{}=,#`'$ é", max_size=6)


def _ref() -> Ref:
    return Ref(doc=Document(file="r.yml", index=0, data={}), path=("spec", "rules", 0))


@st.composite
def _exprs(draw: st.DrawFn) -> str:
    """A PromQL expression over catalogued metrics, records and unknown names, with label values from
    anywhere (every value quoted as promspec quotes them)."""
    metric = draw(st.sampled_from((*CATALOG, *RECORDS, "nope_total", "r:unknown")))
    value = quote(draw(HOSTILE))
    inner = f"{metric}{{job={value}}}"
    form = draw(st.integers(0, 5))
    by = ", ".join(draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=2)))
    other = draw(st.sampled_from((*CATALOG, *RECORDS)))
    if form == 0:
        return inner
    if form == 1:
        return f"sum by ({by}) (rate({inner}[5m]))"
    if form == 2:
        return f"{inner} / on({by}) {other}"
    if form == 3:
        return f'label_replace({inner}, "made", "$1", "model", "(.*)")'
    if form == 4:
        return f'{{__name__=~"r:.*", job={value}}}'
    return f"sum without ({by}) ({inner}) + {other}"


@st.composite
def _groups(draw: st.DrawFn) -> list[RuleGroup]:
    rules: list[Rule] = []
    for _ in range(draw(st.integers(1, 14))):
        expr = draw(_exprs())
        labels = {name: draw(HOSTILE) for name in draw(st.lists(st.sampled_from(LABELS), max_size=2, unique=True))}
        if draw(st.booleans()):
            rules.append(
                RecordingRule(record=draw(st.sampled_from(RECORDS)), expr=expr, ref=_ref(), labels=labels, sources=[])
            )
        else:
            rules.append(Alert(name="A", expr=expr, ref=_ref(), labels=labels, sources=[]))
    cut = draw(st.integers(0, len(rules)))
    return [
        RuleGroup(name=f"g{i}", kind="RecordingGroup", ref=_ref(), rules=part)
        for i, part in enumerate((rules[:cut], rules[cut:]))
        if part
    ]


def _oracle_record_labels(groups: list[RuleGroup], universe: Universe, analyses: dict[int, Analysis]) -> None:
    """The fixed point as it was: every recording rule stepped in every pass, at most 8 passes."""
    rules = [r for g in groups for r in g.rules if isinstance(r, RecordingRule)]
    for rule in rules:
        universe.labels.setdefault(rule.record, set())
    for _ in range(8):
        changed = False
        for rule in rules:
            current = universe.labels.get(rule.record)
            if current is None:
                continue
            a = analyses.get(id(rule))
            new: set[str] | None = None
            if a is not None and not a.name_regexes:
                known = set(rule.labels) | a.produced_labels
                for name in a.metrics:
                    got = universe.labels.get(name)
                    if got is None:
                        break
                    known |= got
                else:
                    new = known
            if new is None or not new <= current:
                universe.labels[rule.record] = None if new is None else current | new
                changed = True
        if not changed:
            break


def _universe() -> Universe:
    universe = Universe.__new__(Universe)
    universe.labels = {"llm_request_total": {"model", "operation", "job"}, "llm_error_total": {"model", "type"}}
    universe.external = [re.compile("node_.*")]
    universe.target_labels = {"job", "instance"}
    return universe


def _analyses(groups: list[RuleGroup]) -> dict[int, Analysis]:
    out = {}
    for group in groups:
        for rule in group.rules:
            with contextlib.suppress(PromQLError):  # a rule that does not parse has no analysis
                out[id(rule)] = shared_analysis(rule.expr)
    return out


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=_groups(), repeat=st.integers(1, 3))
def test_recorded_labels_skip_only_steps_that_change_nothing(groups: list[RuleGroup], repeat: int) -> None:
    # The same rules repeated (as generated rules are, service after service), interleaved with the rest.
    groups = groups * repeat
    analyses = _analyses(groups)
    mine, oracle = _universe(), _universe()
    semantic._record_labels(groups, mine, analyses)
    _oracle_record_labels(groups, oracle, analyses)
    assert mine.labels == oracle.labels


def test_rules_of_one_record_and_labels_but_other_reads_are_each_stepped() -> None:
    rules: list[Rule] = [
        RecordingRule(record="r:a", expr=expr, ref=_ref(), labels={"slo": "x"}, sources=[])
        for expr in ("llm_request_total", "llm_error_total", "llm_request_total")
    ]
    groups = [RuleGroup(name="g", kind="RecordingGroup", ref=_ref(), rules=rules)]
    universe = _universe()
    semantic._record_labels(groups, universe, _analyses(groups))
    assert universe.labels["r:a"] == {"slo", "model", "operation", "job", "type"}


@pytest.mark.parametrize("repeat", [1, 3])
def test_a_chain_longer_than_the_passes_stops_where_stepping_every_rule_stops(repeat: int) -> None:
    # Rules listed against their reading order: each pass reaches one link further, and 8 passes end short.
    names = [f"r:{i}" for i in range(12)]
    rules: list[Rule] = [
        RecordingRule(record=names[i], expr=f"sum by (model) ({names[i - 1]})", ref=_ref(), sources=[])
        for i in range(11, 0, -1)
    ]
    rules.append(RecordingRule(record=names[0], expr="llm_request_total", ref=_ref(), sources=[]))
    groups = [RuleGroup(name="g", kind="RecordingGroup", ref=_ref(), rules=rules * repeat)]
    analyses = _analyses(groups)
    mine, oracle = _universe(), _universe()
    semantic._record_labels(groups, mine, analyses)
    _oracle_record_labels(groups, oracle, analyses)
    assert mine.labels == oracle.labels
    if repeat == 1:
        assert mine.labels["r:11"] == set()  # not reached in 8 passes: the cap holds as it did
    else:
        assert mine.labels["r:11"] == {"model", "operation", "job"}


def _oracle_reads(rule: Rule, a: Analysis, universe: Universe, report: Report) -> None:
    """Each rule's reads checked on their own, as they were."""
    for name in dict.fromkeys(a.metrics):
        if not universe.known(name):
            hint = did_you_mean(name, universe.labels)
            semantic._expr_error(
                report,
                rule,
                "expr",
                f"metric {name!r} is not in any Catalog{hint}",
                "a catalogued metric, a recorded series, or a name in a Catalog's external list",
                name,
            )
    for grouping in a.groupings:
        if grouping.clause not in ("by", "on"):
            continue
        allowed: set[str] = set(a.produced_labels)
        unknown = False
        for name in grouping.metrics:
            labels = universe.labels.get(name)
            if labels is None:
                unknown = True
                break
            allowed |= labels
        if unknown or not grouping.metrics:
            continue
        for label in grouping.labels:
            if label not in allowed:
                metrics = ", ".join(sorted(grouping.metrics))
                semantic._expr_error(
                    report,
                    rule,
                    "expr",
                    f"label {label!r} in {grouping.clause}() is not a label of {metrics}",
                    "one of: " + ", ".join(sorted(allowed)),
                    label,
                )
        for label in grouping.labels:
            semantic._flag_cardinality(label, rule.ref, ("expr",), report)


def _said(report: Report) -> list[str]:
    return [f"{d.pos} {d.message} {d.path} {d.expected}" for d in [*report.errors, *report.warnings]]


_PROJECT = None


def _project():  # type: ignore[no-untyped-def]
    global _PROJECT
    if _PROJECT is None:
        _PROJECT = load_model(["tests/fixtures/base"], env={})[0]
    return _PROJECT


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=_groups(), repeat=st.integers(1, 3))
def test_reads_and_label_names_found_once_per_shape_say_what_each_rule_checked_alone_says(
    groups: list[RuleGroup], repeat: int
) -> None:
    groups = groups * repeat
    project = _project()
    mine = Report()
    check_project(project, groups, mine)
    # The oracle: the same universe, then every rule's reads and labels checked one by one.
    universe = Universe(project)
    analyses = _analyses(groups)
    _oracle_record_labels(groups, universe, analyses)
    oracle = Report()
    for group in groups:
        for rule in group.rules:
            if id(rule) in analyses:
                _oracle_reads(rule, analyses[id(rule)], universe, oracle)
            for label in rule.labels:
                if re.match(semantic.HIGH_CARDINALITY.pattern, label):
                    oracle.warn(
                        rule.ref.pos("labels"),
                        f"label {label!r} looks high-cardinality (one series per value)",
                        rule.ref.dotted("labels"),
                        "labels with a bounded set of values; keep per-request ids in logs or traces",
                    )
    # Interleaving aside (other checks report between these), the reads' and labels' findings are the same
    # list in the same order.
    keep = ("is not in any Catalog", "is not a label of", "looks high-cardinality")
    assert [s for s in _said(mine) if any(k in s for k in keep)] == _said(oracle)


# ------------------------------------------------------------------------------ SLO rules


def _slo(name: str, service: str, tiers: tuple[Tier, ...], min_traffic: str) -> SLO:
    return SLO(
        service=service,
        name=name,
        ref=_ref(),
        objective_text="99.5%",
        objective=Decimal("0.995"),
        window="28d",
        sli=SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        tiers=tiers,
        exhausted=Tier(name="budget-exhausted", long="28d", short="28d", share=Decimal(1), severity="page"),
        min_traffic=min_traffic,
    )


@st.composite
def _tiers(draw: st.DrawFn) -> tuple[Tier, ...]:
    out = []
    for name in draw(st.lists(st.sampled_from(list(TIERS)), unique=True, max_size=4)):
        long, short, share, severity = TIERS[name]
        long = draw(st.sampled_from((long, "90m", "12h", "2d", "45m")))
        out.append(
            Tier(
                name=name,
                long=long,
                short=draw(st.sampled_from((short, "10m", "4h"))),
                share=share,
                severity=severity,
                enabled=draw(st.booleans()),
                burn_rate=draw(st.sampled_from(("", "2", "14.40"))),
            )
        )
    return tuple(out)


@settings(max_examples=examples(50), deadline=None)
@given(name=HOSTILE.filter(bool), service=HOSTILE.filter(bool), tiers=_tiers(), guard=st.sampled_from(("", "0.05")))
def test_an_slos_rules_made_together_are_the_rules_made_one_by_one(
    name: str, service: str, tiers: tuple[Tier, ...], guard: str
) -> None:
    """alert_group and recording_groups make each SLO's selector, budget and windows once: the same rules
    as burn_alert, exhausted_alert and window_ratio, which make them per call."""
    slo = _slo(name, service, tiers, guard)
    group = alert_group(slo)
    alerts = [burn_alert(slo, t) for t in tiers if t.enabled] + [exhausted_alert(slo, slo.exhausted)]  # type: ignore[arg-type]
    assert group is not None and group.rules == alerts
    ratios = {r.record: r.expr for g in recording_groups(slo) for r in g.rules if "ratio_rate" in r.record}
    assert ratios == {f"slo:sli_error:ratio_rate{w}": window_ratio(slo, w) for w in _windows_needed(slo)}
    # The windows, written out: 5m and 1h always, each enabled tier's two, the known ones in their order,
    # then the others by length.
    wanted = {"5m", "1h"} | {w for t in tiers if t.enabled for w in (t.long, t.short)}
    order = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    seconds = {"10m": 600, "45m": 2700, "90m": 5400, "4h": 14400, "12h": 43200, "2d": 172800}
    assert _windows_needed(slo) == [w for w in order if w in wanted] + sorted(
        (w for w in wanted if w not in order), key=seconds.__getitem__
    )
    assert camel(service) == "".join(p[:1].upper() + p[1:] for p in re.split(r"[^a-zA-Z0-9]+", service) if p)
