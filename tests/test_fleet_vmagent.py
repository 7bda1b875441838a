"""scraper: vmagent on the real thing (issue 16): two vmagent members run the rendered flags files over one
Targets spec and write to the cluster's Prometheus (remote-write receiver), which runs the rendered cluster rules."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from fleet_servers import FleetEngine, VMAgent, fleet_spec, vmalert_args

from conftest import free_port, promspec_in_process
from ops_servers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.serial]

PLACEHOLDER = "http://127.0.0.1:9"  # the receiver's real port is known only once Prometheus runs


def _harness_fast(cluster_dir: str) -> None:
    """Harness only: vmagent scrapes every second and the cluster rules run every second (expressions unchanged)."""
    scrape = os.path.join(cluster_dir, "vmagent.yml")
    with open(scrape, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    config["global"]["scrape_interval"] = "1s"
    with open(scrape, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh)
    rules = os.path.join(cluster_dir, "rules", "fleet.yml")
    with open(rules, encoding="utf-8") as fh:
        text = fh.read()
    with open(rules, "w", encoding="utf-8") as fh:
        fh.write(re.sub(r"(?m)^  interval: \S+$", "  interval: 1s", text))


def test_two_vmagent_members_split_the_targets_and_the_cluster_prometheus_sums_them(tmp_path, prometheus_factory):
    """Six engines at 1 request/s each. Every target is scraped by exactly one member (the two members' active
    targets are disjoint and cover all six), and the receiving Prometheus records the cluster's 5m rate over
    all of them: one series without a shard label, the sum of all six targets' rates."""
    engines = [FleetEngine(ok=1.0, errors=0.0) for _ in range(6)]
    hosts = [f"127.0.0.1:{e.port}" for e in engines]
    agents: list[VMAgent] = []
    try:
        spec = fleet_spec({"us": hosts}, f"http://127.0.0.1:{free_port()}", "127.0.0.1:9093")
        spec = spec.replace(
            "      targets: [us-targets]\n",
            f"      targets: [us-targets]\n      shards: 2\n      scraper: vmagent\n      receiver: {PLACEHOLDER}\n",
        )
        (tmp_path / "specs").mkdir()
        (tmp_path / "specs" / "fleet.yml").write_text(spec)
        out = tmp_path / "out"
        promspec_in_process("generate", str(tmp_path / "specs"), "-o", str(out), check=0)
        cluster = os.path.join(out, "fleet", "clusters", "us")
        _harness_fast(cluster)
        prometheus = prometheus_factory(os.path.join(cluster, "prometheus.yml"), ["--web.enable-remote-write-receiver"])
        for member in (0, 1):
            args = vmalert_args(os.path.join(cluster, f"vmagent-{member}.args"), {PLACEHOLDER: prometheus.url})
            assert f"-promscrape.cluster.memberNum={member}" in args
            agents.append(VMAgent(cluster, args, str(tmp_path), f"vmagent-{member}"))

        def split():
            owned = [agent.active_targets() for agent in agents]
            return owned if set().union(*owned) == set(hosts) else None

        owned = wait_for(split, 30, "both vmagent members to list their targets")
        assert not owned[0] & owned[1], owned

        def scraped():
            up = prometheus.query('up{job="llm-us"}')
            return up if len(up) == len(hosts) else None

        up = wait_for(scraped, 30, "every target's up series at the receiving Prometheus")
        assert sorted(s["metric"]["instance"] for s in up) == sorted(hosts)

        # rate() over 5m of series a minute old reads about a fifth of the true rate (no extrapolation past
        # the first sample), so the oracle is the per-target rates at the rule's own evaluation time, summed here.
        # Tolerance: a sample still in a vmagent's 1s send buffer when the rule ran is counted by the oracle only.
        def recorded():
            total = prometheus.query('slo:sli_total:rate5m{slo_id="chat-availability"}[5s]')
            # Wait for 20s of data in all six: one missing member would then read about half.
            return total if total and float(total[0]["values"][0][1]) > len(hosts) * 20 / 300 else None

        (total,) = wait_for(recorded, 60, "the cluster's recorded 5m rate over 20s of data")
        assert "shard" not in total["metric"]
        at, value = total["values"][0]
        per_target = prometheus.query_at('sum by (instance) (rate(fleet_requests_total{job="llm-us"}[5m]))', at)
        assert sorted(s["metric"]["instance"] for s in per_target) == sorted(hosts)
        assert float(value) == pytest.approx(sum(float(s["value"][1]) for s in per_target), rel=0.05)
    finally:
        for agent in agents:
            agent.stop()
        for engine in engines:
            engine.server.shutdown()
            engine.server.server_close()
