"""The typed Build, the output table and the check tables, on records built in Python: no YAML, no subprocess."""

from __future__ import annotations

import yaml

from promspec.compile.build import Build
from promspec.compile.dashboards.plan import Context
from promspec.compile.dashboards.project import DashboardBuild
from promspec.compile.rules import rule_files
from promspec.model.loader import Document
from promspec.model.project import Alert, Project, RecordingRule, Ref, RuleGroup
from promspec.pipeline import MODEL_CHECKS, OUTPUT_CHECKS
from promspec.render.outputs import OUTPUTS, ROOTS, nothing_useful, render_build


def _ref(source: str) -> Ref:
    return Ref(doc=Document(file=source, index=0, data={}, source=source), path=("spec",))


def _group(name: str, source: str, record: str = "") -> RuleGroup:
    ref = _ref(source)
    rule = (
        RecordingRule(record=record, expr="sum(up)", ref=ref) if record else Alert(name="Down", expr="up == 0", ref=ref)
    )
    return RuleGroup(name=name, kind="RecordingGroup" if record else "AlertGroup", ref=ref, rules=[rule])


def _build(spec: list[RuleGroup], slo: list[RuleGroup], probe: list[RuleGroup]) -> Build:
    project = Project(groups=list(spec))
    return Build(
        project=project,
        spec_groups=list(spec),
        slo_groups=slo,
        slo_rules=[],
        probe_groups=probe,
        rule_files=rule_files([*spec, *slo, *probe]),
        dashboards=DashboardBuild(ctx=Context(), written=[], dashboards=[]),
    )


def test_the_build_keeps_generated_groups_out_of_the_model():
    spec = _group("spec", "specs/a.yml", "r:spec")
    slo = _group("slo", "specs/b.yml", "r:slo")
    probe = _group("probe", "specs/a.yml")
    build = _build([spec], [slo], [probe])
    assert build.project.groups == [spec]  # nothing appended to the model
    assert build.rule_groups == [spec, slo, probe]  # the order the rule files list them
    assert [g["name"] for g in build.rule_files["rules/a.yml"].content["groups"]] == ["spec", "probe"]


def test_render_build_writes_each_rule_file_and_the_prometheus_config_once():
    build = _build([_group("spec", "specs/a.yml", "r:spec")], [_group("slo", "specs/b.yml", "r:slo")], [])
    files = render_build(build)
    assert list(files) == sorted(files)
    assert {"rules/a.yml", "rules/b.yml", "prometheus/prometheus.yml"} <= set(files)
    config = yaml.safe_load(files["prometheus/prometheus.yml"])
    assert config["rule_files"] == ["../rules/a.yml", "../rules/b.yml"]
    assert nothing_useful(build, files) == ""


def test_nothing_useful_counts_generated_rules():
    empty = _build([], [], [])
    assert "monitor nothing" in nothing_useful(empty, render_build(empty))
    only_slo = _build([], [_group("slo", "specs/b.yml", "r:slo")], [])
    assert nothing_useful(only_slo, render_build(only_slo)) == ""


def test_the_output_table_names_each_owned_directory_once_in_order():
    assert ROOTS == ["rules", "prometheus", "dashboards", "alertmanager", "kubernetes", "blackbox", "fleet"]
    assert len({id(o.render) for o in OUTPUTS}) == len(OUTPUTS)  # no renderer listed twice


def test_every_output_writes_only_under_its_root():
    build = _build([_group("spec", "specs/a.yml", "r:spec")], [], [])
    for output in OUTPUTS:
        assert all(p.split("/", 1)[0] == output.root for p in output.render(build)), output.render.__name__


def test_the_check_tables_are_explicit_and_model_checks_come_first():
    assert [c.name for c in MODEL_CHECKS] == ["alert kinds", "notifications", "settings credentials", "slurm nodelists"]
    assert [c.name for c in OUTPUT_CHECKS] == ["rules", "dashboards", "fleet topology"]


def test_schemas_are_assembled_without_patching_the_fragments():
    from promspec.model import schema_parts, schemas
    from promspec.model.ops_schema import ALERT_KINDS, SCRAPE_JOB_FIELDS, SETTINGS_FIELDS

    assert schemas.ALERT_GROUP["properties"]["alerts"]["items"] is ALERT_KINDS
    assert set(SETTINGS_FIELDS) <= set(schemas.SETTINGS["properties"])
    assert set(SCRAPE_JOB_FIELDS) <= set(schemas.SCRAPE_JOB["properties"])
    assert sorted(schemas.SPECS) == sorted(schemas.DESCRIPTIONS)
    assert set(schemas.SPECS) == {
        "Catalog",
        "RecordingGroup",
        "AlertGroup",
        "Targets",
        "Settings",
        "Backend",
        "Service",
        "Dashboard",
        "Notifications",
        "Probe",
        "Topology",
    }
    # The fragments stay as written: the feature modules that import them see no later patch.
    assert not hasattr(schema_parts, "ALERT_GROUP") and not hasattr(schema_parts, "SETTINGS")
    assert schema_parts.ALERT["required"] == ["name", "expr"]
