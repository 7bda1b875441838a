"""The spec loader's cached tags of plain scalars (model/loader.py _SpecLoader) against PyYAML's own resolver.

A plain scalar's tag (str, int, float, bool, null, timestamp...) is looked up once per text; the node trees, and so
every value and position, must be those of the loader without the cache, for any text and any earlier texts.
"""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.model.loader import _Loader, _plain_tag, _SpecLoader

# Words that resolve to each implicit tag, near misses, and the characters YAML treats specially.
_WORDS = [
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "~",
    "null",
    "Null",
    "0x1F",
    "0o17",
    "1_000",
    "1e3",
    "1.5e-3",
    ".inf",
    "-.Inf",
    ".NaN",
    "2024-01-02",
    "2024-01-02T03:04:05Z",
    "12:30:00",
    "<<",
    "=",
    "0.999",
    "99.9%",
    "5m",
    "",
]
_SCALAR = st.sampled_from(_WORDS) | st.text(alphabet=st.sampled_from("0123456789.eE+-_:xoTZ yYnN~"), max_size=10)


def _tree(node: yaml.Node) -> object:
    """A node tree as comparable data: kind, tag, position, style and value (children in order)."""
    value: object = node.value
    if isinstance(node, yaml.MappingNode):
        value = [(_tree(k), _tree(v)) for k, v in node.value]
    elif isinstance(node, yaml.SequenceNode):
        value = [_tree(item) for item in node.value]
    style = getattr(node, "style", None)
    return (type(node).__name__, node.tag, node.start_mark.line, node.start_mark.column, style, value)


@settings(max_examples=examples(300), deadline=None)
@given(_SCALAR, st.booleans())
def test_a_plain_scalars_tag_is_pyyamls(value, quoted_implicit):
    assert _plain_tag(value) == yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, quoted_implicit))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.lists(_SCALAR, min_size=1, max_size=4), min_size=1, max_size=3))
def test_node_trees_equal_the_uncached_loaders(documents):
    # Each scalar plain, quoted and as a key, in several documents of one stream.
    texts = []
    for words in documents:
        lines = [f"p{i}: {w}" for i, w in enumerate(words)]  # as written: plain, whatever it resolves to
        lines += [f"q{i}: '{w}'" for i, w in enumerate(words)]
        lines += [f"{w}: key" for w in words]
        texts.append("\n".join(lines))
    stream = "\n---\n".join(texts)
    assert _composed(stream, _SpecLoader) == _composed(stream, _Loader)


def _composed(stream: str, loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]) -> object:
    try:
        return [_tree(n) for n in yaml.compose_all(stream, Loader=loader)]
    except yaml.YAMLError as exc:  # the same error either way
        return str(exc)
