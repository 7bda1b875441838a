"""The broken-spec corpus: every case exits 1 with file:line:col and the problem, writes nothing.

The CLI runs in-process (click's CliRunner) so the corpus is part of the fast tier; test_cli.py runs the real
console script for the process-level behaviour (exit codes, no traceback, --help import time)."""

from __future__ import annotations

import os

import pytest

from conftest import REPO, promspec_in_process, snapshot

BROKEN = os.path.join(REPO, "tests", "broken")
BASE = os.path.join("tests", "fixtures", "base")


def _cases():
    with open(os.path.join(BROKEN, "EXPECTED"), encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            name, rest = line.rstrip("\n").split(": ", 1)
            position, fragment = rest.split(" ", 1)
            marks = [pytest.mark.slow] if name in _ASKS_PROMTOOL else []
            yield pytest.param(name, position, fragment, id=name[:-4], marks=marks)


# PromQL that does not parse: the pipeline asks promtool where (check.tools.locate_parse_errors), a subprocess.
_ASKS_PROMTOOL = {
    "promql_bad_matcher.yml",
    "promql_bad_range.yml",
    "promql_block_scalar.yml",
    "promql_unclosed_paren.yml",
}


def test_corpus_is_large_and_complete():
    files = sorted(f for f in os.listdir(BROKEN) if f.endswith(".yml"))
    listed = sorted(c.values[0] for c in _cases())
    assert files == listed
    assert len(files) >= 40


@pytest.fixture(scope="module")
def previous_output(tmp_path_factory):
    """An output directory holding a good previous generation."""
    out = tmp_path_factory.mktemp("out")
    promspec_in_process("generate", BASE, "-o", str(out), check=0)
    return out


@pytest.mark.parametrize("name,position,fragment", list(_cases()))
def test_broken_spec(name, position, fragment, previous_output):
    before = snapshot(str(previous_output))
    proc = promspec_in_process("generate", BASE, os.path.join("tests", "broken", name), "-o", str(previous_output))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"tests/broken/{name}:{position}: "), first
    assert fragment in first
    assert "expected" in first or "YAML" in first
    assert "nothing written" in proc.stderr
    assert snapshot(str(previous_output)) == before
