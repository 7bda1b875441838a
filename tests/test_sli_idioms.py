"""Issue 9.5: every SLO spec that `generate` accepts gets generated promtool tests that pass.

The corpus tests/fixtures/sli_idioms/ holds one Service per SLI query idiom seen in real rule sets
(vector(0) fallbacks, or, unless, label_replace, clamp_min, absent, recorded series as input, sum by,
good-events queries). Each is generated and its tests run by the real promtool.
"""

from __future__ import annotations

import glob
import os
import subprocess

import pytest

from conftest import REPO, require_tool, run_promspec

IDIOMS = sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "sli_idioms", "*.yml")))
BASE = os.path.join("tests", "fixtures", "base")


def test_the_corpus_covers_the_idioms():
    names = {os.path.basename(p)[:-4] for p in IDIOMS}
    assert {"vector0", "or", "unless", "label-replace", "clamp-min", "absent", "recorded", "sum-by"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("spec", IDIOMS, ids=lambda p: os.path.basename(p)[:-4])
def test_generated_slo_tests_pass(spec, tmp_path):
    promtool = require_tool("promtool")
    run_promspec("generate", BASE, spec, "-o", str(tmp_path), check=0)
    tests_dir = tmp_path / "rules" / "tests"
    tests = sorted(p.name for p in tests_dir.glob("*.test.yml"))
    assert len([t for t in tests if "-slo-" in t]) == 5, tests  # four burn tiers and budget-exhausted
    proc = subprocess.run(
        [promtool, "test", "rules", *tests], cwd=tests_dir, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


ALERT_IDIOMS = sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "alert_idioms", "*.yml")))


@pytest.mark.slow
@pytest.mark.parametrize("spec", ALERT_IDIOMS, ids=lambda p: os.path.basename(p)[:-4])
def test_generated_alert_kind_tests_pass(spec, tmp_path):
    promtool = require_tool("promtool")
    run_promspec("generate", BASE, spec, "-o", str(tmp_path), check=0)
    tests_dir = tmp_path / "rules" / "tests"
    tests = sorted(p.name for p in tests_dir.glob("*.test.yml"))
    assert tests
    proc = subprocess.run(
        [promtool, "test", "rules", *tests], cwd=tests_dir, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
