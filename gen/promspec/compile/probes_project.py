"""Probes join the project: scrape jobs, a catalog of their series, alert groups, and probe SLIs."""

from __future__ import annotations

import difflib

from ..diagnostics import Report
from ..spec.loader import dotted
from ..spec.model import Catalog, MetricFamily, Project, Ref
from ..spec.probes import build_probes
from ..spec.services import _threshold_seconds, le_matcher
from .probes import catalog, scrape_jobs

# What promspec-exporter --probe.config exports (gen/promspec/exporter/probe/llm.py); kept here as
# plain data because the exporter stays importable without the generator and vice versa.
LLM_PREFIX = "promspec_probe_llm_"
LLM_LABELS = ("target", "model", "location")
LLM_HISTOGRAMS = {
    "ttft": ("ttft_seconds", (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60)),
    "inter_token_latency": (
        "inter_token_latency_seconds",
        (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5),
    ),
    "e2e_latency": ("e2e_seconds", (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)),
}


def llm_catalog(ref: Ref) -> Catalog:
    """The LLM probe's series, for the semantic checks of probe SLIs and dashboards."""
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


def _rewrite_sli(raw: dict, probe_names: list[str], doc, path: tuple, report: Report) -> bool:
    """Turn a probe SLI into the ratio or latency SLI it means; True when it reads the LLM probe."""
    name = raw.pop("probe")
    signal = raw.get("signal")
    if signal is None:
        if name not in probe_names:
            close = difflib.get_close_matches(name, probe_names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            report.error(
                doc.pos(path + ("probe",)),
                f"no Probe named {name!r}{hint}",
                dotted(path),
                "the metadata.name of a Probe document, or signal: ttft|errors|... for an LLM probe target",
            )
            raw["ratio"] = {"good": "vector(1)", "total": "vector(1)"}  # keeps later checks quiet; errors stop us
            return False
        sel = f'probe_success{{probe="{name}"}}'
        raw["ratio"] = {
            "good": f"sum(sum_over_time({sel}[{{{{window}}}}]))",
            "total": f"sum(count_over_time({sel}[{{{{window}}}}]))",
        }
        return False
    target = f'target="{name}"'
    if signal == "errors":
        del raw["signal"]
        probes = LLM_PREFIX + "probes_total"
        raw["ratio"] = {
            "errors": f'sum(rate({probes}{{{target},outcome!="ok"}}[{{{{window}}}}]))',
            "total": f"sum(rate({probes}{{{target}}}[{{{{window}}}}]))",
        }
        return True
    if signal in LLM_HISTOGRAMS:
        del raw["signal"]
        raw["ratio"] = {"good": "vector(1)", "total": "vector(1)"}  # replaced below when the threshold is good
        if "threshold" not in raw:
            report.error(
                doc.pos(path),
                f"probe latency signal {signal!r} needs a threshold",
                dotted(path),
                "threshold: a latency such as 1s",
            )
            return True
        metric, buckets = LLM_HISTOGRAMS[signal]
        text, seconds = _threshold_seconds(doc, path + ("threshold",), raw.pop("threshold"))
        if not any(abs(b - seconds) < 1e-9 for b in buckets):
            near = sorted(buckets, key=lambda b: abs(b - seconds))[:2]
            report.error(
                doc.pos(path + ("threshold",)),
                f"threshold {text} is not a bucket bound of the LLM probe's {signal} histogram",
                dotted(path + ("threshold",)),
                "one of its bounds, nearest: " + ", ".join(f"{b:g}s" for b in sorted(near)),
            )
            return True
        # A ratio, not a latency SLI: the service's selector labels (job, model_name) are the engine's,
        # and the probe's series carry target/model/location instead.
        m = LLM_PREFIX + metric
        total = f"sum(rate({m}_count{{{target}}}[{{{{window}}}}]))"
        raw["ratio"] = {
            "errors": f"{total} - sum(rate({m}_bucket{{{target},{le_matcher(seconds)}}}[{{{{window}}}}]))",
            "total": total,
        }
        return True
    report.error(
        doc.pos(path + ("signal",)),
        f"the LLM probe has no signal {signal!r}",
        dotted(path),
        "one of errors, " + ", ".join(LLM_HISTOGRAMS),
    )
    del raw["signal"]
    raw["ratio"] = {"good": "vector(1)", "total": "vector(1)"}
    return True


PROBE_BACKEND = "probe"


def probe_backend_doc(service_doc):
    """A Backend document for `backend: probe`: the LLM probe's series as canonical signals, so a Service
    (selector: {target: NAME}) gets the usual SLIs and serving dashboard from the client's side."""
    from ..spec.loader import Document

    labels = list(LLM_LABELS)
    signals: dict = {
        "requests": [
            {
                "metric": LLM_PREFIX + "probes_total",
                "type": "counter",
                "unit": "requests",
                "labels": [*labels, "outcome"],
            }
        ],
        "errors": [
            {
                "metric": LLM_PREFIX + "probes_total",
                "type": "counter",
                "unit": "requests",
                "labels": [*labels, "outcome"],
                "matchers": 'outcome!="ok"',
            }
        ],
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
    data = {
        "apiVersion": "promspec/v1",
        "kind": "Backend",
        "metadata": {"name": PROBE_BACKEND},
        "spec": {
            "description": "promspec-exporter LLM probe (client-observed)",
            "model_label": "model",
            "default_version": "1",
            "signals": signals,
        },
    }
    return Document(file=service_doc.file, index=-1, data=data, source=service_doc.source)


def attach_probes(project: Project, report: Report) -> None:
    """Model the Probe documents, add their scrape jobs, and rewrite probe SLIs of Service documents."""
    docs = project.extra.get("Probe", [])
    project.probes = build_probes(docs, project.settings.scrape_interval, report)
    for probe in project.probes:
        project.jobs.extend(scrape_jobs(probe))
    if project.probes:
        project.catalogs.append(catalog(project.probes[0].ref))
    names = [p.name for p in project.probes]
    llm_ref = None
    for doc in project.extra.get("Service", []):
        for i, slo in enumerate(doc.data.get("spec", {}).get("slos", [])):
            sli = slo.get("sli") if isinstance(slo, dict) else None
            if isinstance(sli, dict) and "probe" in sli:
                path = ("spec", "slos", i, "sli")
                target = sli["probe"]
                if _rewrite_sli(sli, names, doc, path, report):
                    llm_ref = llm_ref or Ref(doc, path)
                    service = doc.data["metadata"]["name"]
                    known = project.llm_probe_targets.setdefault(service, [])
                    if target not in known:
                        known.append(target)
    backends = project.extra.get("Backend", [])
    users = [d for d in project.extra.get("Service", []) if d.data.get("spec", {}).get("backend") == PROBE_BACKEND]
    if users and not any(d.name == PROBE_BACKEND for d in backends):
        # Synthesised for the first Service that asks; a Backend document named probe overrides it.
        project.extra.setdefault("Backend", []).append(probe_backend_doc(users[0]))
    if llm_ref is not None and not users:
        project.catalogs.append(llm_catalog(llm_ref))
