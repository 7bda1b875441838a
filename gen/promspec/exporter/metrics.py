"""Metric families for collectors, and a fast renderer of the Prometheus text format."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample


class Spec(NamedTuple):
    """What one exposed family is: its type, help text and every label it may carry."""

    type: str
    help: str
    labels: tuple = ()


def new_family(name: str, typ: str, help_text: str) -> Metric:
    """An empty family for the exposed name `name` (counters are named with their _total)."""
    # prometheus_client keeps counter families under their base name and adds _total itself.
    base = name[:-6] if typ == "counter" and name.endswith("_total") else name
    return Metric(base, help_text, typ)


class Families:
    """The families of one collection, created on their first sample, in first-use order."""

    __slots__ = ("_families", "_specs")

    def __init__(self, specs: dict):
        self._specs = specs
        self._families: dict = {}

    def add(self, name: str, labels: dict, value: float) -> None:
        """Add one sample to the family `name`, which must be in the spec table."""
        family = self._families.get(name)
        if family is None:
            spec = self._specs[name]
            family = self._families[name] = new_family(name, spec.type, spec.help)
        family.samples.append(Sample(name, labels, value))

    def metrics(self) -> list:
        """The families that got at least one sample."""
        return list(self._families.values())


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: integers without '.0', +Inf, -Inf, NaN."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


_TEXT_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "unknown": "untyped",
    "info": "gauge",
    "stateset": "gauge",
}


def render_text(metrics: Iterable[Metric]) -> bytes:
    """Render families in the Prometheus text format 0.0.4."""
    # prometheus_client's generic encoder costs about 3x this per sample; scrapes are hot.
    out: list[str] = []
    append = out.append
    for metric in metrics:
        name = metric.name
        if metric.type == "counter":
            name += "_total"
        elif metric.type == "info":
            name += "_info"
        append(f"# HELP {name} {_escape_help(metric.documentation)}\n# TYPE {name} {_TEXT_TYPES[metric.type]}\n")
        for sample in metric.samples:
            if sample.name.endswith("_created") and metric.type == "counter":
                continue
            if sample.labels:
                labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels.items())
                append(f"{sample.name}{{{labels}}} {format_value(sample.value)}\n")
            else:
                append(f"{sample.name} {format_value(sample.value)}\n")
    return "".join(out).encode()
