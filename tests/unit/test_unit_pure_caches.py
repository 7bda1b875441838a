"""The caches on pure functions that generate calls per service (parse_duration, version_key): a cached
answer is the function's own answer, and what is not an answer (an error) is never cached."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promspec.backends.adapter import version_key
from promspec.compile import promql
from promspec.compile.promql import parse_duration

_UNIT = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_ORDER = ("y", "w", "d", "h", "m", "s", "ms")


def _seconds(parts: list[tuple[str, int]]) -> float:
    # The oracle: the duration's parts summed by hand, not by the module's regexes.
    return sum(n * _UNIT[u] for u, n in parts)


@given(
    st.lists(
        st.tuples(st.sampled_from(_ORDER), st.integers(0, 10**6)), min_size=1, max_size=7, unique_by=lambda p: p[0]
    )
)
def test_parse_duration_cached_equals_its_sum(parts: list[tuple[str, int]]) -> None:
    parts = sorted(parts, key=lambda p: _ORDER.index(p[0]))
    text = "".join(f"{n}{u}" for u, n in parts)
    if len(text) < 2:
        return
    first = parse_duration(text)
    again = parse_duration(text)  # from the cache
    assert first == again == pytest.approx(_seconds(parts))


@pytest.mark.parametrize("bad", ["", "5", "1x", "1m1h", " 5m", "5m\n", "1h1h"])
def test_parse_duration_errors_every_time(bad: str) -> None:
    for _ in range(2):  # the second read is not a cached answer either
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            parse_duration(bad)


@pytest.mark.parametrize("bad", [None, 5, 5.0, ["5m"], {"5m": 1}, b"5m"])
def test_parse_duration_of_a_non_string_is_a_value_error(bad: object) -> None:
    # An unhashable value must not reach the cache (that would be a TypeError).
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(bad)  # type: ignore[arg-type]


def test_parse_duration_str_subclass_is_read_uncached() -> None:
    class Text(str):
        pass

    promql._cached_duration_seconds.cache_clear()
    assert parse_duration(Text("1h30m")) == 5400
    assert promql._cached_duration_seconds.cache_info().currsize == 0


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=5))
def test_version_key_cached_equals_its_parts(parts: list[int]) -> None:
    text = ".".join(map(str, parts))
    assert version_key(text) == version_key(text) == tuple(parts)


@pytest.mark.parametrize("bad", ["", "1.x", "1..2", "v1"])
def test_version_key_errors_every_time(bad: str) -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            version_key(bad)
