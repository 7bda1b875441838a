"""LLM engine adapters: canonical signals resolved to the metric names an engine really exposes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..model.loader import Document
from ..model.project import MetricFamily, Ref

HISTOGRAM_SIGNALS = ("ttft", "inter_token_latency", "e2e_latency", "queue_time")


# Every adapter lookup compares a few versions of the same handful of strings (18,700 calls at 200 services).
@lru_cache(maxsize=1024)
def version_key(version: str) -> tuple[int, ...]:
    """Dotted versions compare numerically: 0.9.2 < 0.10."""
    return tuple(int(p) for p in version.split("."))


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One way a signal is exposed, valid for an engine version range."""

    signal: str
    metric: str
    type: str
    ref: Ref
    unit: str = ""
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    native: bool = False
    matchers: str = ""
    since: str = ""
    until: str = ""
    note: str = ""  # what this variant counts where the engine's meaning differs (shown by `promspec diff`)

    def covers(self, version: str) -> bool:
        v = version_key(version)
        return (not self.since or v >= version_key(self.since)) and (not self.until or v < version_key(self.until))


@dataclass(frozen=True, kw_only=True)
class Backend:
    """A Backend document (or the bundled or synthesised adapter of that name), built once."""

    name: str
    ref: Ref
    description: str = ""
    model_label: str = "model"
    colon_prefix: str = ""
    default_version: str = ""
    signals: Mapping[str, tuple[Variant, ...]] = field(default_factory=dict)
    other: tuple[Variant, ...] = ()

    @property
    def title(self) -> str:
        """What a dashboard calls the engine: its description, else its name."""
        return self.description or self.name

    def variant(self, signal: str, version: str = "") -> Variant | None:
        """The variant of signal for an engine version (the default version when none is given)."""
        version = version or self.default_version
        variants = self.signals.get(signal, ())
        if not version:
            return variants[0] if variants else None
        return next((v for v in variants if v.covers(version)), None)


def _variant(signal: str, raw: Mapping[str, Any], at: Ref) -> Variant:
    return Variant(
        signal=signal,
        metric=raw["metric"],
        type=raw["type"],
        ref=at,
        unit=raw.get("unit", ""),
        labels=tuple(raw.get("labels", ())),
        buckets=tuple(raw.get("buckets", ())),
        native=raw.get("native", False),
        matchers=raw.get("matchers", ""),
        since=str(raw.get("since", "")),
        until=str(raw.get("until", "")),
        note=" ".join(str(raw.get("note", "")).split()),
    )


def backend_from_spec(name: str, spec: Mapping[str, Any], ref: Ref) -> Backend:
    """A Backend from its spec mapping; ref points at that mapping (positions of signals below it)."""
    return Backend(
        name=name,
        ref=ref,
        description=str(spec.get("description", "")),
        model_label=spec.get("model_label", "model"),
        colon_prefix=spec.get("colon_prefix", ""),
        default_version=str(spec.get("default_version", "")),
        signals={
            signal: tuple(_variant(signal, v, ref.at("signals", signal, i)) for i, v in enumerate(variants))
            for signal, variants in spec.get("signals", {}).items()
        },
        other=tuple(_variant("", v, ref.at("other", i)) for i, v in enumerate(spec.get("other", []))),
    )


def build_backend(doc: Document) -> Backend:
    """A Backend document as a model object."""
    return backend_from_spec(doc.name, doc.data["spec"], Ref(doc, ("spec",)))


def underscored(metric: str, backend: Backend) -> str:
    """The name after a scrape path that rewrites the engine's colon prefix to an underscore."""
    prefix = backend.colon_prefix
    return prefix[:-1] + "_" + metric[len(prefix) :] if prefix and metric.startswith(prefix) else metric


def catalog_families(backend: Backend) -> list[MetricFamily]:
    """Every metric the backend can expose, in both colon and underscore spellings."""
    seen: dict[str, MetricFamily] = {}
    for v in [v for vs in backend.signals.values() for v in vs] + list(backend.other):
        for name in dict.fromkeys((v.metric, underscored(v.metric, backend))):
            family = seen.get(name) or MetricFamily(name=name, type=v.type, ref=v.ref, unit=v.unit, buckets=v.buckets)
            seen[name] = replace(family, labels=tuple(dict.fromkeys(family.labels + v.labels)))
    return list(seen.values())


def engines_with(signal: str, backends: Mapping[str, Backend]) -> list[str]:
    """Names of the backends that expose a signal, sorted."""
    return sorted(name for name, b in backends.items() if b.signals.get(signal))
