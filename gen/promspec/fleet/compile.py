"""Topology + model -> which rules run where (pure): per-cluster rule groups and the global tier's groups.

The split follows what each rule reads. A rule that reads a scraped series runs in every cluster, next to
the data; series leave a cluster only as recording-rule output (Topology `send: recorded`). A rule that
reads what only the global tier records runs there. Each promspec SLO splits in two: its 5m event rates
read raw series (cluster), its windows, period and burn alerts sum those rates across clusters (global).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, replace

from ..compile.promql import PromQLError, analyse, number_text, parse_duration, selector
from ..compile.slo import (
    CASCADE_WINDOW,
    LONG_INTERVAL,
    SHORT_INTERVAL,
    _windows_needed,
    alert_name,
    burn_alert,
    exhausted_alert,
    ratio_series,
    recording_groups,
    slo_labels,
)
from ..diagnostics import Report
from ..model.project import Alert, Project, RecordingRule, Rule, RuleGroup
from ..model.services import SLO
from ..model.sli.base import SHORT_WINDOW
from .model import Topology

SLO_LABELS = ("slo_id", "slo_service", "slo")
# How long a cluster's SLO series may have been seen before its silence is an alert: a cluster that sent
# nothing for a day is taken as retired, not silent.
SILENCE_MEMORY = "1d"
SILENCE_FOR = "5m"


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where one rule group runs and why, for `promspec diff`, docs and errors."""

    group: str
    tier: str  # "cluster" or "global"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Split:
    cluster_groups: tuple[RuleGroup, ...]
    global_groups: tuple[RuleGroup, ...]
    placements: tuple[Placement, ...]
    sent: tuple[str, ...]  # the series names a cluster sends to the global tier (recorded in the cluster)
    own_global: tuple[RuleGroup, ...] = ()  # the spec's own rule groups that run in the global tier


def fleet_slos(project: Project) -> list[SLO]:
    return [slo for service in project.services for slo in service.slos if slo.conventions == "promspec"]


def _by(topology: Topology, per_cluster: bool) -> str:
    return ", ".join(SLO_LABELS + ((topology.cluster_label,) if per_cluster else ()))


def _series(window: str, per_cluster: bool) -> str:
    """The recorded ratio over window: slo:... for the fleet (the names one Prometheus records, so dashboards
    and queries keep working), slo_cluster:... per cluster (aggregated by cluster, the level of the name)."""
    name = ratio_series(window)
    return "slo_cluster:" + name.split(":", 1)[1] if per_cluster else name


def _summed_ratio(slo: SLO, window: str, by: str) -> str:
    """Events-weighted error ratio over window: all bad events over all events, summed across clusters
    (and shards) before dividing, so a small cluster's ratio never counts as much as a large one's."""
    sel = selector({"slo_id": slo.id})
    if window == SHORT_WINDOW:
        return f"sum by ({by}) (slo:sli_errors:rate5m{sel})\n/\nsum by ({by}) (slo:sli_total:rate5m{sel})"
    return (
        f"sum by ({by}) (sum_over_time(slo:sli_errors:rate5m{sel}[{window}]))\n/\n"
        f"sum by ({by}) (sum_over_time(slo:sli_total:rate5m{sel}[{window}]))"
    )


def cluster_rate_group(slo: SLO) -> RuleGroup:
    """The SLO's 5m event rates, evaluated in each cluster over its raw series."""
    ref = slo.ref.at("sli")
    rules: list[Rule] = [
        RecordingRule(record="slo:sli_errors:rate5m", expr=slo.errors_expr, ref=ref, labels=slo_labels(slo)),
        RecordingRule(record="slo:sli_total:rate5m", expr=slo.total_expr, ref=ref, labels=slo_labels(slo)),
    ]
    return RuleGroup(name=f"slo-{slo.id}-rates", kind="RecordingGroup", ref=ref, interval=SHORT_INTERVAL, rules=rules)


def _burn_expr(slo: SLO, topology: Topology, long: str, short: str, factor: str, per_cluster: bool) -> str:
    sel = selector({"slo_id": slo.id})
    budget = number_text(slo.budget)
    expr = (
        f"(\n  {_series(long, per_cluster)}{sel} / {budget} > {factor}\nand\n"
        f"  {_series(short, per_cluster)}{sel} / {budget} > {factor}\n)"
    )
    if slo.min_traffic:
        by = _by(topology, per_cluster)
        on = "slo_id" + (f", {topology.cluster_label}" if per_cluster else "")
        expr += (
            f"\nand on({on})\n  sum by ({by}) (avg_over_time(slo:sli_total:rate5m{selector({'slo_id': slo.id})}"
            f"[{short}])) >= {slo.min_traffic}"
        )
    return expr


def silent_cluster_alert(slo: SLO, topology: Topology) -> Alert:
    """Pages when a cluster (or shard) that sent this SLO's events in the last day sends none now.

    The fleet ratio sums whatever arrives: without its bad events a burning cluster that stops sending
    would make the fleet look healthier. This alert makes that silence loud, naming the cluster.
    """
    sel = selector({"slo_id": slo.id})
    keys = ", ".join(("slo_id",) + topology.label_names)
    expr = (
        f"group by ({keys}) (last_over_time(slo:sli_total:rate5m{sel}[{SILENCE_MEMORY}]))\n"
        f"unless\ngroup by ({keys}) (slo:sli_total:rate5m{sel})"
    )
    severity = next((t.severity for t in slo.tiers if t.enabled), "page")
    label = topology.cluster_label
    return Alert(
        name=alert_name(slo, "ClusterSilent"),
        expr=expr,
        ref=slo.ref,
        for_=SILENCE_FOR,
        severity=severity,
        labels={**slo.labels, **slo_labels(slo)},
        annotations={
            "summary": f"{slo.service} SLO {slo.name}: cluster {{{{ $labels.{label} }}}} sends no SLO events",
            "description": (
                f"Cluster {{{{ $labels.{label} }}}} sent {slo.name} events of {slo.service} within the last "
                f"{SILENCE_MEMORY} and has sent none for {SILENCE_FOR}. The fleet SLO now counts only the clusters "
                "still sending: its burn rate may read lower than the truth until the cluster is back."
            ),
        },
    )


def global_groups(slo: SLO, topology: Topology) -> list[RuleGroup]:
    """The SLO's windows, period and alerts over the per-cluster 5m rates, summed across clusters."""
    ref = slo.ref.at("sli")
    labels = slo_labels(slo)
    per_cluster = topology.global_tier.per_cluster_alerts
    short = RuleGroup(name=f"slo-{slo.id}-short", kind="RecordingGroup", ref=ref, interval=SHORT_INTERVAL)
    long = RuleGroup(name=f"slo-{slo.id}-long", kind="RecordingGroup", ref=ref, interval=LONG_INTERVAL)
    for window in _windows_needed(slo):
        group = short if parse_duration(window) <= 3600 else long
        for scoped in (False, True) if per_cluster else (False,):
            expr = _summed_ratio(slo, window, _by(topology, scoped))
            group.rules.append(RecordingRule(record=_series(window, scoped), expr=expr, ref=ref, labels=dict(labels)))
    sel = selector({"slo_id": slo.id})
    short.rules.append(
        RecordingRule(
            record="slo:current_burn_rate:ratio",
            expr=f"slo:sli_error:ratio_rate1h{sel} / {number_text(slo.budget)}",
            ref=ref,
            labels=labels,
        )
    )
    averages: list[Rule] = [
        RecordingRule(
            record=f"slo:sli_{kind}:avg_rate{CASCADE_WINDOW}",
            expr=f"sum by ({_by(topology, False)}) (avg_over_time(slo:sli_{kind}:rate5m{sel}[{CASCADE_WINDOW}]))",
            ref=ref,
            labels=dict(labels),
        )
        for kind in ("errors", "total")
    ]
    cascade = RuleGroup(
        name=f"slo-{slo.id}-{CASCADE_WINDOW}", kind="RecordingGroup", ref=ref, interval=CASCADE_WINDOW, rules=averages
    )
    # The period group reads only fleet-level series (the 10m averages and the current burn rate above).
    period = [g for g in recording_groups(slo) if g.name == f"slo-{slo.id}-period"]
    alerts = RuleGroup(name=f"slo-{slo.id}-alerts", kind="AlertGroup", ref=slo.ref, interval=SHORT_INTERVAL)
    for tier in (t for t in slo.tiers if t.enabled):
        factor = number_text(slo.factor(tier))
        fleet_alert = burn_alert(slo, tier)
        alerts.rules.append(
            replace(fleet_alert, expr=_burn_expr(slo, topology, tier.long, tier.short, factor, per_cluster=False))
        )
        if per_cluster:
            label = topology.cluster_label
            alerts.rules.append(
                replace(
                    fleet_alert,
                    name=alert_name(slo, "ClusterErrorBudgetBurn"),
                    expr=_burn_expr(slo, topology, tier.long, tier.short, factor, per_cluster=True),
                    annotations={
                        **fleet_alert.annotations,
                        "summary": f"{slo.service} SLO {slo.name} in cluster {{{{ $labels.{label} }}}}: error "
                        f'budget burning {{{{ printf "%.1f" $value }}}}x over {tier.long} ({tier.name})',
                        "description": f"Cluster {{{{ $labels.{label} }}}} alone burns the {slo.objective_text} "
                        f"{slo.window} error budget of {slo.service} SLO {slo.name} "
                        f'{{{{ printf "%.1f" $value }}}}x faster than sustainable over {tier.long} and '
                        f"{tier.short} (threshold {factor}x).",
                    },
                )
            )
    if slo.exhausted and slo.exhausted.enabled:
        alerts.rules.append(exhausted_alert(slo, slo.exhausted))
    alerts.rules.append(silent_cluster_alert(slo, topology))
    return [g for g in (short, long, cascade, *period, alerts) if g.rules]


def _reads(group: RuleGroup) -> set[str]:
    names: set[str] = set()
    for rule in group.rules:
        with contextlib.suppress(PromQLError):  # reported by the semantic checks at the rule's position
            names.update(analyse(rule.expr).metrics)
    return names


def _records(group: RuleGroup) -> set[str]:
    return {r.record for r in group.rules if isinstance(r, RecordingRule)}


def split_rules(project: Project, topology: Topology, own: list[RuleGroup], report: Report | None = None) -> Split:
    """Every rule group of the project, placed in the clusters or the global tier: own are the groups that
    are not an SLO's (the spec's and the probes'), placed by the series they read."""
    slos = fleet_slos(project)
    cluster = [cluster_rate_group(slo) for slo in slos]
    glob = [g for slo in slos for g in global_groups(slo, topology)]
    placements = [Placement(group=g.name, tier="cluster", reason="reads the SLI's raw series") for g in cluster]
    placements += [
        Placement(group=g.name, tier="global", reason="sums the per-cluster 5m rates across clusters") for g in glob
    ]
    global_series = set().union(*(_records(g) for g in glob)) if glob else set()
    # A group reading a series only the global tier records must run there; its records may pull others along.
    in_global: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, g in enumerate(own):
            if i not in in_global and _reads(g) & global_series:
                in_global.add(i)
                global_series |= _records(g)
                changed = True
    recorded = set().union(*(_records(g) for g in [*cluster, *own])) if own or cluster else set()
    for i, g in enumerate(own):
        if i in in_global:
            glob.append(g)
            why = sorted(_reads(g) & global_series)
            placements.append(Placement(group=g.name, tier="global", reason=f"reads {', '.join(why)}"))
            raw = sorted(_reads(g) - global_series - recorded)
            if raw and topology.global_tier.send == "recorded" and report is not None:
                report.error(
                    g.ref.pos(),
                    f"rule group {g.name!r} reads {why[0]} (recorded only at the global tier) and {raw[0]} "
                    "(a scraped series that stays in its cluster)",
                    g.ref.dotted(),
                    "a group reading either global series or scraped series; or Topology global.send: all",
                )
        else:
            cluster.append(g)
            placements.append(Placement(group=g.name, tier="cluster", reason="reads only series of its cluster"))
    cluster_records = set().union(*(_records(g) for g in cluster)) if cluster else set()
    return Split(
        cluster_groups=tuple(cluster),
        global_groups=tuple(glob),
        placements=tuple(placements),
        sent=tuple(sorted(cluster_records)),
        own_global=tuple(g for i, g in enumerate(own) if i in in_global),
    )


# Functions whose MetricsQL result differs from PromQL's on the same samples: MetricsQL does not extrapolate
# to the window's edges and takes the sample before the window as the starting point.
METRICSQL_DIFFERENT = {
    "rate": "rate() without Prometheus' extrapolation to the window's edges",
    "increase": "increase() without extrapolation: whole increases where Prometheus reports fractions",
    "delta": "delta() without extrapolation",
    "irate": "irate() over the last two samples, the one before the window included",
    "idelta": "idelta() over the last two samples, the one before the window included",
}


def metricsql_differences(expr: str) -> list[str]:
    """What an expression computes differently in MetricsQL (vmalert on VictoriaMetrics), one line per function."""
    import promql_parser as pp

    from ..compile.promql import parse

    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, pp.Call) and node.func.name in METRICSQL_DIFFERENT:
            found.add(node.func.name)

    try:
        pp.walk(parse(expr), visit, None)
    except PromQLError:
        return []
    return [METRICSQL_DIFFERENT[name] for name in sorted(found)]


def sent_regex(names: tuple[str, ...]) -> str:
    """An RE2 alternation matching exactly these series names (write_relabel keep)."""
    return "|".join(re.escape(n) for n in names)
