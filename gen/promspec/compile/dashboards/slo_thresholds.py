"""The colours of the SLO dashboards' panels, computed from each SLO (`thresholds: {compute: NAME}` in a bundled
template names one of these through templated.THRESHOLDS)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from ..promql import parse_duration

if TYPE_CHECKING:
    from ...model.services import SLO

Thresholds = list[tuple[float | None, str]]  # (value, colour) steps, as Panel.thresholds holds them

# (SLO window, each enabled tier's long window, share and burn rate) -> their factors: SLOs repeat a handful of
# tier sets, and a factor is Decimal arithmetic read by four panels and the tier list of every SLO dashboard.
_FACTORS: dict[tuple[object, ...], tuple[Decimal, ...]] = {}
_FACTORS_KEPT = 4096


def enabled_factors(slo: SLO) -> tuple[Decimal, ...]:
    """slo.factor(tier) of each enabled tier, in the SLO's order."""
    key = (slo.window, *((t.long, t.share, t.burn_rate) for t in slo.tiers if t.enabled))
    got = _FACTORS.get(key)
    if got is None:
        if len(_FACTORS) >= _FACTORS_KEPT:
            _FACTORS.clear()
        got = _FACTORS[key] = tuple(slo.factor(t) for t in slo.tiers if t.enabled)
    return got


def sli_thresholds(objective: Decimal) -> Thresholds:
    """SLI colours: below the objective is a breach (red); amber while less than a quarter of the budget is
    left, i.e. the SLI is within a quarter of the allowed error ratio above the objective."""
    near = 1 - (1 - Decimal(objective)) * Decimal("0.75")
    return [(None, "red"), (float(objective), "orange"), (float(near), "green")]


def burn_thresholds(slo: SLO) -> Thresholds:
    """Burn-rate colours from the SLO's own tiers: amber at the slowest tier's factor, red at the fastest's."""
    factors = sorted(map(float, enabled_factors(slo)))
    if not factors:
        return [(1, "orange")]
    return [(factors[0], "orange"), (factors[-1], "red")] if factors[0] < factors[-1] else [(factors[0], "red")]


def exhaustion_thresholds(slo: SLO) -> Thresholds:
    """Time to exhaustion: red when the budget runs out sooner than the fastest tier would page (the SLO
    window divided by its factor), amber when sooner than the window itself."""
    window = parse_duration(slo.window)
    factors = [float(f) for f in enabled_factors(slo)]
    steps: Thresholds = [(None, "red")]
    if factors and max(factors) > 1:
        steps.append((window / max(factors), "orange"))
    return steps + [(window, "green")]


def first_tier_threshold(slo: SLO) -> Thresholds:
    """Burn rate by window: a red line at the first enabled tier's factor (the page tier by default)."""
    factors = enabled_factors(slo)
    return [(float(factors[0]), "red")] if factors else []


def fastest_tier_thresholds(slos: Iterable[SLO]) -> Thresholds:
    """The overview's burn rate: amber from 1x, red from the fastest tier of any SLO (14.4x without tiers)."""
    return [(1, "orange"), (max((float(f) for s in slos for f in enabled_factors(s)), default=14.4), "red")]
