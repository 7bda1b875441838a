"""The tier fields of an SLO dashboard are kept per set of enabled tiers (slo_dashboards._tier_fields): SLOs repeat
a handful. Oracle: the fields made afresh from tier_values(); the key must hold every tier field they read."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.dashboards import slo_dashboards
from promspec.compile.dashboards.slo_dashboards import _tier_fields, tier_values
from promspec.compile.dashboards.templated import prepared
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.model.services import SLO, Tier
from promspec.model.sli import SLI

NAMES = st.sampled_from(["page", "ticket", "", '"', "{0}", "a b"])
DURATIONS = st.sampled_from(["5m", "30m", "1h", "6h", "1d", "3d"])
TIER = st.builds(
    Tier,
    name=NAMES,
    long=DURATIONS,
    short=DURATIONS,
    # 0.1 and 0.10: equal Decimals that print alike once normalised
    share=st.sampled_from([Decimal("0.02"), Decimal("0.05"), Decimal("0.1"), Decimal("0.10")]),
    severity=st.sampled_from(["page", "ticket"]),
    enabled=st.booleans(),
    burn_rate=st.sampled_from(["", "14.4", "14.40", "6"]),
)


def _slo(window: str, tiers: list[Tier]) -> SLO:
    return SLO(
        service="svc",
        name="x",
        ref=Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0)),
        objective_text="0.99",
        objective=Decimal("0.99"),
        window=window,
        sli=SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        tiers=tuple(tiers),
    )


SLOS = st.builds(_slo, window=st.sampled_from(["30d", "28d", "7d"]), tiers=st.lists(TIER, max_size=3))


@settings(max_examples=examples(300), deadline=None)
@given(slos=st.lists(SLOS, min_size=2, max_size=6))
def test_tier_fields_kept_per_tiers_are_those_made_afresh(slos: list[SLO]) -> None:
    # SLOs that differ in any one tier field follow each other through one cache: a key that forgot the
    # field would hand the second the first's fields
    slo_dashboards._TIERS.clear()
    for slo in slos:
        assert _tier_fields(slo) == [prepared(t) for t in tier_values(slo)]


def test_a_tier_field_left_out_of_the_key_is_caught() -> None:
    # the oracle above sees each field: two SLOs alike but for a tier's short window differ in their fields
    def tier(short: str) -> Tier:
        return Tier(name="page", long="1h", short=short, share=Decimal("0.02"), severity="page")

    a, b = _slo("30d", [tier("5m")]), _slo("30d", [tier("30m")])
    assert [prepared(t) for t in tier_values(a)] != [prepared(t) for t in tier_values(b)]
    slo_dashboards._TIERS.clear()
    assert _tier_fields(a) != _tier_fields(b)
