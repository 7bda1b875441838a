"""kind: absent: a series that disappeared, or a scrape job whose targets are down or gone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..compile.promql import selector as label_selector
from .base import AlertKindDef, Defaults, Fragment, KindSchema, PromtoolCases, Spec, error, series_selector
from .promtool_cases import Labels, Tester, const, groups, series_labels

if TYPE_CHECKING:
    from ..diagnostics import Report
    from ..model.project import Alert, Ref

DEFAULT_FOR = "10m"  # grace period: a deploy that restarts a target should not page


@dataclass(frozen=True, kw_only=True)
class Absent:
    """metric and job as written: the schema needs one of them, check() refuses both (job wins)."""

    kind: Literal["absent"] = "absent"
    metric: str | None = None
    job: str | None = None
    ref: Ref


def schema() -> KindSchema:
    from ..model.schema_parts import PROMQL

    return KindSchema(
        fields={
            "metric": {**PROMQL, "x-expected": 'a series selector such as up{job="vllm"}'},
            "job": {"type": "string", "pattern": r"^[a-zA-Z0-9_.-]+$", "x-expected": "a scrape job name"},
        },
        one_of=("metric", "job"),
    )


def build(spec: Spec, ref: Ref) -> Absent:
    return Absent(metric=spec.get("metric"), job=spec.get("job"), ref=ref)


def check(alert: Alert, a: Absent, report: Report) -> None:
    if a.metric is not None and a.job is not None:
        error(report, a.ref, ("job",), "a absent alert takes metric or job, not both", "either metric: or job:")


def job_up(job: str) -> str:
    """The up series of a scrape job."""
    return "up" + label_selector({"job": job})


def defaults(a: Absent) -> Defaults:
    if a.job is not None:
        up = job_up(a.job)
        # A failing scrape (up == 0) and a job whose targets vanished from discovery (no up at all).
        return Defaults(
            expr=f"{up} == 0 or absent({up})", summary=f"a target of job {a.job} is down or gone", for_=DEFAULT_FOR
        )
    metric = (a.metric or "").strip()
    return Defaults(expr=f"absent({metric})", summary=f"no series match {metric}", for_=DEFAULT_FOR)


def fragments(a: Absent) -> list[Fragment]:
    return [Fragment(path=("metric",), text=a.metric)] if a.metric is not None else []


def cases(alert: Alert, a: Absent, interval: float) -> PromtoolCases:
    import promql_parser as pp

    tester = Tester(alert, interval)
    n = tester.points(tester.fire_at)
    plans: list[tuple[str, int | None, Labels | None]]
    if a.job is not None:
        up = {"__name__": "up", "job": a.job, "instance": "target:9100"}
        plans = [
            ("fires when a target is down", 0, up),
            ("stays quiet when the target is up", 1, None),
            ("fires when the job is gone", None, {"job": a.job}),
        ]
    else:
        metric = a.metric or ""
        up = series_labels(metric)
        absent_labels = {k: v for k, v in up.items() if k != "__name__"}
        for m in series_selector(metric).matchers.matchers:
            if m.op != pp.MatchOp.Equal:  # absent() keeps only equality matchers' labels
                absent_labels.pop(m.name, None)
        plans = [("fires when the series is gone", None, absent_labels), ("stays quiet while it exists", 1, None)]
    out = []
    for name, value, expected in plans:
        case = tester.case(name)
        if value is not None:
            case.add(up, const(value, n))
        tester.expect_after_for(case, expected)
        out.append(case)
    return groups(out)


KIND = AlertKindDef(
    name="absent",
    record=Absent,
    schema=schema,
    build=build,
    check=check,
    defaults=defaults,
    fragments=fragments,
    cases=cases,
)
