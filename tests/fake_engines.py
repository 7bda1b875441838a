"""A fake of every LLM engine the bundled Backend specs describe, served on loopback for real scrapes.

The exposition is derived from the Backend documents themselves: every signal variant and every
`other` metric, with the labels they declare; label values pinned by a variant's matchers (such as
finished_reason="error") get a series of their own. Counters grow with time at a waving rate,
histograms observe two values (a low and a high bucket bound), gauges wave between 0.25 and 0.75.
"""

from __future__ import annotations

import math
import re
import time
import zlib

from fake_llm import FakeLLM

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|=)\s*"([^"]*)"')
BASE_RATE = 10.0  # events per second on the unpinned series
PINNED_RATE = 2.0  # events per second on each series with a matcher-pinned label value


class Family:
    def __init__(self, name: str, kind: str):
        self.name = name
        self.kind = kind
        self.labels: list = []
        self.pins: dict = {}  # label -> [values]
        self.buckets: tuple = ()

    def series_labels(self, model_label: str) -> list[dict]:
        base = {label: ("m1" if label == model_label else "0" if label == "engine" else "a") for label in self.labels}
        out = [base]
        for label, values in sorted(self.pins.items()):
            for value in values:
                out.append({**base, label: value})
        return out


class FakeEngines(FakeLLM):
    """One HTTP endpoint serving every engine's metrics at once (their names do not collide)."""

    def __init__(self, backend_docs: list[dict]):
        self.families: dict = {}
        self.model_labels: dict = {}
        for doc in backend_docs:
            spec = doc["spec"]
            model_label = spec.get("model_label", "model")
            variants = [v for vs in spec.get("signals", {}).values() for v in vs] + list(spec.get("other", []))
            for v in variants:
                fam = self.families.setdefault(v["metric"], Family(v["metric"], v["type"]))
                self.model_labels.setdefault(v["metric"], model_label)
                for label in v.get("labels", ()):
                    if label not in fam.labels and label != "le":
                        fam.labels.append(label)
                if model_label not in fam.labels:
                    fam.labels.append(model_label)
                for label, op, value in _MATCHER.findall(v.get("matchers", "")):
                    if label not in fam.labels:
                        fam.labels.append(label)
                    pinned = value if op == "=" else "timeout"
                    if pinned not in fam.pins.setdefault(label, []):
                        fam.pins[label].append(pinned)
                if v.get("buckets") and not fam.buckets:
                    fam.buckets = tuple(v["buckets"])
        # A counter named like a histogram's _count (OTel's request count) is that histogram's series:
        # fold it in, or the exposition would carry the same sample name twice.
        for name in list(self.families):
            base = re.sub(r"_(count|sum|bucket)$", "", name)
            if base != name and base in self.families and self.families[base].kind == "histogram":
                fam, into = self.families.pop(name), self.families[base]
                into.labels += [label for label in fam.labels if label not in into.labels]
                for label, values in fam.pins.items():
                    into.pins.setdefault(label, []).extend(v for v in values if v not in into.pins.get(label, []))
        super().__init__({})  # FakeLLM's loopback server, serving this class's exposition()
        self.start = time.time() - 60  # a minute of history, so rates exist from the first scrape

    def exposition(self) -> str:
        t = time.time() - self.start
        lines = []
        for name in sorted(self.families):
            fam = self.families[name]
            kind = fam.kind if fam.kind in ("counter", "gauge", "histogram", "summary") else "gauge"
            lines.append(f"# TYPE {name} {kind}")
            for i, labels in enumerate(fam.series_labels(self.model_labels[name])):
                rate = BASE_RATE if i == 0 else PINNED_RATE
                lines += _samples(name, kind, labels, rate, t, fam.buckets or DEFAULT_BUCKETS)
        return "\n".join(lines) + "\n"


def _fmt(labels: dict) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""


def _samples(name: str, kind: str, labels: dict, rate: float, t: float, buckets: tuple) -> list[str]:
    # Values wave gently (phase by metric name) so charts show shapes; counters stay monotonic.
    phase = zlib.crc32(name.encode()) % 100
    wave = math.sin((t + phase) / 15)
    if kind == "counter":
        return [f"{name}{_fmt(labels)} {rate * (t + 3 * math.sin((t + phase) / 10)):.3f}"]
    if kind == "gauge":
        return [f"{name}{_fmt(labels)} {0.5 + 0.25 * wave:.4f}"]
    # Two observed values: most requests on a low bucket bound, a waving share (10-30%) on a higher one.
    bounds = sorted(buckets)
    low, high = bounds[max(0, len(bounds) // 2 - 2)], bounds[min(len(bounds) - 1, len(bounds) // 2 + 1)]
    n_high = rate * (0.2 * t - 1.2 * math.cos((t + phase) / 12) + 1.2)
    n_low = rate * t - n_high
    count = n_low + n_high
    total = n_low * low + n_high * high
    if kind == "summary":
        return [
            f"{name}{_fmt({**labels, 'quantile': q})} {v}" for q, v in (("0.5", low), ("0.9", high), ("0.99", high))
        ] + [f"{name}_sum{_fmt(labels)} {total:.3f}", f"{name}_count{_fmt(labels)} {count:.3f}"]
    out = []
    for bound in bounds:
        inside = (n_low if low <= bound else 0) + (n_high if high <= bound else 0)
        out.append(f"{name}_bucket{_fmt({**labels, 'le': repr(float(bound))})} {inside:.3f}")
    out.append(f"{name}_bucket{_fmt({**labels, 'le': '+Inf'})} {count:.3f}")
    out += [f"{name}_sum{_fmt(labels)} {total:.3f}", f"{name}_count{_fmt(labels)} {count:.3f}"]
    return out
