"""Generated promtool unit tests for SLO alerts: each tier fires above its burn, stays quiet below it,
recovers when the burn stops, and respects the minimum-traffic guard."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from ..model.services import SLO, Tier
from .promql import format_duration, matcher, number_text, parse_duration
from .slo import alert_name, slo_labels

STEPS_PER_WINDOW = 30  # samples per long window: places the crossing within ~10% of the window
ABOVE = Decimal("1.25")  # a burn 25% over the threshold crosses it at 80% of the long window
BELOW = Decimal("0.95")
# The recorded SLI rates the tests inject as input series. The rule files record them from the SLI query,
# and a query that yields a sample without any input (`... or on() vector(0)`, absent(), a literal) would
# write a second sample at the same timestamp: "duplicate sample for timestamp". The tests therefore load
# the rule file without these two rules, which is exactly what the real file does when the raw series the
# query reads are missing (the only input the tests give is the recorded rates).
INJECTED = ("slo:sli_errors:rate5m", "slo:sli_total:rate5m")

# The promtool test file's records (`promtool test rules`), as they are written out.
Run = tuple[Decimal, int]  # (value, count): a run of equal samples in promtool's expanding notation


class Sample(TypedDict):
    labels: str
    value: int


class Check(TypedDict):
    expr: str
    eval_time: str
    exp_samples: list[Sample]


class InputSeries(TypedDict):
    series: str
    values: str


class PromtoolCase(TypedDict):
    name: str
    interval: str
    input_series: list[InputSeries]
    promql_expr_test: list[Check]


class PromtoolFile(TypedDict):
    rule_files: list[str]
    evaluation_interval: str
    group_eval_order: list[str]
    tests: list[PromtoolCase]


# An SLO's labels, its service's and its tiers' repeat in every tier's selectors (and the severities and
# states across SLOs): each label is quoted once. typed: 1 and True are equal keys but other label text.
_matcher = functools.lru_cache(maxsize=1 << 14, typed=True)(matcher)


def _selector(items: Iterable[tuple[str, str]]) -> str:
    """selector(items), each matcher written once (_matcher)."""
    parts = [_matcher(name, value) for name, value in items]
    return "{" + ",".join(parts) + "}" if parts else ""


def _series(name: str, slo: SLO) -> str:
    return name + _selector(sorted(slo_labels(slo).items()))


def _values(*runs: Run) -> str:
    """promtool's expanding notation: (value, count) runs -> 'v1xN-1 v2xM-1'."""
    return " ".join(f"{number_text(v)}x{n - 1}" if n > 1 else number_text(v) for v, n in runs if n > 0)


def _alert_name(slo: SLO, tier: Tier) -> str:
    return alert_name(slo, "ErrorBudgetExhausted" if tier.name == "budget-exhausted" else "ErrorBudgetBurn")


def _alert_selector(slo: SLO, tier: Tier, state: str = "", name: str = "") -> str:
    parts = [_matcher("alertname", name or _alert_name(slo, tier))]
    if tier.name != "budget-exhausted":
        parts.append(_matcher("burn_tier", tier.name))
    if state:
        parts.append(_matcher("alertstate", state))
    return "ALERTS{" + ",".join(parts) + "}"


def _alert_sample_labels(slo: SLO, tier: Tier, name: str = "") -> str:
    labels = {**slo.labels, **slo_labels(slo), **tier.labels, "severity": tier.severity, "alertstate": "firing"}
    if tier.name != "budget-exhausted":
        labels["burn_tier"] = tier.name
    labels["alertname"] = name or _alert_name(slo, tier)
    return "ALERTS" + _selector(sorted(labels.items()))


@dataclass(frozen=True, kw_only=True)
class TierText:
    """The series and selectors every case of one tier repeats, written once per tier."""

    total: str  # the injected total rate series
    errors: str  # the injected error rate series
    alert: str  # ALERTS of the tier's alert, any state
    firing: str  # ALERTS of the tier's alert, firing
    sample: str  # the firing alert's series, every label


def _tier_text(slo: SLO, tier: Tier, series: tuple[str, str] | None = None, name: str = "") -> TierText:
    """series: the SLO's two injected series and name: the tier's alert name, where the caller has them."""
    total, errors = series or (_series("slo:sli_total:rate5m", slo), _series("slo:sli_errors:rate5m", slo))
    name = name or _alert_name(slo, tier)
    return TierText(
        total=total,
        errors=errors,
        alert=_alert_selector(slo, tier, name=name),
        firing=_alert_selector(slo, tier, "firing", name),
        sample=_alert_sample_labels(slo, tier, name),
    )


@dataclass(frozen=True, kw_only=True)
class PlanKey:
    """Everything the numbers of one tier's cases depend on: SLOs that agree on these get the same
    intervals, sample values and evaluation times, whatever their names and labels."""

    exhausted: bool  # the budget-exhausted alert's cases, not a burn tier's
    tier: str  # the tier's name (in the case titles)
    long: str
    short: str
    for_: str
    factor: Decimal
    budget: Decimal
    min_traffic: str


@dataclass(frozen=True, kw_only=True)
class _CheckPlan:
    eval_time: str
    firing: bool


@dataclass(frozen=True, kw_only=True)
class CasePlan:
    """One case without the SLO's names: its title after "<slo id> <tier>: ", the step, the two input
    series' values and the checks."""

    title: str
    interval: str
    total: str
    errors: str
    checks: tuple[_CheckPlan, ...]


def _plan_key(slo: SLO, tier: Tier, exhausted: bool) -> PlanKey:
    return PlanKey(
        exhausted=exhausted,
        tier=tier.name,
        long=tier.long,
        short=tier.short,
        for_=tier.for_,
        factor=slo.factor(tier),
        budget=slo.budget,
        min_traffic=slo.min_traffic,
    )


def _case_plan(title: str, step: float, total: Decimal, errors: list[Run], checks: list[_CheckPlan]) -> CasePlan:
    n = sum(count for _v, count in errors)
    return CasePlan(
        title=title,
        interval=format_duration(step),
        total=_values((total, n)),
        errors=_values(*errors),
        checks=tuple(checks),
    )


def _at(at_seconds: float, firing: bool) -> _CheckPlan:
    return _CheckPlan(eval_time=format_duration(at_seconds), firing=firing)


@functools.lru_cache(maxsize=1 << 12)
def _tier_plan(key: PlanKey) -> tuple[CasePlan, ...]:
    """The scenarios of one burn tier, on a grid of STEPS_PER_WINDOW samples per long window."""
    long_s = parse_duration(key.long)
    step = long_s / STEPS_PER_WINDOW
    guard = Decimal(key.min_traffic) if key.min_traffic else None
    total = max(Decimal(10), guard * 4) if guard else Decimal(10)
    threshold = key.factor * key.budget * total  # errors/s at exactly the burn threshold
    base = STEPS_PER_WINDOW  # a clean long window before the burn starts
    wait = parse_duration(key.for_) if key.for_ else 0
    start = base * step
    crossing = Decimal(STEPS_PER_WINDOW) / ABOVE  # steps after the start at which the long window crosses
    short_steps = int(parse_duration(key.short) / step)
    cases = [
        _case_plan(
            "fires once the long window burns 1.25x the threshold",
            step,
            total,
            [(Decimal(0), base), (threshold * ABOVE, 2 * STEPS_PER_WINDOW)],
            [
                _at(start + (int(crossing) - 3) * step, False),
                _at(start + (int(crossing) + 3) * step + wait, True),
            ],
        ),
        _case_plan(
            "stays quiet at 0.95x the threshold",
            step,
            total,
            [(Decimal(0), base), (threshold * BELOW, 2 * STEPS_PER_WINDOW)],
            [_at(start + int(STEPS_PER_WINDOW * 1.5) * step, False)],
        ),
        _case_plan(
            "resolves once the burn stops",
            step,
            total,
            [(Decimal(0), base), (threshold * ABOVE, STEPS_PER_WINDOW), (Decimal(0), STEPS_PER_WINDOW)],
            [
                _at(start + (STEPS_PER_WINDOW - 1) * step + wait, True),
                _at(start + (STEPS_PER_WINDOW + short_steps + 2) * step, False),
            ],
        ),
    ]
    if guard:
        low = guard / 2
        cases.append(
            _case_plan(
                f"stays quiet below the minimum traffic of {key.min_traffic}/s",
                step,
                low,
                [(Decimal(0), base), (key.factor * key.budget * low * 2, 2 * STEPS_PER_WINDOW)],
                [_at(start + int(STEPS_PER_WINDOW * 1.5) * step, False)],
            )
        )
    return tuple(cases)


@functools.lru_cache(maxsize=1 << 10)
def _exhausted_plan(key: PlanKey) -> tuple[CasePlan, ...]:
    """Tests of a budget-exhausted alert."""
    step = 3600.0
    total = Decimal(10)
    wait = parse_duration(key.for_) if key.for_ else 0
    over = key.budget * total * 2
    under = key.budget * total / 2
    return (
        _case_plan(
            "fires once the period has spent its budget", step, total, [(over, 6)], [_at(2 * step + wait, True)]
        ),
        _case_plan("stays quiet at half the budget", step, total, [(under, 6)], [_at(4 * step, False)]),
    )


def case_plans(key: PlanKey) -> tuple[CasePlan, ...]:
    return _exhausted_plan(key) if key.exhausted else _tier_plan(key)


def _cases(plan: tuple[CasePlan, ...], text: TierText, names: list[str]) -> list[PromtoolCase]:
    # Fresh dicts each time: a container written twice would become a YAML anchor and alias.
    return [
        {
            "name": name,
            "interval": case.interval,
            "input_series": [
                {"series": text.total, "values": case.total},
                {"series": text.errors, "values": case.errors},
            ],
            "promql_expr_test": [
                {
                    "expr": text.firing if check.firing else text.alert,
                    "eval_time": check.eval_time,
                    "exp_samples": [{"labels": text.sample, "value": 1}] if check.firing else [],
                }
                for check in case.checks
            ],
        }
        for case, name in zip(plan, names, strict=True)
    ]


def _names(slo: SLO, tier: Tier, plan: tuple[CasePlan, ...]) -> list[str]:
    return [f"{slo.id} {tier.name}: {case.title}" for case in plan]


def tier_cases(slo: SLO, tier: Tier) -> list[PromtoolCase]:
    """The scenarios of one burn tier, on a grid of STEPS_PER_WINDOW samples per long window."""
    plan = _tier_plan(_plan_key(slo, tier, False))
    return _cases(plan, _tier_text(slo, tier), _names(slo, tier, plan))


def exhausted_cases(slo: SLO, tier: Tier) -> list[PromtoolCase]:
    """Tests of the budget-exhausted alert of slo, whose exhausted tier is tier."""
    plan = _exhausted_plan(_plan_key(slo, tier, True))
    return _cases(plan, _tier_text(slo, tier), _names(slo, tier, plan))


@dataclass(frozen=True, kw_only=True)
class TierPart:
    """One tier's cases in a test file: their plan and the SLO's strings they carry."""

    key: PlanKey
    text: TierText
    names: list[str]


def file_parts(slo: SLO) -> dict[str, tuple[float, list[TierPart]]]:
    """The test files of slo by tier name: each file's evaluation step and the tiers whose cases it holds."""
    by_tier: dict[str, tuple[float, list[TierPart]]] = {}
    tiers = [(tier, False) for tier in slo.tiers if tier.enabled]
    if slo.exhausted and slo.exhausted.enabled:
        tiers.append((slo.exhausted, True))
    if not tiers:
        return by_tier
    # The same for every tier of the SLO: its injected series, and one alert name per alert kind.
    series = (_series("slo:sli_total:rate5m", slo), _series("slo:sli_errors:rate5m", slo))
    alert_names: dict[bool, str] = {}
    for tier, exhausted in tiers:
        key = _plan_key(slo, tier, exhausted)
        kind = tier.name == "budget-exhausted"
        if kind not in alert_names:
            alert_names[kind] = _alert_name(slo, tier)
        text = _tier_text(slo, tier, series, alert_names[kind])
        name = "budget-exhausted" if exhausted else tier.name
        step = 3600.0 if exhausted else parse_duration(tier.long) / STEPS_PER_WINDOW
        by_tier.setdefault(name, (step, []))[1].append(
            TierPart(key=key, text=text, names=_names(slo, tier, case_plans(key)))
        )
    return by_tier


def promtool_file(rule_file: str, step: float, group_order: list[str], parts: list[TierPart]) -> PromtoolFile:
    return {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration(step),
        "group_eval_order": list(group_order),
        "tests": [case for part in parts for case in _cases(case_plans(part.key), part.text, part.names)],
    }


def slo_test_files(rule_file: str, slo: SLO, group_order: list[str]) -> dict[str, PromtoolFile]:
    """promtool test files for one SLO, one per tier, loading rule_file (the SLO's groups alone).

    promtool evaluates every group of every rule file a test loads at every step of every test
    case, so tests that load a service's whole rule file cost (cases x SLOs), quadratic in the
    SLOs of a service; an SLO's own groups keep the cost linear, and the files run in parallel.
    promtool evaluates rules at one interval per file; each tier gets a file at its own step
    so a 3d window needs ~200 evaluations, not ~13,000. Groups are evaluated in file order
    (promtool's default order is random) so alerts read this step's ratios, as in production
    where the ratios are at most one short interval old.
    """
    return {name: promtool_file(rule_file, step, group_order, parts) for name, (step, parts) in file_parts(slo).items()}


def rules_under_test(content: dict[str, Any], slos: list[SLO]) -> dict[str, Any]:
    """A rule file's content without the SLI input rules of these SLOs (see INJECTED); everything else as is."""
    short = {f"slo-{slo.id}-short" for slo in slos}
    groups = []
    for group in content["groups"]:
        if group["name"] in short:
            group = {**group, "rules": [r for r in group["rules"] if r.get("record") not in INJECTED]}
        groups.append(group)
    return {**content, "groups": groups}
