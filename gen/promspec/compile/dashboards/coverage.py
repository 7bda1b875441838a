"""What the LLM engines' own dashboards chart, on promspec's LLM serving dashboards (issue 12); the GPU
fleet's and host's equivalents are rows of their bundled spec files (gen/promspec/data/dashboards/).

Each function returns rows (or panels) that the presets append to their dashboards: nothing here replaces a
panel that was there before, so a project keeps its other panel ids. A panel only reads metrics its engine
adapter (the Backend's signals and `other` list) or a catalog names; `_prune` drops the rest.

The family lists per engine, with the panel that charts each, are in docs/dashboards.md ("Coverage").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...backends.adapter import Variant
from ...model.dashboards import Panel, Query, Row
from .signals import Scope

if TYPE_CHECKING:
    from .presets import _Make

RATE = "$__rate_interval"
RANGE = "$__range"
# vLLM's "performance statistics" dashboard: P50, P90, P99 and the mean over the selected time range.
RANGE_QUANTILES = ("0.5", "0.9", "0.99")


def _pct(q: str) -> str:
    return format(float(q) * 100, "g")


@dataclass(frozen=True, kw_only=True)
class Extra:
    """An engine metric outside the canonical signals, resolved for one scope: its series name and selector."""

    metric: str
    sel: str
    variant: Variant


def _extra(scope: Scope, *names: str) -> Extra | None:
    """The first of the named `other` metrics of the engine's adapter, in the scope's spelling and selector."""
    found = {v.metric: v for v in scope.backend.other}
    for name in names:
        variant = found.get(name)
        if variant is not None:
            return Extra(metric=scope.metric(variant), sel=scope.selector_text(variant.matchers), variant=variant)
    return None


# ------------------------------------------------------------------------------------ LLM engines


def range_stats_row(m: _Make, scope: Scope) -> Row | None:
    """P50/P90/P99 and the mean of E2E, TTFT and inter-token latency over the dashboard's time range.

    Instant queries over `$__range`: the stat reads the whole selected range, not the last few minutes, the
    way vLLM's performance-statistics dashboard summarises a benchmark or an incident window."""
    panels = [
        _range_stats(m, scope, signal, title)
        for signal, title in (
            ("e2e_latency", "End-to-end latency (range)"),
            ("ttft", "TTFT (range)"),
            ("inter_token_latency", "Inter-token latency (range)"),
        )
    ]
    return m.row("Performance over the range", panels)


def _range_stats(m: _Make, scope: Scope, signal: str, title: str) -> Panel | None:
    variant = scope.variant(signal)
    if variant is None or variant.type != "histogram":
        return None  # a summary's quantiles are the engine's own sliding window: they do not add up over a range
    metric, sel = scope.metric(variant), scope.selector_text(variant.matchers)
    if variant.native:
        hist = f"sum(increase({metric}{sel}[{RANGE}]))"
        quantiles = [m.q(f"histogram_quantile({q}, {hist})", f"p{_pct(q)}", instant=True) for q in RANGE_QUANTILES]
        mean = m.q(f"histogram_avg({hist})", "mean", instant=True)
    else:
        quantiles = [
            m.q(
                f"histogram_quantile({q}, sum by (le) (increase({metric}_bucket{sel}[{RANGE}])))",
                f"p{_pct(q)}",
                instant=True,
            )
            for q in RANGE_QUANTILES
        ]
        mean = m.q(
            f"sum(increase({metric}_sum{sel}[{RANGE}]))\n/\nsum(increase({metric}_count{sel}[{RANGE}]))",
            "mean",
            instant=True,
        )
    return m.panel(
        title,
        quantiles + [mean],
        "stat",
        unit="s",
        width=8,
        description="Over the whole selected time range (`$__range`), all replicas of the selection together.",
    )


def per_replica_row(m: _Make, scope: Scope) -> Row | None:
    """Running and waiting requests per replica (one line per instance), as the engines' own dashboards chart."""
    panels: list[Panel | None] = []
    for signal, title in (("running", "Running requests by replica"), ("waiting", "Waiting requests by replica")):
        variant = scope.variant(signal)
        if variant is None or variant.type != "gauge":
            panels.append(None)
            continue
        metric, sel = scope.metric(variant), scope.selector_text(variant.matchers)
        panels.append(m.panel(title, [m.q(f"sum by (instance) ({metric}{sel})", "{{instance}}")], unit="short"))
    return m.row("Scheduler by replica", panels)


def _rate(e: Extra, by: str = "") -> str:
    group = f" by ({by})" if by else ""
    return f"sum{group} (rate({e.metric}{e.sel}[{RATE}]))"


def _quantiles(
    m: _Make, e: Extra, by: str, legend: str, quantiles: Sequence[str] = ("0.5", "0.9", "0.99")
) -> list[Query]:
    keep = f"le, {by}" if by else "le"
    return [
        m.q(
            f"histogram_quantile({q}, sum by ({keep}) (rate({e.metric}_bucket{e.sel}[{RATE}])))",
            f"{legend} p{_pct(q)}".strip(),
        )
        for q in quantiles
    ]


def _vllm_panels(m: _Make, scope: Scope) -> list[Panel | None]:
    hits = _extra(scope, "vllm:prefix_cache_hits_total")
    queries = _extra(scope, "vllm:prefix_cache_queries_total")
    old_hits = _extra(scope, "vllm:gpu_prefix_cache_hits_total")
    old_queries = _extra(scope, "vllm:gpu_prefix_cache_queries_total")
    panels: list[Panel | None] = []
    if hits and queries:
        num, den = _rate(hits), _rate(queries)
        if old_hits and old_queries:
            # Until 0.9.2 only the gpu_ names exist; 0.9.2-0.10 emit both (the left side of `or` wins).
            num, den = f"({num} or {_rate(old_hits)})", f"({den} or {_rate(old_queries)})"
        panels.append(
            m.panel(
                "Prefix-cache hit rate",
                [m.q(f"{num}\n/\n{den}", "hit rate")],
                unit="percentunit",
                min=0,
                max=1,
                description="Share of queried prompt tokens found in the prefix cache (hits / queries, in tokens).",
            )
        )
    iteration = _extra(scope, "vllm:iteration_tokens_total")
    if iteration and iteration.variant.type == "histogram":
        panels.append(
            m.panel(
                "Tokens per engine step",
                _quantiles(m, iteration, "", ""),
                unit="none",
                description="Tokens scheduled in one engine iteration (prefill and decode): the batch size in "
                "tokens. vllm:iteration_tokens_total is a histogram despite its name.",
            )
        )
    drafts = _extra(scope, "vllm:spec_decode_num_drafts_total")
    draft_tokens = _extra(scope, "vllm:spec_decode_num_draft_tokens_total")
    accepted = _extra(scope, "vllm:spec_decode_num_accepted_tokens_total")
    if draft_tokens and accepted:
        queries_ = [m.q(f"{_rate(accepted)}\n/\n{_rate(draft_tokens)}", "acceptance rate")]
        panels.append(
            m.panel(
                "Speculative decoding acceptance",
                queries_,
                unit="percentunit",
                min=0,
                max=1,
                description="Accepted draft tokens / proposed draft tokens. Empty when speculative decoding is off.",
            )
        )
        throughput = [m.q(_rate(draft_tokens), "draft tokens/s"), m.q(_rate(accepted), "accepted tokens/s")]
        if drafts:
            throughput.append(m.q(_rate(drafts), "drafts/s"))
        panels.append(m.panel("Speculative decoding tokens", throughput, unit="suffix: tok/s"))
        if drafts:
            panels.append(
                m.panel(
                    "Speculative decoding mean acceptance length",
                    [m.q(f"1 + {_rate(accepted)}\n/\n{_rate(drafts)}", "tokens per draft")],
                    unit="none",
                    decimals=2,
                    description="1 + accepted tokens per draft: the tokens each verification step emits.",
                )
            )
    return panels


def _sglang_panels(m: _Make, scope: Scope) -> list[Panel | None]:
    panels: list[Panel | None] = []
    if scope.variant("e2e_latency") is not None:
        panels.append(m.panel("End-to-end latency (heatmap)", [m.s("e2e_latency")], "heatmap", unit="s"))
    hit = _extra(scope, "sglang:cache_hit_rate")
    if hit:
        panels.append(
            m.panel(
                "Prefix-cache hit rate by replica",
                [m.q(f"avg by (instance) ({hit.metric}{hit.sel})", "{{instance}}")],
                unit="percentunit",
                min=0,
                max=1,
                description="SGLang's radix-cache hit rate, as the engine computes it.",
            )
        )
    gen = _extra(scope, "sglang:gen_throughput")
    if gen:
        panels.append(
            m.panel(
                "Generation throughput by replica (engine)",
                [m.q(f"sum by (instance) ({gen.metric}{gen.sel})", "{{instance}}")],
                unit="suffix: tok/s",
                description="Tokens/s as SGLang's scheduler computes it (sglang:gen_throughput).",
            )
        )
    used, total = _extra(scope, "sglang:num_used_tokens"), _extra(scope, "sglang:max_total_num_tokens")
    if used and total:
        panels.append(
            m.panel(
                "KV tokens used and capacity",
                [
                    m.q(f"sum by (instance) ({used.metric}{used.sel})", "{{instance}} used"),
                    m.q(f"sum by (instance) ({total.metric}{total.sel})", "{{instance}} capacity"),
                ],
                unit="none",
            )
        )
    accept = _extra(scope, "sglang:spec_accept_length")
    if accept:
        panels.append(
            m.panel(
                "Speculative decoding accept length",
                [m.q(f"avg by (instance) ({accept.metric}{accept.sel})", "{{instance}}")],
                unit="none",
                decimals=2,
                description="Mean accepted tokens per verification step; empty when speculative decoding is off.",
            )
        )
    grammar = _extra(scope, "sglang:num_grammar_queue_reqs")
    if grammar:
        panels.append(
            m.panel(
                "Grammar queue",
                [m.q(f"sum by (instance) ({grammar.metric}{grammar.sel})", "{{instance}}")],
                unit="short",
            )
        )
    return panels


# TGI's own dashboard charts each batch phase's duration by method (prefill, decode) at p50/p90/p99.
TGI_DURATIONS = (
    ("tgi_batch_inference_duration", "Batch inference duration"),
    ("tgi_batch_forward_duration", "Batch forward duration"),
    ("tgi_batch_decode_duration", "Batch token decode duration"),
    ("tgi_batch_filter_duration", "Batch filter duration"),
    ("tgi_batch_concat_duration", "Batch concat duration"),
)


def _tgi_panels(m: _Make, scope: Scope) -> list[Panel | None]:
    panels: list[Panel | None] = []
    success, failure = _extra(scope, "tgi_request_success"), scope.variant("errors")
    if success:
        queries = [m.q(_rate(success), "success/s")]
        if failure is not None:
            fail = Extra(metric=scope.metric(failure), sel=scope.selector_text(failure.matchers), variant=failure)
            queries.append(m.q(_rate(fail, "err"), "{{err}}/s"))
        panels.append(m.panel("Requests: success and failure", queries, unit="reqps"))
    max_tokens = _extra(scope, "tgi_batch_current_max_tokens")
    if max_tokens:
        panels.append(
            m.panel(
                "Max tokens per batch",
                [m.q(f"max by (instance) ({max_tokens.metric}{max_tokens.sel})", "{{instance}}")],
                unit="none",
            )
        )
    skipped = _extra(scope, "tgi_request_skipped_tokens")
    if skipped:
        panels.append(
            m.panel(
                "Speculated tokens per request",
                [
                    m.q(
                        f"sum(rate({skipped.metric}_sum{skipped.sel}[{RATE}]))\n/\n"
                        f"sum(rate({skipped.metric}_count{skipped.sel}[{RATE}]))",
                        "mean",
                    )
                ],
                unit="none",
                description="Mean speculated (skipped) tokens per request; empty without speculation.",
            )
        )
    for signal, title in (
        ("prompt_tokens", "Prompt tokens per request"),
        ("generation_tokens", "Generated tokens per request"),
    ):
        variant = scope.variant(signal)
        if variant is not None and variant.type == "histogram" and not variant.native:
            shape = Extra(metric=scope.metric(variant), sel=scope.selector_text(variant.matchers), variant=variant)
            panels.append(m.panel(title, _quantiles(m, shape, "", ""), unit="none"))
    concat = _extra(scope, "tgi_batch_concat")
    if concat:
        panels.append(m.panel("Batch concatenations", [m.q(_rate(concat, "reason"), "{{reason}}")], unit="cps"))
    for name, title in TGI_DURATIONS:
        e = _extra(scope, name)
        if e and e.variant.type == "histogram":
            by = "method" if "method" in e.variant.labels else ""
            panels.append(m.panel(title, _quantiles(m, e, by, "{{method}}" if by else ""), unit="s"))
    return panels


ENGINE_PANELS: dict[str, Callable[[Any, Scope], list[Panel | None]]] = {
    "vllm": _vllm_panels,
    "sglang": _sglang_panels,
    "tgi": _tgi_panels,
}


def engine_row(m: _Make, scope: Scope) -> Row | None:
    """The families the engine's own dashboard charts beyond the canonical signals (cache, batching, speculation)."""
    make = ENGINE_PANELS.get(scope.backend.name)
    return m.row("Engine: cache, batching and speculation", make(m, scope)) if make else None


def engine_rows(m: _Make, scope: Scope) -> list[Row | None]:
    """Every coverage row of an LLM serving dashboard, in the order they follow its own rows."""
    return [range_stats_row(m, scope), per_replica_row(m, scope), engine_row(m, scope)]
