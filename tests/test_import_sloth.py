"""Sloth input keeps its identity: alert names, page/ticket split, sloth_* labels, series, firing minutes."""

from __future__ import annotations

import subprocess
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from promspec.diagnostics import SpecError
from promspec.pipeline import load_build, load_project
from promspec.render.outputs import render_project

from conftest import run_promspec

FOREIGN = Path(__file__).parent / "fixtures" / "foreign"
SLOTH = FOREIGN / "sloth"


def _project(*paths):
    return load_project([str(p) for p in paths], env={})


def _rules(project) -> dict:
    files = render_project(project)
    return {k: yaml.safe_load(v) for k, v in files.items() if k.startswith("rules/") and "/tests/" not in k}


def _alerts(rules: dict) -> list[dict]:
    return [r for f in rules.values() for g in f["groups"] for r in g["rules"] if "alert" in r]


def _write(tmp_path, body: str, name: str = "sloth.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_a_sloth_file_alone_renders_sloths_alerts_labels_and_series():
    project, report = _project(SLOTH / "checkout.yml")
    rules = _rules(project)["rules/checkout.yml"]
    groups = [g["name"] for g in rules["groups"]]
    assert (
        groups
        == [
            f"sloth-slo-{kind}-checkout-{slo}"
            for slo in ("http-availability", "payment-latency")
            for kind in ("sli-recordings", "meta-recordings", "alerts")
        ][:5]
    )
    alerts = _alerts({"x": rules})
    # One name for page and ticket, 2 alerts (not 5), no promspec severity, no budget-exhausted alert.
    assert [(a["alert"], a["labels"]) for a in alerts] == [
        ("Checkout-HighErrorRate", {"team": "payments", "paging": "true", "route": "pager", "sloth_severity": "page"}),
        (
            "Checkout-HighErrorRate",
            {"team": "payments", "paging": "true", "route": "tickets", "sloth_severity": "ticket"},
        ),
    ]
    assert alerts[0]["annotations"]["runbook"] == "https://runbooks.example.test/checkout"
    assert alerts[0]["annotations"]["channel"] == "#checkout-oncall" and "channel" not in alerts[1]["annotations"]
    assert "for" not in alerts[0]
    records = {
        (r["record"], r["labels"].get("sloth_window")): r
        for g in rules["groups"]
        for r in g["rules"]
        if "record" in r and r["labels"]["sloth_slo"] == "http-availability"
    }
    assert sorted(records) == sorted(
        [("slo:sli_error:ratio_rate" + w, w) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")]
        + [
            (n, None)
            for n in (
                "slo:objective:ratio",
                "slo:error_budget:ratio",
                "slo:time_period:days",
                "slo:current_burn_rate:ratio",
                "slo:period_burn_rate:ratio",
                "slo:period_error_budget_remaining:ratio",
                "sloth_slo_info",
            )
        ]
    )
    five = records[("slo:sli_error:ratio_rate5m", "5m")]
    # Service labels (a YAML true and 2 as Sloth renders them) and SLO labels are on every series.
    assert five["labels"] == {
        "owner": "payments",
        "on_call": "true",
        "tier": "2",
        "category": "availability",
        "sloth_id": "checkout-http-availability",
        "sloth_service": "checkout",
        "sloth_slo": "http-availability",
        "sloth_window": "5m",
    }
    assert "[5m]" in five["expr"] and "{{" not in five["expr"]
    assert records[("slo:objective:ratio", None)]["expr"] == "vector(0.9990000000000001)"
    info = records[("sloth_slo_info", None)]["labels"]
    assert (info["sloth_objective"], info["sloth_spec"], info["sloth_mode"]) == (
        "99.9",
        "prometheus/v1",
        "cli-gen-prom",
    )
    # The payment SLO has both alerts disabled: no alert group at all.
    assert not any(g["name"] == "sloth-slo-alerts-checkout-payment-latency" for g in rules["groups"])
    external = [w for w in report.warnings if "treated as external" in w.message]
    assert len(external) == 1 and "shop_http_requests_total" in external[0].message
    assert not report.errors


def test_the_kubernetes_form_reads_camel_case_fields_and_plugins():
    project, report = _project(SLOTH / "cart-k8s.yml")
    rules = _rules(project)["rules/cart-k8s.yml"]
    alerts = _alerts({"x": rules})
    assert [(a["alert"], a["labels"]["route"], a["labels"]["sloth_severity"]) for a in alerts] == [
        ("CartAddItemErrors", "pager", "page"),
        ("CartAddItemErrors", "tickets", "ticket"),
    ]
    assert alerts[1]["annotations"]["board"] == "cart"
    records = [r for g in rules["groups"] for r in g["rules"] if "record" in r]
    corrections = [r for r in records if r["record"].startswith("slo:numerator_correction:ratio")]
    assert len(corrections) == 7
    assert corrections[0]["expr"] == "(sum(rate(cart_add_total[5m])))/(sum(rate(cart_add_total[30d])))"
    five = next(r for r in records if r["record"] == "slo:sli_error:ratio_rate5m")
    assert five["expr"].startswith('(\nslo:numerator_correction:ratio5m{sloth_id="cart-add-item"')
    info = next(r for r in records if r["record"] == "sloth_slo_info")["labels"]
    assert (info["sloth_spec"], info["sloth_mode"]) == ("sloth.slok.dev/v1", "cli-gen-k8s")
    warned = sorted((str(w.pos).rsplit("/", 1)[-1], w.message) for w in report.warnings if "plugin" in w.message)
    assert [(pos, m.split("'")[1]) for pos, m in warned] == [
        ("cart-k8s.yml:13:9", "sloth.dev/contrib/info_labels/v1"),
        ("cart-k8s.yml:26:13", "sloth.dev/contrib/rule_intervals/v1"),
    ]
    assert all("is not implemented by promspec" in m for _pos, m in warned)


def test_a_service_split_across_files_merges_and_disabled_alerts_add_nothing():
    project, _report = _project(FOREIGN / "sloth-split")
    (service,) = project.services
    assert [s.name for s in service.slos] == ["reads", "writes"]
    rules = _rules(project)
    assert sorted(rules) == ["rules/reads.yml", "rules/writes.yml"]
    assert [a["alert"] for a in _alerts(rules)] == ["CatalogReads", "CatalogReads"]
    assert not any("ErrorBudgetExhausted" in yaml.safe_dump(f) for f in rules.values())


def test_the_same_slo_in_two_files_is_an_error_naming_both(tmp_path):
    body = (FOREIGN / "sloth-split" / "reads.yml").read_text()
    first = _write(tmp_path, body, "a.yml")
    second = _write(tmp_path, body, "b.yml")
    with pytest.raises(SpecError) as exc:
        _project(first, second)
    (error,) = exc.value.diagnostics
    assert str(error.pos).endswith("b.yml:5:11")
    assert "duplicate SLO 'reads' in service 'catalog' (first at" in error.message and "a.yml:5:11" in error.message


@pytest.mark.parametrize("objective", ['"99.9%"', "abc", "[99]", "true"])
def test_an_objective_that_is_not_a_number_is_an_error_at_its_position(tmp_path, objective):
    path = _write(
        tmp_path,
        f"""\
        version: prometheus/v1
        service: s
        slos:
          - name: a
            objective: {objective}
            sli:
              events: {{error_query: 'sum(rate(e[{{{{.window}}}}]))', total_query: 'sum(rate(t[{{{{.window}}}}]))'}}
        """,
    )
    with pytest.raises(SpecError) as exc:
        _project(path)
    (error,) = exc.value.diagnostics
    assert str(error.pos).endswith("sloth.yml:5:16") and "is not a number" in error.message
    assert "99.9" in error.expected


RAW_ONLY = """\
    version: prometheus/v1
    service: s
    slos:
      - name: raw
        objective: 99
        sli:
          raw:
            error_ratio_query: sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))
    """


@pytest.mark.slow
def test_a_file_with_nothing_convertible_fails_generate_and_import_writes_nothing(tmp_path):
    path = _write(tmp_path, RAW_ONLY)
    out = tmp_path / "x.yml"
    proc = run_promspec("import", "sloth", path, "-o", str(out))
    assert proc.returncode == 1 and "no SLO could be converted" in proc.stderr and not out.exists()
    assert "Traceback" not in proc.stderr
    with pytest.raises(SpecError) as exc:
        _project(path)
    assert any("no SLO could be converted" in d.message for d in exc.value.diagnostics)


EVENTS_SLO = """\
      - name: events
        objective: 99
        sli:
          events: {error_query: 'sum(rate(e[{{.window}}]))', total_query: 'sum(rate(t[{{.window}}]))'}
    """


@pytest.mark.slow
def test_partial_conversion_warns_and_strict_makes_it_an_error(tmp_path):
    both = RAW_ONLY.rstrip(" ") + EVENTS_SLO
    path = _write(tmp_path, both)
    proc = run_promspec("import", "sloth", path, "-o", str(tmp_path / "ok.yml"))
    assert proc.returncode == 0 and "a raw SLI is not converted" in proc.stderr
    proc = run_promspec("import", "sloth", "--strict", path, "-o", str(tmp_path / "strict.yml"))
    assert proc.returncode == 1 and not (tmp_path / "strict.yml").exists()


@pytest.mark.slow
def test_import_output_renders_the_same_rules_as_the_sloth_file(tmp_path):
    out = tmp_path / "imported.yml"
    run_promspec("import", "sloth", str(SLOTH / "checkout.yml"), "-o", str(out), check=0)
    text = out.read_text()
    assert "conventions: sloth" in text and "--conventions promspec" in text and "kind: Catalog" in text
    direct, _ = _project(SLOTH / "checkout.yml")
    imported, report = _project(out)
    assert not [w for w in report.warnings if "external" in w.message]  # the Catalog says so explicitly
    assert list(_rules(direct).values()) == list(_rules(imported).values())


@pytest.mark.slow
def test_adopting_promspec_conventions_is_explicit(tmp_path):
    out = tmp_path / "adopted.yml"
    run_promspec("import", "sloth", "--conventions", "promspec", str(SLOTH / "checkout.yml"), "-o", str(out), check=0)
    doc = next(yaml.safe_load_all(out.read_text()))
    assert "conventions" not in doc["spec"]
    alerting = doc["spec"]["slos"][0]["alerting"]
    assert alerting["budget_exhausted"] == {"enabled": True, "severity": "ticket", "for": "5m"}
    assert set(alerting["tiers"]) == {"page-fast", "page-slow", "ticket-fast", "ticket-slow"}
    project, _ = _project(out)
    names = {a["alert"] for a in _alerts(_rules(project))}
    assert "Checkout-HighErrorRateErrorBudgetExhausted" in names


def test_promspec_extras_are_refused_under_sloth_conventions(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: s}
        spec:
          conventions: sloth
          slos:
            - name: a
              objective: 99%
              sli: {ratio: {errors: 'sum(rate(e[{{window}}]))', total: 'sum(rate(t[{{window}}]))'}}
              alerting: {min_traffic: 1}
        ---
        apiVersion: promspec/v1
        kind: Catalog
        metadata: {name: c}
        spec: {external: [e, t]}
        """,
    )
    with pytest.raises(SpecError) as exc:
        _project(path)
    (error,) = exc.value.diagnostics
    assert "min_traffic is a promspec convention" in error.message and str(error.pos).endswith(":10:31")


@pytest.mark.slow
def test_sloth_rules_pass_promtool_check_with_a_dash_in_the_alert_name(tmp_path, promtool):
    out = tmp_path / "out"
    run_promspec("generate", str(SLOTH), "-o", str(out), check=0)
    for name in ("checkout.yml", "cart-k8s.yml", "firing.yml"):
        proc = subprocess.run(
            [promtool, "check", "rules", str(out / "rules" / name)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


# Sloth's alert windows, from its documentation (after the SRE Workbook): per alert, two conditions of
# (short window, long window, burn factor), in minutes.
SLOTH_WINDOWS = {
    "page": ((5, 60, Fraction("14.4")), (30, 360, Fraction(6))),
    "ticket": ((120, 1440, Fraction(3)), (360, 4320, Fraction(1))),
}
START, MINUTES, TOTAL_PER_MIN, ERRORS_PER_MIN = 120, 300, 1000, 50
E0, T0 = 10**6, 10**9  # large counter offsets: Prometheus never clamps rate()'s extrapolation at zero


def _expected_first_firing(kind: str) -> int:
    """The first minute Sloth's rules fire for `kind`, from exact event counts.

    Samples are one minute apart, both counters share timestamps and neither is near zero, so rate()
    extrapolates errors and total alike and each window's ratio is the exact ratio of the events in the
    samples it holds: (E(t) - E(t - w + 1)) / (T(t) - T(t - w + 1)), the start clipped at the first sample.
    An alert fires at the first evaluation where both windows of one of its conditions exceed
    factor x budget (budget 0.1% for objective 99.9)."""

    def errors(t):
        return ERRORS_PER_MIN * max(0, t - START)

    def ratio(t, w):
        first = max(0, t - w + 1)
        return Fraction(errors(t) - errors(first), TOTAL_PER_MIN * (t - first)) if t > first else Fraction(0)

    budget = Fraction(1, 1000)
    for t in range(1, MINUTES):
        if any(
            ratio(t, short) > factor * budget and ratio(t, long) > factor * budget
            for short, long, factor in SLOTH_WINDOWS[kind]
        ):
            return t
    raise AssertionError(f"{kind} never fires")


@pytest.mark.slow
def test_sloth_alerts_fire_in_the_minute_sloths_rules_would(tmp_path, promtool):
    """Sloth itself (Go) cannot run here: the expected first-firing minutes come from
    _expected_first_firing (exact counts, Sloth's documented windows and factors), and promtool runs
    the rules promspec wrote on the same counters, one evaluation a minute."""
    out = tmp_path / "out"
    run_promspec("generate", str(SLOTH / "firing.yml"), "-o", str(out), check=0)
    series = {
        "search_queries_total": f"{T0}+{TOTAL_PER_MIN}x{MINUTES}",
        'search_queries_total{outcome="error"}': f"{E0}x{START - 1} {E0}+{ERRORS_PER_MIN}x{MINUTES - START}",
    }
    labels = {
        "owner": "discovery",
        "category": "availability",
        "team": "discovery",
        "sloth_id": "search-query-errors",
        "sloth_service": "search",
        "sloth_slo": "query-errors",
    }

    def alert(kind: str) -> dict:
        return {
            "exp_labels": {**labels, "route": {"page": "pager", "ticket": "tickets"}[kind], "sloth_severity": kind},
            "exp_annotations": {
                "summary": "search query-errors: the SLO error budget burns faster than allowed.",
                "title": f"({kind}) search query-errors: SLO error budget burn rate too high.",
            },
        }

    first = {kind: _expected_first_firing(kind) for kind in ("page", "ticket")}
    assert all(t > START + 2 for t in first.values())  # each alert waits for its windows to fill with errors
    # Around each first-firing minute: which alerts fire (an alert that fired keeps firing: the burn goes on).
    checks = [
        (t, [alert(k) for k in ("page", "ticket") if first[k] <= t])
        for t in sorted({m + d for m in first.values() for d in (-1, 0)})
    ]
    tests = [
        {
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "alert_rule_test": [
                {"eval_time": f"{t}m", "alertname": "SearchQueryErrors", "exp_alerts": exp} for t, exp in checks
            ],
        }
    ]
    order = [f"sloth-slo-{k}-search-query-errors" for k in ("sli-recordings", "meta-recordings", "alerts")]
    spec = {
        "rule_files": [str(out / "rules" / "firing.yml")],
        "evaluation_interval": "1m",
        "group_eval_order": order,
        "tests": tests,
    }
    test_file = tmp_path / "firing.test.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_no_budget_exhausted_alert_when_every_alert_is_disabled(tmp_path):
    """Adopting promspec's conventions for an SLO whose Sloth alerts are all disabled keeps it silent."""
    out = tmp_path / "adopted.yml"
    run_promspec("import", "sloth", "--conventions", "promspec", str(SLOTH / "checkout.yml"), "-o", str(out), check=0)
    doc = next(yaml.safe_load_all(out.read_text()))
    latency = doc["spec"]["slos"][1]["alerting"]
    assert latency["budget_exhausted"]["enabled"] is False
    assert not any(t["enabled"] for t in latency["tiers"].values())
    build, _ = load_build([str(out)], env={})
    assert not [g for g in build.rule_groups if g.name == "slo-checkout-payment-latency-alerts"]
    # The same for a native Service: every tier disabled and budget_exhausted unset.
    native = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: quiet}
        spec:
          alerting:
            tiers: {page-fast: {enabled: false}, page-slow: {enabled: false}, ticket-fast: {enabled: false},
                    ticket-slow: {enabled: false}}
          slos:
            - name: a
              objective: 99%
              sli: {ratio: {errors: 'sum(rate(e[{{window}}]))', total: 'sum(rate(t[{{window}}]))'}}
        ---
        apiVersion: promspec/v1
        kind: Catalog
        metadata: {name: c}
        spec: {external: [e, t]}
        """,
        "quiet.yml",
    )
    build, _ = load_build([str(native)], env={})
    assert not [r for g in build.rule_groups for r in g.rules if getattr(r, "name", "").endswith("Exhausted")]


def test_fields_promspec_does_not_read_are_warnings_at_their_position(tmp_path):
    path = _write(
        tmp_path,
        """\
        version: prometheus/v1
        service: s
        slo_period: 28d
        slos:
          - name: a
            objective: 99
            sli:
              events: {error_query: 'sum(rate(e[{{.window}}]))', total_query: 'sum(rate(t[{{.window}}]))'}
            alerting:
              name: A
              page_alert: {for: 5m}
        """,
    )
    _loaded, report = _project(path)
    warned = sorted((str(w.pos).rsplit("/", 1)[-1], w.path) for w in report.warnings if "Sloth field" in w.message)
    assert warned == [("sloth.yml:11:20", "slos[0].alerting.page_alert.for"), ("sloth.yml:3:1", "slo_period")]
