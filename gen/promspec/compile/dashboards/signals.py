"""Canonical signals -> panel PromQL, through a backend (engine adapter) and, optionally, a service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ...backends.adapter import Backend, Variant, underscored
from ...model.services import Service
from ..promql import matcher

RATE = "$__rate_interval"
# Counters a dashboard shows as a per-second rate; engines that expose token counts only as
# per-request histograms (TGI, Triton, OTel) are charted through the histogram's _sum.
RATE_SIGNALS = ("requests", "errors", "prompt_tokens", "generation_tokens", "preemptions")
# Gauges that add up across replicas; the others (kv_cache_usage) are averaged.
SUMMED_GAUGES = ("running", "waiting")
LATENCY_SIGNALS = ("ttft", "inter_token_latency", "e2e_latency", "queue_time")


class SignalError(ValueError):
    """A signal query that cannot be resolved: what is wrong and what is expected."""

    def __init__(self, message: str, expected: str):
        super().__init__(message)
        self.expected = expected


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What a signal resolves against: an engine, its version, and the series to select."""

    backend: Backend
    version: str = ""
    selector: Mapping[str, str] = field(default_factory=dict)  # label -> exact value (the service's selector)
    rename: bool = False  # the scrape path rewrites vllm: to vllm_
    variables: tuple[str, ...] = ()  # dashboard variables that filter signal series: job, instance, model

    def variant(self, signal: str) -> Variant | None:
        return self.backend.variant(signal, self.version)

    def metric(self, variant: Variant) -> str:
        return underscored(variant.metric, self.backend) if self.rename else variant.metric

    def label(self, name: str) -> str:
        """A canonical label name in the engine's spelling (model -> model_name for vLLM)."""
        return self.backend.model_label if name == "model" else name

    def selector_text(self, extra: str = "") -> str:
        parts = [matcher(k, v) for k, v in self.selector.items()]
        for var in self.variables:
            label = self.label(var)
            if label not in self.selector:
                parts.append(f'{label}=~"${var}"')
        if extra:
            parts.append(extra)
        return "{" + ", ".join(parts) + "}" if parts else ""


def service_scope(service: Service, backend: Backend, variables: tuple[str, ...]) -> Scope:
    """The scope of a Service: its backend version, selector (model mapped) and renaming."""
    return Scope(
        backend=backend,
        version=service.backend_version,
        selector=service.selector_for(backend),
        rename=service.colons_as_underscores,
        variables=variables,
    )


def _by(labels: tuple[str, ...], extra: tuple[str, ...] = ()) -> str:
    """The grouping between an aggregation and its argument: ' by (a, b) ' or nothing."""
    keep = tuple(dict.fromkeys(extra + labels))
    return f" by ({', '.join(keep)}) " if keep else ""


def quantile_text(q: float, written: str = "") -> str:
    """A quantile as the spec wrote it (0.95), else its shortest repr."""
    return written or repr(q)


def _legend(labels: tuple[str, ...], suffix: str) -> str:
    return " ".join([f"{{{{{label}}}}}" for label in labels] + ([suffix] if suffix else [])) or suffix


def signal_query(
    scope: Scope,
    signal: str,
    *,
    quantile: float | None = None,
    quantile_written: str = "",
    mean: bool = False,
    ratio: bool = False,
    by: tuple[str, ...] = (),
    heatmap: bool = False,
) -> tuple[str, str, str]:
    """(expr, default legend, format) for one signal query; SignalError when the engine cannot answer it."""
    variant = scope.variant(signal)
    if variant is None:
        which = (
            f" in version {scope.version or scope.backend.default_version}" if scope.backend.signals.get(signal) else ""
        )
        raise SignalError(
            f"backend {scope.backend.name!r} has no signal {signal!r}{which}",
            "a signal it exposes: " + ", ".join(sorted(scope.backend.signals)),
        )
    labels = tuple(scope.label(b) for b in by)
    metric = scope.metric(variant)
    sel = scope.selector_text(variant.matchers)
    if ratio:
        if signal != "errors":
            raise SignalError(f"ratio applies to the errors signal, not {signal!r}", "ratio: true with signal: errors")
        total = scope.variant("requests")
        if total is None:
            raise SignalError(
                f"backend {scope.backend.name!r} has no requests signal to divide errors by",
                "a backend with both errors and requests",
            )
        num = _rate(scope, variant, metric, sel, labels)
        den = _rate(scope, total, scope.metric(total), scope.selector_text(total.matchers), labels)
        return f"{num}\n/\n{den}", _legend(labels, "error ratio"), "time_series"
    if variant.type in ("histogram", "summary") and signal not in RATE_SIGNALS:
        return _latency(variant, metric, sel, labels, quantile, quantile_written, mean, heatmap, signal)
    if quantile is not None or mean or heatmap:
        raise SignalError(
            f"signal {signal!r} is a {variant.type} of {metric}: it has no quantiles or heatmap",
            "quantile/mean/heatmap only with a latency signal: " + ", ".join(LATENCY_SIGNALS),
        )
    if signal in RATE_SIGNALS:
        return (
            _rate(scope, variant, metric, sel, labels),
            _legend(labels, signal.replace("_", " ") + "/s"),
            "time_series",
        )
    op = "sum" if signal in SUMMED_GAUGES else "avg"
    return f"{op}{_by(labels)}({metric}{sel})", _legend(labels, signal.replace("_", " ")), "time_series"


def _rate(scope: Scope, variant: Variant, metric: str, sel: str, labels: tuple[str, ...]) -> str:
    series = metric
    if variant.type in ("histogram", "summary") and not variant.native:
        series = metric + "_sum"
    elif variant.type in ("histogram", "summary"):
        return f"sum{_by(labels)}(histogram_sum(rate({metric}{sel}[{RATE}])))"
    return f"sum{_by(labels)}(rate({series}{sel}[{RATE}]))"


def _latency(
    variant: Variant,
    metric: str,
    sel: str,
    labels: tuple[str, ...],
    quantile: float | None,
    written: str,
    mean: bool,
    heatmap: bool,
    signal: str,
) -> tuple[str, str, str]:
    chosen = sum(1 for x in (quantile is not None, mean, heatmap) if x)
    if chosen != 1:
        raise SignalError(
            f"latency signal {signal!r} needs one of quantile, mean or a heatmap panel",
            "quantile: 0.95, or mean: true, or type: heatmap",
        )
    q = "" if quantile is None else quantile_text(quantile, written)  # read below only when a quantile is asked
    if variant.native:
        hist = f"sum{_by(labels)}(rate({metric}{sel}[{RATE}]))"
        if heatmap:
            return f"sum(rate({metric}{sel}[{RATE}]))", "", "heatmap"
        if mean:
            return f"histogram_avg({hist})", _legend(labels, "mean"), "time_series"
        return f"histogram_quantile({q}, {hist})", _legend(labels, f"p{_percent(q)}"), "time_series"
    if variant.type == "summary":
        if heatmap:
            raise SignalError(f"{metric} is a summary: it has no buckets for a heatmap", "a histogram signal")
        if mean:
            return _mean(metric, sel, labels), _legend(labels, "mean"), "time_series"
        inner = sel[:-1] + f', quantile="{q}"}}' if sel else f'{{quantile="{q}"}}'
        return f"max{_by(labels)}({metric}{inner})", _legend(labels, f"p{_percent(q)}"), "time_series"
    if heatmap:
        return f"sum by (le) (increase({metric}_bucket{sel}[{RATE}]))", "{{le}}", "heatmap"
    if mean:
        return _mean(metric, sel, labels), _legend(labels, "mean"), "time_series"
    return (
        f"histogram_quantile({q}, sum{_by(labels, ('le',))}(rate({metric}_bucket{sel}[{RATE}])))",
        _legend(labels, f"p{_percent(q)}"),
        "time_series",
    )


def _mean(metric: str, sel: str, labels: tuple[str, ...]) -> str:
    by = _by(labels)
    return f"sum{by}(rate({metric}_sum{sel}[{RATE}]))\n/\nsum{by}(rate({metric}_count{sel}[{RATE}]))"


def _percent(q: str) -> str:
    """0.95 -> 95, 0.999 -> 99.9 (from the written text, so no float noise)."""
    from decimal import Decimal

    return format((Decimal(q) * 100).normalize(), "f")


def anchor_metric(scope: Scope) -> str:
    """A series every replica of the engine exposes, to list job, instance and model values from."""
    from ...model.schemas import SIGNALS

    for signal in ("requests", "running") + tuple(SIGNALS):
        v = scope.variant(signal)
        if v is not None:
            histogram = v.type in ("histogram", "summary") and not v.native
            return scope.metric(v) + ("_count" if histogram else "")
    return "up"
