"""`promspec collect`: every series the specs record, alert on and chart, exported for a time window.

Long windows are split into chunks under Prometheus' 11,000-points-per-series limit. Each chunk is
cached (atomically) as it arrives, so a killed run resumes where it stopped; the CSV/JSON artifacts
are swapped in whole, and manifest.json is written last: its presence means the export is complete.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..check.tools import Progress
from ..render.tree import write_file, write_tree
from .http import APIError, base_url, query_result, request_with_retries
from .times import rfc3339

if TYPE_CHECKING:
    from ..compile.build import Build

MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series
CACHE = ".promspec-collect"
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


class CollectError(Exception):
    """Why the export cannot run or finish, as a sentence for the user."""


@dataclass
class SeriesQuery:
    """One series to export: a recorded series, an alert expression or a dashboard query."""

    name: str
    expr: str
    kind: str  # record, alert or dashboard
    source: str
    slug: str = ""


def _dashboard_expr(expr: str, step: float, window: float) -> str:
    """A dashboard query with Grafana's variables replaced: intervals by durations, others by '.*'."""
    interval = f"{max(int(step) * 4, 60)}s"

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in ("__rate_interval", "__interval"):
            return interval
        if name == "__range":
            return f"{int(window)}s"
        if name in ("__interval_ms",):
            return str(max(int(step) * 4, 60) * 1000)
        return ".*"

    return _VARIABLE.sub(sub, expr)


def _walk_exprs(node: Any, found: list[tuple[Any, str]]) -> None:
    """(refId, expr) of every query below node, in document order."""
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str) and node["expr"].strip():
            found.append((node.get("refId", ""), node["expr"]))
        for value in node.values():
            _walk_exprs(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk_exprs(value, found)


def collect_queries(build: Build, step: float, window: float) -> tuple[list[SeriesQuery], list[dict[str, Any]]]:
    """(queries, skipped) from the specs' Build: recorded series, alert expressions, dashboard queries
    (the rule files and dashboard JSON generate writes, read from the Build rather than from their bytes)."""
    from ..compile.promql import PromQLError, parse

    records: dict[str, SeriesQuery] = {}
    alerts: dict[str, SeriesQuery] = {}
    charts: dict[str, SeriesQuery] = {}
    skipped: list[dict[str, Any]] = []
    for path, rule_file in sorted(build.rule_files.items()):
        for group in rule_file.content.get("groups", []):
            for rule in group.get("rules", []):
                if "record" in rule:
                    records.setdefault(rule["record"], SeriesQuery(rule["record"], rule["record"], "record", path))
                else:
                    name = rule["alert"]
                    while name in alerts and alerts[name].expr != rule["expr"]:
                        name += "_"
                    alerts.setdefault(name, SeriesQuery(name, rule["expr"], "alert", path))
    for path, (_model, dash) in sorted(build.dashboards.rendered().items()):
        found: list[tuple[Any, str]] = []
        _walk_exprs(dash.get("panels", []), found)
        for i, (ref, expr) in enumerate(found):
            text = _dashboard_expr(expr, step, window)
            name = f"{dash.get('uid') or path}:{i + 1}{ref}"
            try:
                parse(text)
            except PromQLError as exc:
                skipped.append({"name": name, "query": expr, "reason": f"not PromQL after variables: {exc}"})
                continue
            charts.setdefault(text, SeriesQuery(name, text, "dashboard", path))
    seen_exprs = {q.expr for q in list(records.values()) + list(alerts.values())}
    queries = (
        [records[k] for k in sorted(records)]
        + [alerts[k] for k in sorted(alerts)]
        + [q for q in charts.values() if q.expr not in seen_exprs]
    )
    slugs: set[str] = set()
    for q in queries:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{q.kind}-{q.name}").strip("_")[:120]
        slug, n = base, 1
        while slug.lower() in slugs:
            n += 1
            slug = f"{base}-{n}"
        slugs.add(slug.lower())
        q.slug = slug
    return queries, skipped


def chunks(start: float, end: float, step: float, max_points: int) -> list[tuple[float, float]]:
    """[start, end] as consecutive ranges of at most max_points evaluation points, sharing no point."""
    total = math.floor((end - start) / step + 1e-9) + 1
    out = []
    for first in range(0, total, max_points):
        last = min(first + max_points, total) - 1
        out.append((start + first * step, start + last * step))
    return out


def _number(ts: float) -> str:
    return repr(int(ts)) if float(ts).is_integer() else repr(float(ts))


def _artifacts(query: SeriesQuery, series: list[dict[str, Any]], run_id: str) -> tuple[bytes, bytes, int]:
    """(CSV, JSON, rows) of one query: one CSV row per sample; label columns are the union, sorted."""
    series = sorted(series, key=lambda s: sorted(s["metric"].items()))
    labels = sorted({k for s in series for k in s["metric"]})
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((["run_id"] if run_id else []) + ["timestamp", "value"] + labels)
    rows = 0
    for s in series:
        tail = [s["metric"].get(k, "") for k in labels]
        for ts, value in s["values"]:
            writer.writerow(([run_id] if run_id else []) + [_number(ts), value] + tail)
            rows += 1
    body = {"name": query.name, "kind": query.kind, "query": query.expr, "run_id": run_id or None, "result": series}
    return out.getvalue().encode(), (json.dumps(body, indent=1, sort_keys=True) + "\n").encode(), rows


def _merge(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The chunks of one query joined per series, in time order."""
    merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for part in parts:
        for s in part:
            key = tuple(sorted(s["metric"].items()))
            merged.setdefault(key, {"metric": s["metric"], "values": []})["values"].extend(s["values"])
    return list(merged.values())


def collect(
    url: str,
    queries: list[SeriesQuery],
    skipped: list[dict[str, Any]],
    start: float,
    end: float,
    step: float,
    out_dir: str,
    run_id: str = "",
    max_points: int = MAX_POINTS,
    retries: int = 3,
    progress: Progress = lambda message: None,
) -> dict[str, Any]:
    """Fetch every query over [start, end] at step into out_dir; returns the manifest written."""
    from .. import __version__

    if end <= start:
        raise CollectError(f"--from ({rfc3339(start)}) is not before --to ({rfc3339(end)})")
    if step <= 0:
        raise CollectError("--step must be longer than 0s")
    if not 1 <= max_points <= 1_000_000:
        raise CollectError("--max-points must be between 1 and 1000000")
    if not queries:
        raise CollectError("the specs record, alert on and chart nothing: there is nothing to collect")
    server = base_url(url)
    windows = chunks(start, end, step, max_points)
    params = {
        "prometheus": server,
        "start": start,
        "end": end,
        "step": step,
        "max_points": max_points,
        "queries": [q.expr for q in queries],
    }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    cache = os.path.join(out_dir, CACHE)
    os.makedirs(out_dir, exist_ok=True)
    marker = os.path.join(cache, "params.sha256")
    if os.path.exists(cache):
        same = False
        if os.path.exists(marker):
            with open(marker, encoding="utf-8") as fh:
                same = fh.read().strip() == digest
        if not same:
            shutil.rmtree(cache)  # a different export was interrupted here: its chunks do not apply
    os.makedirs(os.path.join(cache, "chunks"), exist_ok=True)
    write_file(marker, digest.encode())

    total = len(queries) * len(windows)
    cached = sum(
        1
        for i in range(len(queries))
        for j in range(len(windows))
        if os.path.exists(os.path.join(cache, "chunks", f"{i}-{j}.json"))
    )
    points = round((end - start) / step) + 1
    progress(
        f"collect: {len(queries)} queries over {rfc3339(start)} .. {rfc3339(end)} at {_number(step)}s "
        f"({points} points each), {len(windows)} chunk(s) per query"
        + (f"; resuming, {cached} of {total} chunks already fetched" if cached else "")
    )
    files: dict[str, bytes] = {}
    entries = []
    for i, query in enumerate(queries):
        parts = []
        for j, (a, b) in enumerate(windows):
            path = os.path.join(cache, "chunks", f"{i}-{j}.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as fh:
                    parts.append(json.load(fh))
                continue
            form = {"query": query.expr, "start": _number(a), "end": _number(b), "step": _number(step)}
            try:
                answer = request_with_retries(
                    "POST", f"{server}/api/v1/query_range", form=form, attempts=retries + 1, on_retry=progress
                )
            except APIError as exc:
                raise CollectError(
                    f"{exc} (query {query.name}: {query.expr}); the export is incomplete: "
                    "fetched chunks are kept, run the same command again to resume"
                ) from None
            try:
                result = query_result(answer, server, "matrix")
            except APIError as exc:
                raise CollectError(
                    f"{exc} (query {query.name}); the export is incomplete: fetched chunks are kept"
                ) from None

            write_file(path, json.dumps(result).encode())
            parts.append(result)
        series = _merge(parts)
        csv_bytes, json_bytes, rows = _artifacts(query, series, run_id)
        files[f"series/{query.slug}.csv"] = csv_bytes
        files[f"series/{query.slug}.json"] = json_bytes
        entries.append(
            {
                "name": query.name,
                "kind": query.kind,
                "source": query.source,
                "query": query.expr,
                "csv": f"series/{query.slug}.csv",
                "json": f"series/{query.slug}.json",
                "series": len(series),
                "rows": rows,
            }
        )
        progress(f"[{i + 1}/{len(queries)}] {query.name}: {len(series)} series, {rows} rows")
    manifest = {
        "promspec_version": __version__,
        "run_id": run_id or None,
        "prometheus": server,
        "window": {"from": rfc3339(start), "to": rfc3339(end), "from_unix": start, "to_unix": end},
        "step": f"{_number(step)}s",
        "points_per_series": points,
        "max_points_per_query": max_points,
        "chunks_per_query": len(windows),
        "queries": entries,
        "skipped": skipped,
    }
    _publish(out_dir, cache, files, manifest)
    shutil.rmtree(cache, ignore_errors=True)
    return manifest


def _publish(out_dir: str, cache: str, files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    """Swap series/ in whole, then write manifest.json; a failure leaves the previous export as it was."""
    target = os.path.join(out_dir, "manifest.json")
    aside = os.path.join(cache, "manifest.previous")
    if os.path.exists(target):
        os.replace(target, aside)  # until the new export is complete, there is no manifest claiming one
    try:
        write_tree(out_dir, files, ["series"])
    except BaseException:
        if os.path.exists(aside):
            os.replace(aside, target)
        raise
    write_file(target, (json.dumps(manifest, indent=2) + "\n").encode())
    os.chmod(target, 0o644)  # the temporary file it was renamed from was private
