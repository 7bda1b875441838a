"""Hostile spec input (issue 15 items 8, 9, 11, 12; issue 9.3 and 9.6): each is a clear error at its
position, bounded in time and memory, never a traceback, and nothing promspec renders alters a value.

In-process tests are unmarked (fast tier); those that start a process are marked slow.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
import time
from contextlib import contextmanager

import promql_parser as pp
import pytest
import yaml

from promspec.check.gotemplate import (
    PROMETHEUS_FUNCTIONS,
    PROMETHEUS_VARIABLES,
    TemplateError,
    check_template,
)
from promspec.compile.promql import format_duration, parse_duration, quote, selector
from promspec.diagnostics import SpecError, did_you_mean, suggestions
from promspec.pipeline import load_project
from promspec.render.yamlout import dump_yaml

from conftest import BIN, REPO

BASE = os.path.join(REPO, "tests", "fixtures", "base")


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging when a hostile input blocks (a FIFO) or runs away (an alias bomb)."""

    def expired(_signum, _frame):
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def no_promtool_lookup(monkeypatch):
    from promspec.check import tools

    monkeypatch.setattr(tools, "locate_parse_errors", lambda exprs: [None] * len(exprs))


def _write(tmp_path, text: str, name: str = "spec.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def _errors(*paths, env=None) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_project([BASE, *paths], env=env or {})
    return [d.format() for d in info.value.diagnostics]


# ------------------------------------------------------------------------------ one PromQL module


@pytest.mark.parametrize("value", ['vl"lm', "a\\b", "line\nbreak", "}", "{{ x }}", "日本😀", "\u2028", "", "=~"])
def test_selector_values_are_escaped_and_read_back_unchanged(value):
    expr = "up" + selector({"job": value, "le": "0.5"}, 'x=~"a|b"')
    matchers = {m.name: m.value for m in pp.parse(expr).matchers.matchers}  # promql-parser is the oracle
    assert matchers == {"job": value, "le": "0.5", "x": "a|b"}
    assert quote('a"b') == '"a\\"b"'


def test_durations_round_trip_and_reject_a_trailing_newline():
    assert parse_duration("1h30m") == 5400 and format_duration(5400) == "1h30m"
    assert parse_duration("250ms") == 0.25 and format_duration(0.25) == "250ms"
    for bad in ("5m\n", "5 m", "m", "1.5h", "", "5"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_suggestions_have_a_similarity_floor():
    assert did_you_mean("http_request_duration_seconds_count", ["scrape_duration_seconds", "up"]) == ""
    assert did_you_mean("llm_requests_total", ["llm_request_total"]) == " (did you mean 'llm_request_total'?)"
    assert suggestions("chat", ["chat-vllm", "other"]) == ["chat-vllm"]  # a shortened name
    assert suggestions("severty", ["severity", "summary"]) == ["severity"]


def test_service_selector_with_a_quote_renders_an_escaped_query(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          backend: engine
          selector: {job: 'vl"lm'}
          slos:
            - {name: errs, objective: 99%, sli: {signal: errors}}
        """,
    )
    project, _ = load_project([BASE, path], env={})
    slo = project.services[0].slos[0]
    jobs = []
    pp.walk(
        pp.parse(slo.errors_expr),
        lambda n: (
            jobs.extend(m.value for m in n.matchers.matchers if m.name == "job")
            if isinstance(n, pp.VectorSelector)
            else None
        ),
        None,
    )
    assert jobs == ['vl"lm']


# ------------------------------------------------------------------------------ YAML bombs, FIFOs, shapes


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = [
        "apiVersion: promspec/v1",
        "kind: AlertGroup",
        "metadata: {name: g}",
        "a0: &a0 [x, x, x, x, x, x, x, x, x]",
    ]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    lines.append("spec: {alerts: *a8}")
    path = _write(tmp_path, "\n".join(lines) + "\n")
    assert os.path.getsize(path) < 600
    started = time.monotonic()
    with deadline(20):
        errors = _errors(path)
    assert time.monotonic() - started < 10
    assert "YAML aliases expand this value to" in errors[0] and "spec.yml:9:5:" in errors[0]


def test_nesting_500_deep_is_an_error_not_a_recursion_error(tmp_path):
    path = _write(
        tmp_path,
        "apiVersion: promspec/v1\nkind: AlertGroup\nmetadata: {name: g}\n"
        "spec: {alerts: " + "[" * 500 + "]" * 500 + "}\n",
    )
    assert "YAML document nested more than 100 levels deep" in _errors(path)[0]


def test_alias_that_contains_itself(tmp_path):
    path = _write(tmp_path, "a: &x\n  b: *x\n")
    assert "YAML alias refers to the node that contains it" in _errors(path)[0]


def test_fifo_and_device_are_errors_not_hangs(tmp_path):
    fifo = tmp_path / "specs" / "pipe.yml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with deadline(10):
        assert "not a regular file" in _errors(str(fifo.parent))[0]
        assert "not a regular file" in _errors(str(fifo))[0]
        assert "not a regular file" in _errors("/dev/zero")[0]


def test_kind_and_api_version_of_the_wrong_type(tmp_path):
    kind = _write(tmp_path, "apiVersion: promspec/v1\nkind: {a: 1}\nmetadata: {name: x}\nspec: {}\n", "k.yml")
    assert "k.yml:2:7: invalid kind: a mapping at kind" in _errors(kind)[0]
    api = _write(tmp_path, "apiVersion: [1]\nkind: AlertGroup\nmetadata: {name: x}\nspec: {}\n", "a.yml")
    assert "a.yml:1:13: invalid apiVersion: a list" in _errors(api)[0]
    missing = _write(tmp_path, "kind: AlertGroup\nmetadata: {name: x}\nspec: {}\n", "m.yml")
    assert "missing required field 'apiVersion'" in _errors(missing)[0]


def test_boolean_words_as_keys_are_reported_as_written(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: g}
        spec:
          alerts:
            - {name: A, expr: llm_request_total == 0, on: x, yes: y, null: z}
        """,
    )
    errors = "\n".join(_errors(path))
    for key in ("on", "yes", "null"):
        assert f"unknown field {key!r}" in errors
    assert "'True'" not in errors and "'None'" not in errors


def test_long_rejected_values_are_cut(tmp_path):
    path = _write(tmp_path, "'" + "x" * 9000 + "'\n")
    (message,) = _errors(path)
    assert len(message) < 400 and "(9,000 characters)" in message


# ------------------------------------------------------------------------------ tracebacks (issue 15.12)


def test_zero_evaluation_interval_is_an_error(tmp_path):
    errors = _errors(env={"PROMSPEC_EVALUATION_INTERVAL": "0s"})
    assert errors[0].startswith("env:PROMSPEC_EVALUATION_INTERVAL:1:1: evaluation_interval 0s is not longer than 0s")


def test_slo_name_ending_in_a_newline_is_refused(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          backend: engine
          slos:
            - {name: "errs\\n", objective: 99%, sli: {signal: errors}}
        """,
    )
    assert "invalid value: the string 'errs\\n' at spec.slos[0].name" in _errors(path)[0]


# ------------------------------------------------------------------------------ messages (issue 9.6)


def test_uncatalogued_metric_in_a_ratio_sli_is_one_error_inside_the_query(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          slos:
            - name: avail
              objective: 99%
              sli:
                ratio:
                  errors: sum(rate(checkout_errors_total[{{window}}]))
                  total: sum(rate(checkout_errors_total[{{window}}])) + sum(rate(llm_request_total[{{window}}]))
        """,
    )
    errors = _errors(path)
    assert len(errors) == 1, errors
    assert errors[0].startswith(
        f"{path}:10:28: metric 'checkout_errors_total' is not in any Catalog at spec.slos[0].sli.ratio.errors;"
    )


def test_no_empty_lists_and_no_flags_that_do_not_exist(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          slos:
            - {name: lat, objective: 99%, sli: {latency: {metric: app_latency_seconds, threshold: 0.5}}}
        """,
    )
    (message,) = _errors(path)
    assert "--allow-unknown-buckets" not in message
    # With no Backend declared, an unknown engine lists the bundled ones (a real list, never an empty "one of").
    lone = _write(
        tmp_path,
        "apiVersion: promspec/v1\nkind: Service\nmetadata: {name: s}\n"
        "spec: {backend: vlm, slos: [{name: e, objective: 99%, sli: {signal: errors}}]}\n",
        "s.yml",
    )
    with pytest.raises(SpecError) as info:
        load_project([lone], env={})
    text = "\n".join(d.format() for d in info.value.diagnostics)
    assert "unknown backend 'vlm' (did you mean 'vllm'?)" in text and "one of" in text and "sglang" in text
    assert not any(line.rstrip().endswith(("one of", "one of:")) for line in text.splitlines()), text


def test_nearest_bounds_are_the_neighbours(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          backend: engine
          slos:
            - {name: t, objective: 99%, sli: {signal: ttft, threshold: 300ms}}
        """,
    )
    assert _errors(path)[0].endswith("nearest: 0.25, 0.5")


# ------------------------------------------------------------------------------ Go templates (issue 15.11)


@pytest.mark.parametrize(
    "text,problem",
    [
        ("use {{ braces", "unclosed action"),
        ("{{ $team }}", 'undefined variable "$team"'),
        ("{{ join .x }}", 'function "join" not defined'),
        ("{{ }}", "missing value"),
    ],
)
def test_prometheus_template_errors(text, problem):
    with pytest.raises(TemplateError, match=re.escape(problem)):
        check_template(text, PROMETHEUS_FUNCTIONS, PROMETHEUS_VARIABLES)


@pytest.mark.parametrize(
    "text",
    [
        "{{ $value | humanize }}",
        "{{ $labels.instance }}",
        "{{ `{{` }}",
        "}} alone",
        "{{ $x := 1 }}{{ $x }}",
        "{{ range $k, $v := $labels }}{{ $k }}{{ end }}",
    ],
)
def test_prometheus_templates_that_parse(text):
    check_template(text, PROMETHEUS_FUNCTIONS, PROMETHEUS_VARIABLES)


def test_stray_braces_in_an_alert_are_an_error_at_their_column(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: g}
        spec:
          alerts:
            - name: A
              expr: llm_request_total == 0
              summary: "use {{ braces"
        """,
    )
    assert _errors(path)[0].startswith(f"{path}:8:21: template error in annotation 'summary' of alert 'A'")


@pytest.mark.parametrize(
    "value",
    [
        "two\nlines\n",
        "trailing  \nspaces",
        "sep\u2028arator",
        "para\u2029graph",
        "next\x85line",
        "cr\r\nlf",
        "\n",
        "a\n\n",
        " lead\nx",
        "tab\n\tbed",
    ],
)
def test_multi_line_values_are_kept_byte_for_byte(value):
    assert yaml.safe_load(dump_yaml({"k": value}))["k"] == value


def test_rendered_alert_keeps_a_multi_line_description(tmp_path):
    from promspec.render.outputs import render_project

    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: g}
        spec:
          alerts:
            - name: A
              expr: llm_request_total == 0
              description: "first\\nsecond \\u2028 third\\n"
        """,
    )
    project, _ = load_project([BASE, path], env={})
    rules = yaml.safe_load(render_project(project)["rules/spec.yml"])
    assert rules["groups"][0]["rules"][0]["annotations"]["description"] == "first\nsecond \u2028 third\n"


# ------------------------------------------------------------------------------ Jsonnet (issue 15.8)


def _promspec(*args, env=None, timeout=60):
    return subprocess.run(
        [os.path.join(BIN, "promspec"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


@pytest.mark.slow
def test_jsonnet_cannot_read_files_outside_the_specs(tmp_path):
    (tmp_path / "specs").mkdir()
    spec = _write(
        tmp_path,
        """\
        { apiVersion: 'promspec/v1', kind: 'AlertGroup', metadata: { name: 'g' },
          spec: { alerts: [{ name: 'A', expr: 'up == 0', summary: importstr '/proc/self/environ' }] } }
        """,
        "specs/leak.jsonnet",
    )
    proc = _promspec("generate", spec, "-o", str(tmp_path / "out"), env={"PROMSPEC_SECRET_MARKER": "s3cr3t"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "leak.jsonnet:2:59: Jsonnet error" in proc.stderr and "outside the specs" in proc.stderr
    assert "s3cr3t" not in proc.stderr + proc.stdout and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_jsonnet_library_paths_and_error_positions(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "lib.libsonnet").write_text("{ name: 'g',\n  bad: 1 + }\n")
    spec = _write(
        tmp_path,
        "local lib = import 'lib.libsonnet';\n"
        "{ apiVersion: 'promspec/v1', kind: 'AlertGroup', metadata: { name: lib.name },\n"
        "  spec: { alerts: [{ name: 'A', expr: 'up == 0' }] } }\n",
        "specs/a.jsonnet",
    )
    outside = _promspec("validate", spec)
    assert outside.returncode == 1 and "import 'lib.libsonnet' not found" in outside.stderr
    broken = _promspec("-J", str(tmp_path / "vendor"), "validate", spec)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert broken.stderr.startswith(f"{tmp_path}/vendor/lib.libsonnet:2:12: Jsonnet error: STATIC ERROR"), broken.stderr
    (tmp_path / "vendor" / "lib.libsonnet").write_text("{ name: 'g' }\n")
    assert _promspec("-J", str(tmp_path / "vendor"), "validate", spec).returncode == 0


@pytest.mark.slow
def test_jsonnet_runaway_evaluation_is_bounded_and_ctrl_c_works(tmp_path):
    spec = _write(tmp_path, "local f(n) = if n == 0 then 0 else f(n - 1) + f(n - 1);\n{ a: f(60) }\n", "loop.jsonnet")
    started = time.monotonic()
    proc = _promspec("validate", spec, env={"PROMSPEC_JSONNET_TIMEOUT": "2"})
    assert proc.returncode == 1 and "evaluation did not finish within 2 s" in proc.stderr
    assert time.monotonic() - started < 30
    # Ctrl-C: the command stops at once and its evaluator with it.
    # As a terminal starts it: a suite started in the background by a non-interactive shell inherits SIGINT
    # ignored, and a program rightly leaves an ignored SIGINT ignored.
    child = subprocess.Popen(
        [os.path.join(BIN, "promspec"), "validate", spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Ctrl-C once the evaluator runs (a fixed sleep raced a loaded machine's start-up).
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        running = subprocess.run(["pgrep", "-f", f"jsonnet_eval {spec}"], capture_output=True, text=True, check=False)
        if running.stdout.strip():
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=15)
    assert child.returncode != 0 and "Traceback" not in err
    leftover = subprocess.run(["pgrep", "-f", f"jsonnet_eval {spec}"], capture_output=True, text=True, check=False)
    assert leftover.stdout.strip() == ""


@pytest.mark.slow
def test_hostile_inputs_through_the_cli_exit_1_without_traceback(tmp_path):
    """The same inputs as above, end to end: exit 1, file:line:col, nothing written."""
    out = tmp_path / "out"
    cases = {
        "kind.yml": "apiVersion: promspec/v1\nkind: {a: 1}\nmetadata: {name: x}\nspec: {}\n",
        "deep.yml": "apiVersion: promspec/v1\nkind: AlertGroup\nmetadata: {name: g}\nspec: {alerts: "
        + "[" * 500
        + "]" * 500
        + "}\n",
    }
    for name, text in cases.items():
        path = _write(tmp_path, text, name)
        proc = _promspec("generate", BASE, path, "-o", str(out))
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith(path + ":"), proc.stderr
    proc = _promspec("generate", BASE, "-o", str(out), env={"PROMSPEC_EVALUATION_INTERVAL": "0s"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "evaluation_interval 0s" in proc.stderr
    assert not out.exists()
