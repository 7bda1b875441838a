"""Topology -> fleet/ files: per-cluster Prometheus configs and rules, the global ruler's files and flags.

fleet/clusters/<cluster>/prometheus.yml (or prometheus-shard-<i>.yml), rules/<spec>.yml, targets/<job>.json;
fleet/global/vmalert/ (rules/<spec>.yml, vmalert.args), fleet/global/mimir/<namespace>.yml (mimirtool),
fleet/global/thanos/ (rules/<spec>.yml, thanos-rule.args): only the declared backend's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..compile.build import Build
from ..compile.rules import group_dict, rule_file_name
from ..compile.scrape import file_sd_files, prometheus_config, scrape_config
from ..diagnostics import Report
from ..model.project import Project, RelabelRule, RuleGroup, ScrapeJob
from ..render.yamlout import dump_json, dump_yaml, header
from .compile import Split, sent_regex, split_rules
from .model import SHARD_LABEL, Cluster, GlobalTier, Topology

ROOT = "fleet"


def _source(group: RuleGroup) -> str:
    return group.ref.doc.source or group.ref.file


def _rule_files(groups: tuple[RuleGroup, ...]) -> dict[str, tuple[str, dict[str, Any]]]:
    """rules/<spec>.yml -> (source, content), as rules/ lays them out for one Prometheus."""
    files: dict[str, tuple[str, dict[str, Any]]] = {}
    for group in groups:
        source = _source(group)
        files.setdefault(rule_file_name(source), (source, {"groups": []}))[1]["groups"].append(group_dict(group))
    return dict(sorted(files.items()))


def remote_write(tier: GlobalTier, sent: tuple[str, ...]) -> dict[str, Any]:
    """The remote_write entry of every cluster Prometheus: the store's write endpoint, its tenant header."""
    if tier.backend == "victoriametrics":
        url = f"{tier.url}/insert/{tier.tenant}/prometheus/api/v1/write" if tier.tenant else f"{tier.url}/api/v1/write"
        entry: dict[str, Any] = {"name": "promspec-global", "url": url}
    elif tier.backend == "mimir":
        entry = {"name": "promspec-global", "url": f"{tier.url}/api/v1/push"}
        if tier.tenant:
            entry["headers"] = {"X-Scope-OrgID": tier.tenant}
    else:  # thanos: Thanos Receive
        entry = {"name": "promspec-global", "url": f"{tier.url}/api/v1/receive"}
        if tier.tenant:
            entry["headers"] = {"THANOS-TENANT": tier.tenant}
    if tier.send == "recorded":
        # Raw, high-cardinality series stay in their cluster; only what the cluster's rules record leaves it.
        keep = {"source_labels": ["__name__"], "regex": sent_regex(sent) or "^$", "action": "keep"}
        entry["write_relabel_configs"] = [keep]
    return entry


def _sharded(job: ScrapeJob, shard: int, shards: int) -> ScrapeJob:
    """The job as shard `shard` of `shards` scrapes it: Prometheus' hashmod over the target address."""
    hashmod: list[RelabelRule] = [
        {
            "source_labels": ["__address__"],
            "modulus": shards,
            "target_label": "__tmp_promspec_shard",
            "action": "hashmod",
        },
        {"source_labels": ["__tmp_promspec_shard"], "regex": str(shard), "action": "keep"},
    ]
    return replace(job, relabel=[*hashmod, *job.relabel])


def _cluster_configs(project: Project, topology: Topology, cluster: Cluster, split: Split) -> dict[str, dict[str, Any]]:
    rule_paths = list(_rule_files(split.cluster_groups))
    settings = project.settings
    labels = {**settings.external_labels, **cluster.external_labels}
    out = {}
    # vmagent members scrape; the one Prometheus they write to only receives, records and forwards.
    servers = 1 if cluster.scraper == "vmagent" else cluster.shards
    for shard in range(servers):
        jobs = [] if cluster.scraper == "vmagent" else list(cluster.jobs)
        shard_labels = dict(labels)
        if cluster.hashmod_shards:
            jobs = [_sharded(j, shard, cluster.shards) for j in jobs]
            shard_labels[SHARD_LABEL] = str(shard)
        view = replace(project, jobs=jobs, settings=replace(settings, external_labels=shard_labels))
        config = prometheus_config(view, rule_paths)
        config["remote_write"] = [remote_write(topology.global_tier, split.sent), *config.get("remote_write", [])]
        # prometheus_config puts remote_write before rule_files; keep that order for a reader.
        ordered: dict[str, Any] = {k: config[k] for k in ("global", "alerting") if k in config}
        ordered["remote_write"] = config["remote_write"]
        ordered.update({k: v for k, v in config.items() if k not in ordered})
        name = "prometheus.yml" if servers == 1 else f"prometheus-shard-{shard}.yml"
        out[name] = ordered
    return out


def _vmagent_files(project: Project, cluster: Cluster, sources: list[str]) -> dict[str, bytes]:
    """vmagent.yml (the cluster's jobs, the same scrape configs a Prometheus gets) and one flags file per
    member: -promscrape.cluster.* splits the targets, every member writes to the cluster's Prometheus."""
    settings = project.settings
    scrape_global = {"scrape_interval": settings.scrape_interval}
    if settings.scrape_timeout:
        scrape_global["scrape_timeout"] = settings.scrape_timeout
    config = {"global": scrape_global, "scrape_configs": [scrape_config(j) for j in cluster.jobs]}
    files = {
        "vmagent.yml": dump_yaml(
            config,
            header(sources, (f"vmagent scrape config of cluster {cluster.name}: see its vmagent*.args.",)),
        )
    }
    base = ["-promscrape.config=vmagent.yml", f"-remoteWrite.url={cluster.receiver}/api/v1/write"]
    if cluster.shards == 1:
        files["vmagent.args"] = _args_file(base, sources, (_VMAGENT_USAGE,))
        return files
    for member in range(cluster.shards):
        members = [
            f"-promscrape.cluster.membersCount={cluster.shards}",
            f"-promscrape.cluster.memberNum={member}",
        ]
        files[f"vmagent-{member}.args"] = _args_file([*base, *members], sources, (_VMAGENT_USAGE,))
    return files


_VMAGENT_USAGE = "vmagent flags, one per line, run from this directory: vmagent $(grep -v '^#' <this file>)"


def _args_file(lines: list[str], source: str | list[str], extra: tuple[str, ...]) -> bytes:
    return (header(source, extra) + "".join(line + "\n" for line in lines)).encode("utf-8")


def _global_files(project: Project, topology: Topology, split: Split) -> dict[str, bytes]:
    tier = topology.global_tier
    source = topology.ref.doc.source or topology.ref.file
    rules = _rule_files(split.global_groups)
    notifiers = [f"http://{am}" for am in tier.alertmanagers]
    interval = project.settings.evaluation_interval
    files: dict[str, bytes] = {}
    if tier.backend == "mimir":
        groups = [g for _src, content in rules.values() for g in content["groups"]]
        sources = sorted({src for src, _c in rules.values()}) or [source]
        load = f"mimirtool rules load --address={tier.url}" + (f" --id={tier.tenant}" if tier.tenant else "")
        files[f"{ROOT}/global/mimir/{tier.namespace}.yml"] = dump_yaml(
            {"namespace": tier.namespace, "groups": groups},
            header(sources, (f"Load into the Mimir ruler: {load} {tier.namespace}.yml",)),
        )
        return files
    base = "vmalert" if tier.backend == "victoriametrics" else "thanos"
    for path, (src, content) in rules.items():
        files[f"{ROOT}/global/{base}/{path}"] = dump_yaml(content, header(src))
    if tier.backend == "victoriametrics":
        select = f"{tier.query_url}/select/{tier.tenant}/prometheus" if tier.tenant else tier.query_url
        write = f"{tier.url}/insert/{tier.tenant}/prometheus" if tier.tenant else tier.url
        lines = [
            "-rule=rules/*.yml",
            f"-datasource.url={select}",
            f"-remoteRead.url={select}",  # restores alert state after a restart
            f"-remoteWrite.url={write}",  # recording results and ALERTS go back to the store
            f"-evaluationInterval={interval}",
            *(f"-notifier.url={n}" for n in notifiers),
        ]
        files[f"{ROOT}/global/vmalert/vmalert.args"] = _args_file(
            lines, source, ("vmalert flags, one per line: vmalert $(grep -v '^#' vmalert.args)",)
        )
    else:
        lines = [
            "--rule-file=rules/*.yml",
            f"--query={tier.query_url}",
            f"--eval-interval={interval}",
            # Thanos Ruler adds its labels to every series it records: one that is not the cluster label,
            # so the fleet selectors ({cluster=""}) keep matching.
            '--label=promspec_tier="global"',
            *(f"--alertmanagers.url={n}" for n in notifiers),
        ]
        files[f"{ROOT}/global/thanos/thanos-rule.args"] = _args_file(
            lines, source, ("thanos rule flags, one per line: thanos rule $(grep -v '^#' thanos-rule.args)",)
        )
    return files


def _own_groups(build: Build) -> list[RuleGroup]:
    """The rule groups fleet/ places itself: the spec's and the probes'; SLOs are split by fleet/compile.py."""
    return [*build.spec_groups, *build.probe_groups]


def render_fleet(build: Build) -> dict[str, bytes]:
    """Every fleet/ file; nothing without a Topology."""
    project = build.project
    topology = project.topology
    if topology is None:
        return {}
    split = split_rules(project, topology, _own_groups(build))
    source = topology.ref.doc.source or topology.ref.file
    files: dict[str, bytes] = {}
    cluster_rules = _rule_files(split.cluster_groups)
    for cluster in topology.clusters:
        base = f"{ROOT}/clusters/{cluster.name}"
        sources = sorted({source, *(j.ref.doc.source or j.ref.file for j in cluster.jobs)})
        for name, config in _cluster_configs(project, topology, cluster, split).items():
            extra: tuple[str, ...] = (
                f"Cluster {cluster.name} of topology {topology.name}: its jobs, external labels and remote_write "
                f"to the global tier ({topology.global_tier.backend}).",
            )
            if cluster.scraper == "vmagent":
                extra += (
                    f"It scrapes nothing: run it with --web.enable-remote-write-receiver at {cluster.receiver}, "
                    "where the cluster's vmagents write.",
                )
            files[f"{base}/{name}"] = dump_yaml(config, header(sources, extra))
        if cluster.scraper == "vmagent":
            for name, scraping in _vmagent_files(project, cluster, sources).items():
                files[f"{base}/{name}"] = scraping
        for path, (src, content) in cluster_rules.items():
            files[f"{base}/{path}"] = dump_yaml(content, header(src))
        view = replace(project, jobs=list(cluster.jobs))
        for path, groups in file_sd_files(view).items():
            files[f"{base}/{path.removeprefix('prometheus/')}"] = dump_json(groups)
    files.update(_global_files(project, topology, split))
    return dict(sorted(files.items()))


def check_topology(build: Build, report: Report) -> None:
    """Topology problems at their positions: targets that do not resolve, labels, rules that cannot be split."""
    project = build.project
    topology = project.topology  # built (and its own problems reported) with the model
    if topology is None:
        return
    for service in project.services:
        for slo in service.slos:
            if slo.conventions != "promspec":
                report.warn(
                    slo.ref.pos(),
                    f"SLO {slo.name} of {service.name} keeps {slo.conventions} conventions: fleet/ leaves it out "
                    "(its rules read raw series in every window and cannot be summed across clusters)",
                    slo.ref.dotted(),
                    "conventions: promspec to split it across the fleet",
                )
    split = split_rules(project, topology, _own_groups(build), report)
    if topology.global_tier.backend == "victoriametrics":
        from .compile import metricsql_differences

        for group in split.own_global:
            for rule in group.rules:
                for note in metricsql_differences(rule.expr):
                    report.warn(
                        rule.ref.pos("expr"),
                        f"rule group {group.name!r} runs in vmalert on VictoriaMetrics, whose MetricsQL computes "
                        f"{note}: its values differ slightly from Prometheus'",
                        rule.ref.dotted("expr"),
                        "a rule over recorded series in the global tier, or the rate taken in the clusters",
                    )
