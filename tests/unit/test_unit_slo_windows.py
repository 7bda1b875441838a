"""The windows each SLO records, found in one pass over the rule groups (slo_dashboards.slo_windows), against
the two passes they were found in before (slo_records, then recorded_windows per SLO), written out here."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.dashboards.slo_dashboards import recorded_windows, slo_windows
from promspec.compile.promql import parse_duration
from promspec.model.loader import Document
from promspec.model.project import Alert, RecordingRule, Ref, RuleGroup


def slo_records(groups: list[RuleGroup]) -> dict[str, list[str]]:
    """slo_id -> names of the SLO series recorded for it: the first of the two passes, as it was written."""
    out: dict[str, list[str]] = {}
    for group in groups:
        for rule in group.rules:
            record = getattr(rule, "record", "")
            slo_id = rule.labels.get("slo_id") if record else None
            if slo_id:
                out.setdefault(slo_id, []).append(record)
    return out


_REF = Ref(doc=Document(file="r.yml", index=0, data={}), path=())
# windows of one duration written differently ("60m", "1h", "3600s") keep the order they always had
_WINDOW = st.sampled_from(["5m", "30m", "1h", "60m", "3600s", "6h", "1d", "3d"])
_RECORD = st.one_of(
    _WINDOW.map(lambda w: f"slo:sli_error:ratio_rate{w}"),
    _WINDOW.map(lambda w: f"slo:sli_error:ratio_rate5m_ratio_rate{w}"),  # the last ratio_rate names the window
    st.sampled_from(["", "slo:sli_errors:rate5m", "slo:sli_error:ratio_period", "x:ratio_rate1h"]),
)
_SLO_ID = st.sampled_from(["", "a", "b", 'q"\\'])


@st.composite
def _rule(draw: st.DrawFn) -> Any:
    labels = draw(st.dictionaries(st.sampled_from(["slo_id", "x"]), _SLO_ID, max_size=2))
    if draw(st.booleans()):
        return Alert(name="A", expr="1", ref=_REF, labels=labels)
    return RecordingRule(record=draw(_RECORD), expr="1", ref=_REF, labels=labels)


_GROUPS = st.lists(
    st.lists(_rule(), max_size=8).map(lambda rules: RuleGroup(name="g", kind="RecordingGroup", ref=_REF, rules=rules)),
    max_size=4,
)


def _oracle(groups: list[RuleGroup]) -> dict[str, list[str]]:
    """Every SLO's recorded windows as recorded_windows() found them from slo_records()."""
    out = {}
    for slo_id, records in slo_records(groups).items():
        windows = {r.rsplit("ratio_rate", 1)[1] for r in records if r.startswith("slo:sli_error:ratio_rate")}
        out[slo_id] = sorted(windows, key=parse_duration)
    return out


@settings(max_examples=examples(200), deadline=None)
@given(_GROUPS)
def test_the_windows_found_in_one_pass_are_those_found_per_slo(groups: list[RuleGroup]) -> None:
    want = _oracle(groups)
    got = slo_windows(groups)
    assert {k: list(v) for k, v in got.items()} == {k: v for k, v in want.items() if v}
    for slo_id, records in slo_records(groups).items():
        assert recorded_windows(records) == want[slo_id]
