"""A peer of bench/slo_peers.py: the rule layout Pyrra generates for one latency objective.

Written from Pyrra's documented and tested rule shapes (facts only, not its code):

- group `<slo>-increase`, interval 2m30s: the period's events as `increase()` over the raw series,
  `<metric>_count:increase<period>` and `<metric>_bucket:increase<period>` (the bucket at the
  latency threshold), plus an alert when the series are absent;
- group `<slo>`, interval 30s: `<metric>:burnrate<W>` for each alert window, a ratio of `rate()`s
  over the raw series, and the multiwindow multi-burn-rate alerts (`ErrorBudgetBurn`);
- generic group `pyrra-generic` (interval 30s here): objective, window and availability over the
  period from the increase recordings.

The windows are Pyrra's for a 4-week objective (5m, 30m, 1h, 2h, 6h, 1d, 4d), used here for 30d.
"""

from __future__ import annotations

from typing import Any

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "4d")
# (short, long, burn-rate factor, for, severity)
ALERTS = (
    ("5m", "1h", 14, "2m", "critical"),
    ("30m", "6h", 7, "15m", "critical"),
    ("2h", "1d", 2, "1h", "warning"),
    ("6h", "4d", 1, "3h", "warning"),
)


def _num(x: float) -> str:
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def pyrra_groups(
    name: str, metric: str, matchers: str, le: str, objective: float, period: str = "30d"
) -> list[dict[str, Any]]:
    """Rule groups for a latency objective `objective` (0.99) on histogram `metric` under `le` seconds.

    `matchers` is the selector body without braces (`job="vllm"`)."""
    sel = "{" + matchers + "}"
    bucket = "{" + matchers + f',le="{le}"' + "}"
    labels = {"slo": name}
    flt = '{slo="' + name + '"}'
    increase = [
        {
            "record": f"{metric}_count:increase{period}",
            "expr": f"sum(increase({metric}_count{sel}[{period}]))",
            "labels": dict(labels),
        },
        {
            "record": f"{metric}_bucket:increase{period}",
            "expr": f"sum by (le) (increase({metric}_bucket{bucket}[{period}]))",
            "labels": dict(labels),
        },
        {
            "alert": "SLOMetricAbsent",
            "expr": f"absent({metric}_count{sel}) == 1",
            "for": "6m",
            "labels": {**labels, "severity": "critical"},
        },
    ]
    burn = []
    for window in WINDOWS:
        burn.append(
            {
                "record": f"{metric}:burnrate{window}",
                "expr": (
                    f"(\n  sum(rate({metric}_count{sel}[{window}]))\n  -\n"
                    f"  sum(rate({metric}_bucket{bucket}[{window}]))\n)\n/\n"
                    f"sum(rate({metric}_count{sel}[{window}]))"
                ),
                "labels": dict(labels),
            }
        )
    for short, long, factor, hold, severity in ALERTS:
        burn.append(
            {
                "alert": "ErrorBudgetBurn",
                "expr": (
                    f"{metric}:burnrate{short}{flt} > ({factor} * (1-{_num(objective)})) and "
                    f"{metric}:burnrate{long}{flt} > ({factor} * (1-{_num(objective)}))"
                ),
                "for": hold,
                "labels": {**labels, "severity": severity, "short": short, "long": long},
            }
        )
    availability = (
        f"1 - (\n  sum({metric}_count:increase{period}{flt})\n  -\n"
        f"  sum({metric}_bucket:increase{period}{flt})\n)\n/\nsum({metric}_count:increase{period}{flt})"
    )
    generic = [
        {"record": "pyrra_objective", "expr": f"vector({_num(objective)})", "labels": dict(labels)},
        {"record": "pyrra_window", "expr": f"vector({_num(30 * 86400)})", "labels": dict(labels)},
        {"record": "pyrra_availability", "expr": availability, "labels": dict(labels)},
    ]
    return [
        {"name": f"{name}-increase", "interval": "2m30s", "rules": increase},
        {"name": name, "interval": "30s", "rules": burn},
        {"name": "pyrra-generic", "interval": "30s", "rules": generic},
    ]
