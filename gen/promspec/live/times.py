"""Times on the command line: RFC 3339, Unix seconds, or now / now-1h / now+30m."""

from __future__ import annotations

import datetime
import re

from ..compile.promql import parse_duration

_RELATIVE = re.compile(r"^now\s*(?:([+-])\s*(\S+))?$")


def parse_time(text: str, now: float) -> float:
    """Unix seconds for a time given as RFC 3339 (UTC if no zone), Unix seconds, or now[+-duration]."""
    value = text.strip()
    m = _RELATIVE.match(value)
    if m:
        if not m.group(1):
            return now
        try:
            delta = parse_duration(m.group(2))
        except ValueError:
            raise ValueError(f"{text!r}: {m.group(2)!r} is not a duration such as 30m, 6h or 7d") from None
        return now + delta if m.group(1) == "+" else now - delta
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use RFC 3339 (2025-01-31T12:00:00Z), Unix seconds, or now-7d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def rfc3339(ts: float) -> str:
    """Unix seconds as RFC 3339 in UTC, to the millisecond when needed."""
    t = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    spec = "seconds" if t.microsecond == 0 else "milliseconds"
    return t.isoformat(timespec=spec).replace("+00:00", "Z")
