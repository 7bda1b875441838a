"""CPU of rendering alone, per renderer: render_parts(build)'s pieces' .files() for a loaded build.

Run: .venv/bin/python bench/render_parts.py /tmp/p1k/specs [--runs 3]

The build is loaded and checked once (load_build, with the GC threshold `promspec` sets) and every
written dashboard compiled before the clock starts, so the figures are what generate's processes spend
after the fork turning the Build into bytes (the YAML of rule and test files, the dashboards' JSON, the
small outputs), not loading, checking or building. Each run renders every piece once, in one process
(what `-j 1` does), and the caches of render/ are cleared between runs so no run reads the previous
one's texts. Figures: CPU seconds (time.process_time) per renderer and in all, median (min-max).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "gen"))

# After the sys.path set-up above, hence E402.
from promspec.pipeline import load_build  # noqa: E402
from promspec.process import GC_THRESHOLD  # noqa: E402
from promspec.render import dashboards, slo_rule_text, slo_test_text, yamlout  # noqa: E402
from promspec.render.outputs import render_parts  # noqa: E402


def _cleared() -> None:
    """Empty render/'s caches of texts, so a run pays for every shape and string as generate does."""
    for cached in (yamlout._placed, yamlout._string, yamlout._string_key, slo_test_text._file_template):
        cached.cache_clear()
    for table in (
        yamlout._SHAPES,
        yamlout._FLOATS,
        dashboards._TEMPLATE_TEXT,
        dashboards._DASHBOARD_TEXT,
        slo_test_text._SHAPES,
        slo_rule_text._SHAPES,
    ):
        table.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("specs")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLD)
    build, _report = load_build([args.specs])
    for built in build.dashboards.written_files():
        _ = built.compiled  # built on first use: before the clock, as the check has done in generate
    parts = render_parts(build)
    runs: dict[str, list[float]] = {}
    files: dict[str, int] = {}
    for run in range(args.runs):
        _cleared()
        spent: dict[str, float] = {}
        for part in parts:
            start = time.process_time()
            rendered = part.files()
            spent[part.name] = spent.get(part.name, 0.0) + time.process_time() - start
            if run == 0:
                files[part.name] = files.get(part.name, 0) + len(rendered)
        spent["all"] = sum(spent.values())
        for name, cpu in spent.items():
            runs.setdefault(name, []).append(cpu)
    for name, seconds in runs.items():
        count = f"{files[name]:6d} files" if name in files else " " * 12
        print(f"{statistics.median(seconds):6.2f} s ({min(seconds):.2f}-{max(seconds):.2f})  {count}  {name}")


if __name__ == "__main__":
    main()
