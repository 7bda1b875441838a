"""The loader's shape check on a document without anchors (a tree) walks depths only: it must refuse exactly
the documents the full check refuses, blaming the same node with the same message.

The oracle is the full check (aliases=True), which the anchor-free fast path replaces; the documents are
drawn as nested flow and block collections around the depth limit.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.diagnostics import Report
from promspec.model.loader import MAX_DEPTH, _check_shape, _Loader, _ShapeError, parse_text


def _outcome(node: yaml.Node | None, aliases: bool) -> tuple[int, str] | None:
    assert node is not None
    try:
        _check_shape(node, aliases)
    except _ShapeError as exc:
        return id(exc.node), exc.message
    return None


def _nested(depth: int, width: int) -> Any:
    """A document depth levels deep along one branch, with width siblings at each level."""
    value: Any = "leaf"
    for level in range(depth - 1):
        value = [f"s{level}"] * width + [value] if level % 2 else {f"k{i}": i for i in range(width)} | {"deep": value}
    return value


@settings(max_examples=examples(60), deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=MAX_DEPTH + 15),
    width=st.integers(min_value=0, max_value=3),
    flow=st.booleans(),
)
def test_a_tree_is_refused_at_the_same_node_as_by_the_full_check(depth: int, width: int, flow: bool) -> None:
    text = yaml.dump(_nested(depth, width), default_flow_style=flow, width=1 << 20)
    assert "&" not in text
    node = yaml.compose(text, Loader=_Loader)
    assert _outcome(node, False) == _outcome(node, True)
    assert (_outcome(node, False) is None) == (depth <= MAX_DEPTH)


def test_two_deep_branches_blame_the_one_the_full_check_blames() -> None:
    deep = "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)
    text = f"a: {deep}\nb: {deep}\n"
    node = yaml.compose(text, Loader=_Loader)
    assert _outcome(node, False) == _outcome(node, True) is not None


def test_an_anchor_in_the_text_takes_the_full_check() -> None:
    # An alias makes a node count many times over; only the full check sees that.
    text = "a: &x [" + ", ".join(["1"] * 400) + "]\n" + "".join(f"b{i}: [*x, *x, *x, *x, *x, *x]\n" for i in range(60))
    report = Report()
    assert parse_text(text, "bomb.yml", report) == []
    assert "YAML aliases expand this value" in str([e.message for e in report.errors])
