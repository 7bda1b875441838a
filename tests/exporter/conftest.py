"""Fixtures for the exporter tests: a procfs tree with known content and the exporter on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from promspec.exporter import collectors
from promspec.exporter.options import Options
from promspec.exporter.registry import Registry
from promspec.exporter.server import ExporterServer

from .exporter_harness import PROC_FILES, Exporter


@pytest.fixture
def procfs(tmp_path) -> Path:
    """A /proc tree with known content (and PID 4242 in a container, for per-process GPU memory)."""
    root = tmp_path / "proc"
    for name, content in PROC_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@pytest.fixture
def rootfs(tmp_path) -> Path:
    """A root filesystem with / and /data present and /mnt/gone away missing (statfs fails there)."""
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    return root


@pytest.fixture
def start_exporter():
    """Start the exporter in-process: start_exporter(names, options, nvml=..., web_config=...)."""
    started = []

    def start(names, options: Options | None = None, nvml=None, web_config=None) -> Exporter:
        overrides = {"gpu": {"nvml": nvml}} if "gpu" in names else {}
        registry = Registry(collectors.build(names, options or Options(), **overrides))
        server = ExporterServer(registry, ("127.0.0.1", 0), web_config).start()
        started.append((server, registry))
        return Exporter(server, registry)

    yield start
    for server, registry in started:
        server.shutdown()
        registry.close()
