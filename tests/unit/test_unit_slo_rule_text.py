"""An SLO's rule groups written once per SLO shape with its names as atoms (render/slo_rule_text.py).

The oracle is the plain path: dump_text of the SLO's groups as compile.slo.slo_groups makes them (and of its
copy, rules_under_test), and render/outputs.py's per-item path (_dumped) for whole rule files. The shape is
always made and checked by another SLO of the same shape first, so a name or a part of the shape that the
template would get wrong shows as a difference (only the first SLO of a shape is checked when it is made).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

import pytest
import test_unit_slo_test_shape as test_shape
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_unit_slo_test_shape import _NAME, _slo, _tier, plainly_named

from hypothesis_budget import examples
from promspec.compile.build import SLORules
from promspec.compile.rules import RuleFile, group_dict
from promspec.compile.slo import slo_groups
from promspec.compile.slo_tests import rules_under_test
from promspec.model.project import RecordingRule, RuleGroup
from promspec.model.services import SLO, Tier
from promspec.model.sli import SLI
from promspec.render import outputs, slo_atoms, slo_rule_text
from promspec.render.slo_rule_text import SloRuleText, rule_file_text
from promspec.render.yamlout import _ATOM, TemplateError, dump_text, template


def _rules(slo: SLO) -> SLORules:
    return SLORules(slo=slo, groups=slo_groups(slo))


def _plain(slo: SLO) -> SloRuleText:
    groups = [group_dict(g) for g in slo_groups(slo)]
    copy = rules_under_test({"groups": [group_dict(g) for g in slo_groups(slo)]}, [slo])
    return SloRuleText(groups=dump_text(groups), copy=dump_text(copy))


def _fast(slo: SLO) -> SloRuleText | None:
    """slo's texts from its shape, or None where its names take the plain path."""
    shape = slo_rule_text._SHAPES.get(slo_rule_text.shape_key(slo))
    return None if shape is None else slo_rule_text._filled(shape, slo)


def _warm(slo: SLO) -> None:
    """The shape of slo made and checked from an SLO of plain names."""
    slo_rule_text._SHAPES.clear()
    queries = dataclasses.replace(slo.sli, errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))")
    first = dataclasses.replace(plainly_named(slo), sli=queries)
    assert slo_rule_text.slo_rule_text(_rules(first)) == _plain(first)
    shape = slo_rule_text._SHAPES[slo_rule_text.shape_key(first)]
    assert shape.template is not None and shape.checked


@settings(max_examples=examples(120), deadline=None)
@given(service=_NAME, name=_NAME, prefix=st.one_of(st.just(""), _NAME), label=_NAME, severity=_NAME, tier_label=_NAME)
@example(service="yes", name="no", prefix="", label="null", severity="0x1F", tier_label="2001-12-14")
@example(service="1", name="e3", prefix="", label="~", severity="-", tier_label="...")
def test_the_shape_path_is_the_plain_path_whatever_the_names(
    service: str, name: str, prefix: str, label: str, severity: str, tier_label: str
) -> None:
    slo = _slo(
        service=service,
        name=name,
        alert_name=prefix,
        labels={"team": label, "tier": "1"},
        tiers=(_tier("page-fast", labels={"team": tier_label}, severity=severity), _tier("ticket-slow")),
    )
    _warm(slo)
    plain = _plain(slo)
    assert slo_rule_text.slo_rule_text(_rules(slo)) == plain
    assert yaml.safe_load(plain.groups) == [group_dict(g) for g in slo_groups(slo)]
    fast = _fast(slo)
    if all(_ATOM.fullmatch(a) for a in slo_atoms.atoms(slo)):
        assert fast == plain  # names the template holds as they are: taken, and right
    elif fast is not None:
        assert fast == plain


@settings(max_examples=examples(60), deadline=None)
@given(errors=st.text(max_size=30), total=st.one_of(_NAME, st.just("sum(rate(t[5m]))")))
@example(errors="sum(rate(e[5m])) ", total="sum(rate(t[5m]))\n")
def test_any_sli_query_is_a_whole_value(errors: str, total: str) -> None:
    slo = _slo(sli=SLI(kind="ratio", errors=errors, total=total))
    _warm(slo)
    assert slo_rule_text.slo_rule_text(_rules(slo)) == _plain(slo)


def test_names_that_are_not_atoms_take_the_plain_path() -> None:
    for slo in (_slo(service="a: b"), _slo(labels={"team": "x y", "tier": "1"})):
        _warm(slo)
        assert _fast(slo) is None
        assert slo_rule_text.slo_rule_text(_rules(slo)) == _plain(slo)
    spelled = _slo(service="PromspecSlot3x")  # an atom: once the shape is checked, its own text
    _warm(spelled)
    assert _fast(spelled) == _plain(spelled)


def test_a_first_slo_that_cannot_tell_leaves_the_check_to_the_next() -> None:
    slo_rule_text._SHAPES.clear()
    for hostile in (_slo(service="a: b"), _slo(service="PromspecSlot3x")):
        assert slo_rule_text.slo_rule_text(_rules(hostile)) == _plain(hostile)
        assert not slo_rule_text._SHAPES[slo_rule_text.shape_key(hostile)].checked
    clean = _slo(service="next")
    assert slo_rule_text.slo_rule_text(_rules(clean)) == _plain(clean)
    assert slo_rule_text._SHAPES[slo_rule_text.shape_key(clean)].checked
    assert _fast(_slo(service="other")) == _plain(_slo(service="other"))


# One change of each part of an SLO that its rule groups read, but its atoms and queries. Each changes the
# groups' text beyond the names; with the shape made from the unchanged SLO, the changed one must still get
# its own text: the shape key holds the part.
_TIER_CHANGES: dict[str, Callable[[Tier], Tier]] = {
    **test_shape._TIER_CHANGES,
    "annotations": lambda t: dataclasses.replace(t, annotations={"dashboard": "x"}),
}
_TIER_NOT_IN_KEY = {"severity"}  # an atom
_in_first_tier, _in_exhausted = test_shape._in_first_tier, test_shape._in_exhausted


def _sli(**fields: Any) -> Callable[[SLO], SLO]:
    return lambda s: dataclasses.replace(s, sli=dataclasses.replace(s.sli, **fields))


_SLI_CHANGES: dict[str, Callable[[SLO], SLO]] = {
    "kind": _sli(kind="latency"),
    "signal": _sli(signal="ttft"),
    "threshold": _sli(threshold="500ms"),
}
# The SLI's queries are whole slots; the rest of it no promspec rule reads (Sloth's and the probes' fields).
_SLI_NOT_IN_KEY = {"errors", "total", "window_queries", "denominator_corrected", "llm_probe_target"}

_SLO_CHANGES: dict[str, Callable[[SLO], SLO]] = {
    "objective_text": lambda s: dataclasses.replace(s, objective_text="99.0%"),
    "objective": lambda s: dataclasses.replace(s, objective=Decimal("0.999")),
    "window": lambda s: dataclasses.replace(s, window="28d"),
    "description": lambda s: dataclasses.replace(s, description="Fast enough"),
    "backend": lambda s: dataclasses.replace(s, backend="vllm"),
    "min_traffic": lambda s: dataclasses.replace(s, min_traffic=""),
    "labels": lambda s: dataclasses.replace(s, labels={"owner": "x", "tier": "1"}),
    "tiers": lambda s: dataclasses.replace(s, tiers=s.tiers[:1]),
    "exhausted": lambda s: dataclasses.replace(s, exhausted=None),
    "runbook_url": lambda s: dataclasses.replace(s, runbook_url="https://runbooks/x"),
    "annotations": lambda s: dataclasses.replace(s, annotations={"dashboard": "x"}),
    **{f"sli.{field}": change for field, change in _SLI_CHANGES.items()},
    **{f"tiers[0].{field}": _in_first_tier(change) for field, change in _TIER_CHANGES.items()},
    **{
        f"exhausted.{field}": _in_exhausted(change)
        for field, change in _TIER_CHANGES.items()
        if field in ("enabled", "for_", "labels")  # its alert reads no window, share or annotations
    },
}
# The SLO's atoms, where checks point, and what only foreign SLOs read (they take the plain path).
_SLO_NOT_IN_KEY = {
    "service", "name", "alert_name", "ref", "written", "sli_written", "conventions", "series_labels", "sloth_spec",
}  # fmt: skip


def _misses(key: Callable[[SLO], tuple[Hashable, ...]]) -> list[str]:
    """The changes whose SLO does not get its own text after the unchanged SLO made the shape, shape_key
    being key."""
    base = _slo()
    missed = []
    real = slo_rule_text.shape_key
    slo_rule_text.shape_key = key
    try:
        for what, change in _SLO_CHANGES.items():
            slo = change(base)
            assert _plain(slo) != _plain(base), what  # the change shows
            slo_rule_text._SHAPES.clear()
            assert slo_rule_text.slo_rule_text(_rules(base)) == _plain(base)
            try:
                right = slo_rule_text.slo_rule_text(_rules(slo)) == _plain(slo)
            except (TemplateError, IndexError):  # another number of names than the shape's slots
                right = False
            if not right:
                missed.append(what)
    finally:
        slo_rule_text.shape_key = real
        slo_rule_text._SHAPES.clear()
    return missed


def test_the_shape_key_holds_every_part_the_groups_read() -> None:
    assert set(_TIER_CHANGES) | _TIER_NOT_IN_KEY == {f.name for f in dataclasses.fields(Tier)}
    assert set(_SLI_CHANGES) | _SLI_NOT_IN_KEY == {f.name for f in dataclasses.fields(SLI)}
    named = {k for k in _SLO_CHANGES if "." not in k} | {"sli"}
    assert named | _SLO_NOT_IN_KEY == {f.name for f in dataclasses.fields(SLO)}
    assert _misses(slo_rule_text.shape_key) == []


# shape_key's last three parts (conventions, series_labels, sloth_spec) are read only by foreign SLOs, which
# never reach the shapes: leaving one of them out changes nothing these SLOs render.
@pytest.mark.parametrize("part", range(12))
def test_a_shape_key_without_one_of_its_parts_is_caught(part: int) -> None:
    """The test above fails for a key that forgets a part: each of shape_key's parts left out in turn."""
    real = slo_rule_text.shape_key
    assert len(real(_slo())) == 15

    def forgetful(slo: SLO) -> tuple[Hashable, ...]:
        key = real(slo)
        return key[:part] + key[part + 1 :]

    assert _misses(forgetful) != []


@pytest.mark.parametrize("field", sorted(_TIER_CHANGES))
def test_a_tier_key_without_one_of_its_fields_is_caught(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = slo_rule_text._tier_key
    at = list(_TIER_CHANGES).index(field)
    monkeypatch.setattr(slo_rule_text, "_tier_key", lambda t: (*real(t)[:at], *real(t)[at + 1 :]))
    assert _misses(slo_rule_text.shape_key) != []


@pytest.mark.parametrize("field", sorted(_SLI_CHANGES))
def test_an_sli_key_without_one_of_its_fields_is_caught(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = slo_rule_text._sli_key
    at = 1 + list(_SLI_CHANGES).index(field)  # after the SLI's class
    monkeypatch.setattr(slo_rule_text, "_sli_key", lambda s: (*real(s)[:at], *real(s)[at + 1 :]))
    assert _misses(slo_rule_text.shape_key) != []


def _own_group(name: str) -> RuleGroup:
    slo = _slo()
    rule = RecordingRule(record="job:up:sum", expr="sum(up)", ref=slo.ref, labels={"k": "v"})
    return RuleGroup(name=name, kind="RecordingGroup", ref=slo.ref, interval="1m", rules=[rule])


@pytest.mark.parametrize("layout", ["slos", "own first", "own between", "foreign", "name twice"])
def test_a_rule_file_is_the_per_item_path(layout: str) -> None:
    """rule_file_text against render_rules' per-item path (outputs._dumped): the file and every copy."""
    slo_rule_text._SHAPES.clear()
    slos = [_rules(_slo(service=f"s{i}", name="lat")) for i in range(3)]
    own = _own_group("own")
    groups: list[RuleGroup] = [g for r in slos for g in r.groups]
    if layout == "own first":
        groups = [own, *groups]
    elif layout == "own between":
        groups = [*slos[0].groups, own, *[g for r in slos[1:] for g in r.groups]]
    elif layout == "foreign":
        slos[1] = SLORules(slo=dataclasses.replace(slos[1].slo, conventions="sloth"), groups=slos[1].groups)
    elif layout == "name twice":
        groups = [*groups, _own_group(slos[2].groups[0].name)]
    rule_file = RuleFile(source="specs/s.yml", groups=tuple(groups))
    fast = rule_file_text(rule_file, slos)
    text, copies = outputs._dumped(RuleFile(source="specs/s.yml", groups=tuple(groups)), slos)
    if layout == "name twice":
        assert fast is None
        return
    assert fast is not None
    assert fast.text == text
    assert [(r.slo.id, t) for r, t in fast.copies] == [(r.slo.id, t) for r, t in copies]


def test_a_multi_line_string_holds_atoms() -> None:
    """The SLO's ratio expressions are literal blocks with its id inside: atoms there, for any atom value."""
    a = "PromspecSlot0x"
    text = f'sum(x{{slo_id="{a}"}})\n/\nsum(y{{slo_id="{a}"}})'
    tmpl = template({"k": [{"expr": text}]}, 1, 1)
    for atom in ("yes", "-", "...", "1e3", "x.y_z-0"):
        filled = tmpl.pattern.format(atom)
        assert filled == dump_text({"k": [{"expr": text.replace(a, atom)}]})
