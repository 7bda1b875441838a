"""promtool over a rendered output directory: rules, config and unit tests."""

from __future__ import annotations

import glob
import os

from .tools import ToolResult, find_tool, run_tool


def check_rendered(directory: str, progress=lambda message: None, lenient: bool = False) -> list[ToolResult]:
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
        # Unit-test files are independent and each is CPU-bound in promtool: run one per core.
        from concurrent.futures import ThreadPoolExecutor

        progress(f"promtool test rules: {len(tests)} files")
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results.extend(pool.map(lambda test: run_tool("promtool", "test", "rules", test), tests))
    # Grafana dashboards under dashboards/: vendored Foundation SDK schemas and lint rules, offline.
    from .dashboards import check_dashboard_dir

    results.extend(check_dashboard_dir(directory, progress, lenient))
    # alertmanager/ (amtool check-config and what amtool misses) and kubernetes/ (CRD schemas).
    from .ops_rendered import check_ops_dirs

    results.extend(check_ops_dirs(directory, progress))
    # blackbox/ (Probe specs): the exporter's own config check.
    from .probes import check_blackbox

    results.extend(check_blackbox(directory, progress))
    return results
