"""tests/promtool_cache.py answers exactly as the real promtool does: the oracle is the real promtool run on the
same command, byte for byte, for a pass replayed from the cache, a mixed command and a failure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO, require_tool

pytestmark = pytest.mark.slow

RULES = "groups:\n- name: g\n  rules:\n  - record: answer\n    expr: vector(42)\n"
TEST = """rule_files: [rules.yml]
tests:
- interval: 1m
  promql_expr_test:
  - expr: answer
    eval_time: 1m
    exp_samples: [{labels: answer, value: VALUE}]
"""


def _run(cmd: list[str], cwd: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60, check=False
    )
    return proc.returncode, proc.stdout


def test_cached_answers_equal_the_real_promtools(tmp_path):
    # The oracle is the real binary, not the wrapper the session put first on PATH.
    real = os.environ.get("PROMSPEC_TEST_REAL_PROMTOOL") or require_tool("promtool")
    with open(real, "rb") as fh:
        assert b"PROMTOOL_CACHE_REAL=" not in fh.read(4096), real
    os.makedirs(tmp_path / "cache")
    env = {**os.environ, "PROMTOOL_CACHE_REAL": real, "PROMTOOL_CACHE_DIR": str(tmp_path / "cache")}
    wrapper = [sys.executable, os.path.join(REPO, "tests", "promtool_cache.py")]
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "good.test.yml").write_text(TEST.replace("VALUE", "42"))
    (tmp_path / "other.test.yml").write_text(TEST.replace("VALUE", "42").replace("1m\n", "2m\n", 1))
    (tmp_path / "bad.test.yml").write_text(TEST.replace("VALUE", "41"))

    for files in (["good.test.yml"], ["good.test.yml"], ["other.test.yml", "good.test.yml"], ["good.test.yml"]):
        assert _run([*wrapper, "test", "rules", *files], str(tmp_path), env) == _run(
            [real, "test", "rules", *files], str(tmp_path)
        ), files
    assert len(os.listdir(tmp_path / "cache")) == 2  # one entry per passing file's content

    # A failure, alone or beside remembered passes, is the real promtool's answer to the whole command.
    for files in (["bad.test.yml"], ["good.test.yml", "bad.test.yml"]):
        code, output = _run([*wrapper, "test", "rules", *files], str(tmp_path), env)
        assert code == 1 and "FAILED" in output
        assert (code, output) == _run([real, "test", "rules", *files], str(tmp_path)), files

    # The rule file is part of the key: once it changes, the remembered pass no longer answers.
    (tmp_path / "rules.yml").write_text(RULES.replace("vector(42)", "vector(41)"))
    code, output = _run([*wrapper, "test", "rules", "good.test.yml"], str(tmp_path), env)
    assert code == 1 and "FAILED" in output
