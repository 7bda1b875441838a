"""promspec_probe_llm_*: client-observed TTFT, inter-token latency and end-to-end time of synthetic completions.

Off unless --probe.config names a file. Probes run on their own threads; a scrape only reads their results.
"""

from __future__ import annotations

import time

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from ..metrics import Spec, new_family
from ..options import Options
from ..probe.config import load
from ..probe.state import Histogram, ProbeSet

P = "promspec_probe_llm_"
LABELS = ("target", "model", "location")
SPECS = {
    P + "ttft_seconds": Spec(
        "histogram",
        "Client-observed time from sending the request to the first content token of a synthetic streaming completion.",
        LABELS,
    ),
    P + "inter_token_latency_seconds": Spec(
        "histogram", "Client-observed gaps between content chunks of a synthetic streaming completion.", LABELS
    ),
    P + "e2e_seconds": Spec(
        "histogram", "Client-observed time from the request to data: [DONE] of probes that succeeded.", LABELS
    ),
    P + "probes_total": Spec(
        "counter",
        "Synthetic completions by outcome: ok, http_error, timeout, "
        "malformed_stream, empty_completion, connection_error.",
        (*LABELS, "outcome"),
    ),
    P + "skipped_total": Spec(
        "counter", "Probes not sent because the target's hourly request or token budget was spent.", LABELS
    ),
    P + "tokens_total": Spec(
        "counter", "Completion tokens received (usage when reported, else content chunks).", LABELS
    ),
    P + "last_probe_timestamp_seconds": Spec("gauge", "Unix time the last probe of the target finished.", LABELS),
    P + "last_probe_age_seconds": Spec("gauge", "Seconds since the last probe finished, at scrape time.", LABELS),
}


def _histogram(name: str, rows: list[tuple[dict[str, str], Histogram]]) -> Metric:
    family = new_family(name, "histogram", SPECS[name].help)
    for labels, hist in rows:
        for bound, count in zip((*hist.bounds, float("inf")), hist.cumulative(), strict=True):
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            family.samples.append(Sample(name + "_bucket", {**labels, "le": le}, count))
        family.samples.append(Sample(name + "_sum", labels, hist.total))
        family.samples.append(Sample(name + "_count", labels, hist.count))
    return family


class LlmProbeCollector:
    """Serves the last results of the background LLM probes."""

    name = "llm_probe"

    def __init__(self, options: Options, probes: ProbeSet | None = None):
        if probes is None:
            probes = ProbeSet(load(options.probe_config))
        self.probes = probes
        self.probes.start()

    def collect(self) -> list[Metric]:
        now = time.time()
        rows = [({"target": t.name, "model": t.model, "location": t.location}, t, s) for t, s in self.probes.snapshot()]
        out = [
            _histogram(P + "ttft_seconds", [(lb, s.ttft) for lb, _, s in rows]),
            _histogram(P + "inter_token_latency_seconds", [(lb, s.itl) for lb, _, s in rows]),
            _histogram(P + "e2e_seconds", [(lb, s.e2e) for lb, _, s in rows]),
        ]
        for name, value in (
            (P + "probes_total", None),
            (P + "skipped_total", "skipped"),
            (P + "tokens_total", "tokens"),
        ):
            family = new_family(name, "counter", SPECS[name].help)
            for labels, _, s in rows:
                if value is None:
                    for outcome, n in s.outcomes.items():
                        family.samples.append(Sample(name, {**labels, "outcome": outcome}, n))
                else:
                    family.samples.append(Sample(name, labels, getattr(s, value)))
            out.append(family)
        stamp = new_family(P + "last_probe_timestamp_seconds", "gauge", SPECS[P + "last_probe_timestamp_seconds"].help)
        age = new_family(P + "last_probe_age_seconds", "gauge", SPECS[P + "last_probe_age_seconds"].help)
        for labels, _, s in rows:
            if s.last_time is not None:
                stamp.samples.append(Sample(P + "last_probe_timestamp_seconds", labels, s.last_time))
                age.samples.append(Sample(P + "last_probe_age_seconds", labels, max(0.0, now - s.last_time)))
        return out + [stamp, age]

    def close(self) -> None:
        self.probes.stop()
