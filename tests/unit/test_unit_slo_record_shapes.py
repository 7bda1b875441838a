"""An SLO's recording rules built from texts cut once per SLO shape (compile/slo.py _record_texts) against a
plain oracle.

The oracle below is recording_groups as it was written before the texts were cached: every expression built
from the SLO each time. The cache must give the same groups for any SLO, whatever SLOs came before it, and a
cache key that forgot a value the texts read would hand one SLO's expressions to another (the second test).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_unit_slo_shapes import _base, _slo_of, _slos, _tier_changed

from hypothesis_budget import examples
from promspec.compile.promql import number_text, parse_duration
from promspec.compile.slo import (
    CASCADE_WINDOW,
    LONG_INTERVAL,
    PERIOD_INTERVAL,
    SHORT_INTERVAL,
    _is_short,
    _record_texts,
    _windows_needed,
    ratio_series,
    recording_groups,
    slo_labels,
)
from promspec.model.project import Labels, RecordingRule, RuleGroup
from promspec.model.services import SLO
from promspec.model.sli import SLI
from promspec.model.sli.base import SHORT_WINDOW


def _oracle(slo: SLO) -> list[RuleGroup]:
    """compile/slo.py's recording_groups before _record_texts, verbatim but for the names of its helpers."""
    sel = '{slo_id="' + slo.id.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"}'
    budget = number_text(slo.budget)
    labels = slo_labels(slo)
    ref = slo.ref.at("sli")

    def rule(record: str, expr: str, rule_labels: Labels | None = None) -> RecordingRule:
        return RecordingRule(
            record=record,
            expr=expr,
            ref=ref,
            origin=slo.sli_written,
            labels=dict(labels if rule_labels is None else rule_labels),
        )

    def window_ratio(window: str) -> str:
        if window == SHORT_WINDOW:
            return f"slo:sli_errors:rate5m{sel}\n/\nslo:sli_total:rate5m{sel}"
        return (
            f"sum_over_time(slo:sli_errors:rate5m{sel}[{window}])\n/\n"
            f"sum_over_time(slo:sli_total:rate5m{sel}[{window}])"
        )

    cascade = [
        rule(f"slo:sli_{kind}:avg_rate{CASCADE_WINDOW}", f"avg_over_time(slo:sli_{kind}:rate5m{sel}[{CASCADE_WINDOW}])")
        for kind in ("errors", "total")
    ]
    short = [rule("slo:sli_errors:rate5m", slo.errors_expr), rule("slo:sli_total:rate5m", slo.total_expr)]
    long: list[RecordingRule] = []
    for window in _windows_needed(slo):
        (short if _is_short(window) else long).append(rule(ratio_series(window), window_ratio(window)))
    short.append(rule("slo:current_burn_rate:ratio", f"slo:sli_error:ratio_rate1h{sel} / {budget}"))
    seconds = int(parse_duration(slo.window))
    info = {**labels, "objective": slo.objective_text, "window": slo.window, "sli": slo.sli_kind}
    if slo.backend:
        info["backend"] = slo.backend
    if slo.signal:
        info["signal"] = slo.signal
    if slo.threshold:
        info["threshold"] = slo.threshold
    period_ratio = (
        f"sum_over_time(slo:sli_errors:avg_rate{CASCADE_WINDOW}{sel}[{slo.window}])\n/\n"
        f"sum_over_time(slo:sli_total:avg_rate{CASCADE_WINDOW}{sel}[{slo.window}])"
    )
    period = [
        rule("slo:sli_error:ratio_period", period_ratio),
        rule("slo:objective:ratio", f"vector({number_text(slo.objective)})"),
        rule("slo:error_budget:ratio", f"vector({budget})"),
        rule("slo:period_burn_rate:ratio", f"slo:sli_error:ratio_period{sel} / {budget}"),
        rule("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{sel}"),
        rule(
            "slo:time_to_exhaustion:seconds",
            f"clamp_min(slo:period_error_budget_remaining:ratio{sel}, 0) * {seconds}\n/\n"
            f"slo:current_burn_rate:ratio{sel}",
        ),
        rule("slo:info", "vector(1)", info),
    ]
    groups = (
        (f"slo-{slo.id}-short", SHORT_INTERVAL, short),
        (f"slo-{slo.id}-long", LONG_INTERVAL, long),
        (f"slo-{slo.id}-{CASCADE_WINDOW}", CASCADE_WINDOW, cascade),
        (f"slo-{slo.id}-period", PERIOD_INTERVAL, period),
    )
    return [
        RuleGroup(name=name, kind="RecordingGroup", ref=ref, interval=interval, rules=list(rules))
        for name, interval, rules in groups
        if rules
    ]


# SLI queries and info values with the characters a selector escapes; a name with a selector's own characters.
_QUERY = st.text(alphabet=st.sampled_from('ab{}"\\\n=[]5m '), max_size=8)


@st.composite
def _hostile_slos(draw: st.DrawFn) -> SLO:
    slo = draw(_slos())
    # some tiers off: the windows recorded, and so the groups' rules, follow the enabled ones
    tiers = tuple(replace(t, enabled=draw(st.booleans())) if i else t for i, t in enumerate(slo.tiers))
    return replace(
        slo,
        sli=SLI(
            kind=draw(st.sampled_from(["ratio", "signal"])),
            errors=draw(_QUERY),
            total=draw(_QUERY),
            signal=draw(st.sampled_from(["", "errors", "ttft"])),
            threshold=draw(st.sampled_from(["", "500ms"])),
        ),
        backend=draw(st.sampled_from(["", "vllm"])),
        name=draw(st.sampled_from([slo.name, 'a"b', "a\\b", "a\nb", "a}b"])),
        tiers=tiers,
    )


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_hostile_slos(), min_size=1, max_size=4))
def test_recording_groups_equal_the_oracle_whatever_came_before(slos):
    # Several SLOs in one cache state: each one's rules must not depend on the texts cached for the others.
    for slo in slos:
        assert recording_groups(slo) == _oracle(slo)


# Each value the cached texts read, changed alone: a key without it would return the first SLO's texts.
_CHANGES: dict[str, dict[str, Any]] = {
    "window": {"window": "28d"},
    "objective": {"objective_text": "0.99"},
    # the same objective and budget, another window: only the period's and exhaustion's texts differ
    "window of the same length": {"window": "4w"},
    "long window": _tier_changed(long="2h"),
    "short window": _tier_changed(short="10m"),
    "a long window past the short group": _tier_changed(long="12h"),
}


def test_every_value_the_texts_read_is_in_the_cache_key():
    _record_texts.cache_clear()
    base = _slo_of(**_base())
    first = recording_groups(base)
    assert first == _oracle(base)
    for what, change in _CHANGES.items():
        slo = _slo_of(**{**_base(), **change})
        got = recording_groups(slo)
        assert got == _oracle(slo), what
        # The change is one the rules show (else this table would prove nothing about the key).
        exprs = [[r.expr for r in g.rules] for g in got]
        assert exprs != [[r.expr for r in g.rules] for g in first], what
    assert _record_texts.cache_info().misses == 1 + len(_CHANGES)


def test_a_disabled_tiers_windows_are_in_the_key_as_absent():
    # the key holds the enabled tiers' windows: one that read every tier's would record 12h for both
    _record_texts.cache_clear()
    on = _slo_of(**{**_base(), **_tier_changed(long="12h")})
    off = _slo_of(**{**_base(), **_tier_changed(long="12h", enabled=False)})
    assert recording_groups(on) == _oracle(on)
    assert recording_groups(off) == _oracle(off)
    assert [g.name for g in recording_groups(on)] != [g.name for g in recording_groups(off)]  # 12h: the long group
