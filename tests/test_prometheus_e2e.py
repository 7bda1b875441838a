"""A real Prometheus runs the rendered bundled config and rules against a fake llm_* app."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from conftest import REPO, run_promspec
from fake_llm import FakeLLM

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def _value(results, **labels):
    for r in results:
        if all(r["metric"].get(k) == v for k, v in labels.items()):
            return float(r["value"][1])
    return None


def test_recording_rules_and_high_error_rate_alert(tmp_path, prometheus_factory):
    fake = FakeLLM(
        {
            "m1": {"requests": 10, "errors": 2, "tokens": 100, "latency": 0.3},
            "m2": {"requests": 5, "errors": 0, "tokens": 50, "latency": 0.3},
        }
    )
    try:
        # The bundled specs, pointed at the fake app; HighErrorRate's `for` shortened from 5m to 10s
        # so the test sees pending -> firing in seconds. Nothing else is changed.
        specs = tmp_path / "specs"
        shutil.copytree(os.path.join(REPO, "specs"), specs)
        targets = specs / "targets.yml"
        targets.write_text(
            targets.read_text()
            .replace("localhost:2112", f"127.0.0.1:{fake.port}")
            .replace("interval: 15s", "interval: 1s")
            .replace("timeout: 5s", "timeout: 1s")
        )
        rules = specs / "llm.yml"
        text = rules.read_text()
        assert text.count("for: 5m") == 2
        rules.write_text(text.replace("for: 5m", "for: 10s", 1))
        out = tmp_path / "out"
        run_promspec(
            "generate",
            str(specs),
            "-o",
            str(out),
            check=0,
            env={"PROMSPEC_SCRAPE_INTERVAL": "1s", "PROMSPEC_EVALUATION_INTERVAL": "1s"},
        )
        prom = prometheus_factory(str(out / "prometheus" / "prometheus.yml"))

        # A 5m rate over the few seconds Prometheus has scraped is extrapolated, so compare what
        # must hold exactly: ratios between series, and each recorded sample against its own
        # expression evaluated by Prometheus at the sample's timestamp.
        def recorded(name, **labels):
            for r in prom.query(f"{name}[1m]"):  # a range selector returns samples with their own timestamps
                if all(r["metric"].get(k) == v for k, v in labels.items()) and len(r["values"]) >= 2:
                    ts, value = r["values"][-1]
                    return float(ts), float(value)
            return None

        ts, rate = _wait(
            lambda: recorded("llm:request_rate_5m", model="m1", operation="chat"), 30, "llm:request_rate_5m"
        )
        direct = _value(
            prom.query_at("sum by (model, operation) (rate(llm_request_total[5m]))", ts), model="m1", operation="chat"
        )
        assert rate > 0 and rate == pytest.approx(direct, rel=1e-9)
        ratio = _wait(lambda: _value(prom.query("llm:error_ratio_5m"), model="m1"), 30, "llm:error_ratio_5m")
        assert ratio == pytest.approx(0.2, rel=0.02)
        assert _value(prom.query("llm:error_ratio_5m"), model="m2") == 0
        per_request = _wait(
            lambda: _value(
                prom.query("llm:token_rate_5m / on(model) sum by (model) (llm:request_rate_5m)"), model="m1"
            ),
            30,
            "token rate",
        )
        assert per_request == pytest.approx(10, rel=0.02)
        errors = _value(prom.query("llm:error_rate_5m"), model="m1", type="timeout")
        assert errors == pytest.approx(
            _value(prom.query("sum by (model) (llm:request_rate_5m)"), model="m1") * 0.2, rel=0.05
        )

        def state():
            alerts = prom.query('ALERTS{alertname="HighErrorRate"}')
            assert all(a["metric"]["model"] == "m1" for a in alerts), alerts
            return alerts[0]["metric"]["alertstate"] if alerts else None

        assert _wait(lambda: state() == "pending", 30, "HighErrorRate pending")
        pending_at = time.monotonic()
        assert _wait(lambda: state() == "firing", 40, "HighErrorRate firing")
        assert time.monotonic() - pending_at >= 8  # `for: 10s` held it pending first
        firing = prom.query('ALERTS{alertname="HighErrorRate",alertstate="firing"}')[0]["metric"]
        assert firing["severity"] == "warning" and firing["team"] == "inference"
        assert not prom.query('ALERTS{alertname="HighLatency"}')  # p95 is 0.5s, far below 10s
    finally:
        fake.close()
