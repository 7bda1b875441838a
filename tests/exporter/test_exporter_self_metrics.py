"""The registry's own families (collector success and duration, build info), written from kept series text,
against the plain path: the same samples added one by one to Families, rendered by both encoders."""

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.metrics_core import Metric

from hypothesis_budget import examples
from promspec.exporter.metrics import Families, render_text
from promspec.exporter.registry import (
    OPENMETRICS,
    SELF_SPECS,
    TEXT,
    CollectorFailed,
    Registry,
    Snapshot,
    StatelessCollector,
    render_openmetrics,
)

_SELF = tuple(SELF_SPECS)


class _Scripted(StatelessCollector):
    """Fails (CollectorFailed or a bug) or succeeds, as told, in line or on a worker."""

    def __init__(self, name: str, outcome: str, in_line: bool):
        self.name, self._outcome, self.in_line = name, outcome, in_line

    def collect(self) -> list[Metric]:
        if self._outcome == "failed":
            raise CollectorFailed("no such device")
        if self._outcome == "bug":
            raise KeyError("surprise")
        families = Families({"x_value": SELF_SPECS["promspec_exporter_build_info"]._replace(labels=())})
        families.add("x_value", {}, 1.0)
        return families.metrics()


def _oracle(registry: Registry) -> list[Metric]:
    """The self-metrics as the plain path writes them, from the registry's health after the scrape."""
    own = Families(SELF_SPECS)
    for name, health in registry.health.items():
        labels = {"collector": name}
        own.add("promspec_exporter_collector_success", labels, 1.0 if health.success else 0.0)
        own.add("promspec_exporter_collector_duration_seconds", labels, health.duration)
    build = next(m for m in registry.gather().metrics if m.name == "promspec_exporter_build_info")
    own.add("promspec_exporter_build_info", dict(build.samples[0].labels), 1.0)
    return own.metrics()


_NAMES = st.text(alphabet='ab\\"\n{}=,é ', min_size=1, max_size=6)
_COLLECTORS = st.lists(
    st.tuples(_NAMES, st.sampled_from(["ok", "failed", "bug"]), st.booleans()),
    max_size=5,
    unique_by=lambda c: c[0],
)


@settings(max_examples=examples(60), deadline=None)
@given(
    collectors=_COLLECTORS,
    durations=st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**17), 10**17)), max_size=5
    ),
)
def test_self_metrics_match_the_plain_path(collectors, durations):
    registry = Registry([_Scripted(name, outcome, in_line) for name, outcome, in_line in collectors], timeout=5.0)
    try:
        snapshot = registry.gather()
        # Hostile durations (what a clock may not give, but the writer must spell as the plain path does).
        for health, duration in zip(registry.health.values(), durations, strict=False):
            health.duration = duration
        fast = registry._self_metrics()
        plain = _oracle(registry)
        assert render_text(fast) == render_text(plain)
        assert render_openmetrics(Snapshot(fast)) == render_openmetrics(Snapshot(plain))
        assert [m.name for m in snapshot.metrics if m.name in _SELF] == [m.name for m in plain]
        for name, outcome, _ in collectors:
            assert registry.health[name].success is (outcome == "ok")
        assert snapshot.body(TEXT, False) and snapshot.body(OPENMETRICS, False)
    finally:
        registry.close()


def test_each_scrape_writes_the_current_health():
    registry = Registry([_Scripted("flaky", "ok", True), _Scripted("worker", "failed", False)], timeout=5.0)
    first = registry.gather().body(TEXT, False)
    assert b'promspec_exporter_collector_success{collector="flaky"} 1\n' in first
    assert b'promspec_exporter_collector_success{collector="worker"} 0\n' in first
    registry.collectors[0]._outcome = "bug"
    second = registry.gather().body(TEXT, False)
    assert b'promspec_exporter_collector_success{collector="flaky"} 0\n' in second
    assert registry.health["flaky"].last_error == "KeyError: 'surprise'"
    assert registry.health["worker"].last_error == "no such device"
    registry.close()


def test_no_collectors_exposes_build_info_alone():
    text = Registry([]).gather().body(TEXT, False)
    assert b"promspec_exporter_collector_" not in text and b"promspec_exporter_build_info{" in text
