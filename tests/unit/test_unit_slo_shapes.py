"""The burn alerts' texts built once per SLO shape (compile/slo.py _burn_texts) against a plain oracle.

The oracle below is the burn alert as it was written before the texts were cached: every string built from
the SLO and its tier each time. The cache must give the same alert for any SLO, whatever SLOs came before it,
and a cache key that forgot a value the texts read would hand one SLO's text to another (the second test).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.promql import number_text, parse_duration
from promspec.compile.slo import (
    _SPENT_QUERY,
    _burn_texts,
    alert_group,
    alert_name,
    burn_alert,
    ratio_series,
    recording_groups,
    slo_groups,
    slo_labels,
)
from promspec.model.loader import Document
from promspec.model.project import Alert, Ref
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI


def _oracle(slo: SLO, tier: Tier) -> Alert:
    """compile/slo.py's burn alert before _burn_texts, verbatim."""
    sel = '{slo_id="' + slo.id.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"}'
    budget = number_text(slo.budget)
    factor = number_text(slo.factor(tier))
    share = number_text(tier.share * 100)
    expr = (
        f"(\n  {ratio_series(tier.long)}{sel} / {budget} > {factor}\nand\n"
        f"  {ratio_series(tier.short)}{sel} / {budget} > {factor}\n)"
    )
    if slo.min_traffic:
        expr += f"\nand on(slo_id)\n  avg_over_time(slo:sli_total:rate5m{sel}[{tier.short}]) >= {slo.min_traffic}"
    seconds = int(parse_duration(slo.window))
    what = slo.description or f"{slo.name} of {slo.service}"
    annotations = {
        "summary": f"{slo.service} SLO {slo.name}: error budget burning "
        f'{{{{ printf "%.1f" $value }}}}x over {tier.long} ({tier.name})',
        "description": (
            f"{what}: objective {slo.objective_text} over {slo.window}. Over the last {tier.long} and {tier.short} "
            f'the error budget burns {{{{ printf "%.1f" $value }}}}x faster than sustainable '
            f"(threshold {factor}x, which spends {share}% of the {slo.window} budget in {tier.long}). "
            f"Budget spent this {slo.window}: "
            + _SPENT_QUERY
            + ". At this burn rate the rest of the budget is gone in "
            + f'{{{{ with printf `clamp_min(slo:period_error_budget_remaining:ratio{{slo_id="%s"}}, 0) * {seconds} '
            f"/ %f` .Labels.slo_id $value | query }}}}{{{{ . | first | value | humanizeDuration }}}}{{{{ end }}}}."
        ),
    }
    annotations.update(slo.annotations)
    annotations.update(tier.annotations)
    if slo.runbook_url:
        annotations["runbook_url"] = slo.runbook_url
    return Alert(
        name=alert_name(slo, "ErrorBudgetBurn"),
        expr=expr,
        ref=slo.ref,
        origin=slo.written,
        for_=tier.for_,
        severity=tier.severity,
        labels={**slo.labels, **slo_labels(slo), "burn_tier": tier.name, **tier.labels},
        annotations=annotations,
    )


_REF = Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0))
# Names and texts with the characters a selector or template escapes, and the placeholder-like ones.
_TEXT = st.text(alphabet=st.sampled_from('ab-_.:"\\\n{}%$ 0x\x00'), max_size=8)
_NAME = st.text(alphabet=st.sampled_from("ab-_0"), min_size=1, max_size=6)
_WINDOW = st.sampled_from(["7d", "28d", "30d", "90d", "4w", "3d12h"])
_OBJECTIVE = st.sampled_from(["0.999", "0.99", "0.9995", "99.9%", "95%", "0.5"])
_RAW_NUMBER = st.sampled_from(["", "0", "0.1", "1e-3", "10", "0.50"])


def _slo_of(**fields: Any) -> SLO:
    objective_text = fields.pop("objective_text")
    objective = Decimal(objective_text[:-1]) / 100 if objective_text.endswith("%") else Decimal(objective_text)
    return SLO(
        ref=_REF,
        objective_text=objective_text,
        objective=objective,
        sli=SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        **fields,
    )


@st.composite
def _tiers(draw: st.DrawFn) -> tuple[Tier, ...]:
    tiers = []
    for name, (long, short, share, severity) in TIERS.items():
        tiers.append(
            Tier(
                name=name,
                long=draw(st.sampled_from([long, "2h", "12h"])),
                short=draw(st.sampled_from([short, "10m"])),
                share=draw(st.sampled_from([share, Decimal("0.020"), Decimal("0.5")])),
                severity=severity,
                for_=draw(st.sampled_from(["", "2m"])),
                burn_rate=draw(_RAW_NUMBER),
                labels=draw(st.dictionaries(_NAME, _TEXT, max_size=2)),
                annotations=draw(st.dictionaries(_NAME, _TEXT, max_size=2)),
            )
        )
    return tuple(tiers)


@st.composite
def _slos(draw: st.DrawFn) -> SLO:
    return _slo_of(
        service=draw(_NAME),
        name=draw(_NAME),
        objective_text=draw(_OBJECTIVE),
        window=draw(_WINDOW),
        description=draw(st.sampled_from(["", "x", "Chat: 5xx"]) | _TEXT),
        tiers=draw(_tiers()),
        min_traffic=draw(_RAW_NUMBER),
        labels=draw(st.dictionaries(_NAME, _TEXT, max_size=2)),
        runbook_url=draw(st.sampled_from(["", "https://r/x"])),
        alert_name=draw(st.sampled_from(["", "Chat"])),
        annotations=draw(st.dictionaries(_NAME, _TEXT, max_size=2)),
    )


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_slos(), min_size=1, max_size=4))
def test_burn_alerts_equal_the_oracle_whatever_came_before(slos):
    # Several SLOs in one cache state: each one's alerts must not depend on the texts cached for the others.
    for slo in slos:
        for tier in slo.tiers:
            assert burn_alert(slo, tier) == _oracle(slo, tier)


def _base() -> dict[str, Any]:
    long, short, share, severity = TIERS["page-fast"]
    return {
        "service": "chat",
        "name": "availability",
        "objective_text": "0.999",
        "window": "30d",
        "tiers": (Tier(name="page-fast", long=long, short=short, share=share, severity=severity),),
        "min_traffic": "0.1",
    }


def _tier_changed(**changes: Any) -> dict[str, Any]:
    base = _base()
    (tier,) = base["tiers"]
    return {"tiers": (Tier(**{**{f: getattr(tier, f) for f in tier.__dataclass_fields__}, **changes}),)}


# Each value the cached texts read, changed alone: a key without it would return the first SLO's text.
_CHANGES = {
    "window": {"window": "28d"},
    "objective": {"objective_text": "0.99"},
    "objective written differently": {"objective_text": "99.9%"},
    "min_traffic": {"min_traffic": "0.5"},
    "no min_traffic": {"min_traffic": ""},
    "tier name": _tier_changed(name="page-slow"),
    "long window": _tier_changed(long="2h"),
    "short window": _tier_changed(short="10m"),
    "share": _tier_changed(share=Decimal("0.05")),
    "burn rate": _tier_changed(burn_rate="20"),
}


def test_every_value_the_texts_read_is_in_the_cache_key():
    _burn_texts.cache_clear()
    base = _slo_of(**_base())
    first = burn_alert(base, base.tiers[0])
    assert first == _oracle(base, base.tiers[0])
    for what, change in _CHANGES.items():
        slo = _slo_of(**{**_base(), **change})
        got, want = burn_alert(slo, slo.tiers[0]), _oracle(slo, slo.tiers[0])
        assert got == want, what
        # The change is one the output shows (else this table would prove nothing about the key).
        assert (got.expr, got.annotations) != (first.expr, first.annotations), what
    assert _burn_texts.cache_info().misses == 1 + len(_CHANGES)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_slos(), min_size=1, max_size=3))
def test_an_slos_alert_group_shares_only_what_each_burn_alert_would_make_alike(slos):
    # alert_group and slo_groups make the selector, budget, labels and alert name once per SLO for every tier
    for slo in slos:
        group = alert_group(slo)
        assert group is not None
        burns = [_oracle(slo, tier) for tier in slo.tiers if tier.enabled]
        assert group.rules[: len(burns)] == burns
        assert slo_groups(slo) == [*recording_groups(slo), group]
