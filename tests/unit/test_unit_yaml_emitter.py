"""The direct YAML emitter (render/yamlout.py) writes the bytes the library writes, on every input.

The oracle is yaml.dump with the same dumper and options (`_library_dump`), which the emitter only
consults for single scalars it cannot write plain: the comparisons below are against whole documents.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generated_yaml import read_yaml
from hypothesis_budget import examples
from promspec.render.yamlout import Verbatim, _fast_dump, _library_dump, _Unsupported, dump_yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Strings that stress the library's quoting: YAML 1.1 words and numbers, indicators at the start, ": " and
# " #" inside, other line breaks, tabs, trailing spaces and newlines, non-ASCII, control characters.
HOSTILE = [
    "",
    " ",
    "yes",
    "No",
    "ON",
    "off",
    "null",
    "Null",
    "~",
    "true",
    "FALSE",
    "y",
    "n",
    "1",
    "-1",
    "+1",
    "0x1F",
    "0o17",
    "017",
    "1_000",
    "1.5",
    "1e5",
    "1.0e+5",
    ".inf",
    "-.Inf",
    ".NaN",
    "1:30",
    "190:20:30",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "<<",
    "=",
    "- a",
    "-a",
    "--- x",
    "...",
    "? x",
    "?x",
    ":x",
    "a: b",
    "a:",
    "a:b",
    "a #b",
    "a#b",
    "#x",
    "&x",
    "*x",
    "!x",
    "|x",
    ">x",
    "'x'",
    '"x"',
    "%x",
    "@x",
    "`x",
    "[x]",
    "{x}",
    "a, b",
    "a [b]",
    "x ",
    " x",
    "a  b",
    "a\tb",
    "\tx",
    "line\n",
    "line\nline",
    "line\nline\n",
    "line\n\n",
    "\nline",
    " lead\nline",
    "trail \nline",
    "a\n\nb",
    "a\rb",
    "a\x85b",
    "a\u2028b",
    "a\u2029b",
    "a\x00b",
    "a\x7fb",
    "\ufeffx",
    "café",
    "日本語",
    "emoji 🙂",
    "{{ $labels.job }}",
    'rate(x{job="a"}[5m])',
    "sum by (job) (rate(x[5m])) > 0.5",
    "100x2033 25x7",
    "0+1x10",
    "_ _",
    "(a)",
    "/path",
]

texts = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30), st.text(alphabet=" :#-\n\t'\"ab1.", max_size=12))
scalars = st.one_of(
    texts,
    texts.map(Verbatim),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=examples(150), derandomize=True, deadline=None, database=None)
@given(documents)
def test_dump_yaml_writes_the_library_bytes(data):
    assert dump_yaml(data) == _library_dump(data).encode("utf-8")


@settings(max_examples=examples(80), derandomize=True, deadline=None, database=None)
@given(st.lists(st.dictionaries(st.sampled_from(["expr", "labels", "for", "alert"]), st.sampled_from(HOSTILE))))
def test_rule_like_groups_with_hostile_strings(rules):
    """Rule groups nested as promspec writes them, every value a hostile string, at several depths."""
    data = {"groups": [{"name": "g", "rules": rules, "nested": [[r] for r in rules]}]}
    assert dump_yaml(data) == _library_dump(data).encode("utf-8")


@pytest.mark.parametrize("text", HOSTILE)
def test_each_hostile_string_as_key_value_and_item(text):
    for data in (
        {text: text},
        {"a": {"b": [text, Verbatim(text)]}},
        [[text], {"k": Verbatim(text)}],
        {"k": [{"x": text, "y": [text]}]},
    ):
        assert dump_yaml(data) == _library_dump(data).encode("utf-8")


def test_the_library_writes_what_the_emitter_does_not():
    shared: list[str] = ["x"]
    for data in (
        {"a": shared, "b": shared},  # an anchor and an alias
        {1: "int key"},
        {"t": (1, 2)},
        {"long": "word " * 5000},
        {"k" * 200: 1},
        "bare scalar",
        {},
        [],
    ):
        with pytest.raises(_Unsupported):
            _fast_dump(data)
        try:
            expected: bytes | type[Exception] = _library_dump(data).encode("utf-8")
        except yaml.YAMLError:
            expected = yaml.YAMLError
        if expected is yaml.YAMLError:
            with pytest.raises(yaml.YAMLError):
                dump_yaml(data)
        else:
            assert dump_yaml(data) == expected


def test_every_bundled_yaml_output_round_trips_to_the_same_bytes():
    """Every YAML file `make generate` wrote, loaded and dumped again, gives the library's bytes."""
    paths = [
        p
        for root in ("rules", "prometheus", "alertmanager", "kubernetes", "blackbox", "dashboards", "fleet")
        for p in glob.glob(os.path.join(REPO, root, "**", "*.yml"), recursive=True)
    ]
    assert len(paths) > 40
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            data = read_yaml(fh.read())  # the data to dump: the reader is not under test
        assert dump_yaml(data) == _library_dump(data).encode("utf-8"), path


# Printable ASCII with every character libyaml's scalar analysis treats specially, and line feeds.
ASCII_PARTS = st.one_of(
    st.sampled_from(["-", ".", "?", ":", "#", " ", "\n", "'", '"', "a", "1", "e", "y", "n", "~", "x", "_"]),
    st.sampled_from(list("!%&*,>@[]`{|}<=+/()$;\\^")),
    st.sampled_from(HOSTILE).filter(lambda t: all(" " <= ch <= "~" or ch == "\n" for ch in t)),
)


@settings(max_examples=examples(200), derandomize=True, deadline=None, database=None)
@given(st.lists(ASCII_PARTS, min_size=1, max_size=8).map("".join))
def test_ascii_scalars_are_written_as_the_library_writes_them(text):
    """The emitter's own quoting of printable ASCII (single quotes, literal blocks) against the library."""
    for value in (text, Verbatim(text)):
        for data in ([value], {"k": value}, {"a": [{"b": value}]}):
            assert dump_yaml(data) == _library_dump(data).encode("utf-8")


def test_per_service_strings_are_written_without_the_library(monkeypatch):
    """Generated annotations and multi-line expressions differ from service to service, so a cache by
    value never hits: the emitter quotes them itself (it asked the library for each before)."""
    from promspec.render import yamlout

    calls: list[object] = []
    real = yamlout._library_dump

    def counting(data):
        calls.append(data)
        return real(data)

    monkeypatch.setattr(yamlout, "_library_dump", counting)
    yamlout._string.cache_clear()
    data = {
        "rules": [
            {
                "alert": f"Svc{i}Burn",
                "expr": f'slo:sli_errors:rate5m{{slo_id="svc{i}-ttft"}}\n/\nslo:sli_total:rate5m{{slo_id="svc{i}"}}',
                "annotations": {"summary": f'svc{i} SLO errors: burning {{{{ printf "%.1f" $value }}}}x over 1h'},
            }
            for i in range(30)
        ]
    }
    text = dump_yaml(data)
    assert calls == []
    monkeypatch.setattr(yamlout, "_library_dump", real)
    assert text == real(data).encode("utf-8")
