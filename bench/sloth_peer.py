"""The peer of bench/slo_eval.py: the Prometheus rules Sloth v0.16 generates for one event-based SLO.

Written from Sloth's documented rule shapes (v0.16.0: the sli_rules/v1, metadata_rules/v1 and
alert_rules/v1 plugins, Google's 30d alert windows), not from its code:

- SLI group `sloth-slo-sli-recordings-<id>`: for every alert window W in 5m, 30m, 1h, 2h, 6h, 1d,
  3d, `slo:sli_error:ratio_rate<W>` = `(<error query>)\\n/\\n(<total query>)` with `{{.window}}` set
  to W, i.e. a `rate()` over the raw series for every window. The SLO period (30d) is Sloth's
  default "optimized" rule: `sum_over_time(slo:sli_error:ratio_rate5m{...}[30d]) / ignoring
  (sloth_window) count_over_time(slo:sli_error:ratio_rate5m{...}[30d])`, an average of 5m ratios.
- Metadata group `sloth-slo-meta-recordings-<id>`: objective, error budget, period days, current
  (5m) and period burn rates, remaining budget, `sloth_slo_info`.
- Alert group `sloth-slo-alerts-<id>`: one page and one ticket multiwindow multi-burn-rate alert.
- No group sets `interval`: all three run at the global evaluation_interval.
"""

from __future__ import annotations

# (name, short window, long window, % of the budget spent at the threshold), Google's 30d windows.
PAGE_QUICK = ("5m", "1h", 2)
PAGE_SLOW = ("30m", "6h", 5)
TICKET_QUICK = ("2h", "1d", 10)
TICKET_SLOW = ("6h", "3d", 10)
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
HOURS = {"5m": 5 / 60, "30m": 0.5, "1h": 1, "2h": 2, "6h": 6, "1d": 24, "3d": 72, "30d": 720}
VERSION = "v0.16.0"


def _num(x: float) -> str:
    """Go's %v / %g for a float64 (shortest round-trip form, no exponent for our values)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _filter(ids: dict) -> str:
    """A Prometheus LabelSet as Go's model.LabelSet.String() writes it: sorted, `, ` separated."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(ids.items())) + "}"


def sloth_groups(
    service: str,
    slo: str,
    objective_percent: float,
    error_query: str,
    total_query: str,
    period: str = "30d",
    alert_name: str | None = None,
) -> list[dict]:
    """Rule groups (as YAML-ready dicts) for one SLO; the queries contain `{{.window}}`."""
    slo_id = f"{service}-{slo}"
    ids = {"sloth_id": slo_id, "sloth_service": service, "sloth_slo": slo}
    flt = _filter(ids)
    budget = (100 - objective_percent) / 100
    objective = objective_percent / 100

    sli_rules = []
    for window in WINDOWS:
        expr = f"({error_query})\n/\n({total_query})\n".replace("{{.window}}", window)
        sli_rules.append(
            {"record": f"slo:sli_error:ratio_rate{window}", "expr": expr, "labels": {**ids, "sloth_window": window}}
        )
    sli_rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": (
                f"sum_over_time(slo:sli_error:ratio_rate5m{flt}[{period}])\n/ ignoring (sloth_window)\n"
                f"count_over_time(slo:sli_error:ratio_rate5m{flt}[{period}])\n"
            ),
            "labels": {**ids, "sloth_window": period},
        }
    )

    def burn(window: str) -> str:
        return (
            f"slo:sli_error:ratio_rate{window}{flt}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
            f"slo:error_budget:ratio{flt}\n"
        )

    meta_rules = [
        {"record": "slo:objective:ratio", "expr": f"vector({_num(objective)})", "labels": dict(ids)},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{_num(objective)})", "labels": dict(ids)},
        {"record": "slo:time_period:days", "expr": f"vector({_num(HOURS[period] / 24)})", "labels": dict(ids)},
        {"record": "slo:current_burn_rate:ratio", "expr": burn(PAGE_QUICK[0]), "labels": dict(ids)},
        {"record": "slo:period_burn_rate:ratio", "expr": burn(period), "labels": dict(ids)},
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{flt}",
            "labels": dict(ids),
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **ids,
                "sloth_version": VERSION,
                "sloth_mode": "cli-gen-prom",
                "sloth_spec": "prometheus/v1",
                "sloth_objective": _num(objective_percent),
            },
        },
    ]

    def factor(share_percent: float, long: str) -> float:
        return share_percent * HOURS[period] / 100 / HOURS[long]

    def mwmb(quick: tuple, slow: tuple) -> str:
        parts = []
        for short, long, share in (quick, slow):
            f = _num(factor(share, long))
            parts.append(
                f"(\n    max(slo:sli_error:ratio_rate{short}{flt} > ({f} * {_num(budget)})) without (sloth_window)\n"
                f"    and\n"
                f"    max(slo:sli_error:ratio_rate{long}{flt} > ({f} * {_num(budget)})) without (sloth_window)\n)"
            )
        return parts[0] + "\nor\n" + parts[1] + "\n"

    words = f"{service}-{slo}".replace("_", "-").split("-")
    name = alert_name or "Sloth" + "".join(w.capitalize() for w in words) + "BurnRate"
    alerts = []
    for severity, quick, slow in (("page", PAGE_QUICK, PAGE_SLOW), ("ticket", TICKET_QUICK, TICKET_SLOW)):
        alerts.append(
            {
                "alert": name,
                "expr": mwmb(quick, slow),
                "labels": {"sloth_severity": severity},
                "annotations": {
                    "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget "
                    "burn rate is too fast.",
                    "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over "
                    "expected.",
                },
            }
        )

    return [
        {"name": f"sloth-slo-sli-recordings-{slo_id}", "rules": sli_rules},
        {"name": f"sloth-slo-meta-recordings-{slo_id}", "rules": meta_rules},
        {"name": f"sloth-slo-alerts-{slo_id}", "rules": alerts},
    ]


# Sloth's contrib plugins that address the default rules' accuracy and cost (v0.16 era):
# - sloth.dev/contrib/denominator_corrected_rules/v1 replaces every SLI recording with
#   `(slo:numerator_correction:ratio<W>{ids} * on() (<errors over W>)) / (<total over W>)` and adds, in
#   the metadata group, `slo:numerator_correction:ratio<W>` = `(<total over W>)/(<total over the
#   period>)` per alert window. Its period rule is the default's average of 5m ratios ("optimized"),
#   or with `disableOptimized: true` the period ratio of the raw queries themselves.
# - sloth.dev/contrib/rule_intervals/v1 sets one `interval` per generated group: SLI, metadata, alerts.
SLI_INTERVAL, META_INTERVAL, ALERT_INTERVAL = "1m", "5m", "1m"


def sloth_tuned_groups(
    service: str,
    slo: str,
    objective_percent: float,
    error_query: str,
    total_query: str,
    period: str = "30d",
    optimized: bool = True,
    intervals: tuple[str, str, str] = (SLI_INTERVAL, META_INTERVAL, ALERT_INTERVAL),
) -> list[dict]:
    """Sloth's rules with the denominator-corrected SLI plugin and per-group rule intervals."""
    groups = sloth_groups(service, slo, objective_percent, error_query, total_query, period)
    sli, meta, alerts = groups
    ids = {"sloth_id": f"{service}-{slo}", "sloth_service": service, "sloth_slo": slo}
    flt = _filter(ids)
    rules = []
    for window in WINDOWS:
        err = error_query.replace("{{.window}}", window)
        tot = total_query.replace("{{.window}}", window)
        expr = f"(\nslo:numerator_correction:ratio{window}{flt}\n* on()\n({err})\n)\n/\n({tot})\n"
        rules.append(
            {"record": f"slo:sli_error:ratio_rate{window}", "expr": expr, "labels": {**ids, "sloth_window": window}}
        )
    period_rule = dict(sli["rules"][-1])
    if not optimized:
        err = error_query.replace("{{.window}}", period)
        tot = total_query.replace("{{.window}}", period)
        period_rule["expr"] = f"({err})\n/\n({tot})\n"
    rules.append(period_rule)
    corrections = [
        {
            "record": f"slo:numerator_correction:ratio{window}",
            "expr": f"({total_query.replace('{{.window}}', window)})/({total_query.replace('{{.window}}', period)})",
            "labels": dict(ids),
        }
        for window in WINDOWS
    ]
    sli_interval, meta_interval, alert_interval = intervals
    return [
        {"name": sli["name"], "interval": sli_interval, "rules": rules},
        {"name": meta["name"], "interval": meta_interval, "rules": meta["rules"] + corrections},
        {"name": alerts["name"], "interval": alert_interval, "rules": alerts["rules"]},
    ]
