"""The ratio SLI: PromQL for error (or good) events and total events, {{window}} filled per window."""

from __future__ import annotations

from typing import Any

from ..loader import dotted
from .base import SHORT_WINDOW, SLI, WINDOW, SLIInput, SLIKind, WindowQueries


def schema() -> dict[str, Any]:
    from .. import schema_parts as schemas  # at call time: schema_parts.py assembles the SLI schema from this table

    return {
        "ratio": schemas._object(
            {
                "errors": schemas.PROMQL,
                "good": schemas.PROMQL,
                "total": schemas.PROMQL,
                "denominator_corrected": {
                    "type": "boolean",
                    "x-expected": "true to weigh each window's errors by its share of the "
                    "period's traffic (Sloth's denominator_corrected_rules)",
                },
            },
            ("total",),
        )
    }


def ratio_sli(errors: str | None, good: str | None, total: str, *, denominator_corrected: bool = False) -> SLI:
    """The SLI of an errors or good query over total (exactly one of errors and good is given)."""
    total_5m = total.replace(WINDOW, SHORT_WINDOW).strip()
    if errors is not None:
        errors_5m = errors.replace(WINDOW, SHORT_WINDOW).strip()
        window = WindowQueries(errors=errors.strip(), total=total.strip())
    else:
        assert good is not None
        errors_5m = f"({total_5m}) - ({good.replace(WINDOW, SHORT_WINDOW).strip()})"
        window = None
    return SLI(
        kind="ratio",
        errors=errors_5m,
        total=total_5m,
        window_queries=window,
        denominator_corrected=denominator_corrected,
    )


def build(sli: SLIInput) -> SLI | None:
    ratio = sli.raw["ratio"]
    if ("errors" in ratio) == ("good" in ratio):
        sli.report.error(
            sli.doc.pos(sli.path + ("ratio",)),
            "a ratio SLI needs exactly one of errors or good",
            dotted(sli.path + ("ratio",)),
            "errors: <PromQL> or good: <PromQL>, and total: <PromQL>",
        )
        return None
    return ratio_sli(
        ratio.get("errors"),
        ratio.get("good"),
        ratio["total"],
        denominator_corrected=bool(ratio.get("denominator_corrected", False)),
    )


KIND = SLIKind(field="ratio", schema=schema, build=build)
