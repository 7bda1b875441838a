"""Alert kinds: `kind:` on an AlertGroup alert, compiled to plain PromQL with generated promtool tests.

One module per kind, each exposing KIND (an AlertKindDef: schema, build, check, defaults, fragments,
promtool cases); KINDS below is the one table of them. To add a kind: write its module after
threshold.py, add its record to AlertKind and its KIND to KINDS (docs/ARCHITECTURE.md walks through it).

The model (model/project.py) builds an alert's kind record with build_kind() and takes its expression,
summary and `for` from kind_defaults(); checks, rule rendering and test generation read the record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import absent, anomaly, capacity, compound, threshold
from .base import AlertKindDef, Defaults, Fragment, PromtoolCases, Spec

if TYPE_CHECKING:
    from ..diagnostics import Report
    from ..model.project import Alert, Ref

# The tagged union the model holds on Alert.kind; each record's `kind` field names its module.
AlertKind = threshold.Threshold | compound.Compound | anomaly.Anomaly | absent.Absent | capacity.Capacity

KINDS: dict[str, AlertKindDef[Any]] = {
    kind.name: kind
    for kind in (
        threshold.KIND,
        compound.KIND,
        anomaly.KIND,
        absent.KIND,
        capacity.KIND,
    )
}


def build_kind(spec: Spec, ref: Ref) -> AlertKind:
    """The typed record of a schema-valid alert with a `kind:`; ref is the alert's."""
    record: AlertKind = KINDS[spec["kind"]].build(spec, ref)
    return record


def kind_defaults(record: AlertKind) -> Defaults:
    """The expression, summary and `for` the alert's kind gives it."""
    return KINDS[record.kind].defaults(record)


def kind_fragments(record: AlertKind) -> list[Fragment]:
    """The PromQL-bearing fields of the alert's kind, paths below the alert."""
    return KINDS[record.kind].fragments(record)


def check_kind(alert: Alert, record: AlertKind, report: Report) -> None:
    """The kind's cross-field rules."""
    KINDS[record.kind].check(alert, record, report)


def kind_cases(alert: Alert, record: AlertKind, interval: float) -> PromtoolCases:
    """promtool test groups of the alert; raises promtool_cases.Untestable."""
    return KINDS[record.kind].cases(alert, record, interval)


__all__ = [
    "KINDS",
    "AlertKind",
    "AlertKindDef",
    "Defaults",
    "Fragment",
    "PromtoolCases",
    "build_kind",
    "check_kind",
    "kind_cases",
    "kind_defaults",
    "kind_fragments",
]
