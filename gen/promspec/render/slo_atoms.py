"""An SLO's names as atoms: the strings of its files that differ between SLOs of one shape.

The SLO files written once per SLO shape (render/slo_test_text.py: its promtool tests; render/slo_rule_text.py:
its rule groups) hold these names inside their strings as yamlout.template's atoms: the service, the SLO name,
the alert name prefix, the SLO's label values and each tier's label values and severity. Both read the same
names in the same order, so they are listed (atoms) and replaced by placeholders (slotted) here once.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Hashable

from ..compile.slo import alert_name
from ..model.services import SLO, Tier
from .yamlout import slot_name


def tier_key(tier: Tier) -> tuple[Hashable, ...]:
    """Every field of a Tier but its annotations (the test files read none; slo_rule_text keys them itself)
    and what are atoms (label values, severity). tests/unit/test_unit_slo_test_shape.py and
    test_unit_slo_rule_text.py fail when a field is added to Tier and not named here or there."""
    return (tier.name, tier.long, tier.short, tier.share, tier.enabled, tier.for_, tuple(tier.labels), tier.burn_rate)


def tiers(slo: SLO) -> tuple[Tier, ...]:
    """slo's tiers and its exhausted tier, if any."""
    return (*slo.tiers, *([slo.exhausted] if slo.exhausted else []))


def atoms(slo: SLO) -> list[str]:
    """The names slo's files hold inside their strings, in the order slotted numbers them."""
    names = [slo.service, slo.name, alert_name(slo, ""), *slo.labels.values()]
    for tier in tiers(slo):
        names += [*tier.labels.values(), tier.severity]
    return names


def slotted(slo: SLO, first: int) -> SLO:
    """slo with each atom replaced by its placeholder, numbered from first."""
    names = (slot_name(i) for i in itertools.count(first))

    def tier(t: Tier) -> Tier:
        return dataclasses.replace(t, labels={k: next(names) for k in t.labels}, severity=next(names))

    service, name, prefix = next(names), next(names), next(names)
    labels = {k: next(names) for k in slo.labels}
    slotted_tiers = tuple(map(tier, slo.tiers))
    exhausted = tier(slo.exhausted) if slo.exhausted else None
    return dataclasses.replace(
        slo, service=service, name=name, alert_name=prefix, labels=labels, tiers=slotted_tiers, exhausted=exhausted
    )
