"""The probe-derived SLI: a Probe's availability, or a promspec-exporter LLM probe target's errors or latency.

`probe: NAME` alone reads blackbox probe_success of the Probe NAME; with `signal` (errors, ttft, ...) it
reads the LLM probe's series for target NAME. The queries are ratios with {{window}}, so Sloth
conventions and every window render them like a written ratio SLI.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from ..loader import Document, dotted
from .base import SLI, SLIInput, SLIKind, is_bound, le_matcher, threshold_seconds
from .ratio import ratio_sli

if TYPE_CHECKING:
    from ...backends.adapter import Backend
    from ..project import Catalog, Ref

# What promspec-exporter --probe.config exports (gen/promspec/exporter/probe/llm.py); kept here as
# plain data because the exporter stays importable without the generator and vice versa.
LLM_PREFIX = "promspec_probe_llm_"
LLM_LABELS = ("target", "model", "location")
LLM_HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "ttft": ("ttft_seconds", (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60)),
    "inter_token_latency": (
        "inter_token_latency_seconds",
        (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5),
    ),
    "e2e_latency": ("e2e_seconds", (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)),
}
# `backend: probe`: the LLM probe's series as an engine, unless a Backend document takes the name.
PROBE_BACKEND = "probe"


def schema() -> dict[str, Any]:
    from .. import schema_parts as schemas  # at call time: schema_parts.py assembles the SLI schema from this table

    return {
        "probe": {**schemas.NAME, "x-expected": "a Probe's name (availability), or an LLM probe target with signal"}
    }


def reads_llm_probe(raw: object) -> bool:
    """True for an SLI mapping that reads an LLM probe target (probe with signal)."""
    return isinstance(raw, dict) and "probe" in raw and "signal" in raw


def build(sli: SLIInput) -> SLI | None:
    name = sli.raw["probe"]
    if "signal" not in sli.raw:
        return _availability(sli, name)
    return _llm(sli, name, sli.raw["signal"])


def _availability(sli: SLIInput, name: str) -> SLI | None:
    if name not in sli.probe_names:
        close = difflib.get_close_matches(name, list(sli.probe_names), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        sli.report.error(
            sli.doc.pos(sli.path + ("probe",)),
            f"no Probe named {name!r}{hint}",
            dotted(sli.path),
            "the metadata.name of a Probe document, or signal: ttft|errors|... for an LLM probe target",
        )
        return None
    sel = f'probe_success{{probe="{name}"}}'
    return ratio_sli(None, f"sum(sum_over_time({sel}[{{{{window}}}}]))", f"sum(count_over_time({sel}[{{{{window}}}}]))")


def _llm(sli: SLIInput, name: str, signal: str) -> SLI | None:
    target = f'target="{name}"'
    if signal == "errors":
        probes = LLM_PREFIX + "probes_total"
        built = ratio_sli(
            f'sum(rate({probes}{{{target},outcome!="ok"}}[{{{{window}}}}]))',
            None,
            f"sum(rate({probes}{{{target}}}[{{{{window}}}}]))",
        )
        return _reading(built, name)
    if signal not in LLM_HISTOGRAMS:
        sli.report.error(
            sli.doc.pos(sli.path + ("signal",)),
            f"the LLM probe has no signal {signal!r}",
            dotted(sli.path),
            "one of errors, " + ", ".join(LLM_HISTOGRAMS),
        )
        return None
    if "threshold" not in sli.raw:
        sli.report.error(
            sli.doc.pos(sli.path),
            f"probe latency signal {signal!r} needs a threshold",
            dotted(sli.path),
            "threshold: a latency such as 1s",
        )
        return None
    metric, buckets = LLM_HISTOGRAMS[signal]
    at = sli.path + ("threshold",)
    text, seconds = threshold_seconds(sli.doc, at, sli.raw["threshold"])
    if not is_bound(buckets, seconds):
        near = sorted(buckets, key=lambda b: abs(b - seconds))[:2]
        sli.report.error(
            sli.doc.pos(at),
            f"threshold {text} is not a bucket bound of the LLM probe's {signal} histogram",
            dotted(at),
            "one of its bounds, nearest: " + ", ".join(f"{b:g}s" for b in sorted(near)),
        )
        return None
    # A ratio, not a latency SLI: the service's selector labels (job, model_name) are the engine's,
    # and the probe's series carry target/model/location instead.
    m = LLM_PREFIX + metric
    total = f"sum(rate({m}_count{{{target}}}[{{{{window}}}}]))"
    built = ratio_sli(f"{total} - sum(rate({m}_bucket{{{target},{le_matcher(seconds)}}}[{{{{window}}}}]))", None, total)
    return _reading(built, name)


def _reading(built: SLI, target: str) -> SLI:
    from dataclasses import replace

    return replace(built, llm_probe_target=target)


def llm_catalog(ref: Ref) -> Catalog:
    """The LLM probe's series, for the semantic checks of probe SLIs and dashboards."""
    from ..project import Catalog, MetricFamily

    metrics = [
        MetricFamily(name=LLM_PREFIX + name, type="histogram", ref=ref, labels=LLM_LABELS, buckets=buckets)
        for name, buckets in LLM_HISTOGRAMS.values()
    ]
    metrics += [
        MetricFamily(name=LLM_PREFIX + "probes_total", type="counter", ref=ref, labels=(*LLM_LABELS, "outcome")),
        MetricFamily(name=LLM_PREFIX + "tokens_total", type="counter", ref=ref, labels=LLM_LABELS),
        MetricFamily(name=LLM_PREFIX + "last_probe_timestamp_seconds", type="gauge", ref=ref, labels=LLM_LABELS),
    ]
    return Catalog(name="probe:llm", ref=ref, metrics=metrics)


def probe_backend(service_doc: Document) -> Backend:
    """The Backend for `backend: probe`: the LLM probe's series as canonical signals, so a Service
    (selector: {target: NAME}) gets the usual SLIs and serving dashboard from the client's side.
    Its positions are the first Service's file that asks for it (no document of its own exists)."""
    from ...backends.adapter import backend_from_spec
    from ..project import Ref

    labels = list(LLM_LABELS)
    counter = {"metric": LLM_PREFIX + "probes_total", "type": "counter", "unit": "requests"}
    signals: dict[str, list[dict[str, Any]]] = {
        "requests": [{**counter, "labels": [*labels, "outcome"]}],
        "errors": [{**counter, "labels": [*labels, "outcome"], "matchers": 'outcome!="ok"'}],
    }
    for signal, (metric, buckets) in LLM_HISTOGRAMS.items():
        signals[signal] = [
            {
                "metric": LLM_PREFIX + metric,
                "type": "histogram",
                "unit": "seconds",
                "labels": labels,
                "buckets": list(buckets),
            }
        ]
    spec = {
        "description": "promspec-exporter LLM probe (client-observed)",
        "model_label": "model",
        "default_version": "1",
        "signals": signals,
    }
    # A document of the Service's file with no positions: its diagnostics name that file, never a made-up line.
    data = {"apiVersion": "promspec/v1", "kind": "Backend", "metadata": {"name": PROBE_BACKEND}, "spec": spec}
    anchor = Document(file=service_doc.file, index=-1, data=data, source=service_doc.source)
    return backend_from_spec(PROBE_BACKEND, spec, Ref(anchor, ("spec",)))


KIND = SLIKind(field="probe", schema=schema, build=build, qualifiers=("signal", "threshold"))
