"""What every SLI kind shares: the SLI record it builds, the input it builds from, and its interface.

A kind module (ratio.py, latency.py, ...) exposes one `KIND = SLIKind(...)`: the SLI field that selects
it, its JSON Schema properties, and `build(SLIInput) -> SLI | None` (the model and its checks, reported
with positions; None after an error). The table in __init__.py lists them; nothing else dispatches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ...compile.promql import matcher, number_text, parse_duration
from ...diagnostics import Report
from ..loader import Document

if TYPE_CHECKING:  # the records only: importing them here would close the spec.model <-> schemas loop
    from ...backends.adapter import Backend
    from ..project import MetricFamily

# The window of the SLI's errors and total queries; the longer windows are recorded from them.
SHORT_WINDOW = "5m"
WINDOW = "{{window}}"  # in a ratio query: the window each recording rule fills in

Path = tuple[str | int, ...]


@dataclass(frozen=True, kw_only=True)
class WindowQueries:
    """An errors/total SLI with {{window}} kept, as written: Sloth records each window from them."""

    errors: str
    total: str


@dataclass(frozen=True, kw_only=True)
class SLI:
    """An SLI compiled to its errors and total event rates over SHORT_WINDOW."""

    kind: str  # the slo:info `sli` label: ratio, latency or native
    errors: str
    total: str
    signal: str = ""  # the canonical signal it reads (slo:info `signal`), when it reads one
    threshold: str = ""  # a latency threshold as written
    window_queries: WindowQueries | None = None  # Sloth's events SLI: errors and total queries
    denominator_corrected: bool = False  # Sloth's denominator_corrected_rules
    llm_probe_target: str = ""  # the promspec-exporter LLM probe target it reads


@dataclass(frozen=True, kw_only=True)
class SLIInput:
    """One SLI mapping and what its Service says about the series it reads."""

    doc: Document
    path: Path  # of the sli mapping
    raw: Mapping[str, Any]
    report: Report
    selector: Mapping[str, str] = field(default_factory=dict)  # label names in the engine's spelling
    backend: Backend | None = None
    backend_named: bool = False  # spec.backend is set (even when unknown: reported once, at the Service)
    backend_version: str = ""
    colons_as_underscores: bool = False
    backends: Mapping[str, Backend] = field(default_factory=dict)
    families: Mapping[str, MetricFamily] = field(default_factory=dict)
    probe_names: tuple[str, ...] = ()
    allow_unknown_buckets: bool = False


@dataclass(frozen=True, kw_only=True)
class SLIKind:
    """One SLI kind: the field that selects it, its schema properties, and its build."""

    field: str
    schema: Callable[[], dict[str, Any]]
    build: Callable[[SLIInput], SLI | None]
    # Fields that only qualify this kind (probe: signal, threshold), so they do not select another.
    qualifiers: tuple[str, ...] = ()


def threshold_seconds(doc: Document, path: Path, raw: object) -> tuple[str, float]:
    """A latency threshold as written and in seconds: "500ms" or 0.5."""
    if isinstance(raw, str):
        return raw, parse_duration(raw)
    assert isinstance(raw, int | float)  # the schema allows a number or a duration only
    return doc.raw.get(path, str(raw)), float(raw)


def le_values(bound: float) -> list[str]:
    """Spellings of a bucket bound in `le`: Go clients and Prometheus 2 write 1, Python and Prometheus 3 1.0."""
    return _le_values(repr(float(bound)))


def _le_values(python: str) -> list[str]:
    short = python.removesuffix(".0")
    return sorted({short, python}, key=len)


def le_matcher(bound: float) -> str:
    # Keyed by the bound's spelling, not the float: 0.0 == -0.0 but `le` reads "0" and "-0.0" apart.
    return _le_matcher(repr(float(bound)))


# 2,000 latency SLIs of 1,000 services compare against a handful of thresholds.
@lru_cache(maxsize=4096)
def _le_matcher(python: str) -> str:
    values = _le_values(python)
    return matcher("le", values[0]) if len(values) == 1 else matcher("le", "|".join(values), "=~")


def near_bounds(buckets: tuple[float, ...], seconds: float) -> list[float]:
    """The bounds either side of a threshold: the two a user chooses between."""
    below = max((b for b in buckets if b < seconds), default=None)
    above = min((b for b in buckets if b > seconds), default=None)
    return sorted(b for b in (below, above) if b is not None)


def is_bound(buckets: tuple[float, ...], seconds: float) -> bool:
    return any(abs(b - seconds) < 1e-9 for b in buckets)


def bound_text(bound: float) -> str:
    return number_text(Decimal(repr(bound)))
