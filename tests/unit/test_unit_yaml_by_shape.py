"""Rule files written item by item, each from its shape (yamlout.dump_text_by_shape): the library's bytes
on every input, and an SLO's copy of its groups joined from the texts of its rule file (yamlout.shaped with
the rule file's ItemTexts): the same objects' texts, any other item written anew, anchors left to the library.

The oracle is the library's dump of the whole document (`_library_dump`), never the per-item path.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_unit_yaml_emitter import HOSTILE, documents, texts

from hypothesis_budget import examples
from promspec.render import yamlout
from promspec.render.yamlout import Verbatim, _library_dump, dump_text_by_shape, dump_yaml_by_shape, shaped

# Values that are equal in Python but written differently: a key by value must tell them apart.
LOOKALIKES: list[object] = [1, 1.0, True, 0, 0.0, -0.0, False, "1", "true", Verbatim("x\n"), "x\n", None, "null"]

rule_values = st.one_of(st.sampled_from(HOSTILE), texts, texts.map(Verbatim), st.sampled_from(LOOKALIKES))
rules = st.lists(
    st.dictionaries(
        st.sampled_from(["record", "alert", "expr", "for", "labels", "annotations"]), rule_values, max_size=5
    )
    | st.fixed_dictionaries({"alert": rule_values, "labels": st.dictionaries(texts, rule_values, max_size=3)}),
    max_size=4,
)
groups = st.fixed_dictionaries({"name": rule_values, "rules": rules}) | documents


def _check(data: object) -> None:
    # Twice: the first dump fills the texts, the second reads them back.
    expected = _library_dump(data)
    assert dump_text_by_shape(data) == expected
    assert dump_text_by_shape(data) == expected


@settings(max_examples=examples(50), derandomize=True, deadline=None, database=None)
@given(st.lists(groups, max_size=5), st.dictionaries(texts, st.lists(groups, max_size=3), max_size=2))
def test_rule_files_by_shape_are_the_library_bytes(items: list[object], more: dict[str, list[object]]) -> None:
    _check({"groups": items})
    _check({"groups": items, **more})


@settings(max_examples=examples(40), derandomize=True, deadline=None, database=None)
@given(documents)
def test_any_document_by_shape_is_the_library_bytes(data: object) -> None:
    _check(data)


@pytest.mark.parametrize("text", HOSTILE)
def test_each_hostile_string_in_a_group(text: str) -> None:
    for value in (text, Verbatim(text)):
        _check({"groups": [{"name": value, "rules": [{"record": "r", "expr": value, "labels": {value: value}}]}]})
        _check({value: [value, [value], {"k": value}]})


def test_values_that_compare_equal_keep_their_own_text() -> None:
    """1, 1.0 and True (and "x\\n" and Verbatim("x\\n")) are equal in Python; each keeps its own bytes."""
    for value in LOOKALIKES:
        _check({"groups": [{"name": "g", "limit": value, "rules": [{"expr": value}]}]})


def test_a_group_changed_after_it_was_written_is_written_again() -> None:
    group: dict[str, Any] = {"name": "g", "rules": [{"record": "a", "expr": "x"}]}
    _check({"groups": [group]})
    group["rules"][0]["expr"] = "y\nz"  # the same dicts, another value: never the old text
    group["interval"] = "1m"
    _check({"groups": [group]})


def test_shared_containers_are_the_librarys_anchors() -> None:
    labels = {"severity": "page"}
    rule = {"alert": "A", "expr": "up == 0", "labels": labels}
    for data in (
        {"groups": [{"name": "a", "rules": [rule]}, {"name": "b", "rules": [rule]}]},  # across groups
        {"groups": [{"name": "a", "rules": [rule, {"alert": "B", "labels": labels}]}]},  # within one
        {"groups": [rule], "other": [rule]},  # across keys
    ):
        _check(data)


def _check_copy(data: dict[str, list[object]], copy: dict[str, list[object]]) -> None:
    """copy, written with data's item texts, is the library's bytes of copy."""
    known = shaped(data).lists.get("groups")
    assert shaped(copy, known).text == _library_dump(copy)


@settings(max_examples=examples(60), derandomize=True, deadline=None, database=None)
@given(st.lists(groups, min_size=1, max_size=5), st.lists(groups, max_size=3), st.data())
def test_a_copy_joins_the_texts_of_the_same_items(items: list[object], new: list[object], data: st.DataObject) -> None:
    """A copy of some of a document's items (the same objects, any order, one twice: an anchor) and new
    ones, some made of the document's own containers (anchors again): the library's bytes."""
    picked = data.draw(st.lists(st.sampled_from(items), max_size=6))
    inner = [c for item in items if isinstance(item, dict) for c in item.values() if isinstance(c, dict | list)]
    shared = data.draw(st.lists(st.sampled_from(inner), max_size=2)) if inner else []
    mixed = [*picked, *new, *({"name": "n", "rules": [c]} for c in shared)]
    order = data.draw(st.permutations(mixed)) if mixed else mixed
    _check_copy({"groups": items}, {"groups": list(order)})


def test_a_copy_reads_a_text_by_the_object_not_its_value() -> None:
    """An equal item that is another object (here also another type) gets its own text, never the text
    of the item it equals; and a copy's group made of a reused group's rules is written with anchors."""
    text = "a\u2028b\n"  # a str writes it quoted, a Verbatim in a literal block
    assert _library_dump([text]) != _library_dump([Verbatim(text)])
    rule = {"record": "r", "expr": text}
    data: dict[str, list[object]] = {"groups": [{"name": "g", "rules": [rule]}, {"name": "h", "rules": []}]}
    _check_copy(data, {"groups": [{"name": "g", "rules": [{"record": "r", "expr": Verbatim(text)}]}]})
    _check_copy(data, {"groups": [data["groups"][0], {"name": "s", "rules": [rule]}]})
    _check_copy(data, {"groups": [data["groups"][1], data["groups"][1]]})
    _check_copy(data, {"groups": [data["groups"][1]], "more": [data["groups"]]})


def test_dump_yaml_by_shape_puts_the_header_first() -> None:
    data = {"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum(x)"}]}]}
    assert dump_yaml_by_shape(data, "# head\n") == ("# head\n" + _library_dump(data)).encode("utf-8")


def test_an_slos_groups_are_written_from_its_shape_and_the_others_by_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled specs: every rule file and SLO copy is dump_yaml's bytes (the path before texts were
    written per item or per SLO shape), and only the groups that are no SLO's of promspec's conventions (the
    specs' own, probes') are written item by item: the SLOs' from their shapes (render/slo_rule_text.py)."""
    from promspec.pipeline import load_build
    from promspec.render import outputs

    build, _ = load_build(["specs"])
    written: list[str] = []
    item_text = yamlout._item_text

    def counted(item: object, seen: set[int]) -> str:
        written.append(text := item_text(item, seen))
        return text

    monkeypatch.setattr(yamlout, "_item_text", counted)
    rules = outputs.render_rules(build)
    groups = sum(len(f.groups) for f in build.rule_files.values())
    by_shape = sum(len(r.groups) for r in build.slo_rules if r.slo.conventions == "promspec")
    assert by_shape and len(written) == groups - by_shape
    assert not any(text.startswith("- name: slo-") and "slo:sli_errors:rate5m" in text for text in written)

    monkeypatch.setattr(outputs, "rule_file_text", lambda rule_file, slos: None)
    monkeypatch.setattr(
        outputs, "shaped", lambda data, known=None: yamlout.Shaped(text=yamlout.dump_text(data), lists={})
    )
    assert outputs.render_rules(build) == rules


def test_generated_groups_are_filled_from_their_shape_with_blocks_at_every_column() -> None:
    """Multi-line strings as mapping values and sequence items at several columns: the shape's pattern
    places their literal blocks (it is used, not the emitter), and the text is the library's."""
    yamlout._SHAPES.clear()
    for i in range(3):
        group = {
            "name": f"slo-svc{i}-short",
            "rules": [
                {"record": "r", "expr": f"a{{x='{i}'}}\n/\nb", "labels": {"slo": f"s{i}", "deep": {"t": f"x\ny{i}"}}},
                {"alert": "A", "items": [f"l\n{i}", [f"m\nn{i}", {"k": f"o\np{i}"}]], "annotations": {}},
            ],
        }
        _check({"groups": [group, f"top\nlevel{i}"]})
    assert [s.pattern is not None for s in yamlout._SHAPES.values()] == [True, True]


# Printable ASCII with line feeds, colons, hashes, quotes and spaces: the cases _placed writes itself.
ascii_texts = st.one_of(texts, st.text(alphabet=" :#-\n'\"abs1({/_.", max_size=24))


@settings(max_examples=examples(200), derandomize=True, deadline=None, database=None)
@given(st.lists(ascii_texts, min_size=1, max_size=4))
def test_strings_placed_at_every_column_are_the_library_bytes(values: list[str]) -> None:
    """Each string as a mapping value and a sequence item at columns 0 to 6 of a group filled from its
    shape (yamlout._placed: plain, literal blocks already at their column, quotes), twice (cold, cached)."""
    a, *rest = values
    group = {"name": a, "rules": [{"expr": a, "labels": {"l": a, "deep": {"d": a}}, "items": [a, [a, {"k": a}]]}]}
    _check({"groups": [group, {"name": "x", "rules": [{"expr": v} for v in rest]}, a]})


def test_a_pattern_is_never_read_for_another_shape_with_the_same_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Items with the same strings in other shapes, while shapes are cut again past the limit, keep their
    own bytes."""
    monkeypatch.setattr(yamlout, "_SHAPES_MAX", 1)
    items: list[object] = [{"name": "a"}, {"other": "a"}, ["a"], "a", {"name": ["a"]}, {"name": "a", "limit": 1}]
    _check({"groups": items})
    _check({"groups": items[::-1], "more": items[1:]})
    monkeypatch.setattr(yamlout, "_SHAPES_MAX", 1 << 10)
    _check({"groups": items})
    yamlout._SHAPES.clear()
