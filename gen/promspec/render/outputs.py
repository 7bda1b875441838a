"""The whole output tree of a Build as bytes, keyed by relative path (no filesystem access).

OUTPUTS is the one table of what `generate` writes: each entry names the top-level directory it writes
under and the function that renders it from the Build. A new output is one line there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import TypeVar

from ..compile.build import Build, SLORules, compile_build
from ..compile.rules import RuleFile, rule_file_name
from ..compile.scrape import file_sd_files, prometheus_config
from ..compile.slo_tests import INJECTED, rules_under_test
from ..fleet.render import ROOT as FLEET_ROOT
from ..fleet.render import render_fleet
from ..model.project import Project
from .dashboards import render_dashboard_files, render_dashboards, render_provisioning
from .ops_outputs import render_alert_tests, render_alertmanager, render_kubernetes
from .probes import render_blackbox, render_probe_tests
from .slo_rule_text import rule_file_text
from .slo_test_text import slo_test_texts
from .yamlout import dump_json, dump_yaml, header, shaped

T = TypeVar("T")


def _slos_by_rule_file(slo_rules: list[SLORules]) -> dict[str, list[SLORules]]:
    """The SLOs of each rule file (rules/<spec>.yml), in build order."""
    by_file: dict[str, list[SLORules]] = {}
    for rules in slo_rules:
        by_file.setdefault(rule_file_name(rules.slo.ref.doc.source or rules.slo.ref.file), []).append(rules)
    return by_file


def _groups_at(names: list[str]) -> dict[str, list[int]]:
    """Where each group name is in a rule file's groups (RuleFile.group_names): one pass per file, not one
    per SLO (a file of many services would otherwise cost SLOs x groups)."""
    at: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        at.setdefault(name, []).append(i)
    return at


def _tested(slos: list[SLORules]) -> list[SLORules]:
    # Foreign conventions read the raw SLI queries; tests/test_import_sloth.py covers them.
    return [rules for rules in slos if rules.slo.conventions == "promspec"]


def _own_at(rules: SLORules, at: dict[str, list[int]]) -> list[int]:
    """Where the groups of one SLO are in its rule file, in rule file order."""
    return sorted(i for name in {g.name for g in rules.groups} for i in at.get(name, []))


def render_rules(build: Build) -> dict[str, bytes]:
    """rules/*.yml, one per spec file that declares rule groups, and rules/tests/<spec>-slo-<slo id>.rules.yml,
    a copy of one SLO's groups alone (without INJECTED) that its promtool tests (render_slo_tests) load."""
    by_file = _slos_by_rule_file(build.slo_rules)
    files = {}
    for path, rule_file in build.rule_files.items():
        slos = by_file.get(path, [])
        # Every SLO's groups are one of a few SLO shapes up to its names: written once per shape.
        fast = rule_file_text(rule_file, slos)
        text, copies = (fast.text, fast.copies) if fast is not None else _dumped(rule_file, slos)
        files[path] = (header(rule_file.source) + text).encode("utf-8")
        stem = path[len("rules/") : -len(".yml")]
        for rules, copy in copies:
            slo = rules.slo
            head = header(
                rule_file.source,
                (
                    f"The rule groups of SLO {slo.id}, as in rules/{stem}.yml, for its unit tests "
                    f"alone, without {' and '.join(INJECTED)}: the tests inject those. "
                    "Prometheus does not load this file.",
                ),
            )
            files[f"rules/tests/{stem}-slo-{slo.id}.rules.yml"] = (head + copy).encode("utf-8")
    return files


def _dumped(rule_file: RuleFile, slos: list[SLORules]) -> tuple[str, list[tuple[SLORules, str]]]:
    """The text of a rule file whose layout rule_file_text does not read, and of its SLOs' copies."""
    # A rule file's groups repeat a few shapes (every SLO's groups, up to its names): written per shape.
    written = shaped(rule_file.content)
    rendered = rule_file.content["groups"]
    at = _groups_at(rule_file.group_names)
    copies = []
    for rules in _tested(slos):
        copy = rules_under_test({"groups": [rendered[i] for i in _own_at(rules, at)]}, [rules.slo])
        # The copy's groups are the rule file's own objects, but for the one rules_under_test changes:
        # their texts are the rule file's (written just now, from these very objects).
        copies.append((rules, shaped(copy, written.lists.get("groups")).text))
    return written.text, copies


def render_prometheus(build: Build) -> dict[str, bytes]:
    """prometheus/prometheus.yml and the file_sd target files."""
    project = build.project
    sources = {j.ref.doc.source or j.ref.file for j in project.jobs}
    if project.settings.ref is not None:
        sources.add(project.settings.ref.doc.source or project.settings.ref.file)
    config = prometheus_config(project, [f"../{p}" for p in build.rule_files])
    extra = (f"Start Prometheus with --storage.tsdb.retention.time={project.settings.retention}",)
    files = {"prometheus/prometheus.yml": dump_yaml(config, header(sorted(sources) or ["defaults"], extra))}
    for path, groups in file_sd_files(project).items():
        files[path] = dump_json(groups)
    return files


def render_slo_tests(build: Build) -> dict[str, bytes]:
    """rules/tests/<spec>-slo-<slo id>-<tier>.test.yml: promtool unit tests for every SLO alert of a spec
    file, each loading rules/tests/<spec>-slo-<slo id>.rules.yml (render_rules), that SLO's groups alone."""
    files = {}
    for rule_path, slos in sorted(_slos_by_rule_file(build.slo_rules).items()):
        stem = rule_path[len("rules/") : -len(".yml")]
        rule_file = build.rule_files[rule_path]
        # The group names alone: the rule file's content is made by whichever worker renders the file.
        names = rule_file.group_names
        at = _groups_at(names)
        head = header(rule_file.source)
        for rules in _tested(slos):
            name = f"{stem}-slo-{rules.slo.id}"
            order = [names[i] for i in _own_at(rules, at)]
            for tier, text in slo_test_texts(f"{name}.rules.yml", rules.slo, order).items():
                files[f"rules/tests/{name}-{tier}.test.yml"] = (head + text).encode("utf-8")
    return files


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _rule_parts(build: Build) -> list[Build]:
    """render_rules by slices of the rule files: each file and its SLOs' copies are rendered from its own
    groups and SLOs alone."""
    by_file = _slos_by_rule_file(build.slo_rules)
    return [
        replace(build, rule_files=dict(part), slo_rules=[rules for path, _f in part for rules in by_file.get(path, [])])
        for part in _chunks(list(build.rule_files.items()), PART_SIZE)
    ]


def _slo_test_parts(build: Build) -> list[Build]:
    """render_slo_tests by slices of the SLOs: an SLO's files read its own groups and its rule file only."""
    return [replace(build, slo_rules=part) for part in _chunks(build.slo_rules, PART_SIZE)]


def _dashboard_parts(build: Build) -> list[Build]:
    """render_dashboards by slices of the dashboards (render_dashboard_files), then the whole Build for the
    provisioning file, which lists them all (render_provisioning: their models and paths, not their JSON)."""
    slices = _chunks(build.dashboards.dashboards, PART_SIZE)
    return [*(replace(build, dashboards=replace(build.dashboards, dashboards=part)) for part in slices), build]


@dataclass(frozen=True, kw_only=True)
class Output:
    """One output of `generate`: the top-level directory it writes under and how it is rendered.

    split, for the outputs that grow with the project: the Build cut into pieces whose renders (render_part
    for every piece but the last, render_last for the last) are disjoint and together are exactly render's
    files. generate renders and writes one piece at a time, in worker processes on large projects, so no
    process holds every file's bytes; tests/test_generate_parallel.py checks the union against render.
    """

    root: str
    render: Callable[[Build], dict[str, bytes]]
    split: Callable[[Build], list[Build]] | None = None
    render_part: Callable[[Build], dict[str, bytes]] | None = None  # default: render
    render_last: Callable[[Build], dict[str, bytes]] | None = None  # default: render_part


# Every output, in the order it renders. The directories promspec owns under the output directory are
# these roots (only the files listed in each one's .promspec-manifest are ever replaced).
OUTPUTS: list[Output] = [
    Output(root="rules", render=render_rules, split=_rule_parts),
    Output(root="prometheus", render=render_prometheus),
    Output(root="rules", render=render_slo_tests, split=_slo_test_parts),
    Output(
        root="dashboards",
        render=render_dashboards,
        split=_dashboard_parts,
        render_part=render_dashboard_files,
        render_last=render_provisioning,
    ),
    Output(root="rules", render=render_alert_tests),
    Output(root="alertmanager", render=render_alertmanager),
    Output(root="kubernetes", render=render_kubernetes),
    Output(root="blackbox", render=render_blackbox),
    Output(root="rules", render=render_probe_tests),
    # fleet/clusters/<name>/ and fleet/global/<ruler>/ from a Topology (gen/promspec/fleet/)
    Output(root=FLEET_ROOT, render=render_fleet),
]
ROOTS: list[str] = list(dict.fromkeys(o.root for o in OUTPUTS))
# Items (rule files, SLOs, dashboards) per piece: small enough that a piece's bytes are a few MB, large
# enough that handing pieces to workers costs nothing next to rendering them.
PART_SIZE = 64


@dataclass(frozen=True, kw_only=True)
class Part:
    """One piece of one output, rendered on its own (in whichever process renders it)."""

    root: str
    name: str  # the renderer, for the error when a piece renders outside its root
    build: Build
    render: Callable[[Build], dict[str, bytes]]

    def files(self) -> dict[str, bytes]:
        rendered = self.render(self.build)
        stray = [p for p in rendered if p.split("/", 1)[0] != self.root]
        if stray:  # a renderer writing outside its directory would escape that directory's manifest
            raise AssertionError(f"{self.name} renders {stray[0]} outside {self.root}/")
        return rendered


def render_parts(build: Build) -> list[Part]:
    """Every output's pieces, in OUTPUTS order; rendering them all gives render_build's files."""
    parts = []
    for output in OUTPUTS:
        name = output.render.__name__
        if output.split is None:
            parts.append(Part(root=output.root, name=name, build=build, render=output.render))
            continue
        pieces = output.split(build)
        part = output.render_part or output.render
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1 and output.render_last is not None
            render = output.render_last if last and output.render_last is not None else part
            parts.append(Part(root=output.root, name=name, build=piece, render=render))
    return parts


def render_build(build: Build) -> dict[str, bytes]:
    """Every generated file of the build, sorted by path."""
    files: dict[str, bytes] = {}
    for output in OUTPUTS:
        rendered = Part(root=output.root, name=output.render.__name__, build=build, render=output.render).files()
        files.update(rendered)
    return dict(sorted(files.items()))


def render_project(project: Project) -> dict[str, bytes]:
    """Every generated file of a checked project (compiled here; load_build's Build saves compiling twice)."""
    return render_build(compile_build(project))


def nothing_useful(build: Build, files: Collection[str]) -> str:
    """Why this output would monitor nothing ('' when it does something): no rule, SLO, dashboard, scrape job
    or Alertmanager config. A `generate` that exits 0 with that output would look like success.
    """
    project = build.project
    if any(group.rules for group in build.rule_groups) or project.jobs:
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
