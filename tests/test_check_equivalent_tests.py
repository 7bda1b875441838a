"""`promspec check` runs one unit-test file of each class of equivalent files, and never hides a failure."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from promspec.check.rendered import _run_unit_tests
from promspec.check.tools import run_tool

pytestmark = pytest.mark.slow

COMMITTED = Path(__file__).resolve().parent.parent / "rules" / "tests"
VLLM = "services-vllm-slo-chat-vllm"


def _copy(tmp_path: Path) -> Path:
    out = tmp_path / "rules" / "tests"
    out.mkdir(parents=True)
    # Two of the five tiers (the cheapest and a page tier) keep the promtool time small.
    for path in COMMITTED.glob(f"{VLLM}-*"):
        if path.name.endswith((".rules.yml", "-budget-exhausted.test.yml", "-page-fast.test.yml")):
            shutil.copy(path, out)
    return out


def _tests(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.glob("*.test.yml"))


def test_files_not_run_again_pass_when_run(tmp_path, promtool):
    folder = _copy(tmp_path)
    messages: list[str] = []
    results = _run_unit_tests(_tests(folder), messages.append)
    assert [r.ok for r in results] == [True] * 8
    # 8 files: 4 SLOs x 2 tiers; ttft, itl and e2e are one latency shape, errors another.
    assert messages == ["promtool test rules: 8 files (4 distinct: 4 differ from another only in names)"]
    skipped = [r for r in results if "not run again" in r.output]
    assert len(skipped) == 4
    # The oracle: promtool itself, on every file that was not run.
    for r in skipped:
        assert run_tool("promtool", "test", "rules", r.command[-1]).ok, r.command[-1]


def test_a_file_that_differs_runs_and_fails(tmp_path, promtool):
    folder = _copy(tmp_path)
    broken = folder / f"{VLLM}-itl-page-fast.test.yml"
    broken.write_text(broken.read_text().replace("value: 1\n", "value: 2\n", 1))
    results = dict(zip(_tests(folder), _run_unit_tests(_tests(folder), lambda m: None), strict=True))
    failed = [Path(path).name for path, r in results.items() if not r.ok]
    assert failed == [broken.name]


def test_when_the_first_of_a_class_fails_every_file_runs_and_fails_under_its_own_name(tmp_path, promtool):
    folder = _copy(tmp_path)
    for slo in ("e2e", "itl", "ttft"):
        path = folder / f"{VLLM}-{slo}-page-fast.test.yml"
        path.write_text(path.read_text().replace("value: 1\n", "value: 2\n", 1))
    results = dict(zip(_tests(folder), _run_unit_tests(_tests(folder), lambda m: None), strict=True))
    failed = {Path(path).name: r for path, r in results.items() if not r.ok}
    assert sorted(failed) == [f"{VLLM}-{slo}-page-fast.test.yml" for slo in ("e2e", "itl", "ttft")]
    for name, result in failed.items():
        assert "not run again" not in result.output
        slo = name[len(VLLM) + 1 :].split("-")[0]
        assert f'slo_id="chat-vllm-{slo}"' in result.output
