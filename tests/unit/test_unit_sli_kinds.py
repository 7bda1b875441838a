"""SLI kinds (model/sli/), built from records in Python: one kind per SLI field, dispatched by SLI_KINDS.

The oracles are the PromQL an SLO of each kind must record, written out by hand here, and the error
texts the broken-spec corpus pins for YAML input. No YAML loading and no process: the fast tier.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from promspec.backends.adapter import Backend, backend_from_spec
from promspec.diagnostics import Report, SpecError
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.model.services import Service
from promspec.model.sli import SLI_KINDS, SLIInput, build_sli, sli_properties
from promspec.model.sli.probe import PROBE_BACKEND, probe_backend
from promspec.pipeline import load_project

DOC = Document(file="svc.yml", index=0, data={})


def _backend() -> Backend:
    spec = {
        "description": "Test engine",
        "model_label": "model_name",
        "colon_prefix": "eng:",
        "signals": {
            "requests": [{"metric": "eng:requests_total", "type": "counter"}],
            "errors": [{"metric": "eng:requests_total", "type": "counter", "matchers": 'status="error"'}],
            "ttft": [
                {"metric": "eng:ttft_milliseconds", "type": "histogram", "unit": "milliseconds", "buckets": [250, 500]}
            ],
            "running": [{"metric": "eng:running", "type": "gauge"}],
        },
    }
    return backend_from_spec("eng", spec, Ref(DOC, ("spec",)))


def _input(raw: dict[str, Any], **kw: Any) -> tuple[SLIInput, Report]:
    report = Report()
    return SLIInput(doc=DOC, path=("spec", "slos", 0, "sli"), raw=raw, report=report, **kw), report


def test_the_table_keeps_the_schema_property_order() -> None:
    assert [k.field for k in SLI_KINDS] == ["probe", "signal", "ratio", "latency"]
    assert list(sli_properties()) == ["probe", "signal", "threshold", "ratio", "latency"]


def test_ratio_with_errors_keeps_its_window_queries_for_sloth() -> None:
    sli_in, report = _input({"ratio": {"errors": " sum(rate(e[{{window}}])) ", "total": "sum(rate(t[{{window}}]))"}})
    sli = build_sli(sli_in)
    assert not report.items and sli is not None
    assert (sli.kind, sli.errors, sli.total) == ("ratio", "sum(rate(e[5m]))", "sum(rate(t[5m]))")
    assert sli.window_queries is not None and sli.window_queries.errors == "sum(rate(e[{{window}}]))"


def test_ratio_with_good_counts_errors_as_total_minus_good() -> None:
    sli = build_sli(_input({"ratio": {"good": "sum(rate(g[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}})[0])
    assert sli is not None and sli.errors == "(sum(rate(t[5m]))) - (sum(rate(g[5m])))"
    assert sli.window_queries is None  # Sloth's events SLI needs errors


def test_ratio_with_both_errors_and_good_is_an_error() -> None:
    sli_in, report = _input({"ratio": {"errors": "e", "good": "g", "total": "t"}})
    assert build_sli(sli_in) is None
    assert [d.message for d in report.errors] == ["a ratio SLI needs exactly one of errors or good"]


def test_latency_threshold_must_be_a_bucket_bound() -> None:
    sli_in, report = _input({"latency": {"metric": "req_seconds", "threshold": 0.3, "buckets": [0.1, 0.25, 0.5]}})
    assert build_sli(sli_in) is None
    assert report.errors[0].message == "threshold 0.3 is not a bucket bound of req_seconds"
    assert report.errors[0].expected == "one of its bounds, nearest: 0.25, 0.5"


def test_latency_counts_events_above_the_threshold_bucket() -> None:
    sli_in, _ = _input(
        {"latency": {"metric": "req_seconds", "threshold": "250ms", "buckets": [0.25]}}, selector={"job": "a"}
    )
    sli = build_sli(sli_in)
    assert sli is not None and (sli.kind, sli.threshold) == ("latency", "250ms")
    assert sli.total == 'sum(rate(req_seconds_count{job="a"}[5m]))'
    assert sli.errors == sli.total + ' - sum(rate(req_seconds_bucket{job="a",le="0.25"}[5m]))'


def test_native_latency_uses_histogram_fraction() -> None:
    sli = build_sli(_input({"latency": {"metric": "req_seconds", "threshold": 1, "native": True}})[0])
    assert sli is not None and sli.kind == "native"
    assert (
        sli.errors
        == "histogram_count(sum(rate(req_seconds[5m]))) * (1 - histogram_fraction(0, 1.0, sum(rate(req_seconds[5m]))))"
    )


def test_engine_errors_signal_reads_requests_through_the_backend() -> None:
    backend = _backend()
    sli_in, report = _input(
        {"signal": "errors"},
        backend=backend,
        backend_named=True,
        backends={"eng": backend},
        selector={"model_name": "m"},
        colons_as_underscores=True,
    )
    sli = build_sli(sli_in)
    assert not report.items and sli is not None and (sli.kind, sli.signal) == ("ratio", "errors")
    assert sli.errors == 'sum(rate(eng_requests_total{model_name="m",status="error"}[5m]))'
    assert sli.total == 'sum(rate(eng_requests_total{model_name="m"}[5m]))'


def test_engine_latency_in_milliseconds_matches_the_bound_in_its_unit() -> None:
    backend = _backend()
    sli = build_sli(
        _input(
            {"signal": "ttft", "threshold": "500ms"}, backend=backend, backend_named=True, backends={"eng": backend}
        )[0]
    )
    assert sli is not None and sli.threshold == "500ms" and 'le=~"500|500.0"' in sli.errors


def test_a_gauge_signal_cannot_be_an_sli() -> None:
    backend = _backend()
    sli_in, report = _input({"signal": "running"}, backend=backend, backend_named=True, backends={"eng": backend})
    assert build_sli(sli_in) is None
    assert report.errors[0].message == "signal 'running' (gauge) cannot be an SLI"


def test_probe_availability_names_an_existing_probe() -> None:
    sli_in, report = _input({"probe": "api-helth"}, probe_names=("api-health",))
    assert build_sli(sli_in) is None
    assert report.errors[0].message == "no Probe named 'api-helth' (did you mean 'api-health'?)"
    sli = build_sli(_input({"probe": "api-health"}, probe_names=("api-health",))[0])
    assert sli is not None and sli.total == 'sum(count_over_time(probe_success{probe="api-health"}[5m]))'


def test_llm_probe_signal_reads_the_target_and_remembers_it() -> None:
    sli = build_sli(_input({"probe": "chat-lb", "signal": "ttft", "threshold": "1s"})[0])
    assert sli is not None and sli.llm_probe_target == "chat-lb" and sli.window_queries is not None
    assert sli.total == 'sum(rate(promspec_probe_llm_ttft_seconds_count{target="chat-lb"}[5m]))'


def test_probe_and_another_kind_together_is_an_error() -> None:
    sli_in, report = _input({"probe": "api", "ratio": {"errors": "e", "total": "t"}}, probe_names=("api",))
    assert build_sli(sli_in) is None
    assert (
        report.errors[0].message == "an SLI needs exactly one of probe, signal, ratio or latency (found probe, ratio)"
    )


def test_without_probe_the_error_names_the_three_kinds_as_before() -> None:
    sli_in, report = _input({"signal": "errors", "ratio": {"errors": "e", "total": "t"}})
    assert build_sli(sli_in) is None
    assert report.errors[0].message == "an SLI needs exactly one of signal, ratio or latency (found signal, ratio)"


def test_service_selector_in_the_engine_spelling() -> None:
    service = Service(name="chat", ref=Ref(DOC, ("spec",)), selector={"model": "llama", "job": "vllm"})
    assert service.selector_for(_backend()) == {"model_name": "llama", "job": "vllm"}


def test_backend_title_and_the_synthesised_probe_backend() -> None:
    assert _backend().title == "Test engine"
    probe = probe_backend(DOC)
    assert probe.name == PROBE_BACKEND and probe.ref.file == "svc.yml"
    assert probe.title == "promspec-exporter LLM probe (client-observed)"
    ttft = probe.variant("ttft")
    assert ttft is not None and ttft.metric == "promspec_probe_llm_ttft_seconds"


PROBE_AND_RATIO = """\
apiVersion: promspec/v1
kind: Probe
metadata: {name: api}
spec: {module: http, targets: ["https://api.example.com/healthz"], locations: [{name: eu, exporter: "127.0.0.1:9115"}]}
---
apiVersion: promspec/v1
kind: Service
metadata: {name: chat}
spec:
  slos:
    - name: up
      objective: 99%
      sli: {probe: api, ratio: {errors: "sum(rate(x[{{window}}]))", total: "sum(rate(y[{{window}}]))"}}
"""


def test_regression_a_probe_sli_with_a_ratio_is_an_error_not_a_silently_dropped_ratio(tmp_path: Any) -> None:
    # Before the SLI kinds, the probe rewrite replaced the written ratio without a word.
    (tmp_path / "svc.yml").write_text(textwrap.dedent(PROBE_AND_RATIO))
    with pytest.raises(SpecError) as caught:
        load_project([str(tmp_path)], env={})
    assert "an SLI needs exactly one of probe, signal, ratio or latency (found probe, ratio)" in str(caught.value)
    assert "svc.yml:13:12:" in str(caught.value)


def test_the_model_holds_typed_services_probes_dashboards_and_backends_and_leaves_documents_as_written() -> None:
    from promspec.model.dashboards import Dashboard
    from promspec.model.probes import Probe
    from promspec.model.sli import SLI

    project, _report = load_project(["tests/fixtures/probes"], env={})
    assert project.services and all(isinstance(s, Service) for s in project.services)
    assert project.probes and all(isinstance(p, Probe) for p in project.probes)
    assert all(isinstance(d, Dashboard) for d in project.dashboards)
    assert all(isinstance(b, Backend) and b.name == name for name, b in project.backends.items())
    assert all(isinstance(slo.sli, SLI) for s in project.services for slo in s.slos)
    # Probe SLIs used to be rewritten into ratio SLIs inside the Service documents themselves.
    slis = [slo["sli"] for d in project.extra["Service"] for slo in d.data["spec"]["slos"]]
    assert {"probe": "api-health"} in slis
    assert all("ratio" not in sli for sli in slis if "probe" in sli)
    assert project.llm_probe_targets == {"api-synthetic": ["chat-lb"]}
