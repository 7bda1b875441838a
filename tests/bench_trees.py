"""Spec trees shaped like bench/generate.py's realistic services (bundled engines, SLOs, dashboards), for
tests that need a project of several services without copying the benchmark's writer."""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_bench_services(root: str, services: int) -> str:
    """Write `services` of the benchmark's services under root; returns root."""
    sys.path.insert(0, os.path.join(REPO, "bench"))
    try:
        import generate  # bench/generate.py
    finally:
        sys.path.pop(0)
    generate.write_specs(root, services)
    return root
