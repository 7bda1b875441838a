"""check_template remembers clean results by the part of the text that is parsed (from the first {{,
without a plain tail); the oracle is the uncached checker on the whole text, errors and offsets included."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.check import gotemplate
from promspec.check.gotemplate import (
    FUNCTIONS,
    PROMETHEUS_FUNCTIONS,
    PROMETHEUS_VARIABLES,
    TemplateError,
    check_template,
)


def _outcome(fn, text: str, functions: frozenset, variables: frozenset | None) -> object:
    try:
        fn(text, functions, variables)
    except TemplateError as exc:
        return (exc.offset, str(exc))
    return None


# Fragments that open, close, quote, comment and trim actions, and plain text around them.
FRAGMENTS = [
    "{{",
    "}}",
    "{",
    "}",
    " ",
    "x",
    "svc1 SLO: ",
    '"',
    "'",
    "`",
    "\\",
    "(",
    ")",
    "|",
    "-",
    "/*",
    "*/",
    "$value",
    "$labels.job",
    "$nope",
    "printf",
    "humanize",
    "nofunc",
    "if",
    "end",
    "else",
    ":=",
    "$x",
    "\n",
]


@settings(max_examples=examples(200), derandomize=True, deadline=None, database=None)
@given(
    parts=st.lists(st.sampled_from(FRAGMENTS), max_size=14),
    prometheus=st.booleans(),
)
def test_cached_check_agrees_with_the_whole_text(parts: list[str], prometheus: bool) -> None:
    text = "".join(parts)
    functions, variables = (PROMETHEUS_FUNCTIONS, PROMETHEUS_VARIABLES) if prometheus else (FUNCTIONS, None)
    expected = _outcome(gotemplate._check_template, text, functions, variables)
    # twice: the second call may be answered from the cache
    assert _outcome(check_template, text, functions, variables) == expected
    assert _outcome(check_template, text, functions, variables) == expected
    # the same actions behind other plain text: the cached answer must still place any error in this text
    other = "another service: " + text
    assert _outcome(check_template, other, functions, variables) == _outcome(
        gotemplate._check_template, other, functions, variables
    )


def test_annotations_that_differ_only_in_plain_text_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = gotemplate._check_template

    def counting(text: str, functions: frozenset, variables: frozenset | None) -> None:
        calls.append(text)
        real(text, functions, variables)

    monkeypatch.setattr(gotemplate, "_check_template", counting)
    gotemplate._parses.cache_clear()
    for i in range(20):
        check_template(
            f'svc{i:05d} SLO errors: burning {{{{ printf "%.1f" $value }}}}x over 1h (page-fast)',
            PROMETHEUS_FUNCTIONS,
            PROMETHEUS_VARIABLES,
        )
    assert len(calls) == 1


def test_an_error_behind_a_cached_clean_shape_keeps_its_own_offset() -> None:
    check_template("ok {{ $value }}", PROMETHEUS_FUNCTIONS, PROMETHEUS_VARIABLES)
    with pytest.raises(TemplateError) as caught:
        check_template("longer text {{ $value }} {{ oops", PROMETHEUS_FUNCTIONS, PROMETHEUS_VARIABLES)
    assert caught.value.offset == len("longer text {{ $value }} ")
