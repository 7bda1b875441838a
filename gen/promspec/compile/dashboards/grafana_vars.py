"""Grafana's template variables inside PromQL: find them, and replace them so Prometheus can run it."""

from __future__ import annotations

import re
from collections.abc import Mapping

GRAFANA_BUILTINS = (
    "__rate_interval",
    "__interval",
    "__interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
    "__dashboard",
    "__org",
    "__user",
    "__from",
    "__to",
    "__timeFilter",
    "__all",
    "__auto",
    "__name",
    "__field",
    "__series",
    "__value",
    "__data",
    "__cell",
    "__url",
    "__url_time_range",
)
# $name, ${name}, ${name:format} and the deprecated [[name]].
VARIABLE = re.compile(
    r"\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]"
)
# A range (or subquery range) given by a variable: [$__rate_interval], [${__range}], [$window:1m].
RANGE_VARIABLE = re.compile(
    r"\[\s*(\$\{?__(rate_interval|interval|range)\}?|\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)\s*(:[^\]]*)?\]"
)
# An offset by a range builtin: `x unless x offset $__range` (a series born within the range).
OFFSET_VARIABLE = re.compile(r"\boffset(\s+)\$\{?__(rate_interval|interval|range)\}?(?![a-zA-Z0-9_])")
# Durations no one writes by hand: after substitute(), a range of 7777s was $__rate_interval.
MARKERS = {"__rate_interval": "7777s", "__range": "7778s", "__interval": "7779s"}


def substitute(expr: str, ranges: Mapping[str, str] | None = None, value: str = "1") -> str:
    """expr with variable ranges replaced (by MARKERS, or the given durations) and other variables by value."""
    ranges = MARKERS if ranges is None else ranges

    def range_sub(m: re.Match[str]) -> str:
        name = (m.group(2) and "__" + m.group(2)) or ""
        return f"[{ranges.get(name, ranges.get('', '5m'))}{m.group(3) or ''}]"

    def offset_sub(m: re.Match[str]) -> str:
        return f"offset{m.group(1)}{ranges.get('__' + m.group(2), ranges.get('', '5m'))}"

    return VARIABLE.sub(value, RANGE_VARIABLE.sub(range_sub, OFFSET_VARIABLE.sub(offset_sub, expr)))


def variables_used(expr: str) -> list[str]:
    """Names of the Grafana variables an expression refers to, builtins excluded."""
    names = [a or b or c for a, b, c in VARIABLE.findall(expr)]
    return [n for n in dict.fromkeys(names) if n not in GRAFANA_BUILTINS and not n.startswith("__")]
