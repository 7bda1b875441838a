"""`promspec check` over fleet/ (issue 16): each kind of fleet file, broken by hand after generate, fails the
check that reads it and names the file; a good tree of every backend passes."""

from __future__ import annotations

import os

import pytest
import yaml

from promspec.check.fleet import check_fleet_dir
from promspec.check.tools import ToolResult

from conftest import REPO, promspec_in_process, require_tool, run_promspec

pytestmark = pytest.mark.slow

EXAMPLE = os.path.join(REPO, "docs", "examples", "fleet", "fleet.yml")
GLOBAL = "backend: victoriametrics\n    url: http://victoria-metrics:8428\n"
BACKENDS = {
    "victoriametrics": GLOBAL,
    "mimir": "backend: mimir\n    url: http://mimir:8080\n    tenant: team-a\n    namespace: llm-fleet\n",
    "thanos": "backend: thanos\n    url: http://thanos:10908\n",
}
VMAGENT = "      shards: 2\n      scraper: vmagent\n      receiver: http://prometheus-us:9090\n"
BROKEN_EXPR = "sum(rate(fleet_requests_total[5m])"


def _render(tmp_path, backend: str = "victoriametrics", vmagent: bool = False) -> str:
    specs = tmp_path / "specs"
    specs.mkdir()
    with open(EXAMPLE, encoding="utf-8") as fh:
        text = fh.read().replace(GLOBAL, BACKENDS[backend])
    if vmagent:
        text = text.replace("      shards: 2\n", VMAGENT)
    (specs / "fleet.yml").write_text(text)
    out = tmp_path / "out"
    promspec_in_process("generate", str(specs), "-o", str(out), check=0)
    return str(out)


def _edit(out: str, rel: str, change) -> str:
    """Rewrite one rendered YAML file through change(content); returns its path."""
    path = os.path.join(out, rel)
    with open(path, encoding="utf-8") as fh:
        content = yaml.safe_load(fh)
    change(content)
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(content, fh, sort_keys=False)
    return path


def _break_first_expr(content: dict) -> None:
    content["groups"][0]["rules"][0]["expr"] = BROKEN_EXPR


def _failed(results: list[ToolResult]) -> list[ToolResult]:
    return [r for r in results if not r.ok]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_good_fleet_tree_passes_promspec_check(tmp_path, backend):
    out = _render(tmp_path, backend, vmagent=backend == "victoriametrics")
    proc = run_promspec("check", out, check=0)
    assert "fleet cluster configs" in proc.stderr and "fleet cluster rule files" in proc.stderr
    expected = {
        "victoriametrics": "vmalert -dryRun: 1 fleet global rule files",
        "mimir": "mimir rule file schema and promtool check rules: 1 fleet global files",
        "thanos": "thanos rule file schema and promtool check rules: 1 fleet global files",
    }[backend]
    assert expected in proc.stderr
    if backend == "victoriametrics":
        assert "vmagent -dryRun: 1 fleet vmagent scrape configs" in proc.stderr


def test_no_fleet_directory_adds_no_check(tmp_path):
    assert check_fleet_dir(str(tmp_path)) == []


def test_a_broken_shard_config_fails_promtool_check_config_naming_it(tmp_path):
    out = _render(tmp_path)
    path = _edit(
        out, "fleet/clusters/us/prometheus-shard-1.yml", lambda c: c["global"].update(scrape_interval="fifteen")
    )
    (failed,) = _failed(check_fleet_dir(out))
    assert failed.command[1:] == ["check", "config", path]
    assert '"fifteen"' in failed.output


def test_a_broken_cluster_rule_fails_promtool_at_its_rule(tmp_path):
    out = _render(tmp_path)
    path = _edit(out, "fleet/clusters/eu/rules/fleet.yml", _break_first_expr)
    failed = _failed(check_fleet_dir(out))
    # promtool check config reads the rule files the config names, so eu's config fails too.
    assert [r.command[1:3] for r in failed] == [["check", "config"], ["check", "rules"]]
    assert path in failed[1].output and "parse error" in failed[1].output
    assert os.path.join(out, "fleet/clusters/eu/prometheus.yml") == failed[0].command[-1]


def test_a_broken_global_rule_fails_vmalert_dry_run_naming_the_file(tmp_path):
    out = _render(tmp_path)
    path = _edit(out, "fleet/global/vmalert/rules/fleet.yml", _break_first_expr)
    failed = _failed(check_fleet_dir(out))
    assert [r.command[1] for r in failed] == ["-dryRun", "check"]  # vmalert, then promtool
    assert f'in file "{path}"' in failed[0].output and "bad prometheus expr" in failed[0].output


def test_a_broken_vmagent_scrape_config_fails_vmagent_dry_run(tmp_path):
    out = _render(tmp_path, vmagent=True)
    path = _edit(out, "fleet/clusters/us/vmagent.yml", lambda c: c["scrape_configs"][0].update(static_configz=[]))
    (failed,) = _failed(check_fleet_dir(out))
    assert failed.command[-2:] == [f"-promscrape.config={path}", "-loggerLevel=ERROR"]
    assert "field static_configz not found" in failed.output


def test_a_mimir_file_breaking_its_schema_is_named_with_the_field(tmp_path):
    out = _render(tmp_path, "mimir")
    _edit(out, "fleet/global/mimir/llm-fleet.yml", lambda c: c["groups"][1]["rules"][0].update(alert="Both"))
    (failed,) = _failed(check_fleet_dir(out))
    assert failed.command[1] == "mimir-schema"
    assert failed.output.startswith(os.path.join("fleet", "global", "mimir", "llm-fleet.yml") + ": groups[1].rules[0]:")


def test_a_mimir_expression_promtool_rejects_is_reported_under_the_mimir_file(tmp_path):
    out = _render(tmp_path, "mimir")
    path = _edit(out, "fleet/global/mimir/llm-fleet.yml", _break_first_expr)
    (failed,) = _failed(check_fleet_dir(out))
    assert failed.command[1:3] == ["check", "rules"]
    assert path in failed.output and "parse error" in failed.output
    assert "promspec-fleet-" not in failed.output  # the scratch copy promtool read is not what the user sees


def test_a_thanos_rule_without_record_or_alert_fails_its_schema(tmp_path):
    out = _render(tmp_path, "thanos")
    _edit(out, "fleet/global/thanos/rules/fleet.yml", lambda c: c["groups"][0]["rules"][0].pop("record"))
    failed = _failed(check_fleet_dir(out))
    assert failed[0].command[1] == "thanos-schema"
    assert failed[0].output.startswith(os.path.join("fleet", "global", "thanos", "rules", "fleet.yml") + ": groups[0]")


def test_without_vmalert_the_check_names_the_debian_package(tmp_path):
    out = _render(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(require_tool("promtool"), bin_dir / "promtool")
    proc = run_promspec("check", out, env={"PATH": str(bin_dir)}, check=1)
    assert "vmalert not found on PATH: install Debian's 'victoria-metrics' package" in proc.stderr
    assert "Traceback" not in proc.stderr
