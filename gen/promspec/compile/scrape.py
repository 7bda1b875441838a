"""Model -> prometheus.yml and file_sd target files."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from ..model.project import Labels, Project, RelabelRule, ScrapeJob

# Output documents (prometheus.yml and its parts) are plain YAML data: their key order is the output's.
Config = dict[str, Any]


class StaticTargets(TypedDict):
    """One static_configs entry, or one group of a file_sd targets file."""

    targets: list[str]
    labels: NotRequired[Labels]


PORT_STRIP: RelabelRule = {
    "source_labels": ["__address__"],
    "regex": r"(.+?)(?::\d+)?",
    "target_label": "instance",
    "replacement": "$1",
}


def _target_groups(job: ScrapeJob) -> list[StaticTargets]:
    out: list[StaticTargets] = []
    for group in job.target_groups:
        item: StaticTargets = {"targets": list(group.targets)}
        if group.labels:
            item["labels"] = dict(group.labels)
        out.append(item)
    return out


def scrape_config(job: ScrapeJob) -> Config:
    """One scrape_configs entry."""
    out: Config = {"job_name": job.name}
    for key, value in (
        ("scrape_interval", job.interval),
        ("scrape_timeout", job.timeout),
        ("metrics_path", job.metrics_path),
        ("scheme", job.scheme),
    ):
        if value:
            out[key] = value
    if job.honor_labels is not None:
        out["honor_labels"] = job.honor_labels
    if job.params:
        out["params"] = {k: list(v) for k, v in job.params.items()}
    if job.sample_limit is not None:
        out["sample_limit"] = job.sample_limit
    if job.file_sd:
        sd: Config = {"files": [f"targets/{job.name}.json"]}
        if job.file_sd_refresh:
            sd["refresh_interval"] = job.file_sd_refresh
        out["file_sd_configs"] = [sd]
    else:
        out["static_configs"] = _target_groups(job)
    relabel = ([PORT_STRIP] if job.strip_port else []) + [dict(r) for r in job.relabel]
    if relabel:
        out["relabel_configs"] = relabel
    if job.metric_relabel:
        out["metric_relabel_configs"] = [dict(r) for r in job.metric_relabel]
    return out


def prometheus_config(project: Project, rule_paths: list[str]) -> Config:
    """The whole prometheus.yml; rule_paths are relative to the config file."""
    s = project.settings
    glob: Config = {"scrape_interval": s.scrape_interval}
    if s.scrape_timeout:
        glob["scrape_timeout"] = s.scrape_timeout
    glob["evaluation_interval"] = s.evaluation_interval
    if s.external_labels:
        glob["external_labels"] = dict(s.external_labels)
    out: Config = {"global": glob}
    if s.alertmanagers:
        out["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(s.alertmanagers)}]}]}
    if s.remote_write:  # a Prometheus per cluster feeding a central store (compile/remote_write.py)
        from .remote_write import remote_write_configs

        out["remote_write"] = remote_write_configs(s.remote_write)
    out["rule_files"] = list(rule_paths)
    out["scrape_configs"] = [scrape_config(j) for j in project.jobs]
    return out


def file_sd_files(project: Project) -> dict[str, list[StaticTargets]]:
    """prometheus/targets/<job>.json contents for jobs that use file_sd."""
    return {f"prometheus/targets/{j.name}.json": _target_groups(j) for j in project.jobs if j.file_sd}
