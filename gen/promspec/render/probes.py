"""blackbox/blackbox.yml and the probe alerts' promtool tests (rules/tests/<spec>-probes.test.yml)."""

from __future__ import annotations

from ..spec.model import Project, parse_duration
from .yamlout import dump_yaml, header


def render_probes(project: Project) -> dict[str, bytes]:
    """Nothing when the project has no Probe documents, so other projects' output is unchanged."""
    if not project.probes:
        return {}
    from ..compile.probes import alert_tests, blackbox_config
    from ..compile.rules import rule_file_name

    sources = sorted({p.ref.doc.source or p.ref.file for p in project.probes})
    extra = ("Run one blackbox_exporter per location with --config.file=blackbox.yml.",)
    files = {"blackbox/blackbox.yml": dump_yaml(blackbox_config(project.probes), header(sources, extra))}
    step = parse_duration(project.settings.evaluation_interval)
    by_file: dict[str, tuple[str, list]] = {}
    for probe in project.probes:
        source = probe.ref.doc.source or probe.ref.file
        by_file.setdefault(rule_file_name(source), (source, []))[1].extend(alert_tests(probe, step))
    for rule_path, (source, tests) in sorted(by_file.items()):
        if not tests:
            continue
        stem = rule_path[len("rules/") : -len(".yml")]
        content = {
            "rule_files": [f"../{stem}.yml"],
            "evaluation_interval": project.settings.evaluation_interval,
            "tests": tests,
        }
        files[f"rules/tests/{stem}-probes.test.yml"] = dump_yaml(content, header(source))
    return files
