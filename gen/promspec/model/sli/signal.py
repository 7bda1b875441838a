"""The engine-signal SLI: a canonical signal (errors, ttft, ...) resolved through the Service's Backend."""

from __future__ import annotations

from typing import Any

from ...compile.promql import selector
from ..loader import dotted
from .base import SHORT_WINDOW, SLI, SLIInput, SLIKind, threshold_seconds
from .latency import histogram_sli


def schema() -> dict[str, Any]:
    from .. import schema_parts as schemas  # at call time: schema_parts.py assembles the SLI schema from this table

    return {"signal": {"enum": list(schemas.SIGNALS)}, "threshold": schemas.THRESHOLD}


def build(sli: SLIInput) -> SLI | None:
    from ...backends.adapter import HISTOGRAM_SIGNALS, engines_with, underscored

    report, doc, path = sli.report, sli.doc, sli.path
    signal = sli.raw["signal"]
    where = path + ("signal",)
    backend = sli.backend
    if backend is None:
        if not sli.backend_named:
            report.error(
                doc.pos(where),
                f"signal {signal!r} needs the service's backend",
                dotted(where),
                "spec.backend: the engine that serves this service (e.g. vllm)",
            )
        return None
    version = sli.backend_version
    variant = backend.variant(signal, version)
    if variant is None:
        have = engines_with(signal, sli.backends)
        which = f" in version {version or backend.default_version}" if backend.signals.get(signal) else ""
        report.error(
            doc.pos(where),
            f"backend {backend.name!r} has no signal {signal!r}{which}",
            dotted(where),
            "a signal it exposes; engines with it: " + (", ".join(have) or "none"),
        )
        return None
    rename = sli.colons_as_underscores
    metric = underscored(variant.metric, backend) if rename else variant.metric
    if signal in HISTOGRAM_SIGNALS:
        if "threshold" not in sli.raw:
            report.error(
                doc.pos(path),
                f"latency signal {signal!r} needs a threshold",
                dotted(path),
                "threshold: a latency such as 500ms",
            )
            return None
        at = path + ("threshold",)
        text, seconds = threshold_seconds(doc, at, sli.raw["threshold"])
        # Some engines (Triton) count milliseconds: compare and match bounds in the metric's unit.
        scale = 1000.0 if variant.unit == "milliseconds" else 1.0
        return histogram_sli(
            sli,
            at=at,
            metric=metric,
            native=variant.native,
            buckets=variant.buckets,
            labels=sli.selector,
            matchers=variant.matchers,
            text=text,
            seconds=seconds * scale,
            signal=signal,
        )
    if signal == "errors":
        requests = backend.variant("requests", version)
        if requests is None:
            report.error(
                doc.pos(where),
                f"backend {backend.name!r} has errors but no requests signal",
                dotted(where),
                "a Backend with both errors and requests",
            )
            return None
        total_metric = underscored(requests.metric, backend) if rename else requests.metric
        errors = f"sum(rate({metric}{selector(sli.selector, variant.matchers)}[{SHORT_WINDOW}]))"
        total = f"sum(rate({total_metric}{selector(sli.selector, requests.matchers)}[{SHORT_WINDOW}]))"
        return SLI(kind="ratio", errors=errors, total=total, signal=signal)
    report.error(
        doc.pos(where),
        f"signal {signal!r} ({variant.type}) cannot be an SLI",
        dotted(where),
        "errors, or a latency signal with a threshold: " + ", ".join(HISTOGRAM_SIGNALS),
    )
    return None


KIND = SLIKind(field="signal", schema=schema, build=build)
