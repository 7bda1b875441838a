"""Generator at scale: SLO unit tests linear in the SLOs of a service, dashboards validated once per shape."""

from __future__ import annotations

import copy
import json
import textwrap

import pytest

from generated_yaml import read_yaml
from promspec.check import dashboards as checks
from promspec.compile.slo_tests import INJECTED
from promspec.pipeline import load_project
from promspec.render.outputs import render_project

BUNDLED = "specs"
SLO = """\
        - name: s{i}
          objective: 99%
          sli: {{signal: errors}}
"""


def _service(tmp_path, n: int) -> str:
    body = textwrap.dedent("""\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          backend: vllm
          selector: {job: vllm}
          slos:
        """) + "".join(SLO.format(i=i) for i in range(n))
    path = tmp_path / f"svc{n}.yml"
    path.write_text(body)
    return str(path)


def _slo_tests(tmp_path, n: int) -> dict[str, dict]:
    project, _ = load_project([BUNDLED, _service(tmp_path, n)], env={})
    files = render_project(project)
    return {path: read_yaml(data) for path, data in files.items() if path.startswith(f"rules/tests/svc{n}-")}


def _loaded_groups(files: dict, test_path: str) -> list[str]:
    test = files[test_path]
    return [g["name"] for rule_file in test["rule_files"] for g in files[f"rules/tests/{rule_file}"]["groups"]]


def test_each_slo_test_loads_only_its_own_rules_and_series(tmp_path):
    """promtool evaluates every group a test loads at every step: groups per test must not grow with SLOs."""
    one, eight = _slo_tests(tmp_path, 1), _slo_tests(tmp_path, 8)
    tests_one = [p for p in one if p.endswith(".test.yml")]
    tests_eight = [p for p in eight if p.endswith(".test.yml")]
    assert len(tests_eight) == 8 * len(tests_one)  # files grow linearly, one set per SLO
    for files, tests in ((one, tests_one), (eight, tests_eight)):
        for path in tests:
            rule_file = files[path]["rule_files"][0]
            slo_id = rule_file.split("-slo-", 1)[1].removesuffix(".rules.yml")
            groups = _loaded_groups(files, path)
            assert groups and all(g.startswith(f"slo-{slo_id}-") for g in groups), (path, groups)
            assert len(groups) == len(_loaded_groups(one, tests_one[0]))
            assert files[path]["group_eval_order"] == groups
            for case in files[path]["tests"]:
                assert case["name"].startswith(f"{slo_id} ")
                assert all(f'slo_id="{slo_id}"' in s["series"] for s in case["input_series"])


def test_slo_rule_copies_match_the_loaded_rule_file(tmp_path):
    """The groups a test evaluates are the groups Prometheus loads, byte for byte, less the two SLI rate
    rules whose series the tests inject as input (INJECTED)."""
    project, _ = load_project([BUNDLED, _service(tmp_path, 3)], env={})
    files = render_project(project)
    served = {g["name"]: g for g in read_yaml(files["rules/svc3.yml"])["groups"]}
    copies = [p for p in files if p.startswith("rules/tests/svc3-") and p.endswith(".rules.yml")]
    assert len(copies) == 3
    for path in copies:
        for group in read_yaml(files[path])["groups"]:
            expected = served[group["name"]]
            if group["name"].endswith("-short"):
                expected = {**expected, "rules": [r for r in expected["rules"] if r.get("record") not in INJECTED]}
                assert len(expected["rules"]) == len(served[group["name"]]["rules"]) - len(INJECTED)
            assert group == expected


def _bundled_dashboard() -> dict:
    with open("dashboards/inference/slo-chat-vllm-ttft.json", encoding="utf-8") as fh:
        return json.load(fh)


def test_a_clean_shape_does_not_hide_a_later_schema_error():
    data = _bundled_dashboard()
    assert checks.validate_dashboard(data, by_shape=True) == []
    broken = copy.deepcopy(data)
    broken["panels"][0]["gridPos"]["w"] = 99  # over the schema's maximum of 24
    bad = copy.deepcopy(data)
    bad["graphTooltip"] = "crosshair"  # a string where the schema wants an integer
    for dash in (broken, bad):
        assert checks.shape(dash) != checks.shape(data)
        by_shape = checks.validate_dashboard(dash, by_shape=True)
        assert by_shape == checks.validate_dashboard(dash)
        assert any(rule == "schema" for _p, rule, _m, _s in by_shape)


def test_free_text_and_bounded_numbers_share_a_shape():
    data = _bundled_dashboard()
    other = copy.deepcopy(data)
    other["title"] = "another service"
    data["panels"][0]["gridPos"]["w"], other["panels"][0]["gridPos"]["w"] = 9, 11  # between the same bounds
    for panel in other["panels"]:
        for target in panel.get("targets") or []:
            target["expr"] = target["expr"].replace("chat-vllm", "svc00042")
    assert checks.shape(other) == checks.shape(data)
    empty = copy.deepcopy(data)
    empty["panels"][0]["type"] = ""  # minLength 1: emptiness is part of the shape
    assert checks.shape(empty) != checks.shape(data)


def test_generate_builds_each_dashboard_once(tmp_path, monkeypatch):
    from promspec.compile.dashboards import compiler, project
    from promspec.pipeline import load_build
    from promspec.render.outputs import render_build

    calls: list[str] = []
    real = compiler.build_compiled

    def counting(plan):
        calls.append(plan.dash.uid)
        return real(plan)

    monkeypatch.setattr(project, "build_compiled", counting)  # compile_dashboards, the one caller
    build, _ = load_build([BUNDLED], env={})
    files = render_build(build)
    built = [p for p in files if p.startswith("dashboards/") and p.endswith(".json")]
    assert sorted(calls) == sorted(set(calls)) and len(calls) == len(built)


@pytest.mark.parametrize(
    "data",
    [
        {
            "a": [],
            "b": {},
            "c": [1, -2.5, 1e-7, 1e300, None, True, False, 'é\n"x\\\u2028\x00'],
            "d": {"e": float("nan")},
        },
        [],
        {},
        "x",
        1,
        [[], [{}]],
        {"inf": float("inf"), "ninf": float("-inf")},
        {1: "not a string key"},  # the stdlib path
    ],
)
def test_dashboard_json_writes_the_bytes_json_dumps_writes(data):
    from dashboard_helpers import dashboard_json
    from promspec.render.yamlout import dump_json

    assert dashboard_json(data) == dump_json(data)


def test_dashboard_json_on_every_bundled_dashboard():
    import glob

    from dashboard_helpers import dashboard_json
    from promspec.render.yamlout import dump_json

    paths = glob.glob("dashboards/**/*.json", recursive=True)
    assert paths
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        assert dashboard_json(data) == dump_json(data), path
