"""The `gpu` collector's entry in the collector table; the code lives in promspec.exporter.gpu."""

from __future__ import annotations

from ..gpu.collector import GpuCollector
from ..gpu.metrics import SPECS

__all__ = ["SPECS", "GpuCollector"]
