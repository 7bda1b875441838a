"""SLO model -> recording rules and multiwindow multi-burn-rate alerts (as RuleGroups)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from ..model.project import Alert, Labels, RecordingRule, Rule, RuleGroup
from ..model.services import SLO, Tier, burn_factor
from ..model.sli.base import SHORT_WINDOW
from .promql import number_text, parse_duration, selector

SHORT_INTERVAL = "30s"
LONG_INTERVAL = "1m"
# Below the 5m lookback: a reader never finds the period series missing between evaluations.
PERIOD_INTERVAL = "4m"
# The period (e.g. 30d) is summed from 10m averages recorded every 10m, not from the 30s-resolution
# 5m rates: 20x fewer samples per evaluation, and still weighted by events.
CASCADE_WINDOW = "10m"
# Windows every tier may read, and the group that keeps them: long windows change slowly,
# so they are evaluated less often.
SHORT_WINDOWS = ("5m", "30m", "1h")
LONG_WINDOWS = ("2h", "6h", "1d", "3d")


# Pure in the name, and each service's name is read for every alert of its SLOs.
@lru_cache(maxsize=8192)
def camel(name: str) -> str:
    """chat-api -> ChatApi, e2e_latency -> E2eLatency."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^a-zA-Z0-9]+", name) if part)


def alert_name(slo: SLO, suffix: str) -> str:
    """<Service><Slo>ErrorBudgetBurn, or the SLO's own alert_name prefix + suffix."""
    return (slo.alert_name or f"{camel(slo.service)}{camel(slo.name)}") + suffix


def slo_labels(slo: SLO) -> Labels:
    return {"slo_id": slo.id, "slo_service": slo.service, "slo": slo.name}


def _sel(slo: SLO) -> str:
    return selector({"slo_id": slo.id})


def window_ratio(slo: SLO, window: str) -> str:
    """Events-weighted error ratio over a window, from the recorded 5m rates."""
    return _sel(slo).join(_window_ratio_parts(window))


def _window_ratio_parts(window: str) -> tuple[str, ...]:
    """window_ratio's text cut where the selector goes."""
    if window == SHORT_WINDOW:
        return ("slo:sli_errors:rate5m", "\n/\nslo:sli_total:rate5m", "")
    return (
        "sum_over_time(slo:sli_errors:rate5m",
        f"[{window}])\n/\nsum_over_time(slo:sli_total:rate5m",
        f"[{window}])",
    )


def _period_ratio_parts(window: str) -> tuple[str, ...]:
    """The events-weighted error ratio over the SLO window, from the 10m averages, cut where the selector goes."""
    return (
        f"sum_over_time(slo:sli_errors:avg_rate{CASCADE_WINDOW}",
        f"[{window}])\n/\nsum_over_time(slo:sli_total:avg_rate{CASCADE_WINDOW}",
        f"[{window}])",
    )


def ratio_series(window: str) -> str:
    return "slo:sli_error:ratio_period" if window == "period" else f"slo:sli_error:ratio_rate{window}"


def _windows_needed(slo: SLO) -> list[str]:
    return list(_windows_of(_tier_windows(slo)))


def _tier_windows(slo: SLO) -> tuple[str, ...]:
    """The alert windows of slo's enabled tiers, long and short, in tier order."""
    return tuple(w for tier in slo.tiers if tier.enabled for w in (tier.long, tier.short))


# Every SLO of one tier set needs the same windows: 3,000 SLOs of 1,000 services have a handful of sets.
@lru_cache(maxsize=1024)
def _windows_of(tier_windows: tuple[str, ...]) -> tuple[str, ...]:
    wanted = {SHORT_WINDOW, "1h", *tier_windows}  # 1h feeds the current burn rate
    order = SHORT_WINDOWS + LONG_WINDOWS
    extra = sorted((w for w in wanted if w not in order), key=parse_duration)
    return tuple([w for w in order if w in wanted] + extra)


@lru_cache(maxsize=1024)
def _is_short(window: str) -> bool:
    return parse_duration(window) <= 3600


def recording_groups(slo: SLO) -> list[RuleGroup]:
    """The short, long, 10m cascade and period recording groups of one SLO."""
    return _recording_groups(slo, _sel(slo), number_text(slo.budget))


def _alert_labels(slo: SLO) -> Labels:
    """The labels every alert of slo starts from (a tier's own are added after)."""
    return {**slo.labels, **slo_labels(slo)}


@dataclass(frozen=True, kw_only=True)
class _RecordText:
    """One recording rule as its SLO's shape decides it: the record, and the expression cut where the SLO's
    selector goes (one part: no selector)."""

    record: str
    expr_parts: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class _RecordTexts:
    """The recording rules of one SLO shape, group by group, but for the two that are the SLO's own: the SLI's
    errors and total queries (first in the short group) and slo:info (last in the period group)."""

    short: tuple[_RecordText, ...]  # after the SLI's two
    long: tuple[_RecordText, ...]
    cascade: tuple[_RecordText, ...]
    period: tuple[_RecordText, ...]  # before slo:info


# 3,000 SLOs of 1,000 services have a handful of shapes: their 57,000 expressions are cut once per shape, and
# each SLO's are its selector joined in. Every value the texts read is a parameter, so the key holds them all
# (tests/unit/test_unit_slo_record_shapes.py).
@lru_cache(maxsize=4096)
def _record_texts(*, window: str, objective: str, budget: str, tier_windows: tuple[str, ...]) -> _RecordTexts:
    def text(record: str, *parts: str) -> _RecordText:
        return _RecordText(record=record, expr_parts=parts)

    short: list[_RecordText] = []
    long: list[_RecordText] = []
    for w in _windows_of(tier_windows):
        (short if _is_short(w) else long).append(text(ratio_series(w), *_window_ratio_parts(w)))
    short.append(text("slo:current_burn_rate:ratio", "slo:sli_error:ratio_rate1h", f" / {budget}"))
    seconds = int(parse_duration(window))
    return _RecordTexts(
        short=tuple(short),
        long=tuple(long),
        cascade=tuple(
            text(
                f"slo:sli_{kind}:avg_rate{CASCADE_WINDOW}",
                f"avg_over_time(slo:sli_{kind}:rate5m",
                f"[{CASCADE_WINDOW}])",
            )
            for kind in ("errors", "total")
        ),
        period=(
            text("slo:sli_error:ratio_period", *_period_ratio_parts(window)),
            text("slo:objective:ratio", f"vector({objective})"),
            text("slo:error_budget:ratio", f"vector({budget})"),
            text("slo:period_burn_rate:ratio", "slo:sli_error:ratio_period", f" / {budget}"),
            text("slo:period_error_budget_remaining:ratio", "1 - slo:period_burn_rate:ratio", ""),
            text(
                "slo:time_to_exhaustion:seconds",
                "clamp_min(slo:period_error_budget_remaining:ratio",
                f", 0) * {seconds}\n/\nslo:current_burn_rate:ratio",
                "",
            ),
        ),
    )


def _recording_groups(slo: SLO, sel: str, budget: str) -> list[RuleGroup]:
    """recording_groups(slo), whose selector and budget text are sel and budget."""
    labels = slo_labels(slo)
    ref = slo.ref.at("sli")  # problems in these expressions are problems of the SLI
    origin = slo.sli_written

    def rule(record: str, expr: str, rule_labels: Labels | None = None) -> RecordingRule:
        return RecordingRule(
            record=record,
            expr=expr,
            ref=ref,
            origin=origin,
            labels=dict(labels if rule_labels is None else rule_labels),
        )

    def rules(texts: tuple[_RecordText, ...]) -> list[Rule]:
        return [rule(t.record, sel.join(t.expr_parts)) for t in texts]

    shape = _record_texts(
        window=slo.window,
        objective=number_text(slo.objective),
        budget=budget,
        tier_windows=_tier_windows(slo),
    )
    info = {**labels, "objective": slo.objective_text, "window": slo.window, "sli": slo.sli_kind}
    if slo.backend:
        info["backend"] = slo.backend
    if slo.signal:
        info["signal"] = slo.signal
    if slo.threshold:
        info["threshold"] = slo.threshold
    groups: tuple[tuple[str, str, list[Rule]], ...] = (
        (
            f"slo-{slo.id}-short",
            SHORT_INTERVAL,
            [
                rule("slo:sli_errors:rate5m", slo.errors_expr),
                rule("slo:sli_total:rate5m", slo.total_expr),
                *rules(shape.short),
            ],
        ),
        (f"slo-{slo.id}-long", LONG_INTERVAL, rules(shape.long)),
        (f"slo-{slo.id}-{CASCADE_WINDOW}", CASCADE_WINDOW, rules(shape.cascade)),
        (f"slo-{slo.id}-period", PERIOD_INTERVAL, [*rules(shape.period), rule("slo:info", "vector(1)", info)]),
    )
    return [
        RuleGroup(name=name, kind="RecordingGroup", ref=ref, interval=interval, rules=group_rules)
        for name, interval, group_rules in groups
        if group_rules
    ]


def _query(expr: str, fmt: str) -> str:
    """A template snippet that runs a PromQL query at notification time and formats its value."""
    return f"{{{{ with printf `{expr}` .Labels.slo_id | query }}}}{{{{ . | first | value | {fmt} }}}}{{{{ end }}}}"


# The share of the budget spent, as the alert templates print it (the same text in every SLO's alerts).
_SPENT_QUERY = _query('slo:period_burn_rate:ratio{slo_id="%s"}', "humanizePercentage")


def burn_alert(slo: SLO, tier: Tier) -> Alert:
    """One tier: both windows burn faster than the factor (and enough traffic, when guarded)."""
    return _burn_alert(
        slo, tier, _sel(slo), number_text(slo.budget), _alert_labels(slo), alert_name(slo, "ErrorBudgetBurn")
    )


@dataclass(frozen=True, kw_only=True)
class _BurnTexts:
    """The text of one tier's burn alert that its SLO's shape decides, with the SLO's own values left out."""

    expr_parts: tuple[str, ...]  # the expression is the SLO's selector joined by these
    summary_tail: str  # after "<service> SLO <name>"
    description_tail: str  # after the SLO's description (or "<name> of <service>")


# 3,000 SLOs of 1,000 services have a handful of shapes: each text below is built once per shape and tier.
# Every value it reads is a parameter, so the cache key holds all of them (tests/unit/test_unit_slo_shapes.py).
@lru_cache(maxsize=4096)
def _burn_texts(
    *,
    window: str,
    objective: str,
    budget: str,
    tier: str,
    long: str,
    short: str,
    share: Decimal,
    burn_rate: str,
    min_traffic: str,
) -> _BurnTexts:
    factor = number_text(burn_factor(window=window, long=long, share=share, burn_rate=burn_rate))
    share_text = number_text(share * 100)
    parts = [
        f"(\n  {ratio_series(long)}",
        f" / {budget} > {factor}\nand\n  {ratio_series(short)}",
        f" / {budget} > {factor}\n)",
    ]
    if min_traffic:
        parts[-1] += "\nand on(slo_id)\n  avg_over_time(slo:sli_total:rate5m"
        parts.append(f"[{short}]) >= {min_traffic}")
    seconds = int(parse_duration(window))
    return _BurnTexts(
        expr_parts=tuple(parts),
        summary_tail=f': error budget burning {{{{ printf "%.1f" $value }}}}x over {long} ({tier})',
        description_tail=(
            f": objective {objective} over {window}. Over the last {long} and {short} "
            f'the error budget burns {{{{ printf "%.1f" $value }}}}x faster than sustainable '
            f"(threshold {factor}x, which spends {share_text}% of the {window} budget in {long}). "
            f"Budget spent this {window}: "
            + _SPENT_QUERY
            + ". At this burn rate the rest of the budget is gone in "
            + f'{{{{ with printf `clamp_min(slo:period_error_budget_remaining:ratio{{slo_id="%s"}}, 0) * {seconds} '
            f"/ %f` .Labels.slo_id $value | query }}}}{{{{ . | first | value | humanizeDuration }}}}{{{{ end }}}}."
        ),
    )


def _burn_alert(slo: SLO, tier: Tier, sel: str, budget: str, base: Labels, name: str) -> Alert:
    """burn_alert(slo, tier), from what every tier of slo shares: its selector, budget text, _alert_labels()
    and alert name (made once per SLO by alert_group)."""
    texts = _burn_texts(
        window=slo.window,
        objective=slo.objective_text,
        budget=budget,
        tier=tier.name,
        long=tier.long,
        short=tier.short,
        share=tier.share,
        burn_rate=tier.burn_rate,
        min_traffic=slo.min_traffic,
    )
    annotations = {
        "summary": f"{slo.service} SLO {slo.name}" + texts.summary_tail,
        "description": (slo.description or f"{slo.name} of {slo.service}") + texts.description_tail,
    }
    annotations.update(slo.annotations)
    annotations.update(tier.annotations)
    if slo.runbook_url:
        annotations["runbook_url"] = slo.runbook_url
    labels = {**base, "burn_tier": tier.name, **tier.labels}
    return Alert(
        name=name,
        expr=sel.join(texts.expr_parts),
        ref=slo.ref,
        origin=slo.written,
        for_=tier.for_,
        severity=tier.severity,
        labels=labels,
        annotations=annotations,
    )


def exhausted_alert(slo: SLO, tier: Tier) -> Alert:
    """The budget-exhausted alert of slo, whose exhausted tier is tier."""
    return _exhausted_alert(slo, tier, _sel(slo))


def _exhausted_alert(slo: SLO, tier: Tier, sel: str) -> Alert:
    labels = {**_alert_labels(slo), **tier.labels}
    annotations = {
        "summary": f"{slo.service} SLO {slo.name}: the {slo.window} error budget is spent",
        "description": f"Objective {slo.objective_text} over {slo.window}: "
        + _SPENT_QUERY
        + " of the error budget is spent.",
    }
    annotations.update(slo.annotations)
    if slo.runbook_url:
        annotations["runbook_url"] = slo.runbook_url
    return Alert(
        name=alert_name(slo, "ErrorBudgetExhausted"),
        expr=f"slo:period_error_budget_remaining:ratio{sel} <= 0",
        ref=slo.ref,
        origin=slo.written,
        for_=tier.for_,
        severity=tier.severity,
        labels=labels,
        annotations=annotations,
    )


def alert_group(slo: SLO) -> RuleGroup | None:
    return _alert_group(slo, _sel(slo), number_text(slo.budget))


def _alert_group(slo: SLO, sel: str, budget: str) -> RuleGroup | None:
    """alert_group(slo), whose selector and budget text are sel and budget."""
    base = _alert_labels(slo)
    name = alert_name(slo, "ErrorBudgetBurn")
    rules: list[Rule] = [_burn_alert(slo, t, sel, budget, base, name) for t in slo.tiers if t.enabled]
    if slo.exhausted and slo.exhausted.enabled:
        rules.append(_exhausted_alert(slo, slo.exhausted, sel))
    if not rules:
        return None
    return RuleGroup(name=f"slo-{slo.id}-alerts", kind="AlertGroup", ref=slo.ref, interval=SHORT_INTERVAL, rules=rules)


def slo_groups(slo: SLO) -> list[RuleGroup]:
    """Every rule group one SLO compiles to."""
    if slo.conventions == "sloth":
        from .slo_sloth import sloth_groups

        return sloth_groups(slo)
    # the selector and budget text that every rule of the SLO reads, made once
    sel, budget = _sel(slo), number_text(slo.budget)
    groups = _recording_groups(slo, sel, budget)
    alerts = _alert_group(slo, sel, budget)
    return groups + ([alerts] if alerts else [])
