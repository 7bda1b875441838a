"""`promspec catalog discover`: a Catalog spec from what an endpoint or a Prometheus really exposes.

Sources: a /metrics endpoint (Prometheus text format 0.0.4 or OpenMetrics 1.0), or a Prometheus
server (/api/v1/metadata for types, help and units; /api/v1/series for labels and bucket bounds).
Parsing and comparing are pure; fetch_* do the HTTP. Units are taken only where the source declares
them (OpenMetrics `# UNIT`, Prometheus metadata): a name suffix is a convention, not a declaration.
"""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Sample-name suffixes of each family type, as Prometheus stores them.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_gbucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
}
# Labels that belong to the family type, not to the metric: never listed among its labels.
TYPE_LABELS = {"histogram": ("le",), "gaugehistogram": ("le",), "summary": ("quantile",)}
# Prometheus attaches the target's labels to every series it scrapes: they are not the metric's.
TARGET_LABELS = ("job", "instance")
ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


class DiscoverError(Exception):
    """A source that cannot be read or parsed; the message is a sentence for the user."""


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One catalogued metric family, named as PromQL reads it."""

    name: str
    type: str
    help: str = ""
    unit: str = ""
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


@dataclass(kw_only=True)
class _Family:
    name: str
    type: str = "unknown"
    help: str = ""
    unit: str = ""
    labels: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    bounds: set[str] = field(default_factory=set)  # the le values as written
    samples: set[str] = field(default_factory=set)  # sample names seen: foo_total or plain foo for a counter

    @property
    def seen(self) -> bool:
        return bool(self.samples)


# ------------------------------------------------------------------------------ exposition text


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), text)


def _labels(text: str, at: int, line_no: int) -> tuple[dict[str, str], int]:
    """Parse `{a="x",b="y"}` starting at text[at] == "{"; returns (labels, index after "}")."""
    out: dict[str, str] = {}
    i = at + 1
    while True:
        while i < len(text) and text[i] in " ,":
            i += 1
        if i < len(text) and text[i] == "}":
            return out, i + 1
        m = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"').match(text, i)
        if not m:
            raise DiscoverError(f"line {line_no}: cannot parse the labels at column {i + 1}: {text.strip()[:120]}")
        i = m.end()
        value = []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                value.append({"n": "\n"}.get(text[i + 1], text[i + 1]))
                i += 2
                continue
            value.append(text[i])
            i += 1
        if i >= len(text):
            raise DiscoverError(f"line {line_no}: unterminated label value: {text.strip()[:120]}")
        out[m.group(1)] = "".join(value)
        i += 1


def _family_of(sample: str, families: dict[str, _Family]) -> _Family:
    """The declared family a sample belongs to (by TYPE suffix rules), else an untyped one of its own."""
    if sample in families:
        return families[sample]
    for fam in families.values():
        for suffix in SUFFIXES.get(fam.type, ()):
            if sample == fam.name + suffix:
                return fam
    return families.setdefault(sample, _Family(name=sample))


def parse_exposition(text: str) -> list[Metric]:
    """Metric families of a Prometheus text or OpenMetrics exposition, sorted by name."""
    families: dict[str, _Family] = {}
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE", "UNIT"):
                fam = families.setdefault(parts[2], _Family(name=parts[2]))
                value = parts[3] if len(parts) > 3 else ""
                if parts[1] == "HELP":
                    fam.help = _unescape(value)
                elif parts[1] == "TYPE":
                    fam.type = "unknown" if value == "untyped" else value
                else:
                    fam.unit = value
            continue
        m = _NAME.match(line)
        if not m:
            raise DiscoverError(f"line {line_no}: not a sample, comment or blank line: {line[:120]}")
        labels, _end = _labels(line, m.end(), line_no) if line[m.end() : m.end() + 1] == "{" else ({}, m.end())
        fam = _family_of(m.group(0), families)
        fam.samples.add(m.group(0))
        for name in labels:
            if name not in TYPE_LABELS.get(fam.type, ()):
                fam.labels.setdefault(name, None)
        if "le" in labels and fam.type in ("histogram", "gaugehistogram"):
            fam.bounds.add(labels["le"])
    return _metrics(families.values())


def _bound(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isinf(value) else value


def _metrics(families: Iterable[_Family]) -> list[Metric]:
    out = []
    for fam in families:
        if not fam.seen and fam.type == "unknown":
            continue  # a HELP with no samples and no type says nothing to catalogue
        name = fam.name
        # PromQL reads what was exposed: OpenMetrics names a counter family foo and its samples foo_total.
        for suffix in {"counter": "_total", "info": "_info"}.get(fam.type, "").split() or ():
            if name + suffix in fam.samples:
                name += suffix
        bounds = sorted({b for b in (_bound(t) for t in fam.bounds) if b is not None})
        out.append(
            Metric(
                name=name,
                type=fam.type,
                help=fam.help,
                unit=fam.unit,
                labels=tuple(sorted(fam.labels)),
                buckets=tuple(bounds),
            )
        )
    return sorted(out, key=lambda m: m.name)


# ------------------------------------------------------------------------------ Prometheus API


def from_prometheus(metadata: dict[str, Any], series: list[dict[str, str]]) -> list[Metric]:
    """Metric families from /api/v1/metadata and /api/v1/series answers; series with no metadata are left out."""
    families: dict[str, _Family] = {}
    for name, entries in sorted(metadata.items()):
        first = entries[0] if entries else {}
        families[name] = _Family(
            name=name,
            type=first.get("type", "unknown") or "unknown",
            help=first.get("help", ""),
            unit=first.get("unit", ""),
        )
    for labels in series:
        sample = labels.get("__name__", "")
        fam = families.get(sample) or next(
            (f for f in families.values() for s in SUFFIXES.get(f.type, ()) if sample == f.name + s), None
        )
        if fam is None:
            continue  # recorded series and metrics of targets the selector did not pick carry no metadata
        fam.samples.add(sample)
        for label in labels:
            if label != "__name__" and label not in TARGET_LABELS + TYPE_LABELS.get(fam.type, ()):
                fam.labels.setdefault(label, None)
        if "le" in labels and fam.type in ("histogram", "gaugehistogram"):
            fam.bounds.add(labels["le"])
    return _metrics(f for f in families.values() if f.seen)


def fetch_exposition(url: str, timeout: float = 10.0) -> str:
    """The body of a /metrics endpoint, OpenMetrics preferred."""
    req = urllib.request.Request(url, headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body: bytes = resp.read()
            return body.decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise DiscoverError(f"{url} answered HTTP {exc.code} ({exc.reason})") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DiscoverError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def fetch_prometheus(url: str, match: str, lookback_s: int = 3600) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(metadata, series) from a Prometheus server for the series the selector matches."""
    import time

    from ..live.http import APIError, base_url, request

    try:
        base = base_url(url)
        meta = request("GET", f"{base}/api/v1/metadata")
        now = time.time()
        form = {"match[]": match, "start": f"{now - lookback_s:.3f}", "end": f"{now:.3f}"}
        series = request("POST", f"{base}/api/v1/series", form=form)
    except APIError as exc:
        raise DiscoverError(str(exc)) from None
    for answer in (meta, series):
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise DiscoverError(f"{url} did not answer like a Prometheus API: {str(answer)[:200]}")
    return meta["data"], series["data"]


# ------------------------------------------------------------------------------ Catalog spec and changes


def catalog_document(name: str, metrics: list[Metric]) -> dict[str, Any]:
    """A Catalog spec document (plain data, key order fixed)."""
    entries = []
    for m in metrics:
        entry: dict[str, Any] = {"name": m.name, "type": m.type}
        if m.unit:
            entry["unit"] = m.unit
        if m.help:
            entry["help"] = m.help
        entry["labels"] = list(m.labels)
        if m.buckets:
            entry["buckets"] = [int(b) if b == int(b) and abs(b) < 1e15 else b for b in m.buckets]
        entries.append(entry)
    return {"apiVersion": "promspec/v1", "kind": "Catalog", "metadata": {"name": name}, "spec": {"metrics": entries}}


def catalog_metrics(data: dict[str, Any]) -> list[Metric]:
    """The metrics of a Catalog document's data."""
    return [
        Metric(
            name=m["name"],
            type=m.get("type", "unknown"),
            help=m.get("help", ""),
            unit=m.get("unit", ""),
            labels=tuple(m.get("labels", ())),
            buckets=tuple(float(b) for b in m.get("buckets", ())),
        )
        for m in (data.get("spec") or {}).get("metrics", [])
    ]


def _list(values: Iterable[object]) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def changes(old: list[Metric], new: list[Metric]) -> list[str]:
    """What changed from old to new, one line per finding, in name order."""
    before = {m.name: m for m in old}
    after = {m.name: m for m in new}
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            b = after[name]
            out.append(f"+ {name} ({b.type}{', labels ' + _list(b.labels) if b.labels else ''})")
            continue
        if name not in after:
            out.append(f"- {name} ({before[name].type}): no longer exposed")
            continue
        a, b = before[name], after[name]
        if a.type != b.type:
            out.append(f"~ {name}: type {a.type} -> {b.type}")
        if a.unit != b.unit:
            out.append(f"~ {name}: unit {a.unit or '(none)'} -> {b.unit or '(none)'}")
        if a.help != b.help:
            out.append(f"~ {name}: help {a.help!r} -> {b.help!r}")
        added = [label for label in b.labels if label not in a.labels]
        removed = [label for label in a.labels if label not in b.labels]
        if added or removed:
            out.append(
                f"~ {name}: labels"
                + (f" +{_list(added)}" if added else "")
                + (f" -{_list(removed)}" if removed else "")
            )
        if a.buckets != b.buckets and (a.buckets or b.buckets):
            out.append(f"~ {name}: buckets [{_list(a.buckets)}] -> [{_list(b.buckets)}]")
    return out
