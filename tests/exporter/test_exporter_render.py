"""The cached text renderer writes the same bytes as the per-sample renderer it replaced."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from hypothesis_budget import examples
from promspec.exporter import metrics
from promspec.exporter.metrics import Families, KeptLabels, SeriesLabels, Spec, format_value, new_family, render_text

from .exporter_harness import assert_promtool_clean

# The oracle: the renderer as it was before the series cache (commit cb67ee2), kept verbatim so a
# change to the fast path is checked against a fixed reference, not against itself.
_REFERENCE_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "unknown": "untyped",
    "info": "gauge",
    "stateset": "gauge",
}


def reference_value(value: float) -> str:
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _reference_escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def reference_render(families: Iterable[Metric]) -> bytes:
    out: list[str] = []
    for metric in families:
        name = metric.name
        if metric.type == "counter":
            name += "_total"
        elif metric.type == "info":
            name += "_info"
        help_text = metric.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {_REFERENCE_TYPES[metric.type]}\n")
        for sample in metric.samples:
            if sample.name.endswith("_created") and metric.type == "counter":
                continue
            if sample.labels:
                labels = ",".join(f'{k}="{_reference_escape(v)}"' for k, v in sample.labels.items())
                out.append(f"{sample.name}{{{labels}}} {reference_value(sample.value)}\n")
            else:
                out.append(f"{sample.name} {reference_value(sample.value)}\n")
    return "".join(out).encode()


EDGE_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.1, 1e15, -1e15, 1e15 - 1, -(1e15 - 1), 999999999999999.5, 1e16, 1e16 + 2,
    1e22, 1e-7, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan, -math.nan, 12345.67, 2.5e-5,
]  # fmt: skip
EDGE_INTS = [0, 1, -1, 10**15 - 1, 10**15, -(10**15), -(10**15) + 1, 2**53 + 1, 10**30, -(10**30)]

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e17, max_value=1e17).map(round).map(float),  # integral floats around the 1e15 edge
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from(EDGE_FLOATS),
    st.sampled_from(EDGE_INTS),
    st.booleans(),
)
label_names = st.sampled_from(["cpu", "mode", "device", "le", "gpu", "UUID", "x_1"])
# Small alphabets so series repeat (cache hits) and escapes (backslash, quote, newline) are common.
label_values = st.text(alphabet=st.sampled_from(list('a0\\"\né {},=')), max_size=6)
plain_label_sets = st.dictionaries(label_names, label_values, max_size=3)
# Some label sets are the kind collectors keep across scrapes, which carry their own series text.
label_sets = st.one_of(plain_label_sets, plain_label_sets.map(SeriesLabels))
metric_names = st.sampled_from(["node_cpu_seconds", "node_load1", "dcgm_x", "a:b", "some_created"])
kinds = st.sampled_from(["counter", "gauge", "histogram", "summary", "unknown", "info", "stateset"])
suffixes = st.sampled_from(["", "_total", "_created", "_bucket", "_sum", "_count", "_info"])


@st.composite
def families_strategy(draw) -> list:
    out = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        family = Metric(draw(metric_names), draw(st.text(max_size=20)), draw(kinds))
        for _ in range(draw(st.integers(min_value=0, max_value=6))):
            family.samples.append(Sample(family.name + draw(suffixes), draw(label_sets), draw(values)))
        out.append(family)
    return out


@given(st.lists(families_strategy(), min_size=1, max_size=3), st.sampled_from([2, 5, 16_384]))
@settings(max_examples=examples(150), deadline=None)
def test_render_matches_the_reference_across_scrapes(scrapes: list, cache_max: int) -> None:
    # Several "scrapes" in a row share the series cache; a tiny bound exercises its emptying.
    saved = metrics.SERIES_CACHE_MAX
    metrics.SERIES_CACHE_MAX = cache_max
    metrics._series_text.clear()
    try:
        for families in scrapes + scrapes:
            assert render_text(families) == reference_render(families)
            assert len(metrics._series_text) <= cache_max
    finally:
        metrics.SERIES_CACHE_MAX = saved


@pytest.mark.parametrize("value", EDGE_FLOATS + EDGE_INTS + [True, False])
def test_format_value_edges(value: float) -> None:
    assert format_value(value) == reference_value(value)


def test_format_value_spellings() -> None:
    # Independent of both implementations: the text format's own spellings.
    expected = {-0.0: "0", 1e15 - 1: "999999999999999", 1e15: "1000000000000000.0", 0.25: "0.25", -math.inf: "-Inf"}
    assert {value: format_value(value) for value in expected} == expected
    assert format_value(math.nan) == "NaN" and format_value(math.inf) == "+Inf"
    assert format_value(10**15) == "1000000000000000.0" and format_value(10**15 - 1) == "999999999999999"


def test_float_subclass_takes_the_general_path() -> None:
    class Seconds(float):
        def __repr__(self) -> str:
            return "Seconds()"

    assert format_value(Seconds(2.0)) == "2" and format_value(Seconds(0.5)) == "0.5"


def test_families_add_builds_ordinary_samples() -> None:
    families = Families({"x_total": Spec("counter", "h", ("a",))})
    families.add("x_total", {"a": "1"}, 2.5)
    [sample] = families.metrics()[0].samples
    assert sample == Sample("x_total", {"a": "1"}, 2.5)
    assert type(sample) is Sample and sample.timestamp is None and sample.exemplar is None


@pytest.mark.slow
def test_rendered_collection_passes_promtool(procfs) -> None:
    from promspec.exporter import collectors
    from promspec.exporter.options import Options

    names = [name for name in collectors.DEFAULT if name not in ("gpu", "filesystem")]
    built = collectors.build(names, Options(procfs=str(procfs)))
    families = [family for collector in built for family in collector.collect()]
    body = render_text(families)
    assert body == reference_render(families)
    assert render_text(families) == body  # the second render comes from the cache
    assert_promtool_clean(body.decode())


def test_series_differing_only_in_label_names_or_order_are_told_apart() -> None:
    # Cache keys must hold the label names and their order, not just the values.
    family = Metric("x", "h", "gauge")
    for labels in ({"a": "v"}, {"b": "v"}, {"a": "v", "b": "w"}, {"b": "w", "a": "v"}, {"a": "w", "b": "v"}, {}):
        family.samples.append(Sample("x", labels, 1.0))
    for _ in range(2):
        assert render_text([family]) == (
            b'# HELP x h\n# TYPE x gauge\nx{a="v"} 1\nx{b="v"} 1\nx{a="v",b="w"} 1\n'
            b'x{b="w",a="v"} 1\nx{a="w",b="v"} 1\nx 1\n'
        )


def test_series_labels_cannot_change_and_keep_a_text_per_sample_name() -> None:
    labels = SeriesLabels({"device": "sda"})
    for change in (
        lambda: labels.__setitem__("device", "sdb"),
        lambda: labels.update(device="sdb"),
        lambda: labels.pop("device"),
        lambda: labels.clear(),
        lambda: labels.setdefault("x", "y"),
        lambda: labels.__delitem__("device"),
    ):
        with pytest.raises(TypeError, match="never changed"):
            change()
    assert labels == {"device": "sda"}
    family = Metric("node_disk_io_now", "h", "gauge")
    family.samples += [Sample("node_disk_io_now", labels, 1.0), Sample("node_disk_io_now", labels, 2.0)]
    other = Metric("node_disk_reads", "h", "counter")
    other.samples.append(Sample("node_disk_reads_total", labels, 3.0))
    for _ in range(2):
        assert render_text([family, other]) == (
            b'# HELP node_disk_io_now h\n# TYPE node_disk_io_now gauge\nnode_disk_io_now{device="sda"} 1\n'
            b'node_disk_io_now{device="sda"} 2\n# HELP node_disk_reads_total h\n# TYPE node_disk_reads_total counter\n'
            b'node_disk_reads_total{device="sda"} 3\n'
        )


def test_kept_labels_are_reused_and_bounded() -> None:
    kept = KeptLabels(("device", "fstype"), max_sets=2)
    first = kept.get(("sda", "ext4"))
    assert first == {"device": "sda", "fstype": "ext4"} and kept.get(("sda", "ext4")) is first
    kept.get(("sdb", "xfs"))
    kept.get(("sdc", "xfs"))  # full: emptied, never grown past the bound
    assert len(kept._sets) <= 2 and kept.get(("sda", "ext4")) is not first


@pytest.mark.parametrize(
    "name, typ, help_text",
    [("x_total", "counter", "h"), ("x", "gauge", "a\nb"), ("up", "unknown", ""), ("i", "info", "")],
)
def test_new_family_is_the_family_prometheus_client_builds(name: str, typ: str, help_text: str) -> None:
    base = name[:-6] if typ == "counter" else name
    for _ in range(2):  # the second from the validated fields
        family = new_family(name, typ, help_text)
        assert vars(family) == vars(Metric(base, help_text, typ)) and family.samples == []
        family.samples.append(Sample(name, {}, 1.0))
    assert new_family(name, typ, help_text).samples == []  # never shared between families


def test_new_family_still_refuses_a_bad_type() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="Invalid metric type"):
            new_family("x", "nonsense", "h")


def test_openmetrics_encodes_kept_label_sets() -> None:
    from promspec.exporter.registry import OPENMETRICS, Snapshot

    families = Families({"x_total": Spec("counter", "h", ("cpu",))})
    families.add_all("x_total", [(SeriesLabels({"cpu": "0"}), 1.5), (SeriesLabels({"cpu": "1"}), 2.0)])
    body = Snapshot(families.metrics()).body(OPENMETRICS, False)
    assert body == b'# HELP x h\n# TYPE x counter\nx_total{cpu="0"} 1.5\nx_total{cpu="1"} 2.0\n# EOF\n'
