"""SLO test files written once per SLO shape with the SLO's names as atoms (render/slo_test_text.py's
_by_shape, yamlout.template's atoms).

The oracle is the plain path: dump_text of compile/slo_tests.slo_test_files, the document itself. The shape's
templates are always warm with another SLO of the same shape first, so a name or a part of the shape that the
template would get wrong shows as a difference (the first SLO of a shape is checked against the plain path
when its templates are made; the ones after it are not).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.slo_tests import slo_test_files
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI
from promspec.render import slo_atoms, slo_test_text
from promspec.render.slo_test_text import slo_test_texts
from promspec.render.yamlout import _ATOM, TemplateError, dump_text, fill, slot_name, template

# Names that pass yamlout._ATOM but that YAML 1.1 reads as another type, or that start with an indicator,
# when they stand alone: booleans, null, numbers, timestamps, "-", "---", "...".
_ATOM_LIKE = st.sampled_from(
    ["yes", "no", "on", "Off", "y", "N", "null", "Null", "0x1F", "0o7", "1e3", "1_000", "-1", ".5", ".inf",
     ".NaN", "2001-12-14", "12-14", "-", "---", "...", ".", "_", "0", "1.0", "true", "FALSE"]
)  # fmt: skip
# Names that are not atoms: quoting, escapes, breaks, unicode, indicators a name could bring.
_HOSTILE = st.sampled_from(
    ["", " ", "a: b", "a #b", "a:", "a b", "? x", "'q'", '"dq"', "back\\slash", "~", "é", "日本", "tab\there",
     "line\nbreak", "cr\rx", "\u2028", "{a}", "[b]", "*alias", "&anchor", "!tag", "%", "x" * 300, " lead", "trail "]
)  # fmt: skip
_NAME = st.one_of(_ATOM_LIKE, _HOSTILE, st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True), st.text(max_size=12))


def _ref() -> Ref:
    return Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0))


def _tier(name: str, **fields: Any) -> Tier:
    long, short, share, severity = TIERS[name]
    return Tier(**{"name": name, "long": long, "short": short, "share": share, "severity": severity, **fields})


def _slo(**fields: Any) -> SLO:
    base: dict[str, Any] = {
        "service": "svc",
        "name": "lat",
        "ref": _ref(),
        "objective_text": "99%",
        "objective": Decimal("0.99"),
        "window": "30d",
        "sli": SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        "tiers": (_tier("page-fast", labels={"team": "a"}), _tier("ticket-slow")),
        "exhausted": Tier(name="budget-exhausted", long="30d", short="30d", share=Decimal(1), severity="ticket"),
        "min_traffic": "0.05",
        "labels": {"team": "infra", "tier": "1"},
    }
    return SLO(**{**base, **fields})


_GROUPS = ["slo-svc-lat-short", "slo-svc-lat-long", "slo-svc-lat-alerts"]


def _plain(rule_file: str, slo: SLO, groups: list[str]) -> dict[str, str]:
    return {tier: dump_text(content) for tier, content in slo_test_files(rule_file, slo, groups).items()}


def _fast(rule_file: str, slo: SLO, groups: list[str]) -> dict[str, str] | None:
    return slo_test_text._by_shape(rule_file, slo, groups)


def plainly_named(slo: SLO) -> SLO:
    """slo with plain names: an SLO of its shape that makes the shape (and checks it against the plain path)."""

    def plain(tier: Tier) -> Tier:
        return dataclasses.replace(tier, labels=dict.fromkeys(tier.labels, "t"), severity="s")

    return dataclasses.replace(
        slo,
        service="warm",
        name="up",
        alert_name="",
        labels=dict.fromkeys(slo.labels, "w"),
        tiers=tuple(map(plain, slo.tiers)),
        exhausted=plain(slo.exhausted) if slo.exhausted else None,
    )


def _warm(slo: SLO, groups: list[str]) -> None:
    """The shape of slo made from an SLO of plain names (and checked against the plain path there)."""
    slo_test_text._SHAPES.clear()
    first = plainly_named(slo)
    names = [f"g{i}" for i in range(len(groups))]
    assert _fast("warm.yml", first, names) == _plain("warm.yml", first, names)


@settings(max_examples=examples(120), deadline=None)
@given(
    service=_NAME,
    name=_NAME,
    prefix=st.one_of(st.just(""), _NAME),
    label=_NAME,
    severity=_NAME,
    tier_label=_NAME,
    rule_file=_NAME,
    group=_NAME,
)
@example(
    service="yes",
    name="no",
    prefix="",
    label="null",
    severity="0x1F",
    tier_label="2001-12-14",
    rule_file="1e3",
    group="~",
)
def test_the_shape_path_is_the_plain_path_whatever_the_names(
    service: str, name: str, prefix: str, label: str, severity: str, tier_label: str, rule_file: str, group: str
) -> None:
    slo = _slo(
        service=service,
        name=name,
        alert_name=prefix,
        labels={"team": label, "tier": "1"},
        tiers=(_tier("page-fast", labels={"team": tier_label}, severity=severity), _tier("ticket-slow")),
    )
    groups = [group, *_GROUPS[1:]]
    _warm(slo, groups)
    plain = _plain(rule_file, slo, groups)
    fast = _fast(rule_file, slo, groups)
    assert slo_test_texts(rule_file, slo, groups) == plain
    for tier, text in plain.items():
        assert yaml.safe_load(text) == slo_test_files(rule_file, slo, groups)[tier]
    if all(_ATOM.fullmatch(a) for a in slo_atoms.atoms(slo)) and all("\n" not in v for v in (rule_file, group)):
        assert fast == plain  # the names the template holds as they are: taken, and right
    elif fast is not None:
        assert fast == plain


def test_names_that_are_not_atoms_take_the_per_file_path() -> None:
    slo = _slo(service="a: b")
    _warm(slo, _GROUPS)
    assert _fast("r.yml", slo, _GROUPS) is None
    assert slo_test_texts("r.yml", slo, _GROUPS) == _plain("r.yml", slo, _GROUPS)


# One change of each part of an SLO that its test files read, but its atoms. Each changes the files' text
# beyond the names; with the shape's templates made from the unchanged SLO, the changed one must still get
# its own text: the shape key holds the part.
_TIER_CHANGES: dict[str, Callable[[Tier], Tier]] = {
    "name": lambda t: dataclasses.replace(t, name="page-slow"),
    "long": lambda t: dataclasses.replace(t, long="2h"),
    "short": lambda t: dataclasses.replace(t, short="10m"),
    "share": lambda t: dataclasses.replace(t, share=Decimal("0.05")),
    "enabled": lambda t: dataclasses.replace(t, enabled=False),
    "for_": lambda t: dataclasses.replace(t, for_="5m"),
    "labels": lambda t: dataclasses.replace(t, labels={"squad": "a"}),
    "burn_rate": lambda t: dataclasses.replace(t, burn_rate="20"),
}
# Atoms (their values are the template's slots) and what no test file reads.
_TIER_NOT_IN_KEY = {"severity", "annotations"}


def _in_first_tier(change: Callable[[Tier], Tier]) -> Callable[[SLO], SLO]:
    return lambda s: dataclasses.replace(s, tiers=(change(s.tiers[0]), *s.tiers[1:]))


def _in_exhausted(change: Callable[[Tier], Tier]) -> Callable[[SLO], SLO]:
    return lambda s: dataclasses.replace(s, exhausted=change(s.exhausted) if s.exhausted else None)


_SLO_CHANGES: dict[str, Callable[[SLO], SLO]] = {
    "objective": lambda s: dataclasses.replace(s, objective=Decimal("0.999")),
    "window": lambda s: dataclasses.replace(s, window="28d"),
    "min_traffic": lambda s: dataclasses.replace(s, min_traffic=""),
    "labels": lambda s: dataclasses.replace(s, labels={"owner": "x", "tier": "1"}),
    "tiers": lambda s: dataclasses.replace(s, tiers=s.tiers[:1]),
    "exhausted": lambda s: dataclasses.replace(s, exhausted=None),
    **{f"tiers[0].{field}": _in_first_tier(change) for field, change in _TIER_CHANGES.items()},
    **{
        f"exhausted.{field}": _in_exhausted(change)
        for field, change in _TIER_CHANGES.items()
        if field in ("enabled", "for_", "labels")  # its cases read no window, share or burn rate
    },
}
# The SLO's atoms, and the fields no test file reads (its rules, dashboards and checks do).
_SLO_NOT_IN_KEY = {
    "service", "name", "alert_name", "ref", "objective_text", "sli", "description", "backend", "runbook_url",
    "annotations", "conventions", "series_labels", "sloth_spec", "written", "sli_written",
}  # fmt: skip


def _misses(key: Callable[[SLO, int], tuple[Hashable, ...]]) -> list[str]:
    """The changes whose SLO does not get its own files after the unchanged SLO made the shape, shape_key
    being key; one with another number of groups too."""
    base = _slo()
    changed = {what: (change(base), _GROUPS) for what, change in _SLO_CHANGES.items()}
    changed["groups"] = (base, _GROUPS[:2])
    missed = []
    real = slo_test_text.shape_key
    slo_test_text.shape_key = key
    try:
        for what, (slo, groups) in changed.items():
            assert _plain("r.yml", slo, groups) != _plain("r.yml", base, _GROUPS), what  # the change shows
            slo_test_text._SHAPES.clear()
            assert _fast("r.yml", base, _GROUPS) == _plain("r.yml", base, _GROUPS)
            try:
                right = _fast("r.yml", slo, groups) in (None, _plain("r.yml", slo, groups))
            except TemplateError:
                right = False
            if not right:
                missed.append(what)
    finally:
        slo_test_text.shape_key = real
        slo_test_text._SHAPES.clear()
    return missed


def test_the_shape_key_holds_every_part_the_files_read() -> None:
    assert set(_TIER_CHANGES) | _TIER_NOT_IN_KEY == {f.name for f in dataclasses.fields(Tier)}
    assert {k for k in _SLO_CHANGES if "." not in k} | _SLO_NOT_IN_KEY == {f.name for f in dataclasses.fields(SLO)}
    assert _misses(slo_test_text.shape_key) == []


@pytest.mark.parametrize("part", range(7))
def test_a_shape_key_without_one_of_its_parts_is_caught(part: int) -> None:
    """The test above fails for a key that forgets a part: each of shape_key's parts left out in turn."""

    real = slo_test_text.shape_key

    def forgetful(slo: SLO, groups: int) -> tuple[Hashable, ...]:
        key = real(slo, groups)
        return key[:part] + key[part + 1 :]

    assert len(real(_slo(), 3)) == 7
    assert _misses(forgetful) != []


@pytest.mark.parametrize("field", sorted(_TIER_CHANGES))
def test_a_tier_key_without_one_of_its_fields_is_caught(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = slo_atoms.tier_key
    at = list(_TIER_CHANGES).index(field)
    monkeypatch.setattr(slo_atoms, "tier_key", lambda t: (*real(t)[:at], *real(t)[at + 1 :]))
    assert _misses(slo_test_text.shape_key) != []


# yamlout's atoms on their own: strings of hostile fixed text around atom placeholders.
_FIXED = st.lists(
    st.sampled_from(
        ["a", "Z", "0", "-", ".", ":", ": ", " #", "#", " ", "'", '"', "{", "}", "=", ",", "?", "é", "~", "!"]
    ),
    max_size=4,
).map("".join)


@settings(max_examples=examples(300), deadline=None)
@given(
    fixed=st.lists(_FIXED, min_size=6, max_size=6),
    atoms=st.lists(
        st.one_of(_ATOM_LIKE, st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True)), min_size=2, max_size=2
    ),
)
def test_an_atom_template_that_is_made_is_the_dump_for_every_atom(fixed: list[str], atoms: list[str]) -> None:
    def doc(a: str, b: str) -> dict[str, Any]:
        return {"x": fixed[0] + a + fixed[1], "y": [fixed[2] + b + fixed[3] + a + fixed[4], {"z": fixed[5] + b}]}

    try:
        tmpl = template(doc(slot_name(0), slot_name(1)), 2, 2)
    except TemplateError:
        return  # a context atom_context does not vouch for: the caller dumps the document
    assert fill(tmpl, atoms) == dump_text(doc(*atoms))


def test_the_contexts_of_an_slo_are_atom_contexts() -> None:
    """The series, selectors and case names the test files hold: each one a context atoms can stand in."""
    a, b = slot_name(0), slot_name(1)
    for text in (
        f'slo:sli_total:rate5m{{slo="{a}",slo_id="{a}-{b}"}}',
        f"{a}-{b} page-fast: fires",
        f'ALERTS{{x="{b}"}}',
    ):
        tmpl = template({"k": text}, 2, 2)
        assert fill(tmpl, ["yes", "0x1"]) == dump_text({"k": text.replace(a, "yes").replace(b, "0x1")})
    for text in (a, f"{a}-x", f"x-{a}", f"{a}: x {b}'"):  # alone, at an end, or quotes to double: refused
        with pytest.raises(TemplateError):
            template({"k": text}, 2, 2)
    tmpl = template({"k": f"s{{v={a}}}"}, 1, 1)
    assert fill(tmpl, ["a b"]) is None and fill(tmpl, ["é"]) is None and fill(tmpl, [""]) is None


def test_a_first_slo_whose_names_are_not_atoms_leaves_the_shape_to_the_next() -> None:
    slo_test_text._SHAPES.clear()
    for hostile in (_slo(service="a: b"), _slo(service=slot_name(3))):
        assert _fast("r.yml", hostile, _GROUPS) is None
        assert slo_test_texts("r.yml", hostile, _GROUPS) == _plain("r.yml", hostile, _GROUPS)
    clean = _slo(service="next")
    assert _fast("r.yml", clean, _GROUPS) == _plain("r.yml", clean, _GROUPS)
    assert len(slo_test_text._SHAPES) == 1
