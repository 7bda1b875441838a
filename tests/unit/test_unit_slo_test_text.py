"""SLO test files written once per shape: yamlout.template/fill and render/slo_test_text.py.

The oracles: yaml.safe_load of the text equals the document it stands for (the library's reader, not the
emitter), and the text equals dump_text of that document (what every other file is written by). Names are
drawn with quotes, backslashes, colons, hashes, unicode and line breaks: every string a spec could give.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.slo_tests import slo_test_files
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI
from promspec.render.slo_test_text import slo_test_texts
from promspec.render.yamlout import TemplateError, dump_text, fill, slot_name, template

# Strings that test the quoting: indicators, quotes, escapes, breaks, unicode, YAML 1.1 booleans, numbers.
_NASTY = st.sampled_from(
    ["", " ", "a: b", "a #b", "-", "? x", "'q'", '"dq"', "back\\slash", "yes", "0x1F", "1e3", "~", "é", "日本",
     "tab\there", "line\nbreak", "cr\rx", "\u2028", "{a}", "[b]", "*alias", "&anchor", "!tag", "%"]
)  # fmt: skip
_TEXT = st.one_of(st.text(max_size=30), _NASTY, st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True))
# Over the emitter's longest one-line scalar (the library folds those): the template is not used.
_LONG = st.just("x" * 17_000)


def _document(values: list[str]) -> dict[str, Any]:
    """A document with a string at every position a slot can take: mapping values at columns 0, 2 and 4,
    sequence items at several depths, first keys of sequence items."""
    a, b, c, d, e, f = values
    return {
        "rule_files": [a],
        "evaluation_interval": b,
        "tests": [
            {"name": c, "input_series": [{"series": d, "values": "1x5"}], "exp": [[e, "fixed"]]},
            {"name": f, "nested": {"deeper": {"leaf": a}}, "empty": []},
        ],
    }


_TEMPLATE = template(_document([slot_name(i) for i in range(6)]), 6)


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.one_of(_TEXT, _LONG), min_size=6, max_size=6))
def test_a_filled_template_is_the_dump_of_the_document(values: list[str]) -> None:
    doc = _document(values)
    text = fill(_TEMPLATE, values)
    if text is None:  # only where a value would not be written on one line
        assert any("\n" in dump_text([v]).rstrip("\n") or len(v) > 1 << 14 for v in values)
        return
    assert text == dump_text(doc)
    assert yaml.safe_load(text) == doc


@settings(max_examples=examples(50))
@given(st.lists(st.from_regex(r"[ -~]{1,40}", fullmatch=True), min_size=6, max_size=6))
def test_printable_one_line_names_always_take_the_template(values: list[str]) -> None:
    assert fill(_TEMPLATE, values) is not None


def test_a_document_whose_fixed_text_looks_like_a_placeholder_is_refused() -> None:
    with pytest.raises(TemplateError):
        template({"a": slot_name(0), "b": f"x {slot_name(1)}"}, 1)
    with pytest.raises(TemplateError):
        template({"a": slot_name(0)}, 2)  # slot 1 never written
    with pytest.raises(TemplateError):
        template({"a": slot_name(0), slot_name(0): "b"}, 1)  # a key is not written as a value is
    with pytest.raises(TemplateError):
        fill(_TEMPLATE, ["a"] * 5)


def _ref() -> Ref:
    return Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0))


def _slo(
    service: str, name: str, labels: dict[str, str], objective: str, min_traffic: str, tiers: list[str], for_: str
) -> SLO:
    def tier(n: str) -> Tier:
        long, short, share, severity = TIERS[n]
        return Tier(name=n, long=long, short=short, share=share, severity=severity, for_=for_, labels={"x": name})

    return SLO(
        service=service,
        name=name,
        ref=_ref(),
        objective_text=objective,
        objective=Decimal(objective),
        window="30d",
        sli=SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        tiers=tuple(tier(n) for n in tiers),
        exhausted=Tier(name="budget-exhausted", long="30d", short="30d", share=Decimal(1), severity="ticket"),
        min_traffic=min_traffic,
        labels=labels,
    )


@settings(max_examples=examples(40), deadline=None)
@given(
    service=_TEXT,
    name=_TEXT,
    labels=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), _TEXT, max_size=2),
    objective=st.sampled_from(["0.99", "0.995", "0.999", "0.9990"]),
    min_traffic=st.sampled_from(["", "0.05", "1"]),
    tiers=st.lists(st.sampled_from(sorted(TIERS)), min_size=1, max_size=4, unique=True),
    for_=st.sampled_from(["", "2m"]),
    groups=st.lists(_TEXT, min_size=1, max_size=6),
    rule_file=_TEXT,
)
def test_an_slos_test_text_is_the_dump_of_its_test_files(
    service: str,
    name: str,
    labels: dict[str, str],
    objective: str,
    min_traffic: str,
    tiers: list[str],
    for_: str,
    groups: list[str],
    rule_file: str,
) -> None:
    slo = _slo(service, name, labels, objective, min_traffic, tiers, for_)
    texts = slo_test_texts(rule_file, slo, groups)
    files = slo_test_files(rule_file, slo, groups)
    assert list(texts) == list(files) == [*tiers, "budget-exhausted"]
    for tier, content in files.items():
        assert texts[tier] == dump_text(content)
        loaded = yaml.safe_load(texts[tier])
        assert loaded == content
        assert loaded["rule_files"] == [rule_file] and loaded["group_eval_order"] == groups
        assert all(case["name"].startswith(f"{service}-{name} {tier}: ") for case in loaded["tests"])


def test_slos_of_one_shape_share_a_template_and_keep_their_own_numbers() -> None:
    """Two shapes differ in their numbers (no template is reused across objectives)."""
    a = _slo("a", "x", {}, "0.99", "", ["page-fast"], "")
    b = _slo("b", "x", {}, "0.999", "", ["page-fast"], "")
    ta, tb = slo_test_texts("r.yml", a, ["g"])["page-fast"], slo_test_texts("r.yml", b, ["g"])["page-fast"]
    assert "1.8x59" in ta  # 14.4 x 1% x 10/s x 1.25
    assert "0.18x59" in tb  # 14.4 x 0.1% x 10/s x 1.25


def test_names_that_look_like_placeholders_are_written_as_names() -> None:
    """Values are put in after the template is cut: a name spelled like a placeholder is only a name."""
    slo = _slo(slot_name(0), slot_name(7), {"team": slot_name(1)}, "0.99", "", ["page-fast"], "")
    texts = slo_test_texts(slot_name(2), slo, [slot_name(3)])
    for tier, content in slo_test_files(slot_name(2), slo, [slot_name(3)]).items():
        assert texts[tier] == dump_text(content)
        assert yaml.safe_load(texts[tier]) == content
