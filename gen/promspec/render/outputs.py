"""The whole output tree of a project as bytes, keyed by relative path (no filesystem access)."""

from __future__ import annotations

from ..compile.rules import rule_files
from ..compile.scrape import file_sd_files, prometheus_config
from ..spec.model import Project
from .yamlout import dump_json, dump_yaml, header

# Directories promspec owns under the output directory: replaced whole on every generate.
ROOTS = ("rules", "prometheus")


def render_project(project: Project) -> dict[str, bytes]:
    """Every generated file of the project."""
    files: dict[str, bytes] = {}
    rules = rule_files(project)
    for path, (source, content) in rules.items():
        files[path] = dump_yaml(content, header(source))
    sources = sorted({j.ref.doc.source or j.ref.file for j in project.jobs})
    if project.settings.ref is not None:
        sources = sorted(set(sources) | {project.settings.ref.doc.source or project.settings.ref.file})
    config = prometheus_config(project, [f"../{p}" for p in rules])
    extra = (f"Start Prometheus with --storage.tsdb.retention.time={project.settings.retention}",)
    files["prometheus/prometheus.yml"] = dump_yaml(config, header(sources or ["defaults"], extra))
    for path, groups in file_sd_files(project).items():
        files[path] = dump_json(groups)
    return files
