"""Benchmark: SLO rule evaluation cost and period accuracy of promspec against Sloth and Pyrra, at 10, 50, 200 pods.

One vLLM TTFT latency SLO (objective 99%, window 30d, threshold 500 ms), four rule sets side by side:

- promspec: rendered by the real CLI (`promspec generate`);
- Sloth default: Sloth v0.16's rules (bench/sloth_peer.py), every group at the global 30s;
- Sloth tuned: Sloth with its denominator-corrected SLI plugin and per-group rule intervals (SLI 1m,
  metadata 5m, alerts 1m); "optimized" keeps the period as an average of 5m ratios, "exact" computes it
  from the raw queries over 30 days (the plugin's `disableOptimized`);
- Pyrra: its rule layout (bench/pyrra_peer.py), 30d `increase()` every 2m30s, raw burn rates every 30s.

Per pod count: 30 days + 30 min of synthetic traffic (bench/slo_eval.py's model: diurnal load 10x,
slow share rising with load, two incidents), one sample a minute, of the two series per pod the rules
read (`_count` and the `le="0.5"` bucket), backfilled with promtool; the recorded series that rules
read over long windows are backfilled with `promtool tsdb create-blocks-from rules` (evaluated by
Prometheus): 30 days of the 5m rates (promspec, Sloth) and of promspec's 10m averages, and the last
2 minutes of every other recording (twice, so that recordings of recordings exist too); Prometheus
compacts the blocks. Then one Prometheus 2.42 on 127.0.0.1 serves the data with no rule
evaluation, and every rule expression of every set is timed at the data's last instant through
`/api/v1/query?stats=all` (Prometheus' own `evalTotalTime`), the sets' rules interleaved round after
round. Cost per hour = sum over rules of (median time x evaluations per hour at its group's interval).
The period SLIs are compared with the exact bad/all events ratio of the generated counters.

Run:  .venv/bin/python bench/slo_peers.py                 (10, 50, 200 pods x 30 days)
      .venv/bin/python bench/slo_peers.py --pods 10 --days 3 --repeats 3   (smallest, ~1 minute)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import yaml

from promspec.compile.promql import parse_duration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import load_now, print_machine
from pyrra_peer import pyrra_groups
from slo_eval import (
    CLEANUP,
    METRIC,
    PROMTOOL,
    SERVICE,
    SLO_NAME,
    STEP,
    THRESHOLD,
    Prometheus,
    Traffic,
    group_of,
    log,
    render_promspec,
    run,
    wait_compacted,
)
from sloth_peer import sloth_groups, sloth_tuned_groups

PERIOD_S = 30 * 86400


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    """One generator's rules for the SLO, and how to read its period SLI as an error ratio."""

    key: str
    label: str
    groups: list[dict[str, Any]]
    period_query: str  # the expression of its period SLI (an error ratio), evaluated at the last instant


@dataclass(frozen=True, kw_only=True)
class Backfill:
    """Rules to evaluate over a time range with promtool, into the data directory."""

    what: str
    start: int
    end: int
    files: dict[str, list[dict[str, Any]]]


def rule_sets(ps_groups: list[dict[str, Any]]) -> list[RuleSet]:
    short = group_of(ps_groups, "-short")
    errors = next(r["expr"] for r in short["rules"] if r["record"] == "slo:sli_errors:rate5m")
    total = next(r["expr"] for r in short["rules"] if r["record"] == "slo:sli_total:rate5m")
    err_w, tot_w = errors.replace("[5m]", "[{{.window}}]"), total.replace("[5m]", "[{{.window}}]")

    def sloth(groups: list[dict[str, Any]]) -> str:
        return str(groups[0]["rules"][-1]["expr"])

    # Each set writes its own series (distinct ids), so that backfills of different sets never collide.
    default = sloth_groups(SERVICE, SLO_NAME, 99, err_w, tot_w)
    tuned = sloth_tuned_groups("chat_tuned", SLO_NAME, 99, err_w, tot_w, optimized=True)
    exact = sloth_tuned_groups("chat_exact", SLO_NAME, 99, err_w, tot_w, optimized=False)
    pyrra = pyrra_groups("chat-ttft-pyrra", METRIC, 'job="vllm"', repr(THRESHOLD), 0.99)
    return [
        RuleSet(
            key="promspec",
            label="promspec",
            groups=ps_groups,
            period_query=next(
                r["expr"]
                for r in group_of(ps_groups, "-period")["rules"]
                if r["record"] == "slo:sli_error:ratio_period"
            ),
        ),
        RuleSet(key="sloth", label="Sloth default", groups=default, period_query=sloth(default)),
        RuleSet(
            key="sloth_tuned",
            label="Sloth corrected + intervals (optimized period)",
            groups=tuned,
            period_query=sloth(tuned),
        ),
        RuleSet(
            key="sloth_exact",
            label="Sloth corrected + intervals (exact period)",
            groups=exact,
            period_query=sloth(exact),
        ),
        RuleSet(
            key="pyrra",
            label="Pyrra",
            groups=pyrra,
            period_query="1 - (" + pyrra[2]["rules"][2]["expr"] + ")",
        ),
    ]


def write_raw(traffic: Traffic, path: str) -> int:
    """The `le="0.5"` bucket and `_count` of every pod, every minute, as OpenMetrics (seconds, # EOF)."""
    stamps = [str(traffic.t0 + k * STEP) for k in range(traffic.minutes)]
    n = 0
    with open(path, "w", buffering=1 << 22) as f:
        for p in range(traffic.pods):
            good, bad = traffic.good[p], traffic.bad[p]
            bucket = f"{METRIC}_bucket{traffic.labels(p, repr(THRESHOLD))} "
            count = f"{METRIC}_count{traffic.labels(p, None)} "
            # Every good request is under the threshold and every bad one over it (slo_eval's model).
            f.write("".join(f"{bucket}{g} {s}\n" for g, s in zip(good, stamps, strict=True)))
            f.write("".join(f"{count}{g + b} {s}\n" for g, b, s in zip(good, bad, stamps, strict=True)))
            n += 2 * len(stamps)
        f.write("# EOF\n")
    return n


def backfill(workdir: str, data: str, step: Backfill, eval_interval: str) -> float:
    """Evaluate step.files' rules with promtool against a Prometheus serving `data`; move the blocks in."""
    paths = []
    for i, (name, groups) in enumerate(sorted(step.files.items())):
        path = os.path.join(workdir, f"backfill-{i}-{name}.yml")
        with open(path, "w") as f:
            yaml.safe_dump({"groups": groups}, f, sort_keys=False, width=200)
        paths.append(path)
    src = Prometheus(workdir, "source", data, {"global": {"evaluation_interval": eval_interval}}).start()
    out = os.path.join(workdir, "rule-blocks")
    started = time.monotonic()
    try:
        run(
            [
                PROMTOOL,
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--url={src.url}",
                f"--start={step.start}",
                f"--end={step.end}",
                f"--eval-interval={eval_interval}",
                # 72h: promtool asks for a block's range in one query, limited to 11,000 steps.
                "--max-block-duration=72h",
                f"--output-dir={out}",
                *paths,
            ]
        )
    finally:
        src.stop()
    for name in os.listdir(out):
        shutil.move(os.path.join(out, name), os.path.join(data, name))
    shutil.rmtree(out)
    return time.monotonic() - started


def only(groups: list[dict[str, Any]], records: set[str], interval: str | None = None) -> list[dict[str, Any]]:
    """The groups, keeping only the recording rules named in `records` (and dropping empty groups)."""
    out = []
    for g in groups:
        rules = [r for r in g["rules"] if r.get("record") in records]
        if rules:
            kept = {"name": g["name"], "rules": rules}
            if interval or g.get("interval"):
                kept["interval"] = interval or g["interval"]
            out.append(kept)
    return out


def plan_backfills(sets: list[RuleSet], t0: int, end: int) -> list[Backfill]:
    by = {s.key: s for s in sets}
    ps = by["promspec"].groups
    first = {"slo:sli_errors:rate5m", "slo:sli_total:rate5m"}
    cascade = {r["record"] for r in group_of(ps, "-10m")["rules"]}
    sloth5m = {"slo:sli_error:ratio_rate5m"}
    # The tuned Sloth's 5m ratio multiplies by a 30-day correction at every step: 30 days of it would
    # cost a 30-day range query per step to backfill. Its period rule reads the 5m series only to
    # average it, so a stand-in of the same shape (the uncorrected 5m ratio, at its 1m interval) gives
    # the rule the same samples to read; the value of that period is computed separately (accuracy).
    tuned_stand_in = [
        {"name": g["name"], "interval": g["interval"], "rules": [by["sloth"].groups[0]["rules"][0] | {"labels": lab}]}
        for g in by["sloth_tuned"].groups[:1]
        for lab in [g["rules"][0]["labels"]]
    ]
    recent: dict[str, list[dict[str, Any]]] = {}
    for s in sets:
        done = first | cascade if s.key == "promspec" else sloth5m if s.key in ("sloth", "sloth_tuned") else set()
        records = {r["record"] for g in s.groups for r in g["rules"] if "record" in r} - done
        recent[s.key] = only(s.groups, records)
    return [
        Backfill(
            what="30 days of 5m rates",
            start=t0 + 300,
            end=end,
            files={"promspec": only(ps, first), "sloth": only(by["sloth"].groups, sloth5m), "tuned": tuned_stand_in},
        ),
        Backfill(
            what="30 days of promspec's 10m averages", start=t0 + 900, end=end, files={"promspec": only(ps, cascade)}
        ),
        # Twice: the second pass lets recordings read the ones the first pass wrote (one level deeper).
        Backfill(what="last 2 minutes of every other recording", start=end - 120, end=end, files=recent),
        Backfill(what="the same again", start=end - 120, end=end, files=recent),
    ]


def time_rules(prom: Prometheus, sets: list[RuleSet], t: float, repeats: int, eval_interval: str) -> dict[str, Any]:
    """Median evalTotalTime of every rule of every set at instant t; rounds interleave all sets' rules."""
    exprs = [
        (
            s.key,
            g["name"],
            r.get("record") or r.get("alert"),
            r["expr"],
            parse_duration(g.get("interval", eval_interval)),
        )
        for s in sets
        for g in s.groups
        for r in g["rules"]
    ]
    times: dict[int, list[float]] = {i: [] for i in range(len(exprs))}
    for rnd in range(repeats + 1):
        order = range(len(exprs)) if rnd % 2 == 0 else reversed(range(len(exprs)))
        for i in order:
            took = prom.query(exprs[i][3], t=t, stats=True)["stats"]["timings"]["evalTotalTime"]
            if rnd > 0:  # the first round warms caches and is left out
                times[i].append(took)
    out: dict[str, dict[str, Any]] = {s.key: {"per_hour_s": 0.0, "per_cycle_s": 0.0, "rules": []} for s in sets}
    for i, (key, group, name, _expr, interval) in enumerate(exprs):
        med = statistics.median(times[i])
        out[key]["per_hour_s"] += med * 3600 / interval
        out[key]["per_cycle_s"] += med
        out[key]["rules"].append({"group": group, "rule": name, "interval_s": interval, "median_s": med})
    return out


def value(prom: Prometheus, query: str, t: float) -> float:
    res = prom.query(query, t=t)["result"]
    return float(res[0]["value"][1]) if res else float("nan")


def corrected_mean(traffic: Traffic, k_end: int) -> float:
    """Sloth's corrected+optimized period: the mean over 30 days of (errors_5m / total_30d) x ... computed
    from the exact counts, one 5m window per minute: errors over 5m / (total over 30d scaled to 5m)."""
    minutes = PERIOD_S // STEP
    vals: list[float] = []
    for k in range(max(5, k_end - minutes), k_end + 1):
        k0 = max(0, k - minutes)
        tot30 = (traffic.all_total[k] - traffic.all_total[k0]) * 5 / (k - k0)
        if tot30 > 0:
            vals.append((traffic.bad_total[k] - traffic.bad_total[k - 5]) / tot30)
    return sum(vals) / len(vals)


def bench_pods(
    workdir: str, pods: int, days: float, repeats: int, sets: list[RuleSet], eval_interval: str
) -> dict[str, Any]:
    minutes = int(days * 1440) + 30
    end = int(time.time() // STEP * STEP) - 3600  # in the past: nothing is evaluated live
    t0 = end - (minutes - 1) * STEP
    started = time.monotonic()
    traffic = Traffic(pods, t0, minutes, [THRESHOLD])
    om = os.path.join(workdir, f"raw{pods}.om")
    samples = write_raw(traffic, om)
    data = os.path.join(workdir, f"data{pods}")
    run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h", "-q", om, data])
    os.remove(om)
    log(f"{pods} pods: {samples / 1e6:.1f} M raw samples backfilled in {time.monotonic() - started:.0f}s")
    for step in plan_backfills(sets, t0, end):
        took = backfill(workdir, data, step, eval_interval)
        log(f"{pods} pods: backfilled {step.what} in {took:.0f}s")
    prom = Prometheus(workdir, f"query{pods}", data, {"global": {"evaluation_interval": eval_interval}}).start()
    try:
        # Raw and recorded blocks overlap until Prometheus merges them, as a server that has run for
        # 30 days would have them.
        took = time.monotonic()
        blocks = wait_compacted(data, 900)
        log(f"{pods} pods: compacted to {len(blocks)} blocks in {time.monotonic() - took:.0f}s")
        timings = time_rules(prom, sets, end, repeats, eval_interval)
        k_end = traffic.minute(end)
        exact = traffic.exact_ratio(k_end)
        accuracy = {s.key: value(prom, s.period_query, end) for s in sets}
    finally:
        prom.stop()
        CLEANUP.remove(prom.stop)
    shutil.rmtree(data, ignore_errors=True)
    return {
        "pods": pods,
        "samples": samples,
        "timings": timings,
        "exact": exact,
        "period": accuracy,
        # Computed from the exact counts, not by Prometheus: see plan_backfills.
        "sloth_tuned_period_computed": corrected_mean(traffic, k_end),
    }


def report(results: list[dict[str, Any]], sets: list[RuleSet], repeats: int) -> None:
    labels = {s.key: s.label for s in sets}
    print(f"\nRule evaluation per hour (ms of Prometheus evalTotalTime; median of {repeats} per rule, interleaved)\n")
    print("| rule set | " + " | ".join(f"{r['pods']} pods" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for s in sets:
        cells = [f"{r['timings'][s.key]['per_hour_s'] * 1000:.1f}" for r in results]
        print(f"| {labels[s.key]} | " + " | ".join(cells) + " |")
    print("\npromspec / peer, per hour (goal: <= 0.1 of the best Sloth, <= 0.2 of Pyrra)\n")
    print("| peer | " + " | ".join(f"{r['pods']} pods" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for s in sets[1:]:
        cells = []
        for r in results:
            ratio = r["timings"]["promspec"]["per_hour_s"] / r["timings"][s.key]["per_hour_s"]
            cells.append(f"{ratio:.3f} (1/{1 / ratio:.1f})")
        print(f"| {labels[s.key]} | " + " | ".join(cells) + " |")
    best = [min(r["timings"][k]["per_hour_s"] for k in ("sloth", "sloth_tuned", "sloth_exact")) for r in results]
    cells = [f"{r['timings']['promspec']['per_hour_s'] / b:.3f}" for r, b in zip(results, best, strict=True)]
    print("| cheapest Sloth configuration | " + " | ".join(cells) + " |")
    print("\nPeriod SLI (error ratio over 30 days at the last instant) minus the exact events ratio\n")
    print("| rule set | " + " | ".join(f"{r['pods']} pods" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for s in sets:
        if s.key == "sloth_tuned":
            continue  # its 5m history is a stand-in of the same shape (plan_backfills): computed below
        cells = [f"{r['period'][s.key] - r['exact']:+.2e}" for r in results]
        print(f"| {labels[s.key]} | " + " | ".join(cells) + " |")
    cells = [f"{r['sloth_tuned_period_computed'] - r['exact']:+.2e}" for r in results]
    print("| Sloth corrected, optimized period (computed from the counts) | " + " | ".join(cells) + " |")
    print("| exact ratio | " + " | ".join(f"{r['exact']:.7f}" for r in results) + " |")
    for r in results:
        print(f"\n{r['pods']} pods: the most expensive rules per hour of each set")
        rows = [(k, x) for k in r["timings"] for x in r["timings"][k]["rules"]]
        rows.sort(key=lambda kx: -kx[1]["median_s"] * 3600 / kx[1]["interval_s"])
        for k, x in [kx for s in sets for kx in [row for row in rows if row[0] == s.key][:4]]:
            print(
                f"  {labels[k]:48s} {x['rule']:42s} every {x['interval_s']:4.0f}s "
                f"{x['median_s'] * 1000:8.2f} ms -> {x['median_s'] * 3600 / x['interval_s'] * 1000:8.1f} ms/h"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", default="10,50,200", help="pod counts, comma-separated (10,50,200)")
    ap.add_argument("--days", type=float, default=30.0, help="days of history (30; the SLO window is 30d)")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs of each rule expression (7)")
    args = ap.parse_args()
    print_machine(tools=["prometheus", "promtool"])
    workdir = tempfile.mkdtemp(prefix="slo-peers-")
    try:
        ps_file, prom = render_promspec(workdir)
        with open(ps_file) as f:
            ps_groups = yaml.safe_load(f)["groups"]
        eval_interval = prom.get("global", {}).get("evaluation_interval", "1m")
        sets = rule_sets(ps_groups)
        check = []
        for s in sets:
            path = os.path.join(workdir, f"{s.key}.rules.yml")
            with open(path, "w") as f:
                yaml.safe_dump({"groups": s.groups}, f, sort_keys=False, width=200)
            check.append(path)
        run([PROMTOOL, "check", "rules", *check])
        results = []
        for pods in args.pods.split(","):
            results.append(bench_pods(workdir, int(pods), args.days, args.repeats, sets, eval_interval))
            # The tables so far after each pod count: a long run that is cut short still reports.
            report(results, sets, args.repeats)
            print(f"load average {load_now()}", flush=True)
        print(f"\nafter: load average {load_now()}")
    finally:
        for fn in reversed(CLEANUP):
            try:
                fn()
            except Exception as exc:  # cleanup must go on
                print(f"cleanup: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
