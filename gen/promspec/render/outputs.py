"""The whole output tree of a project as bytes, keyed by relative path (no filesystem access)."""

from __future__ import annotations

from collections.abc import Callable

from ..compile.rules import rule_files
from ..compile.scrape import file_sd_files, prometheus_config
from ..spec.model import Project
from .yamlout import dump_json, dump_yaml, header

# Directories promspec owns under the output directory: replaced whole on every generate.
# A feature that writes a new top-level directory adds it here.
ROOTS = ["rules", "prometheus"]


def render_rules(project: Project) -> dict[str, bytes]:
    """rules/*.yml, one per spec file that declares rule groups."""
    return {path: dump_yaml(content, header(source)) for path, (source, content) in rule_files(project).items()}


def render_prometheus(project: Project) -> dict[str, bytes]:
    """prometheus/prometheus.yml and the file_sd target files."""
    rules = rule_files(project)
    sources = {j.ref.doc.source or j.ref.file for j in project.jobs}
    if project.settings.ref is not None:
        sources.add(project.settings.ref.doc.source or project.settings.ref.file)
    config = prometheus_config(project, [f"../{p}" for p in rules])
    extra = (f"Start Prometheus with --storage.tsdb.retention.time={project.settings.retention}",)
    files = {"prometheus/prometheus.yml": dump_yaml(config, header(sorted(sources) or ["defaults"], extra))}
    for path, groups in file_sd_files(project).items():
        files[path] = dump_json(groups)
    return files


def render_slo_tests(project: Project) -> dict[str, bytes]:
    """rules/tests/<spec>-slo-<slo id>-<tier>.test.yml: promtool unit tests for every SLO alert of a spec
    file, each loading rules/tests/<spec>-slo-<slo id>.rules.yml, a copy of that SLO's groups alone."""
    from ..compile.rules import rule_file_name
    from ..compile.slo import slo_groups
    from ..compile.slo_tests import INJECTED, rules_under_test, slo_test_files

    rules = rule_files(project)
    by_file: dict[str, tuple[str, list]] = {}
    for service in project.services:
        for slo in service.slos:
            source = slo.ref.doc.source or slo.ref.file
            by_file.setdefault(rule_file_name(source), (source, []))[1].append(slo)
    files = {}
    for rule_path, (source, slos) in sorted(by_file.items()):
        stem = rule_path[len("rules/") : -len(".yml")]
        rendered = rules[rule_path][1]["groups"]
        for slo in slos:
            if slo.conventions != "promspec":
                continue  # foreign conventions read the raw SLI queries; tests/test_import_sloth.py covers them
            own = {g.name for g in slo_groups(slo)}
            groups = [g for g in rendered if g["name"] in own]
            name = f"{stem}-slo-{slo.id}"
            files[f"rules/tests/{name}.rules.yml"] = dump_yaml(
                rules_under_test({"groups": groups}, [slo]),
                header(
                    source,
                    (
                        f"The rule groups of SLO {slo.id}, as in rules/{stem}.yml, for its unit tests "
                        f"alone, without {' and '.join(INJECTED)}: the tests inject those. "
                        "Prometheus does not load this file.",
                    ),
                ),
            )
            for tier, content in slo_test_files(f"{name}.rules.yml", slo, [g["name"] for g in groups]).items():
                files[f"rules/tests/{name}-{tier}.test.yml"] = dump_yaml(content, header(source))
    return files


# Every renderer maps the project to {relative path: bytes}; features append theirs.
RENDERERS: list[Callable[[Project], dict[str, bytes]]] = [render_rules, render_prometheus, render_slo_tests]

# Grafana dashboards (gen/promspec/render/dashboards.py): dashboards/<folder>/<uid>.json and provisioning.yml.
from .dashboards import render_dashboards  # noqa: E402

ROOTS.append("dashboards")
RENDERERS.append(render_dashboards)

# Alert-kind unit tests, alertmanager/alertmanager.yml and kubernetes/ (gen/promspec/render/ops_outputs.py).
from .ops_outputs import OPS_RENDERERS, OPS_ROOTS  # noqa: E402

ROOTS.extend(OPS_ROOTS)
RENDERERS.extend(OPS_RENDERERS)


def render_project(project: Project) -> dict[str, bytes]:
    """Every generated file of the project."""
    files: dict[str, bytes] = {}
    for render in RENDERERS:
        files.update(render(project))
    return dict(sorted(files.items()))


# Synthetic probes (gen/promspec/render/probes.py): blackbox/blackbox.yml and the probe alerts' tests.
from .probes import render_probes  # noqa: E402

ROOTS.append("blackbox")
RENDERERS.append(render_probes)

# --- fleet (issue 16): fleet/clusters/<name>/ and fleet/global/<ruler>/ from a Topology (gen/promspec/fleet/).
from ..fleet.render import ROOT as FLEET_ROOT  # noqa: E402
from ..fleet.render import render_fleet  # noqa: E402

ROOTS.append(FLEET_ROOT)
RENDERERS.append(render_fleet)


def nothing_useful(project: Project, files: dict[str, bytes]) -> str:
    """Why this output would monitor nothing ('' when it does something): no rule, SLO, dashboard, scrape job
    or Alertmanager config. A `generate` that exits 0 with that output would look like success.
    """
    if any(group.rules for group in project.groups) or project.jobs:
        return ""
    if any(p.startswith("dashboards/") and p.endswith(".json") for p in files):
        return ""
    if any(p.startswith(("alertmanager/", "kubernetes/", "blackbox/")) for p in files):
        return ""
    n = len(project.documents)
    return (
        f"the specs ({n} document{'s' if n != 1 else ''}) define no rule, SLO, dashboard, scrape job or "
        "notification: the output would monitor nothing"
    )
