"""OpenSLO input: openslo/v1 and openslo/v1alpha, {{.window}} queries, errors at their source position."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promspec.diagnostics import SpecError
from promspec.pipeline import load_project

from conftest import run_promspec

OPENSLO = Path(__file__).parent / "fixtures" / "foreign" / "openslo"


def _write(tmp_path, body: str, name: str = "openslo.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def _slo(*paths):
    project, report = load_project([str(p) for p in paths], env={})
    (service,) = project.services
    (slo,) = service.slos
    return slo, report


def test_v1alpha_objectives_with_ratio_metrics_and_window_counts():
    slo, report = _slo(OPENSLO / "v1alpha.yml")
    assert (slo.service, slo.name, slo.objective_text, slo.window) == ("media", "upload-success", "99%", "28d")
    # Queries holding {{.window}} (with or without spaces) are windowed by their author: only translated.
    assert slo.total_expr == "sum(increase(media_uploads_total[5m]))"
    assert slo.errors_expr == (
        '(sum(increase(media_uploads_total[5m]))) - (sum(increase(media_uploads_total{result="ok"}[5m])))'
    )
    assert [w for w in report.warnings if "external" in w.message]


def test_v1_windowed_counter_queries_are_not_wrapped_again():
    slo, _ = _slo(OPENSLO / "v1.yml")
    assert slo.errors_expr == 'sum(rate(gateway_requests_total{code=~"5.."}[5m]))'
    assert slo.total_expr == "sum(rate(gateway_requests_total[5m]))"
    assert slo.objective_text == "99.9%"


def test_a_target_that_is_not_a_number_is_an_error_at_its_position(tmp_path):
    body = (OPENSLO / "v1.yml").read_text().replace("target: 0.999", 'target: "abc"')
    with pytest.raises(SpecError) as exc:
        load_project([_write(tmp_path, body)], env={})
    (error,) = exc.value.diagnostics
    assert str(error.pos).endswith("openslo.yml:29:15") and "target 'abc' is not a number" in error.message


def test_a_query_that_does_not_parse_is_an_error_at_the_query(tmp_path):
    body = (
        (OPENSLO / "v1.yml")
        .read_text()
        .replace("[{{.window}}]))\n  objectives", "[{{.window}}]) by (code)\n  objectives")
    )
    with pytest.raises(SpecError) as exc:
        load_project([_write(tmp_path, body)], env={})
    (error,) = exc.value.diagnostics
    assert str(error.pos).endswith("openslo.yml:27:22")
    assert error.path == "spec.indicator.spec.ratioMetric.total.metricSource.spec.query"


@pytest.mark.slow
def test_an_openslo_file_with_nothing_convertible_is_an_error(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: cal}
        spec:
          service: web
          budgetingMethod: Timeslices
          indicatorRef: missing
          objectives: [{target: 0.99}]
        """,
    )
    out = tmp_path / "out.yml"
    proc = run_promspec("import", "openslo", path, "-o", str(out))
    assert proc.returncode == 1 and not out.exists() and "Traceback" not in proc.stderr
    assert "budgetingMethod Timeslices is not converted" in proc.stderr
    assert "no OpenSLO SLO could be converted" in proc.stderr


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("", "neither an inline `indicator` nor an `indicatorRef`"),
        (
            "  indicatorRef: latency\n",
            "SLI 'latency' not found among the input documents; the input has no SLI document",
        ),
    ],
)
def test_a_missing_sli_is_named_not_none(tmp_path, reference, expected):
    """Issue 9: 'SLI None not found' told the user nothing; the message says what is missing."""
    path = _write(
        tmp_path,
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: cal}\nspec:\n  service: web\n"
        + reference
        + "  objectives: [{target: 0.99}]\n",
    )
    with pytest.raises(SpecError) as exc:
        load_project([path], env={})
    text = "\n".join(d.format() for d in exc.value.diagnostics)
    assert expected in text and "None" not in text, text
