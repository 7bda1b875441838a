"""Alertmanager silences through its v2 API: create, list and expire (acknowledging an alert is a silence)."""

from __future__ import annotations

import datetime
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

from ..compile.promql import quote
from .http import APIError, base_url, request

_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_STATES = {"active": 0, "pending": 1, "expired": 2}
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


class Matcher(TypedDict):
    """A matcher as Alertmanager's v2 API writes it (isEqual absent: an equality matcher, as older versions)."""

    name: str
    value: str
    isRegex: bool
    isEqual: NotRequired[bool]


_OPERATORS = "name=value, name!=value, name=~regex or name!~regex"


def _unquote(text: str, raw: str) -> str:
    """A matcher value as amtool reads it: optionally in double quotes, with \\n, \\" and \\\\ escapes."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))  # a spurious escape stays literal, as in amtool
            i += 2
            continue
        if c == '"':
            if quoted and i == len(body) - 1:
                return "".join(out)
            raise ValueError(
                f'{text!r}: unescaped double quote in the value: quote the whole value and write \\" inside it'
            )
        out.append(c)
        i += 1
    if quoted:
        raise ValueError(f"{text!r}: the quoted value has no closing double quote")
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """name=value, name!=value, name=~regex or name!~regex (value optionally quoted); a bare name is alertname.

    Read as amtool reads matchers, but stricter where amtool guesses: an unquoted value that starts
    with = or ~ (`a==b`, `a=~~x`) is a typo for another operator, not a value starting with one.
    """
    m = _MATCHER.match(text)
    if not m:
        if re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", text.strip()):
            return {"name": "alertname", "value": text.strip(), "isRegex": False, "isEqual": True}
        raise ValueError(f"{text!r} is not a matcher: expected {_OPERATORS}")
    name, op, raw = m.groups()
    if raw[:1] in ("=", "~"):
        raise ValueError(
            f"{text!r} is not a matcher: {op}{raw[0]} is no operator; expected {_OPERATORS} "
            f'(quote the value to match a literal {raw[0]!r}: {name}{op}"{raw}")'
        )
    value = _unquote(text, raw)
    if "~" in op:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: invalid regular expression: {exc}") from None
    return {"name": name, "value": value, "isRegex": "~" in op, "isEqual": not op.startswith("!")}


def matches_empty(m: Matcher) -> bool:
    """Whether a matcher selects alerts that lack its label (an empty value)."""
    hit = re.fullmatch(m["value"], "") is not None if m["isRegex"] else m["value"] == ""
    return hit == m.get("isEqual", True)


def check_silence_matchers(matchers: list[Matcher]) -> None:
    """Alertmanager refuses a silence whose every matcher also matches an absent label (it would silence
    everything else too): say so before asking it."""
    if not matchers:
        raise ValueError("a silence needs at least one matcher")
    if all(matches_empty(m) for m in matchers):
        shown = ", ".join(matcher_text(m) for m in matchers)
        raise ValueError(
            f"every matcher of this silence also matches alerts without the label ({shown}): "
            'Alertmanager rejects it; add a positive matcher such as alertname="..."'
        )


def matcher_text(m: Matcher) -> str:
    """A matcher as Alertmanager writes it: name="value", name=~"regex"."""
    op = ("=" if m.get("isEqual", True) else "!") + ("~" if m["isRegex"] else "")
    op = {"!": "!="}.get(op, op)
    return f"{m['name']}{op}{quote(m['value'])}"


def _iso(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def add_silence(
    url: str,
    matchers: list[Matcher],
    ends: datetime.datetime,
    author: str,
    comment: str,
    starts: datetime.datetime | None = None,
) -> str:
    """Create a silence; returns its id."""
    check_silence_matchers(matchers)
    starts = starts or datetime.datetime.now(datetime.UTC)
    if ends <= starts:
        raise APIError("the silence would end before it starts: give a positive --duration or a later --until")
    body = {
        "matchers": matchers,
        "startsAt": _iso(starts),
        "endsAt": _iso(ends),
        "createdBy": author,
        "comment": comment,
    }
    answer = request("POST", f"{base_url(url)}/api/v2/silences", body)
    silence_id: str = answer["silenceID"]
    return silence_id


def list_silences(url: str, matchers: Sequence[Matcher] = (), include_expired: bool = False) -> list[dict[str, Any]]:
    """Silences, active first, then pending, then expired (when asked for), each by end time."""
    query = urllib.parse.urlencode([("filter", matcher_text(m)) for m in matchers])
    found = request("GET", f"{base_url(url)}/api/v2/silences" + (f"?{query}" if query else "")) or []
    if not include_expired:
        found = [s for s in found if s["status"]["state"] != "expired"]
    return sorted(found, key=lambda s: (_STATES.get(s["status"]["state"], 3), s["endsAt"], s["id"]))


def expire_silence(url: str, silence_id: str) -> None:
    """Expire one silence now."""
    if not re.fullmatch(r"[0-9a-fA-F-]{8,64}", silence_id):
        raise APIError(f"{silence_id!r} is not a silence id (see `promspec silence list`)")
    try:
        request("DELETE", f"{base_url(url)}/api/v2/silence/{silence_id}")
    except APIError as exc:
        if exc.status == 404 or (exc.status == 500 and "not found" in str(exc)):
            raise APIError(f"no silence with id {silence_id}") from None
        raise


def table(silences: list[dict[str, Any]]) -> str:
    """A plain-text table of silences."""
    rows = [("ID", "STATE", "ENDS", "CREATED BY", "MATCHERS", "COMMENT")]
    for s in silences:
        ends = s["endsAt"][:16].replace("T", " ") + "Z" if s.get("endsAt") else ""
        rows.append(
            (
                s["id"],
                s["status"]["state"],
                ends,
                s.get("createdBy", ""),
                ", ".join(matcher_text(m) for m in s["matchers"]),
                s.get("comment", ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    # widths has no entry for the last column: it is not padded.
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows) + "\n"
