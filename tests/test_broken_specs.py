"""The broken-spec corpus: every case exits 1 with file:line:col and the problem, writes nothing."""

from __future__ import annotations

import os

import pytest

from conftest import REPO, run_promspec, snapshot

BROKEN = os.path.join(REPO, "tests", "broken")
BASE = os.path.join("tests", "fixtures", "base")


def _cases():
    with open(os.path.join(BROKEN, "EXPECTED"), encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            name, rest = line.rstrip("\n").split(": ", 1)
            position, fragment = rest.split(" ", 1)
            yield pytest.param(name, position, fragment, id=name[:-4])


def test_corpus_is_large_and_complete():
    files = sorted(f for f in os.listdir(BROKEN) if f.endswith(".yml"))
    listed = sorted(c.values[0] for c in _cases())
    assert files == listed
    assert len(files) >= 40


@pytest.fixture(scope="module")
def previous_output(tmp_path_factory):
    """An output directory holding a good previous generation."""
    out = tmp_path_factory.mktemp("out")
    run_promspec("generate", BASE, "-o", str(out), check=0)
    return out


@pytest.mark.parametrize("name,position,fragment", list(_cases()))
def test_broken_spec(name, position, fragment, previous_output):
    before = snapshot(str(previous_output))
    proc = run_promspec("generate", BASE, os.path.join("tests", "broken", name), "-o", str(previous_output))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"tests/broken/{name}:{position}: "), first
    assert fragment in first
    assert "expected" in first or "YAML" in first
    assert "nothing written" in proc.stderr
    assert snapshot(str(previous_output)) == before
