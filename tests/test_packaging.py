"""Packaging: the `promspec` wheel gives a working command; `promspec-exporter` installs without the generator.

Both wheels are built from this checkout and installed into fresh virtual environments (no system
site-packages), with their dependencies resolved by pip as a user's install would (offline from the
configured index/cache is fine).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def _run(*cmd, cwd=None, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _venv(path) -> str:
    _run(sys.executable, "-m", "venv", path)
    return os.path.join(path, "bin")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> str:
    dist = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, REPO)
    _run(sys.executable, os.path.join(REPO, "packaging", "build_exporter.py"), dist)
    return str(dist)


def _one(dist: str, pattern: str) -> str:
    (path,) = glob.glob(os.path.join(dist, pattern))
    return path


def test_pip_install_promspec_gives_a_working_command(wheels, tmp_path):
    bin_ = _venv(tmp_path / "venv")
    _run(os.path.join(bin_, "pip"), "install", "-q", _one(wheels, "promspec-*.whl"))
    assert "Usage: promspec" in _run(os.path.join(bin_, "promspec"), "--help").stdout
    # The bundled backends ship as package data: a Service naming vllm renders in an empty directory.
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "chat.yml").write_text(
        "apiVersion: promspec/v1\nkind: Service\nmetadata: {name: chat}\nspec:\n  backend: vllm\n"
        "  selector: {job: vllm}\n  slos:\n    - {name: errors, objective: 99%, sli: {signal: errors}}\n"
    )
    _run(os.path.join(bin_, "promspec"), "generate", "-q", "specs", "-o", "out", cwd=tmp_path)
    assert (tmp_path / "out" / "rules" / "chat.yml").exists()
    # The generator install has no exporter dependencies: its promspec-exporter says how to get them.
    proc = _run(os.path.join(bin_, "promspec-exporter"), "--help", check=False)
    assert proc.returncode == 1 and "pip install 'promspec[exporter]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exporter_distribution_lacks_the_generator_dependencies(wheels, tmp_path):
    bin_ = _venv(tmp_path / "venv")
    _run(os.path.join(bin_, "pip"), "install", "-q", _one(wheels, "promspec_exporter-*.whl"))
    assert "usage:" in _run(os.path.join(bin_, "promspec-exporter"), "--help").stdout.lower()
    py = os.path.join(bin_, "python")
    for module in ("click", "jsonschema", "promql_parser", "jinja2", "promspec.cli"):
        proc = _run(py, "-c", f"import {module}", check=False)
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, module
    _run(py, "-c", "import prometheus_client, pynvml, promspec.exporter.cli")
    assert not os.path.exists(os.path.join(bin_, "promspec"))
