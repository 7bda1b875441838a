"""The SLO fast paths against the plain paths, on seeded hostile spec trees (tests/slo_hostile_trees.py).

render/slo_rule_text.py writes an SLO's rule groups once per SLO shape and render/slo_test_text.py its promtool
tests; each falls back to the plain path (render/outputs.py _dumped, the per-file templates) where it cannot
tell. Here every tree is rendered in one process with the fast paths, then with them patched out, and every
file must be the same bytes. The trees share one process and so one cache of shapes: a shape made and checked
by one tree's first SLO is trusted for the next tree's, as in a long generate.
"""

from __future__ import annotations

from typing import Any

import hypothesis_budget
from promspec.diagnostics import SpecError
from promspec.pipeline import load_project
from promspec.render import outputs, slo_rule_text, slo_test_text
from promspec.render.outputs import render_project
from slo_hostile_trees import write_tree


def _render(root: str) -> dict[str, bytes] | None:
    try:
        project, _report = load_project([root], env={})
    except SpecError:
        return None  # refused before any rule is written: the fast paths have no part in it
    return render_project(project)


def test_slo_fast_paths_write_every_file_as_the_plain_paths_do(tmp_path: Any, monkeypatch: Any) -> None:
    seeds = range(4 if hypothesis_budget.FAST else 16)
    slo_rule_text._SHAPES.clear()
    slo_test_text._SHAPES.clear()
    filled = 0
    real_filled = slo_rule_text._filled

    def counted(shape: Any, slo: Any) -> Any:
        nonlocal filled
        text = real_filled(shape, slo)
        filled += text is not None
        return text

    monkeypatch.setattr(slo_rule_text, "_filled", counted)
    fast: dict[int, dict[str, bytes] | None] = {}
    for seed in seeds:
        root = str(tmp_path / f"t{seed}")
        write_tree(seed, root)
        fast[seed] = _render(root)
    # The trees exercise the fast path (hostile names are mostly atoms) and mostly load.
    assert filled > 0
    assert sum(files is not None for files in fast.values()) >= len(seeds) // 2
    monkeypatch.setattr(outputs, "rule_file_text", lambda rule_file, slos: None)
    monkeypatch.setattr(slo_test_text, "_by_shape", lambda rule_file, slo, order: None)
    for seed in seeds:
        plain = _render(str(tmp_path / f"t{seed}"))
        got = fast[seed]
        assert (got is None) == (plain is None), seed
        if got is None or plain is None:
            continue
        assert sorted(got) == sorted(plain), seed
        for path, data in plain.items():
            assert got[path] == data, (seed, path)
