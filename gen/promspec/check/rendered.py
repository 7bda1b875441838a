"""promtool over a rendered output directory: rules, config and unit tests."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable

from .tools import Progress, ToolResult, find_tool, run_tool


def check_rendered(
    directory: str, progress: Progress = lambda message: None, lenient: bool = False
) -> list[ToolResult]:
    """Check every rule file, prometheus.yml and every *.test.yml under directory."""
    find_tool("promtool")
    results = []
    rule_files = sorted(glob.glob(os.path.join(directory, "rules", "*.yml")))
    if rule_files:
        progress(f"promtool check rules: {len(rule_files)} files")
        results.append(run_tool("promtool", "check", "rules", "--lint=duplicate-rules", "--lint-fatal", *rule_files))
    config = os.path.join(directory, "prometheus", "prometheus.yml")
    if os.path.exists(config):
        progress("promtool check config: prometheus/prometheus.yml")
        results.append(run_tool("promtool", "check", "config", config))
    tests = sorted(glob.glob(os.path.join(directory, "rules", "**", "*.test.yml"), recursive=True))
    if tests:
        results.extend(_run_unit_tests(tests, progress))
    # Grafana dashboards under dashboards/: vendored Foundation SDK schemas and lint rules, offline.
    from .dashboards import check_dashboard_dir

    results.extend(check_dashboard_dir(directory, progress, lenient))
    # alertmanager/ (amtool check-config and what amtool misses) and kubernetes/ (CRD schemas).
    from .ops_rendered import check_ops_dirs

    results.extend(check_ops_dirs(directory, progress))
    # blackbox/ (Probe specs): the exporter's own config check.
    from .probes import check_blackbox

    results.extend(check_blackbox(directory, progress))
    # fleet/ (kind Topology): cluster configs and rules, the global tier's rule files per backend.
    from .fleet import check_fleet_dir

    results.extend(check_fleet_dir(directory, progress))
    return results


def _run_unit_tests(tests: list[str], progress: Callable[[str], None]) -> list[ToolResult]:
    """promtool test rules on every file, one per core; of files that are the same test up to SLO names
    (check/equivalent_tests.py) only the first runs, unless it fails: then every file of its class runs."""
    from concurrent.futures import ThreadPoolExecutor

    from .equivalent_tests import equivalence_classes

    classes = equivalence_classes(tests)
    skipped = len(tests) - len(classes)
    note = f" ({len(classes)} distinct: {skipped} differ from another only in names)" if skipped else ""
    progress(f"promtool test rules: {len(tests)} files{note}")

    def run(test: str) -> ToolResult:
        return run_tool("promtool", "test", "rules", test)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        first = list(pool.map(run, [members[0] for members in classes]))
        rerun = [test for members, result in zip(classes, first, strict=True) if not result.ok for test in members[1:]]
        again = dict(zip(rerun, pool.map(run, rerun), strict=True))
    by_file = {}
    for members, result in zip(classes, first, strict=True):
        by_file[members[0]] = result
        for test in members[1:]:
            by_file[test] = again.get(test) or ToolResult(
                [result.command[0], "test", "rules", test],
                0,
                f"SUCCESS: the same test as {os.path.relpath(members[0], os.path.dirname(test))} "
                "with other SLO names (not run again)\n",
            )
    return [by_file[test] for test in tests]
