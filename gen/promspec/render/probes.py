"""blackbox/blackbox.yml and the probe alerts' promtool tests (rules/tests/<spec>-probes.test.yml)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..compile.promql import parse_duration
from .yamlout import dump_yaml, header

if TYPE_CHECKING:
    from ..compile.build import Build
    from ..compile.probes import AlertTestGroup


def render_blackbox(build: Build) -> dict[str, bytes]:
    """blackbox/blackbox.yml; nothing when the project has no Probe documents, so other projects' output
    is unchanged."""
    probes = build.project.probes
    if not probes:
        return {}
    from ..compile.probes import blackbox_config

    sources = sorted({p.ref.doc.source or p.ref.file for p in probes})
    extra = ("Run one blackbox_exporter per location with --config.file=blackbox.yml.",)
    return {"blackbox/blackbox.yml": dump_yaml(blackbox_config(probes), header(sources, extra))}


def render_probe_tests(build: Build) -> dict[str, bytes]:
    """rules/tests/<spec>-probes.test.yml: promtool tests of the probe alerts of each spec file."""
    project = build.project
    if not project.probes:
        return {}
    from ..compile.probes import alert_tests
    from ..compile.rules import rule_file_name

    files = {}
    step = parse_duration(project.settings.evaluation_interval)
    by_file: dict[str, tuple[str, list[AlertTestGroup]]] = {}
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
