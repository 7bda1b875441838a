"""kind Topology and fleet/ (issue 16): the model, the split of rules between clusters and the global tier,
the per-backend layouts, errors at their positions, `promspec diff`. In process: the tools run in
test_fleet_tools.py and test_fleet_e2e.py."""

from __future__ import annotations

import os
import shutil

import jsonschema
import pytest

from generated_yaml import read_yaml
from promspec.check.fleet import fleet_schema

from conftest import REPO, promspec_in_process

EXAMPLE = os.path.join(REPO, "docs", "examples", "fleet", "fleet.yml")


def _spec(tmp_path, text: str | None = None, **replace: str) -> str:
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    with open(EXAMPLE, encoding="utf-8") as fh:
        body = fh.read() if text is None else text
    for old, new in replace.items():
        assert old in body, old
        body = body.replace(old, new)
    (specs / "fleet.yml").write_text(body)
    return str(specs)


def _generate(tmp_path, specs: str, check: int = 0):
    out = tmp_path / "out"
    proc = promspec_in_process("generate", specs, "-o", str(out), check=check)
    return str(out), proc


def _files(out: str) -> dict[str, bytes]:
    files = {}
    for dirpath, _dirs, names in os.walk(os.path.join(out, "fleet")):
        for name in names:
            full = os.path.join(dirpath, name)
            if name != ".promspec-manifest":
                with open(full, "rb") as fh:
                    files[os.path.relpath(full, out)] = fh.read()
    return files


def _yaml(files: dict, path: str):
    return read_yaml(files[path])


def test_example_renders_each_cluster_and_the_vmalert_tier(tmp_path):
    out, _ = _generate(tmp_path, _spec(tmp_path))
    files = _files(out)
    assert sorted(files) == [
        "fleet/clusters/eu/prometheus.yml",
        "fleet/clusters/eu/rules/fleet.yml",
        "fleet/clusters/us/prometheus-shard-0.yml",
        "fleet/clusters/us/prometheus-shard-1.yml",
        "fleet/clusters/us/rules/fleet.yml",
        "fleet/global/vmalert/rules/fleet.yml",
        "fleet/global/vmalert/vmalert.args",
    ]
    eu = _yaml(files, "fleet/clusters/eu/prometheus.yml")
    assert eu["global"]["external_labels"] == {"cluster": "eu", "region": "europe"}
    assert [j["job_name"] for j in eu["scrape_configs"]] == ["llm-eu"]
    assert eu["rule_files"] == ["rules/fleet.yml"]
    (write,) = eu["remote_write"]
    assert write["url"] == "http://victoria-metrics:8428/api/v1/write"
    # Only what the cluster records leaves it: the raw fleet_requests_total stays local.
    assert write["write_relabel_configs"] == [
        {"source_labels": ["__name__"], "regex": "slo:sli_errors:rate5m|slo:sli_total:rate5m", "action": "keep"}
    ]
    cluster_rules = _yaml(files, "fleet/clusters/eu/rules/fleet.yml")["groups"]
    assert [g["name"] for g in cluster_rules] == ["slo-chat-availability-rates"]
    assert [r["record"] for r in cluster_rules[0]["rules"]] == ["slo:sli_errors:rate5m", "slo:sli_total:rate5m"]
    args = files["fleet/global/vmalert/vmalert.args"].decode().splitlines()
    assert [a for a in args if not a.startswith("#")] == [
        "-rule=rules/*.yml",
        "-datasource.url=http://victoria-metrics:8428",
        "-remoteRead.url=http://victoria-metrics:8428",
        "-remoteWrite.url=http://victoria-metrics:8428",
        "-evaluationInterval=30s",
        "-notifier.url=http://alertmanager:9093",
    ]


def test_shards_split_the_targets_by_hashmod_and_label_each_shard(tmp_path):
    out, _ = _generate(tmp_path, _spec(tmp_path))
    files = _files(out)
    for shard in (0, 1):
        config = _yaml(files, f"fleet/clusters/us/prometheus-shard-{shard}.yml")
        assert config["global"]["external_labels"]["shard"] == str(shard)
        (job,) = config["scrape_configs"]
        assert job["static_configs"][0]["targets"] == ["10.2.0.11:8000", "10.2.0.12:8000", "10.2.0.13:8000"]
        assert job["relabel_configs"][:2] == [
            {
                "source_labels": ["__address__"],
                "modulus": 2,
                "target_label": "__tmp_promspec_shard",
                "action": "hashmod",
            },
            {"source_labels": ["__tmp_promspec_shard"], "regex": str(shard), "action": "keep"},
        ]


def test_global_ratios_sum_events_across_clusters_and_shards(tmp_path):
    """Every fleet window divides summed bad events by summed events; per-cluster ratios keep the cluster label
    and live under slo_cluster:, so the fleet series keep the names one Prometheus records."""
    out, _ = _generate(tmp_path, _spec(tmp_path))
    groups = _yaml(_files(out), "fleet/global/vmalert/rules/fleet.yml")["groups"]
    records = {(r["record"], r["expr"]) for g in groups for r in g["rules"] if "record" in r}
    sel = '{slo_id="chat-availability"}'
    by = "slo_id, slo_service, slo"
    assert (
        "slo:sli_error:ratio_rate1h",
        f"sum by ({by}) (sum_over_time(slo:sli_errors:rate5m{sel}[1h]))\n/\n"
        f"sum by ({by}) (sum_over_time(slo:sli_total:rate5m{sel}[1h]))",
    ) in records
    assert (
        "slo_cluster:sli_error:ratio_rate1h",
        f"sum by ({by}, cluster) (sum_over_time(slo:sli_errors:rate5m{sel}[1h]))\n/\n"
        f"sum by ({by}, cluster) (sum_over_time(slo:sli_total:rate5m{sel}[1h]))",
    ) in records
    # The global tier never records the 5m rates themselves: the clusters' would be counted twice.
    assert not any(name.startswith(("slo:sli_errors:rate5m", "slo:sli_total:rate5m")) for name, _ in records)
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    names = sorted({a["alert"] for a in alerts})
    assert names == [
        "ChatAvailabilityClusterErrorBudgetBurn",
        "ChatAvailabilityClusterSilent",
        "ChatAvailabilityErrorBudgetBurn",
        "ChatAvailabilityErrorBudgetExhausted",
    ]
    silent = next(a for a in alerts if a["alert"] == "ChatAvailabilityClusterSilent")
    assert "group by (slo_id, cluster, region, shard)" in silent["expr"]
    assert silent["labels"]["severity"] == "page"


def test_mimir_and_thanos_layouts_match_their_documented_formats(tmp_path):
    """The schema fixtures are written from the Mimir (mimirtool rules) and Thanos Ruler docs."""
    for backend, extra in (("mimir", "    tenant: team-a\n    namespace: llm-fleet\n"), ("thanos", "    tenant: t1\n")):
        case = tmp_path / backend
        case.mkdir()
        specs = _spec(
            case,
            **{
                "backend: victoriametrics\n    url: http://victoria-metrics:8428\n": f"backend: {backend}\n"
                f"    url: http://{backend}:8080\n{extra}"
            },
        )
        out, _ = _generate(case, specs)
        files = _files(out)
        eu = _yaml(files, "fleet/clusters/eu/prometheus.yml")["remote_write"][0]
        if backend == "mimir":
            assert sorted(p for p in files if p.startswith("fleet/global/")) == ["fleet/global/mimir/llm-fleet.yml"]
            assert eu["url"] == "http://mimir:8080/api/v1/push" and eu["headers"] == {"X-Scope-OrgID": "team-a"}
            content = _yaml(files, "fleet/global/mimir/llm-fleet.yml")
            assert content["namespace"] == "llm-fleet"
            schema = fleet_schema("mimir")
        else:
            assert sorted(p for p in files if p.startswith("fleet/global/")) == [
                "fleet/global/thanos/rules/fleet.yml",
                "fleet/global/thanos/thanos-rule.args",
            ]
            assert eu["url"] == "http://thanos:8080/api/v1/receive" and eu["headers"] == {"THANOS-TENANT": "t1"}
            content = _yaml(files, "fleet/global/thanos/rules/fleet.yml")
            schema = fleet_schema("thanos")
            args = files["fleet/global/thanos/thanos-rule.args"].decode()
            assert "--query=http://thanos:8080\n" in args and "--alertmanagers.url=http://alertmanager:9093\n" in args
        jsonschema.validate(content, schema)
        assert len(content["groups"]) == 5


def test_the_fixture_schemas_reject_what_the_docs_rule_out():
    """The fixtures are oracles only if they say no: a group without rules, a rule with both record and alert."""
    mimir = fleet_schema("mimir")
    thanos = fleet_schema("thanos")
    good = {"name": "g", "rules": [{"record": "a:b", "expr": "up"}]}
    jsonschema.validate({"namespace": "n", "groups": [good]}, mimir)
    for bad in (
        {"groups": [good]},  # no namespace
        {"namespace": "n", "groups": [{"name": "g"}]},
        {"namespace": "n", "groups": [{"name": "g", "rules": [{"record": "a", "alert": "B", "expr": "up"}]}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, mimir)
    jsonschema.validate({"groups": [good]}, thanos)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"groups": [{"name": "g", "rules": [{"expr": "up"}]}]}, thanos)


def test_a_group_reading_global_series_runs_globally_and_raw_readers_stay_local(tmp_path):
    extra = """---
apiVersion: promspec/v1
kind: RecordingGroup
metadata: {name: per-code}
spec:
  rules:
    - record: code:fleet_requests:rate5m
      expr: sum by (code) (rate(fleet_requests_total[5m]))
---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: budget-watch}
spec:
  alerts:
    - name: HalfTheBudgetSpent
      expr: slo:period_burn_rate:ratio > 0.5
      severity: ticket
"""
    with open(EXAMPLE, encoding="utf-8") as fh:
        specs = _spec(tmp_path, fh.read() + extra)
    out, _ = _generate(tmp_path, specs)
    files = _files(out)
    local = [g["name"] for g in _yaml(files, "fleet/clusters/eu/rules/fleet.yml")["groups"]]
    glob = [g["name"] for g in _yaml(files, "fleet/global/vmalert/rules/fleet.yml")["groups"]]
    assert local == ["slo-chat-availability-rates", "per-code"]
    assert glob[-1] == "budget-watch" and "per-code" not in glob
    write = _yaml(files, "fleet/clusters/eu/prometheus.yml")["remote_write"][0]
    assert write["write_relabel_configs"][0]["regex"] == (
        "code:fleet_requests:rate5m|slo:sli_errors:rate5m|slo:sli_total:rate5m"
    )


def _error_case(tmp_path, **replace: str) -> str:
    specs = _spec(tmp_path, **replace)
    out, proc = _generate(tmp_path, specs, check=1)
    assert "Traceback" not in proc.stderr
    assert not os.path.exists(out)
    return proc.stderr


def test_unknown_targets_name_is_an_error_with_a_suggestion(tmp_path):
    err = _error_case(tmp_path, **{"targets: [us-targets]": "targets: [us-targest]"})
    assert "fleet.yml:48:17: no Targets document named 'us-targest' (did you mean 'us-targets'?)" in err


def test_a_cluster_without_the_cluster_label_is_an_error(tmp_path):
    err = _error_case(tmp_path, **{"{cluster: us, region: america}": "{region: america}"})
    assert "fleet.yml:47:24: cluster 'us' has no external label 'cluster'" in err


def test_two_clusters_under_one_label_value_is_an_error(tmp_path):
    err = _error_case(tmp_path, **{"{cluster: us, region: america}": "{cluster: eu, region: america}"})
    assert "cluster='eu' is already the label of cluster 'eu'" in err


def test_a_shard_label_of_ones_own_on_a_sharded_cluster_is_an_error(tmp_path):
    err = _error_case(tmp_path, **{"{cluster: us, region: america}": "{cluster: us, shard: a}"})
    assert "external label 'shard' is set by promspec on each shard" in err


def test_a_global_group_that_also_reads_raw_series_is_an_error(tmp_path):
    extra = """---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: mixed}
spec:
  alerts:
    - name: Mixed
      expr: slo:period_burn_rate:ratio > 0.5 and on() sum(rate(fleet_requests_total[5m])) > 1
      severity: ticket
"""
    with open(EXAMPLE, encoding="utf-8") as fh:
        specs = _spec(tmp_path, fh.read() + extra)
    _out, proc = _generate(tmp_path, specs, check=1)
    assert "rule group 'mixed' reads slo:period_burn_rate:ratio (recorded only at the global tier) and " in proc.stderr
    assert "fleet_requests_total (a scraped series that stays in its cluster)" in proc.stderr
    assert "global.send: all" in proc.stderr


def test_send_all_keeps_every_series_and_lets_a_mixed_group_run_globally(tmp_path):
    extra = """---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: mixed}
spec:
  alerts:
    - name: Mixed
      expr: slo:period_burn_rate:ratio > 0.5 and on() sum(rate(fleet_requests_total[5m])) > 1
      severity: ticket
"""
    with open(EXAMPLE, encoding="utf-8") as fh:
        text = fh.read().replace("per_cluster_alerts: true", "per_cluster_alerts: true\n    send: all")
    out, proc = _generate(tmp_path, _spec(tmp_path, text + extra))
    files = _files(out)
    # vmalert evaluates the rate() on VictoriaMetrics: MetricsQL's rate() does not extrapolate.
    assert (
        "fleet.yml:63:13: warning: rule group 'mixed' runs in vmalert on VictoriaMetrics, "
        "whose MetricsQL computes rate() " in proc.stderr
    )
    assert "write_relabel_configs" not in _yaml(files, "fleet/clusters/eu/prometheus.yml")["remote_write"][0]
    assert "mixed" in [g["name"] for g in _yaml(files, "fleet/global/vmalert/rules/fleet.yml")["groups"]]


def test_output_is_deterministic_and_nothing_without_a_topology(tmp_path):
    specs = _spec(tmp_path)
    out, _ = _generate(tmp_path, specs)
    first = _files(out)
    shutil.rmtree(out)
    out, _ = _generate(tmp_path, specs)
    assert _files(out) == first
    bare = tmp_path / "bare"
    bare.mkdir()
    with open(EXAMPLE, encoding="utf-8") as fh:
        text = fh.read()
    (bare / "fleet.yml").write_text(text[: text.index("---\napiVersion: promspec/v1\nkind: Topology")])
    out2 = tmp_path / "out2"
    promspec_in_process("generate", str(bare), "-o", str(out2), check=0)
    assert not os.path.exists(out2 / "fleet")


def test_diff_lists_files_per_cluster_and_global_and_groups_that_change_tier(tmp_path):
    from promspec.fleet.diff import compare_fleet

    base_dir = tmp_path / "a"
    base_dir.mkdir()
    out, _ = _generate(base_dir, _spec(base_dir))
    base = _files(out)
    extra = """---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: watch}
spec:
  alerts:
    - name: Watch
      expr: slo:period_burn_rate:ratio > 0.5
      severity: ticket
"""
    with open(EXAMPLE, encoding="utf-8") as fh:
        text = fh.read()
    head_dir = tmp_path / "b"
    head_dir.mkdir()
    out, _ = _generate(head_dir, _spec(head_dir, text.replace("      shards: 2\n", "") + extra))
    head = _files(out)
    messages = [(c.subject, c.change) for c in compare_fleet(base, head)]
    assert ("cluster us: fleet/clusters/us/prometheus.yml", "added") in messages
    assert ("cluster us: fleet/clusters/us/prometheus-shard-1.yml", "removed") in messages
    assert ("global (vmalert): fleet/global/vmalert/rules/fleet.yml", "changed") in messages
    moved = tmp_path / "c"
    moved.mkdir()
    out, _ = _generate(moved, _spec(moved, text + extra.replace("slo:period_burn_rate:ratio > 0.5", "up == 0")))
    changes = compare_fleet(head, _files(out))
    assert any(c.subject == "rule group watch" and c.after == "cluster eu, cluster us" for c in changes), changes


def test_sloth_conventions_slo_is_left_out_with_a_warning(tmp_path):
    specs = _spec(
        tmp_path, **{"metadata: {name: chat}\nspec:\n": "metadata: {name: chat}\nspec:\n  conventions: sloth\n"}
    )
    out, proc = _generate(tmp_path, specs)
    assert "keeps sloth conventions: fleet/ leaves it out" in proc.stderr
    assert "slo-" not in _files(out).get("fleet/global/vmalert/rules/fleet.yml", b"").decode()


def test_targets_in_two_clusters_is_an_error_and_in_none_a_warning(tmp_path):
    err = _error_case(tmp_path, **{"targets: [us-targets]": "targets: [us-targets, eu-targets]"})
    assert (
        "fleet.yml:48:29: Targets 'eu-targets' is already scraped by cluster 'eu': its events would count twice" in err
    )


def test_targets_in_no_cluster_is_a_warning(tmp_path):
    with open(EXAMPLE, encoding="utf-8") as fh:
        text = fh.read()
    extra = "---\napiVersion: promspec/v1\nkind: Targets\nmetadata: {name: lab}\nspec:\n  jobs:\n    - name: lab\n"
    extra += "      targets: ['10.9.0.1:8000']\n"
    _out, proc = _generate(tmp_path, _spec(tmp_path, text + extra))
    assert "Targets 'lab' belongs to no cluster of Topology 'gpu-fleet': fleet/ scrapes none of its jobs" in proc.stderr


VMAGENT = {"      shards: 2\n": "      shards: 2\n      scraper: vmagent\n      receiver: http://prometheus-us:9090/\n"}


def test_vmagent_members_split_the_targets_and_write_to_the_cluster_prometheus(tmp_path):
    """scraper: vmagent renders one vmagent.yml with the cluster's jobs, a flags file per member
    (-promscrape.cluster.membersCount/memberNum), and one Prometheus that scrapes nothing, runs the rules and
    forwards to the global tier; no hashmod, no shard label anywhere."""
    out, _ = _generate(tmp_path, _spec(tmp_path, **VMAGENT))
    files = _files(out)
    us = sorted(p for p in files if p.startswith("fleet/clusters/us/"))
    assert us == [
        "fleet/clusters/us/prometheus.yml",
        "fleet/clusters/us/rules/fleet.yml",
        "fleet/clusters/us/vmagent-0.args",
        "fleet/clusters/us/vmagent-1.args",
        "fleet/clusters/us/vmagent.yml",
    ]
    scrape = _yaml(files, "fleet/clusters/us/vmagent.yml")
    assert scrape == {
        "global": {"scrape_interval": "15s"},
        "scrape_configs": [
            {
                "job_name": "llm-us",
                "static_configs": [{"targets": ["10.2.0.11:8000", "10.2.0.12:8000", "10.2.0.13:8000"]}],
            }
        ],
    }
    for member in (0, 1):
        args = [
            line
            for line in files[f"fleet/clusters/us/vmagent-{member}.args"].decode().splitlines()
            if not line.startswith("#")
        ]
        assert args == [
            "-promscrape.config=vmagent.yml",
            "-remoteWrite.url=http://prometheus-us:9090/api/v1/write",
            "-promscrape.cluster.membersCount=2",
            f"-promscrape.cluster.memberNum={member}",
        ]
    receiver = _yaml(files, "fleet/clusters/us/prometheus.yml")
    assert receiver["scrape_configs"] == []
    assert receiver["global"]["external_labels"] == {"cluster": "us", "region": "america"}
    assert receiver["rule_files"] == ["rules/fleet.yml"]
    assert receiver["remote_write"][0]["url"] == "http://victoria-metrics:8428/api/v1/write"
    assert (
        b"--web.enable-remote-write-receiver at http://prometheus-us:9090" in files["fleet/clusters/us/prometheus.yml"]
    )
    assert b"hashmod" not in b"".join(files.values())
    # No Prometheus-sharded cluster is left: the global tier groups by cluster and region only.
    assert b"shard" not in files["fleet/global/vmalert/rules/fleet.yml"]


def test_one_vmagent_gets_no_cluster_flags(tmp_path):
    out, _ = _generate(
        tmp_path,
        _spec(tmp_path, **{"      shards: 2\n": "      scraper: vmagent\n      receiver: http://prometheus-us:9090\n"}),
    )
    files = _files(out)
    assert "fleet/clusters/us/vmagent-0.args" not in files
    assert b"promscrape.cluster" not in files["fleet/clusters/us/vmagent.args"]


def test_vmagent_without_a_receiver_is_an_error_at_the_scraper(tmp_path):
    err = _error_case(tmp_path, **{"      shards: 2\n": "      shards: 2\n      scraper: vmagent\n"})
    assert "fleet.yml:50:16: cluster 'us' is scraped by vmagent but names no receiver" in err


def test_a_receiver_without_vmagent_is_an_error(tmp_path):
    err = _error_case(tmp_path, **{"      shards: 2\n": "      shards: 2\n      receiver: http://p:9090\n"})
    assert "fleet.yml:50:7: cluster 'us' has a receiver but its scraper is prometheus" in err
