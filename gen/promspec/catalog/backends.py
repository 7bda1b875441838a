"""LLM engine adapters: canonical signals resolved to the metric names an engine really exposes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..spec.loader import Document
from ..spec.model import MetricFamily, Ref

HISTOGRAM_SIGNALS = ("ttft", "inter_token_latency", "e2e_latency", "queue_time")


def version_key(version: str) -> tuple:
    """Dotted versions compare numerically: 0.9.2 < 0.10."""
    return tuple(int(p) for p in version.split("."))


@dataclass
class Variant:
    """One way a signal is exposed, valid for an engine version range."""

    signal: str
    metric: str
    type: str
    ref: Ref
    unit: str = ""
    labels: tuple = ()
    buckets: tuple = ()
    native: bool = False
    matchers: str = ""
    since: str = ""
    until: str = ""

    def covers(self, version: str) -> bool:
        v = version_key(version)
        return (not self.since or v >= version_key(self.since)) and (not self.until or v < version_key(self.until))


@dataclass
class Backend:
    name: str
    ref: Ref
    model_label: str = "model"
    colon_prefix: str = ""
    default_version: str = ""
    signals: dict = field(default_factory=dict)  # signal -> [Variant]
    other: list = field(default_factory=list)  # [Variant]

    def variant(self, signal: str, version: str = "") -> Variant | None:
        """The variant of signal for an engine version (the default version when none is given)."""
        version = version or self.default_version
        variants = self.signals.get(signal, [])
        if not version:
            return variants[0] if variants else None
        return next((v for v in variants if v.covers(version)), None)


def build_backend(doc: Document) -> Backend:
    """A Backend document as a model object."""
    spec = doc.data["spec"]
    ref = Ref(doc, ("spec",))
    backend = Backend(
        doc.name,
        ref,
        spec.get("model_label", "model"),
        spec.get("colon_prefix", ""),
        str(spec.get("default_version", "")),
    )

    def variant(signal, raw, at) -> Variant:
        return Variant(
            signal,
            raw["metric"],
            raw["type"],
            at,
            raw.get("unit", ""),
            tuple(raw.get("labels", ())),
            tuple(raw.get("buckets", ())),
            raw.get("native", False),
            raw.get("matchers", ""),
            str(raw.get("since", "")),
            str(raw.get("until", "")),
        )

    for signal, variants in spec.get("signals", {}).items():
        backend.signals[signal] = [variant(signal, v, ref.at("signals", signal, i)) for i, v in enumerate(variants)]
    backend.other = [variant("", v, ref.at("other", i)) for i, v in enumerate(spec.get("other", []))]
    return backend


def underscored(metric: str, backend: Backend) -> str:
    """The name after a scrape path that rewrites the engine's colon prefix to an underscore."""
    prefix = backend.colon_prefix
    return prefix[:-1] + "_" + metric[len(prefix) :] if prefix and metric.startswith(prefix) else metric


def catalog_families(backend: Backend) -> list[MetricFamily]:
    """Every metric the backend can expose, in both colon and underscore spellings."""
    seen: dict[str, MetricFamily] = {}
    for v in [v for vs in backend.signals.values() for v in vs] + backend.other:
        for name in dict.fromkeys((v.metric, underscored(v.metric, backend))):
            family = seen.get(name) or MetricFamily(name=name, type=v.type, ref=v.ref, unit=v.unit, buckets=v.buckets)
            seen[name] = replace(family, labels=tuple(dict.fromkeys(family.labels + v.labels)))
    return list(seen.values())


def engines_with(signal: str, backends: dict) -> list[str]:
    """Names of the backends that expose a signal, sorted."""
    return sorted(name for name, b in backends.items() if b.signals.get(signal))
