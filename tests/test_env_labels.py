"""PROMSPEC_EXTERNAL_LABELS: comma-separated name=value pairs, quoted values may hold commas (issue 15, item 13)."""

from __future__ import annotations

import pytest

from promspec.diagnostics import Report
from promspec.model.project import Settings, apply_env


def _labels(text: str) -> tuple[dict, list[str]]:
    report = Report()
    settings = apply_env(Settings(), {"PROMSPEC_EXTERNAL_LABELS": text}, report)
    return settings.external_labels, [e.format() for e in report.errors]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cluster=a,env=prod", {"cluster": "a", "env": "prod"}),
        ('a="x,y",b=z', {"a": "x,y", "b": "z"}),
        (' a = 1 , b = "two words" ', {"a": "1", "b": "two words"}),
        (r'a="say \"hi\", then go",b=1', {"a": 'say "hi", then go', "b": "1"}),
        (r'a="back\\"', {"a": "back\\"}),
        ("a=,b=2", {"a": "", "b": "2"}),
        ("cluster=a,", {"cluster": "a"}),
    ],
)
def test_quoted_values_keep_their_commas(text, expected):
    labels, errors = _labels(text)
    assert errors == [] and labels == expected


@pytest.mark.parametrize(
    "text, culprit",
    [
        ('a="x,y', 'a="x'),
        ('a="x"junk,b=1', 'a="x"junk'),
        ('a=x"y', 'a=x"y'),
        ("a=1,a=2", "a=2"),
        ("bad-name=1", "bad-name=1"),
        ("novalue", "novalue"),
    ],
)
def test_malformed_labels_are_an_error_naming_the_variable(text, culprit):
    _, errors = _labels(text)
    assert len(errors) == 1
    assert errors[0].startswith("env:PROMSPEC_EXTERNAL_LABELS") and repr(culprit) in errors[0], errors[0]
