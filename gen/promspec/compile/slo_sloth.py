"""An SLO with `conventions: sloth` -> the rule groups Sloth generates for it.

Foreign input keeps its identity: the alert name, the page/ticket split, the sloth_* labels and the
recorded series (slo:sli_error:ratio_rate<window>, slo:objective:ratio, sloth_slo_info, ...) are those
Sloth writes, so Sloth's Grafana dashboard, Alertmanager routes and silences keep working.
Facts about Sloth's output (names, windows, formulas) were studied from its documentation and test data;
the rendering here is promspec's own.
"""

from __future__ import annotations

from ..model.project import Alert, Labels, RecordingRule, Rule, RuleGroup
from ..model.services import SLO, Tier
from .promql import parse_duration

# Every window Sloth records, whatever alerts are enabled: its dashboard reads them all.
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# Sloth's alerts: page = page-fast or page-slow, ticket = ticket-fast or ticket-slow.
KINDS = ("page", "ticket")
SLOTH_VERSION = "promspec"


def go_float(value: float) -> str:
    """A float as Go prints it (shortest round trip, no trailing .0): 6, 14.4, 0.0009999999999999432."""
    text = repr(value)
    return text.removesuffix(".0")


def quote(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def id_labels(slo: SLO) -> Labels:
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def id_filter(slo: SLO) -> str:
    return "{" + ", ".join(f"{k}={quote(v)}" for k, v in id_labels(slo).items()) + "}"


def objective_ratio(slo: SLO) -> float:
    """Sloth divides its percent objective by 100 in float64; keep the same number."""
    return float(slo.objective * 100) / 100


def budget_ratio(slo: SLO) -> float:
    return (100 - float(slo.objective * 100)) / 100


def factor(slo: SLO, tier: Tier) -> str:
    return go_float(float(slo.factor(tier)))


def _window_query(template: str, window: str) -> str:
    return template.replace("{{window}}", window)


def _sli_rule(slo: SLO, window: str) -> RecordingRule:
    errors = _window_query(slo.errors_template, window)
    total = _window_query(slo.total_template, window)
    if slo.denominator_corrected:
        # Each window's errors weigh by its share of the period's traffic: quiet hours page less.
        expr = f"(\nslo:numerator_correction:ratio{window}{id_filter(slo)}\n* on()\n({errors})\n)\n/\n({total})\n"
    else:
        expr = f"({errors})\n/\n({total})\n"
    return RecordingRule(
        record=f"slo:sli_error:ratio_rate{window}",
        expr=expr,
        ref=slo.ref.at("sli"),
        origin=slo.sli_written,
        labels={**slo.series_labels, **id_labels(slo), "sloth_window": window},
    )


def sli_group(slo: SLO) -> RuleGroup:
    ref = slo.ref.at("sli")
    rules: list[Rule] = [_sli_rule(slo, w) for w in WINDOWS]
    five = f"slo:sli_error:ratio_rate5m{id_filter(slo)}"
    # The period ratio is the mean of the 5m ratios (Sloth's optimised period rule), not event-weighted.
    rules.append(
        RecordingRule(
            record=f"slo:sli_error:ratio_rate{slo.window}",
            expr=f"sum_over_time({five}[{slo.window}])\n/ ignoring (sloth_window)\n"
            f"count_over_time({five}[{slo.window}])\n",
            ref=ref,
            origin=slo.sli_written,
            labels={**slo.series_labels, **id_labels(slo), "sloth_window": slo.window},
        )
    )
    return RuleGroup(name=f"sloth-slo-sli-recordings-{slo.id}", kind="RecordingGroup", ref=ref, rules=rules)


def meta_group(slo: SLO, mode: str, spec: str) -> RuleGroup:
    ref = slo.ref.at("sli")
    labels = {**slo.series_labels, **id_labels(slo)}
    sel = id_filter(slo)
    on = "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
    objective = go_float(objective_ratio(slo))
    days = int(parse_duration(slo.window) // 86400)
    rules: list[Rule] = [
        RecordingRule(
            record="slo:objective:ratio",
            expr=f"vector({objective})",
            ref=ref,
            origin=slo.sli_written,
            labels=dict(labels),
        ),
        RecordingRule(
            record="slo:error_budget:ratio",
            expr=f"vector(1-{objective})",
            ref=ref,
            origin=slo.sli_written,
            labels=dict(labels),
        ),
        RecordingRule(
            record="slo:time_period:days", expr=f"vector({days})", ref=ref, origin=slo.sli_written, labels=dict(labels)
        ),
        RecordingRule(
            record="slo:current_burn_rate:ratio",
            expr=f"slo:sli_error:ratio_rate5m{sel}\n{on}slo:error_budget:ratio{sel}\n",
            ref=ref,
            origin=slo.sli_written,
            labels=dict(labels),
        ),
        RecordingRule(
            record="slo:period_burn_rate:ratio",
            expr=f"slo:sli_error:ratio_rate{slo.window}{sel}\n{on}slo:error_budget:ratio{sel}\n",
            ref=ref,
            origin=slo.sli_written,
            labels=dict(labels),
        ),
        RecordingRule(
            record="slo:period_error_budget_remaining:ratio",
            expr=f"1 - slo:period_burn_rate:ratio{sel}",
            ref=ref,
            origin=slo.sli_written,
            labels=dict(labels),
        ),
        RecordingRule(
            record="sloth_slo_info",
            expr="vector(1)",
            ref=ref,
            origin=slo.sli_written,
            labels={
                **labels,
                "sloth_mode": mode,
                "sloth_objective": _percent(slo),
                "sloth_spec": spec,
                "sloth_version": SLOTH_VERSION,
            },
        ),
    ]
    if slo.denominator_corrected:
        total_period = _window_query(slo.total_template, slo.window)
        rules += [
            RecordingRule(
                record=f"slo:numerator_correction:ratio{w}",
                expr=f"({_window_query(slo.total_template, w)})/({total_period})",
                ref=ref,
                origin=slo.sli_written,
                labels=dict(labels),
            )
            for w in WINDOWS
        ]
    return RuleGroup(name=f"sloth-slo-meta-recordings-{slo.id}", kind="RecordingGroup", ref=ref, rules=rules)


def _percent(slo: SLO) -> str:
    from .promql import number_text

    return number_text(slo.objective * 100)


def _condition(slo: SLO, tier: Tier) -> str:
    threshold = f"({factor(slo, tier)} * {go_float(budget_ratio(slo))})"
    sel = id_filter(slo)
    return (
        f"(\n    max(slo:sli_error:ratio_rate{tier.short}{sel} > {threshold}) without (sloth_window)\n"
        f"    and\n"
        f"    max(slo:sli_error:ratio_rate{tier.long}{sel} > {threshold}) without (sloth_window)\n)"
    )


def alert(slo: SLO, kind: str) -> Alert | None:
    fast, slow = (next(t for t in slo.tiers if t.name == f"{kind}-{speed}") for speed in ("fast", "slow"))
    if not fast.enabled:
        return None
    expr = f"{_condition(slo, fast)}\nor\n{_condition(slo, slow)}\n"
    annotations = {
        "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}}: the SLO error budget burns faster than allowed.",
        "title": f"({kind}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}}: SLO error budget burn rate "
        "too high.",
        **slo.annotations,
        **fast.annotations,
    }
    labels = {**slo.labels, **fast.labels, "sloth_severity": kind}
    return Alert(
        name=slo.alert_name or f"{slo.service}-{slo.name}",
        expr=expr,
        ref=slo.ref,
        origin=slo.written,
        for_=fast.for_,
        severity="",
        labels=labels,
        annotations=annotations,
    )


def sloth_groups(slo: SLO) -> list[RuleGroup]:
    mode = "cli-gen-k8s" if slo.sloth_spec == "sloth.slok.dev/v1" else "cli-gen-prom"
    groups = [sli_group(slo), meta_group(slo, mode, slo.sloth_spec or "prometheus/v1")]
    rules: list[Rule] = [a for a in (alert(slo, kind) for kind in KINDS) if a is not None]
    alerts = RuleGroup(name=f"sloth-slo-alerts-{slo.id}", kind="AlertGroup", ref=slo.ref, rules=rules)
    return groups + ([alerts] if rules else [])
