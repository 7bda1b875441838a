"""kind: compound: all (or any) of several comparisons, joined on shared labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .base import AlertKindDef, Condition, Defaults, Fragment, KindSchema, PromtoolCases, Spec, comparison, error, join
from .base import condition as build_condition
from .promtool_cases import Labels, Tester, Untestable, const, fire_and_quiet, groups, series_labels

if TYPE_CHECKING:
    from ..diagnostics import Report
    from ..model.project import Alert, Ref


@dataclass(frozen=True, kw_only=True)
class Compound:
    """all_of and any_of as written: the schema needs one of them, check() refuses both."""

    kind: Literal["compound"] = "compound"
    all_of: tuple[Condition, ...] | None = None
    any_of: tuple[Condition, ...] | None = None
    on_labels: tuple[str, ...] = ()
    ref: Ref

    @property
    def mode(self) -> Literal["all", "any"]:
        return "all" if self.all_of is not None else "any"

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.all_of if self.all_of is not None else self.any_of or ()


def schema() -> KindSchema:
    from .schema_parts import CONDITION, label_list

    return KindSchema(
        fields={
            "all": {
                "type": "array",
                "items": CONDITION,
                "minItems": 2,
                "x-expected": "at least two conditions that must all hold",
            },
            "any": {
                "type": "array",
                "items": CONDITION,
                "minItems": 2,
                "x-expected": "at least two conditions of which one must hold",
            },
            "on_labels": label_list("the labels the conditions share (PromQL on(...))"),
        },
        one_of=("all", "any"),
    )


def _conditions(spec: Spec, ref: Ref, mode: str) -> tuple[Condition, ...] | None:
    if mode not in spec:
        return None
    return tuple(build_condition(c, ref.at(mode, i)) for i, c in enumerate(spec[mode]))


def build(spec: Spec, ref: Ref) -> Compound:
    return Compound(
        all_of=_conditions(spec, ref, "all"),
        any_of=_conditions(spec, ref, "any"),
        on_labels=tuple(spec.get("on_labels") or ()),
        ref=ref,
    )


def check(alert: Alert, c: Compound, report: Report) -> None:
    if c.all_of is not None and c.any_of is not None:
        error(report, c.ref, ("any",), "a compound alert takes all or any, not both", "either all: or any:")


def defaults(c: Compound) -> Defaults:
    operator = join("and" if c.mode == "all" else "or", c.on_labels)
    return Defaults(
        expr=operator.join(f"({comparison(x)})" for x in c.conditions),
        summary=f"{c.mode} of {len(c.conditions)} conditions hold",
    )


def fragments(c: Compound) -> list[Fragment]:
    out = []
    for mode, conditions in (("all", c.all_of), ("any", c.any_of)):
        for i, x in enumerate(conditions or ()):
            out.append(Fragment(path=(mode, i, "metric"), text=x.metric))
    return out


def _condition_labels(c: Compound) -> list[Labels]:
    """Labels of each condition's series, agreeing on the labels they share."""
    found = [series_labels(x.metric) for x in c.conditions]
    shared: Labels = {}
    keys = list(c.on_labels) or sorted({k for f in found for k in f if k != "__name__"})
    for f in found:
        for k in keys:
            if k in f and shared.setdefault(k, f[k]) != f[k]:
                raise Untestable(f"its conditions need different values of {k!r}")
    return [{**{k: shared.get(k, "test") for k in keys}, **f} for f in found]


def cases(alert: Alert, c: Compound, interval: float) -> PromtoolCases:
    tester = Tester(alert, interval)
    labels = _condition_labels(c)
    values = [fire_and_quiet(x) for x in c.conditions]
    n = tester.points(tester.fire_at)
    if c.mode == "all":  # all true fires; the last one just short keeps it quiet
        plans = [
            ("fires when all hold", [v[0] for v in values], True),
            ("stays quiet when one falls short", [v[0] for v in values[:-1]] + [values[-1][1]], False),
        ]
    else:  # the first alone fires; all just short stay quiet
        plans = [
            ("fires when one holds", [values[0][0]] + [v[1] for v in values[1:]], True),
            ("stays quiet when none holds", [v[1] for v in values], False),
        ]
    out = []
    for name, chosen, fires in plans:
        case = tester.case(name)
        for lab, value in zip(labels, chosen, strict=True):
            case.add(lab, const(value, n))
        tester.expect_after_for(case, labels[0] if fires else None)
        out.append(case)
    return groups(out)


KIND = AlertKindDef(
    name="compound",
    record=Compound,
    schema=schema,
    build=build,
    check=check,
    defaults=defaults,
    fragments=fragments,
    cases=cases,
)
