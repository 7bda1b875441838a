"""SLO burn-rate maths and the rules one SLO compiles to, from models built in Python (no YAML, no CLI).

The oracle is the SRE Workbook's arithmetic, written out here: a tier spends `share` of the budget in its long
window when the error ratio is `factor * budget`, so factor = share * window / long window (14.4 for 2% in 1h of
30d). Nothing here starts a process: these tests are the fast tier's example for compile logic.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from promspec.compile.slo import alert_group, burn_alert, recording_groups, slo_groups
from promspec.model.loader import Document
from promspec.model.project import Alert, RecordingRule, Ref
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI

HOUR = 3600
DAY = 24 * HOUR


def _ref() -> Ref:
    return Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0))


def _tier(name: str, **overrides: Any) -> Tier:
    long, short, share, severity = TIERS[name]
    return Tier(**{"name": name, "long": long, "short": short, "share": share, "severity": severity, **overrides})


def _slo(objective: str = "0.999", window: str = "30d", tiers: list[Tier] | None = None, **overrides: Any) -> SLO:
    fields: dict = {
        "service": "chat-api",
        "name": "availability",
        "ref": _ref(),
        "objective_text": objective,
        "objective": Decimal(objective),
        "window": window,
        "sli": SLI(
            kind="ratio",
            errors='sum(rate(http_requests_total{job="chat",code=~"5.."}[5m]))',
            total='sum(rate(http_requests_total{job="chat"}[5m]))',
        ),
        "tiers": tuple(_tier(n) for n in TIERS) if tiers is None else tuple(tiers),
    }
    return SLO(**{**fields, **overrides})


def _records(slo: SLO) -> dict[str, RecordingRule]:
    return {r.record: r for g in recording_groups(slo) for r in g.rules}


@pytest.mark.parametrize(
    "tier, factor",
    [
        ("page-fast", "14.4"),  # 2% of 30d in 1h: 0.02 * 720h / 1h
        ("page-slow", "6"),  # 5% in 6h: 0.05 * 720 / 6
        ("ticket-fast", "3"),  # 10% in 1d: 0.10 * 30 / 1
        ("ticket-slow", "1"),  # 10% in 3d: 0.10 * 30 / 3
    ],
)
def test_default_tiers_have_the_workbook_factors_over_30_days(tier, factor):
    assert _slo().factor(_tier(tier)) == Decimal(factor)


@pytest.mark.parametrize("window", ["7d", "28d", "30d", "90d"])
@pytest.mark.parametrize("tier", list(TIERS))
def test_at_the_factor_the_long_window_spends_exactly_its_share(window, tier):
    slo, t = _slo(window=window), _tier(tier)
    window_s, long_s = int(window[:-1]) * DAY, {"1h": HOUR, "6h": 6 * HOUR, "1d": DAY, "3d": 3 * DAY}[t.long]
    # Budget spent in the long window at error ratio factor * budget, as a share of the whole window's budget.
    spent = slo.factor(t) * slo.budget * long_s / (slo.budget * window_s)
    # 10% of 7d in 3d is a factor of 0.2333...: Decimal rounds it at 28 digits, so compare to that precision.
    assert abs(spent - t.share) < Decimal("1e-20")


def test_budget_is_exact_decimal_arithmetic():
    assert _slo(objective="0.999").budget == Decimal("0.001")
    assert _slo(objective="0.9995").budget == Decimal("0.0005")  # 1 - 0.9995 in floats is 0.000499999...


def test_an_explicit_burn_rate_overrides_the_derived_factor():
    assert _slo().factor(_tier("page-fast", burn_rate="10")) == Decimal(10)


def test_burn_alert_compares_both_windows_with_the_factor_over_the_budget():
    slo = _slo()
    alert = burn_alert(slo, _tier("page-fast"))
    sel = '{slo_id="chat-api-availability"}'
    assert alert.expr == (
        f"(\n  slo:sli_error:ratio_rate1h{sel} / 0.001 > 14.4\nand\n  slo:sli_error:ratio_rate5m{sel} / 0.001 > 14.4\n)"
    )
    assert alert.name == "ChatApiAvailabilityErrorBudgetBurn"
    assert alert.severity == "page"
    assert alert.labels["burn_tier"] == "page-fast" and alert.labels["slo_id"] == "chat-api-availability"


def test_min_traffic_guards_the_short_window():
    alert = burn_alert(_slo(min_traffic="0.5"), _tier("page-slow"))
    assert alert.expr.endswith(
        '\nand on(slo_id)\n  avg_over_time(slo:sli_total:rate5m{slo_id="chat-api-availability"}[30m]) >= 0.5'
    )


def test_every_window_an_enabled_tier_reads_is_recorded_and_no_other():
    only_fast = _slo(tiers=[_tier("page-fast"), _tier("ticket-slow", enabled=False)])
    ratios = {name for name in _records(only_fast) if name.startswith("slo:sli_error:ratio_rate")}
    # 5m and 1h for page-fast; 1h also feeds the current burn rate; ticket-slow's 3d and 6h are off.
    assert ratios == {"slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate1h"}
    everything = {n for n in _records(_slo()) if n.startswith("slo:sli_error:ratio_rate")}
    assert everything == {f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")}


def test_time_to_exhaustion_and_the_budget_series_use_the_window_and_budget():
    records = _records(_slo(objective="0.995", window="28d"))
    assert records["slo:error_budget:ratio"].expr == "vector(0.005)"
    assert records["slo:objective:ratio"].expr == "vector(0.995)"
    assert f"* {28 * DAY}\n" in records["slo:time_to_exhaustion:seconds"].expr
    assert records["slo:current_burn_rate:ratio"].expr == (
        'slo:sli_error:ratio_rate1h{slo_id="chat-api-availability"} / 0.005'
    )


def test_disabled_tiers_compile_to_no_alert_and_no_tiers_to_no_group():
    group = alert_group(_slo(tiers=[_tier("page-fast"), _tier("page-slow", enabled=False)]))
    assert group is not None
    assert [a.labels["burn_tier"] for a in group.rules] == ["page-fast"]
    assert alert_group(_slo(tiers=[])) is None
    assert all(not isinstance(r, Alert) for g in slo_groups(_slo(tiers=[])) for r in g.rules)


def test_budget_exhausted_alert_fires_when_nothing_is_left():
    exhausted = Tier(name="budget-exhausted", long="30d", short="30d", share=Decimal(1), severity="ticket")
    group = alert_group(_slo(tiers=[], exhausted=exhausted))
    assert group is not None
    (alert,) = group.rules
    assert alert.name == "ChatApiAvailabilityErrorBudgetExhausted"
    assert alert.expr == 'slo:period_error_budget_remaining:ratio{slo_id="chat-api-availability"} <= 0'
