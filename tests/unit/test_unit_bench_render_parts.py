"""bench/render_parts.py clears render/'s caches by name: a renamed cache must fail here, not leave the
benchmark timing warm caches."""

from __future__ import annotations

import importlib.util
import os

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "render_parts.py")


def test_the_caches_it_clears_exist_and_end_empty() -> None:
    spec = importlib.util.spec_from_file_location("render_parts_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from promspec.render import yamlout

    yamlout.dump_text({"a": ["b", "c: d"]})  # fills the string caches
    bench._cleared()
    assert yamlout._placed.cache_info().currsize == 0
    assert yamlout._string_key.cache_info().currsize == 0
    assert not yamlout._SHAPES
