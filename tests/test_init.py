"""`promspec init`: a scaffold that validates, generates and checks on the first run; never overwrites."""

from __future__ import annotations

import os

import pytest
import yaml
from click.testing import CliRunner

from promspec.cli import cli
from promspec.pipeline import load_project
from promspec.scaffold import load_bundled, plan_engine

from conftest import REPO, run_promspec, snapshot


def _init(*args):
    return CliRunner().invoke(cli, ["init", *args], catch_exceptions=False)


def test_init_writes_specs_for_the_named_engines(tmp_path):
    result = _init(str(tmp_path / "mon"), "--engine", "vllm", "--engine", "sglang")
    assert result.exit_code == 0, result.output
    root = tmp_path / "mon"
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert names == [
        ".github/workflows/promspec.yml",
        ".pre-commit-config.yaml",
        "Makefile",
        "specs/services/sglang.yml",
        "specs/services/vllm.yml",
        "specs/settings.yml",
        "specs/targets.yml",
    ]
    project, report = load_project([str(root / "specs")], env={})
    assert sorted(project.backends) == ["sglang", "vllm"]
    assert sorted(j.name for j in project.jobs) == ["sglang", "vllm"]
    assert {s.name: [slo.name for slo in s.slos] for s in project.services} == {
        "vllm": ["errors", "ttft"],
        "sglang": ["errors", "ttft"],
    }
    assert not report.errors
    hooks = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    assert [h["id"] for h in hooks["repos"][0]["hooks"]] == ["promspec-validate", "promspec-generate-check"]


def test_ttft_threshold_is_a_bucket_bound_of_the_engine():
    # sglang's TTFT buckets have no 0.5 s bound (0.4 and 0.6 are nearest; ties go to the lower one).
    assert plan_engine(load_bundled("sglang")).ttft_threshold == "400ms"
    assert plan_engine(load_bundled("vllm")).ttft_threshold == "500ms"
    # TGI exposes no TTFT histogram: its service gets the error SLO only.
    assert plan_engine(load_bundled("tgi")).ttft_threshold == ""


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path):
    (tmp_path / "Makefile").write_text("all:\n\techo mine\n")
    before = snapshot(str(tmp_path))
    result = _init(str(tmp_path), "--engine", "vllm")
    assert result.exit_code == 1
    assert "already has Makefile; nothing written" in result.output
    assert snapshot(str(tmp_path)) == before


def test_init_unknown_engine(tmp_path):
    result = _init(str(tmp_path), "--engine", "vlm")
    assert result.exit_code == 1
    assert "unknown engine 'vlm' (did you mean 'vllm'?)" in result.output
    assert not os.listdir(tmp_path)


def test_project_ships_pre_commit_hooks():
    with open(os.path.join(REPO, ".pre-commit-hooks.yaml"), encoding="utf-8") as fh:
        hooks = yaml.safe_load(fh)
    assert [h["id"] for h in hooks] == ["promspec-generate-check", "promspec-validate"]
    for h in hooks:
        assert h["entry"].startswith("promspec ") and h["pass_filenames"] is False


@pytest.mark.slow
def test_init_then_generate_then_check_passes(tmp_path):
    root = tmp_path / "mon"
    run_promspec("init", str(root), "--engine", "vllm", "--engine", "sglang", "--engine", "tgi", check=0)
    run_promspec("generate", "specs", "-o", ".", cwd=root, check=0)
    run_promspec("generate", "specs", "-o", ".", "--check", cwd=root, check=0)
    proc = run_promspec("check", ".", cwd=root, check=0)
    assert "ok:" in proc.stderr
    assert (root / "rules").is_dir() and (root / "prometheus" / "prometheus.yml").exists()


def test_every_bundled_engine_scaffolds_valid_specs(tmp_path):
    from promspec.backends.bundled import bundled_backends

    engines = list(bundled_backends())
    result = _init(str(tmp_path), *[a for e in engines for a in ("--engine", e)])
    assert result.exit_code == 0, result.output
    project, report = load_project([str(tmp_path / "specs")], env={})
    assert sorted(j.name for j in project.jobs) == sorted(engines)
    assert not report.errors
    # An engine without an error or TTFT signal gets a scrape job and says so.
    assert "note: llamacpp exposes no error or TTFT signal" in result.output
