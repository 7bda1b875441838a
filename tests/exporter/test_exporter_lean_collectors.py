"""The collectors that write their own text or read less per scrape serve what the general path serves."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import ProcessCollector as ClientProcessCollector
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.samples import Sample

from hypothesis_budget import examples
from promspec.exporter import procfs
from promspec.exporter.collectors.cpu import CpuCollector
from promspec.exporter.collectors.process import ProcessCollector
from promspec.exporter.metrics import Families, RenderedFamily, SeriesLabels, Spec, render_text
from promspec.exporter.options import Options
from promspec.exporter.procfs import CPU_MODES, ProcFormatError
from promspec.exporter.registry import OPENMETRICS, Snapshot

from .test_exporter_render import EDGE_FLOATS, reference_render, reference_value

HZ = os.sysconf("SC_CLK_TCK")
ticks = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**10).map(lambda t: t * HZ),  # whole seconds: written without '.0'
    st.sampled_from([0, HZ, 10**15 - 1, 10**15, 10**15 * HZ, 2**53 + 1, 10**17 + 1, 2**63 - 1]),  # past the fast path
    st.integers(min_value=-(10**16), max_value=-1),  # never written by a kernel, accepted by the parser
)


def _stat(per_cpu: list[list[int]]) -> str:
    lines = ["cpu  " + " ".join("1" for _ in CPU_MODES) + " 0 0"]
    lines += [f"cpu{i} " + " ".join(map(str, row)) + " 0 0" for i, row in enumerate(per_cpu)]
    return "\n".join([*lines, "intr 1", "ctxt 2"]) + "\n"


@given(st.lists(st.lists(ticks, min_size=8, max_size=8), min_size=1, max_size=6))
@settings(max_examples=examples(80), deadline=None)
def test_cpu_text_is_what_the_reference_renderer_writes_of_its_samples(tmp_path_factory, per_cpu) -> None:
    root = tmp_path_factory.mktemp("proc")
    (root / "stat").write_text(_stat(per_cpu))
    collector = CpuCollector(Options(procfs=str(root)))
    for _ in range(2):  # the second scrape from the kept series texts
        [family] = collector.collect()
        assert type(family) is RenderedFamily
        body = render_text([family])
        # The oracle renders the samples (made on demand) the way the renderer before this one did.
        assert body == reference_render([family])
        lines = body.decode().splitlines()[2:]
        # Ticks over a float, as the collector always divided (past 2**53 that rounds the ticks first).
        expected = [reference_value(t / float(HZ)) for row in per_cpu for t in row]
        assert [line.rpartition(" ")[2] for line in lines] == expected
        assert lines[1].startswith('node_cpu_seconds_total{cpu="0",mode="nice"} ')
    first = Sample("node_cpu_seconds_total", {"cpu": "0", "mode": "user"}, per_cpu[0][0] / float(HZ))
    assert family.samples[0] == first
    assert all(type(sample.value) is float for sample in family.samples)


def test_cpu_family_encodes_as_openmetrics(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text(_stat([[100 * HZ, 150, 0, 5, 0, 0, 0, 1]]))
    families = CpuCollector(Options(procfs=str(tmp_path))).collect()
    body = Snapshot(families).body(OPENMETRICS, False).decode()
    assert 'node_cpu_seconds_total{cpu="0",mode="user"} 100.0\n' in body and body.endswith("# EOF\n")


@pytest.mark.parametrize(
    "data",
    [
        b"cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n",
        b"cpu0 1 2 3 4 5 6 7 8 9 10\ncpu1 10 20 30 40 50 60 70 80\nintr 5\n",
        b"cpu0 1 2 3 x 5 6 7 8\n",  # not a number
        b"cpu0 1 2 3\n",  # short
        b"intr 1\n",  # no CPUs
        b"cpu0 1 2 3 4 5 6 7 8",  # cut
        b"cpu0 1 2 3 4 5 6 7 8\n\x00\n",  # binary
    ],
)
def test_stat_in_columns_reads_and_refuses_what_parse_stat_does(data: bytes) -> None:
    try:
        expected = procfs.parse_stat(data)
    except ProcFormatError as exc:
        with pytest.raises(ProcFormatError) as caught:
            procfs.parse_stat_ticks(data)
        assert str(caught.value) == str(exc)
        return
    columns = procfs.parse_stat_ticks(data)
    assert columns.cpus == [cpu.cpu for cpu in expected]
    assert columns.ticks == [t for cpu in expected for t in cpu.ticks]


def _by_name(families) -> dict:
    return {f.name: (f.type, f.documentation, [(s.name, s.labels, s.value) for s in f.samples]) for f in families}


def test_process_series_are_prometheus_client_s() -> None:
    ours = ProcessCollector(Options()).collect()
    theirs = list(ClientProcessCollector(pid=lambda: "self", proc="/proc", registry=None).collect())
    assert [f.name for f in ours] == [f.name for f in theirs]  # same families, same order
    mine, client = _by_name(ours), _by_name(theirs)
    for name in mine:
        assert mine[name][:2] == client[name][:2]
        [(sample_name, labels, value)] = mine[name][2]
        [(client_name, client_labels, client_value)] = client[name][2]
        assert (sample_name, labels, type(value)) == (client_name, client_labels, type(client_value))
        if name in ("process_start_time_seconds", "process_max_fds"):
            assert value == client_value
        elif name == "process_cpu_seconds":
            assert 0 <= client_value - value < 1.0
        else:  # memory and descriptors move a little between the two reads
            assert value == pytest.approx(client_value, rel=0.2)
    assert mine["process_max_fds"][2][0][2] == float(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def test_process_without_a_readable_proc_serves_nothing_like_prometheus_client(tmp_path: Path) -> None:
    assert ProcessCollector(Options(), proc=str(tmp_path)).collect() == []
    assert list(ClientProcessCollector(pid=lambda: "self", proc=str(tmp_path), registry=None).collect()) == []


FAMILY_SPECS = {
    "a_total": Spec("counter", "counted", ("device",)),
    "b": Spec("gauge", 'help with \\ and "quotes"\nand a newline', ("x", "y")),
    "c_created": Spec("counter", "a counter's _created series, left out of the text format"),
    "d": Spec("gauge", "no labels"),
}
label_values = st.text(alphabet=st.sampled_from('ab\\"\n é'), max_size=4)
sample_value = st.one_of(st.floats(), st.integers(min_value=-(10**17), max_value=10**17), st.sampled_from(EDGE_FLOATS))


@st.composite
def family_adds(draw):
    adds = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        name = draw(st.sampled_from(sorted(FAMILY_SPECS)))
        names = FAMILY_SPECS[name].labels
        values = tuple(draw(label_values) for _ in names)
        labels = dict(zip(names, values, strict=True))
        adds.append((name, SeriesLabels(labels) if draw(st.booleans()) else labels, draw(sample_value)))
    return adds


def families_of(adds) -> Families:
    families = Families(FAMILY_SPECS)
    for name, labels, value in adds:
        families.add(name, labels, value)
    return families


@given(family_adds())
@settings(max_examples=examples(150), deadline=None)
def test_families_lines_are_what_the_reference_renderer_writes_of_their_samples(adds) -> None:
    families = families_of(adds)
    whole = render_text([families])  # kept whole, as the registry keeps it: no family object made
    built = families.metrics()
    body = render_text(built)  # from the lines, before anything made the samples
    assert whole == body
    assert all("_samples" not in family.__dict__ for family in built)
    assert body == reference_render(built)  # the oracle reads (and so makes) the samples
    assert render_text(built) == body  # now from the samples
    order = list(dict.fromkeys(name for name, _, _ in adds))  # families in first-use order
    expected = [Sample(n, lb, v) for name in order for n, lb, v in adds if n == name]
    assert [sample for family in built for sample in family.samples] == expected
    assert render_text([families]) == body  # made families: rendered from them


@given(family_adds())
@settings(max_examples=examples(60), deadline=None)
def test_families_kept_whole_give_the_openmetrics_of_their_families(adds) -> None:
    families = families_of(adds)
    whole = Snapshot([families, *Families(FAMILY_SPECS).metrics()]).body(OPENMETRICS, False)
    assert whole == Snapshot(families.metrics()).body(OPENMETRICS, False)
    assert whole == generate_latest(Snapshot(families.metrics()))  # prometheus_client's own encoder


def test_families_with_no_sample_render_nothing() -> None:
    assert render_text([Families(FAMILY_SPECS)]) == b""
    assert Families(FAMILY_SPECS).metrics() == []


def test_samples_changed_after_they_were_made_are_what_the_text_shows() -> None:
    families = Families(FAMILY_SPECS)
    families.add("d", {}, 1.0)
    [family] = families.metrics()
    family.samples.append(Sample("d", {}, 2.0))
    assert render_text([family]) == b"# HELP d no labels\n# TYPE d gauge\nd 1\nd 2\n"
    # Kept whole (as the registry keeps a collector's Families), the text still follows the changed samples.
    assert render_text([families]) == b"# HELP d no labels\n# TYPE d gauge\nd 1\nd 2\n"


def test_a_sample_added_after_the_families_were_made_is_in_both() -> None:
    families = Families(FAMILY_SPECS)
    families.add("d", {}, 1.0)
    [family] = families.metrics()
    families.add("d", {}, 2.0)
    assert render_text([families]) == render_text([family]) == b"# HELP d no labels\n# TYPE d gauge\nd 1\nd 2\n"
