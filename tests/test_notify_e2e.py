"""End to end: the rendered bundled output on a real Prometheus and Alertmanager, a fake vLLM that starts
failing requests, and a loopback webhook. The SLO page alert reaches the webhook with its labels and
annotations; the ticket alert of the same SLO is inhibited; `promspec status` sees the page firing."""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from conftest import REPO, PrometheusServer, free_port, run_promspec
from fake_llm import FakeLLM
from ops_servers import AlertmanagerServer, WebhookReceiver, wait_for

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow

SLO_ID = "chat-vllm-errors"  # specs/services/vllm.yml: service chat-vllm, SLO errors, 99% over 30d


class FakeVLLM(FakeLLM):
    """vLLM's request counter on loopback: finished requests at a steady rate, errors once fail() is called."""

    RATE = 20.0  # requests per second, finished normally, all along

    def __init__(self):
        super().__init__({})  # FakeLLM's loopback server, serving this class's exposition()
        self.start = time.time() - 60  # a minute of history, so rates exist from the first scrape
        self.failing_since = None

    def fail(self) -> None:
        """From now on as many requests fail as succeed: a 50% error ratio, 50x the 1% budget."""
        self.failing_since = time.time()

    def exposition(self) -> str:
        now = time.time()
        ok = self.RATE * (now - self.start)
        errors = self.RATE * (now - self.failing_since) if self.failing_since else 0.0
        labels = 'model_name="llama-3-8b",engine="0"'
        return (
            "# TYPE vllm:request_success_total counter\n"
            f'vllm:request_success_total{{{labels},finished_reason="stop"}} {ok}\n'
            f'vllm:request_success_total{{{labels},finished_reason="error"}} {errors}\n'
        )


def _evaluate_every_second(out) -> None:
    """Harness only: every rendered rule group evaluates each second (expressions and `for` unchanged), so the
    burn alerts fire within seconds of the failures instead of after a 30s-1m evaluation round."""
    for path in (out / "rules").glob("*.yml"):
        path.write_text(re.sub(r"(?m)^(\s*)interval: \S+$", r"\1interval: 1s", path.read_text()))


def test_slo_page_reaches_the_webhook_and_inhibits_the_ticket(tmp_path):
    fake, receiver = FakeVLLM(), WebhookReceiver()
    am_port = free_port()
    servers = []
    try:
        # The bundled specs, pointed at the fake and the receiver, and scraping vLLM every second.
        specs = tmp_path / "specs"
        shutil.copytree(os.path.join(REPO, "specs"), specs)
        targets = specs / "targets.yml"
        text = targets.read_text()
        assert "targets: [localhost:8000]" in text
        targets.write_text(
            text.replace("targets: [localhost:8000]", f"targets: [127.0.0.1:{fake.port}]\n      interval: 1s")
        )
        notifications = specs / "notifications.yml"
        text = notifications.read_text()
        assert "url: http://127.0.0.1:9099/alerts" in text
        notifications.write_text(text.replace("http://127.0.0.1:9099/alerts", f"{receiver.url}/alerts"))
        out = tmp_path / "out"
        run_promspec(
            "generate", str(specs), "-o", str(out), check=0, env={"PROMSPEC_ALERTMANAGERS": f"127.0.0.1:{am_port}"}
        )
        _evaluate_every_second(out)
        am = AlertmanagerServer(str(out / "alertmanager" / "alertmanager.yml"), str(tmp_path / "am"), port=am_port)
        servers.append(am)
        (tmp_path / "tsdb").mkdir()
        prom = PrometheusServer(
            str(out / "prometheus" / "prometheus.yml"), str(tmp_path / "tsdb"), ["--rules.alert.resend-delay=2s"]
        )
        servers.append(prom)
        fake.fail()

        # Only alerts of this test's Prometheus count (another Prometheus on the machine could reach
        # this Alertmanager's port): their generatorURL names its port.
        mine = f":{prom.port}/graph"

        # SLO rule groups evaluate every second here (rendered: 30s, long windows 1m); the waits stay generous.
        def page():
            return [
                a
                for a in receiver.alerts("/alerts", slo_id=SLO_ID, burn_tier="page-fast")
                if a["status"] == "firing" and mine in a["generatorURL"]
            ]

        alert = wait_for(page, 110, "the page-fast alert at the webhook", interval=0.5)[0]
        assert alert["labels"] == {
            "alertname": "ChatVllmErrorsErrorBudgetBurn",
            "severity": "page",
            "burn_tier": "page-fast",
            "slo_id": SLO_ID,
            "slo_service": "chat-vllm",
            "slo": "errors",
            "team": "inference",
        }
        summary = alert["annotations"]["summary"]
        assert summary.startswith("chat-vllm SLO errors: error budget burning ") and summary.endswith(
            "x over 1h (page-fast)"
        )
        burn = float(summary.split("burning ")[1].split("x")[0])
        assert 14.4 < burn <= 100  # ~50% errors against a 1% budget
        assert "objective 99% over 30d" in alert["annotations"]["description"]

        # The ticket tiers of the same SLO fire too, and Alertmanager holds them back.
        def ticket():
            found = [
                a
                for a in am.api("GET", "/alerts")
                if a["labels"].get("slo_id") == SLO_ID
                and a["labels"]["severity"] == "ticket"
                and a["labels"].get("burn_tier")
                and mine in a["generatorURL"]
            ]
            return found if found and all(a["status"]["state"] == "suppressed" for a in found) else None

        tickets = wait_for(ticket, 110, "the inhibited ticket alert in Alertmanager", interval=0.5)
        pages = {
            a["fingerprint"]
            for a in am.api("GET", "/alerts")
            if a["labels"].get("slo_id") == SLO_ID and a["labels"]["severity"] == "page" and mine in a["generatorURL"]
        }
        for t in tickets:
            assert set(t["status"]["inhibitedBy"]) & pages
        assert not [
            a
            for a in receiver.alerts("/alerts", slo_id=SLO_ID)
            if a["labels"]["severity"] == "ticket" and mine in a["generatorURL"]
        ]

        def status():  # ALERTS is written at the next evaluation that sees the alert: wait for one
            report = json.loads(
                run_promspec(
                    "status",
                    str(specs),
                    "--prometheus",
                    prom.url,
                    "--service",
                    "chat-vllm",
                    "--output",
                    "json",
                    check=0,
                ).stdout
            )
            row = next(r for r in report["slos"] if r["slo_id"] == SLO_ID)
            return row if "page-fast" in row["firing"] else None

        row = wait_for(status, 60, "promspec status to show the page firing", interval=1)
        assert row["burn_rates"]["1h"] > 14.4 and row["burn_rates"]["5m"] > 14.4
    finally:
        for server in reversed(servers):
            server.stop()
        fake.close()
        receiver.close()
