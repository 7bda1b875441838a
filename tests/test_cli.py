"""CLI conventions: --help everywhere, exit codes, schema output, validate, check."""

from __future__ import annotations

import json
import os

import pytest

from conftest import REPO, run_promspec

COMMANDS = ["generate", "validate", "check", "schema"]


@pytest.mark.slow
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command):
    args = ["--help"] if command is None else [command, "--help"]
    proc = run_promspec(*args, check=0)
    assert "Usage: promspec" in proc.stdout
    if command is None:
        for c in COMMANDS:
            assert c in proc.stdout


@pytest.mark.slow
def test_help_does_not_import_the_heavy_modules():
    # --help must stay fast: the compiler, jsonschema and the PromQL parser load only when needed.
    import subprocess
    import sys

    code = (
        "import sys; from promspec.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('jsonschema', 'promql_parser', 'yaml', 'promspec.pipeline',\n"
        "      'grafana_foundation_sdk', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "LOADED:"


@pytest.mark.slow
def test_unknown_command_exits_2():
    proc = run_promspec("frobnicate")
    assert proc.returncode == 2 and "No such command" in proc.stderr


@pytest.mark.slow
def test_validate_bundled_specs():
    proc = run_promspec("validate", "specs", check=0)
    assert proc.stderr.startswith("ok: ")


@pytest.mark.slow
def test_missing_specs_directory():
    proc = run_promspec("validate", "no-such-dir")
    assert proc.returncode == 1
    assert "no-such-dir:1:1: no such file or directory" in proc.stderr


@pytest.mark.slow
def test_schema_files_are_committed_and_current(tmp_path):
    run_promspec("schema", "-o", "schemas", "--check", check=0)
    run_promspec("schema", "-o", str(tmp_path / "schemas"), check=0)
    names = sorted(os.listdir(tmp_path / "schemas"))
    assert "AlertGroup.json" in names and "Targets.json" in names
    schema = json.loads((tmp_path / "schemas" / "AlertGroup.json").read_text())
    assert schema["properties"]["kind"] == {"const": "AlertGroup"}


def test_bundled_specs_carry_the_schema_modeline():
    for dirpath, _dirs, files in os.walk(os.path.join(REPO, "specs")):
        for name in files:
            if name.endswith(".yml"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as fh:
                    assert fh.readline().startswith("# yaml-language-server: $schema="), name


@pytest.mark.slow
def test_check_runs_promtool_on_rendered_output(promtool):
    proc = run_promspec("check", ".", check=0)
    assert "promtool check rules" in proc.stderr and "promtool check config" in proc.stderr


@pytest.mark.slow
def test_check_reports_broken_rules(tmp_path, promtool):
    run_promspec("generate", "specs", "-o", str(tmp_path), check=0)
    bad = tmp_path / "rules" / "llm.yml"
    bad.write_text(bad.read_text().replace("for: 5m", "for: 5 minutes"))
    proc = run_promspec("check", str(tmp_path))
    assert proc.returncode == 1
    assert "FAILED" in proc.stderr and "llm.yml" in proc.stderr


@pytest.mark.slow
def test_check_names_a_missing_promtool(tmp_path):
    run_promspec("generate", "specs", "-o", str(tmp_path), check=0)
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = run_promspec("check", str(tmp_path), env={"PATH": str(empty)})
    assert proc.returncode == 1
    assert "promtool not found on PATH" in proc.stderr and "apt-get install prometheus" in proc.stderr
    assert "Traceback" not in proc.stderr
