"""SLI kinds: one module per kind, registered in SLI_KINDS (the one place that dispatches on them).

To add a kind: write a module with `KIND = SLIKind(field=..., schema=..., build=...)` (see base.py),
list it below, and add its tests; its schema properties join the Service schema in this order.
"""

from __future__ import annotations

from typing import Any

from ..loader import dotted
from . import latency, probe, ratio, signal
from .base import SLI, SLIInput, SLIKind

# Order is the schema's property order (schemas/service.json stays byte-identical).
SLI_KINDS: tuple[SLIKind, ...] = (probe.KIND, signal.KIND, ratio.KIND, latency.KIND)

# The kinds a person chooses between in an error message; probe joins them only when it is involved.
_NAMED = ("signal", "ratio", "latency")


def sli_properties() -> dict[str, Any]:
    """The SLI mapping's schema properties, kind by kind."""
    return {name: prop for kind in SLI_KINDS for name, prop in kind.schema().items()}


def build_sli(sli: SLIInput) -> SLI | None:
    """The SLI of one mapping through the one kind it selects; None (reported) when it selects none or several."""
    chosen = [k for k in SLI_KINDS if k.field in sli.raw]
    qualified = {q for k in chosen for q in k.qualifiers}
    chosen = [k for k in chosen if k.field not in qualified]
    if len(chosen) != 1:
        fields = [k.field for k in chosen]
        named = ("probe", *_NAMED) if "probe" in fields else _NAMED
        sli.report.error(
            sli.doc.pos(sli.path),
            f"an SLI needs exactly one of {', '.join(named[:-1])} or {named[-1]} (found {', '.join(fields) or 'none'})",
            dotted(sli.path),
            f"one of {', '.join(named[:-1])} or {named[-1]}",
        )
        return None
    return chosen[0].build(sli)


__all__ = ["SLI", "SLI_KINDS", "SLIInput", "SLIKind", "build_sli", "sli_properties"]
