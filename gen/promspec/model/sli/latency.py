"""The latency SLI: the share of a histogram's events slower than a threshold (classic or native)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...compile.promql import selector
from ..loader import dotted
from .base import (
    SHORT_WINDOW,
    SLI,
    Path,
    SLIInput,
    SLIKind,
    bound_text,
    is_bound,
    le_matcher,
    near_bounds,
    threshold_seconds,
)


def schema() -> dict[str, Any]:
    from .. import schema_parts as schemas  # at call time: schema_parts.py assembles the SLI schema from this table

    return {
        "latency": schemas._object(
            {
                "metric": schemas.METRIC_NAME,
                "threshold": schemas.THRESHOLD,
                "buckets": {"type": "array", "items": {"type": "number"}, "minItems": 1},
                "native": {"type": "boolean"},
                "matchers": {"type": "string"},
            },
            ("metric", "threshold"),
        )
    }


def histogram_sli(
    sli: SLIInput,
    *,
    at: Path,
    metric: str,
    native: bool,
    buckets: tuple[float, ...],
    labels: Mapping[str, str],
    matchers: str,
    text: str,
    seconds: float,
    signal: str = "",
) -> SLI | None:
    """Events slower than `seconds` over all events of a histogram; `at` is the threshold's path."""
    sel = selector(labels, matchers)
    if native:
        hist = f"sum(rate({metric}{sel}[{SHORT_WINDOW}]))"
        total = f"histogram_count({hist})"
        errors = f"{total} * (1 - histogram_fraction(0, {seconds!r}, {hist}))"
        return SLI(kind="native", errors=errors, total=total, signal=signal, threshold=text)
    if not buckets and not sli.allow_unknown_buckets:
        sli.report.error(
            sli.doc.pos(at),
            f"the bucket bounds of {metric!r} are unknown",
            dotted(at),
            "buckets: [...] in the SLI or the metric's Catalog entry",
        )
        return None
    if buckets and not is_bound(buckets, seconds):
        sli.report.error(
            sli.doc.pos(at),
            f"threshold {text} is not a bucket bound of {metric}",
            dotted(at),
            "one of its bounds, nearest: " + ", ".join(bound_text(b) for b in near_bounds(buckets, seconds)),
        )
        return None
    good_sel = selector(labels, ",".join(p for p in (matchers, le_matcher(seconds)) if p))
    total = f"sum(rate({metric}_count{sel}[{SHORT_WINDOW}]))"
    errors = f"{total} - sum(rate({metric}_bucket{good_sel}[{SHORT_WINDOW}]))"
    return SLI(kind="latency", errors=errors, total=total, signal=signal, threshold=text)


def build(sli: SLIInput) -> SLI | None:
    lat = sli.raw["latency"]
    at = sli.path + ("latency", "threshold")
    text, seconds = threshold_seconds(sli.doc, at, lat["threshold"])
    family = sli.families.get(lat["metric"])
    buckets = tuple(lat.get("buckets", ())) or (family.buckets if family else ())
    return histogram_sli(
        sli,
        at=at,
        metric=lat["metric"],
        native=lat.get("native", False),
        buckets=buckets,
        labels=sli.selector,
        matchers=lat.get("matchers", ""),
        text=text,
        seconds=seconds,
    )


KIND = SLIKind(field="latency", schema=schema, build=build)
