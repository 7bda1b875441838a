"""The collectors by name, imported only when enabled (the GPU one loads NVML)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from ..metrics import Spec
from ..options import Options
from ..registry import Collector

# name -> (module, class); order is the order of the exposition.
AVAILABLE = {
    "cpu": ("cpu", "CpuCollector"),
    "loadavg": ("loadavg", "LoadavgCollector"),
    "meminfo": ("meminfo", "MeminfoCollector"),
    "pressure": ("pressure", "PressureCollector"),
    "filesystem": ("filesystem", "FilesystemCollector"),
    "diskstats": ("diskstats", "DiskstatsCollector"),
    "netdev": ("netdev", "NetdevCollector"),
    "gpu": ("gpu", "GpuCollector"),
    "process": ("process", "ProcessCollector"),
    "llm_probe": ("llm_probe", "LlmProbeCollector"),
}
# The LLM probe sends requests to servers: it runs only when --probe.config names its targets.
OPT_IN = ("llm_probe",)
DEFAULT = tuple(name for name in AVAILABLE if name not in OPT_IN)


def build(names: Iterable[str], options: Options, **overrides: dict[str, Any]) -> list[Collector]:
    """Instantiate the named collectors; overrides pass extra keyword arguments by name (e.g. gpu={'nvml': m})."""
    collectors: list[Collector] = []
    for name in names:
        module, cls = AVAILABLE[name]
        factory = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
        collectors.append(factory(options, **overrides.get(name, {})))
    return collectors


def specs(names: Iterable[str] = DEFAULT) -> dict[str, Spec]:
    """Every family the named collectors may expose, name -> Spec."""
    merged: dict[str, Spec] = {}
    for name in names:
        module = importlib.import_module(f"{__name__}.{AVAILABLE[name][0]}")
        merged.update(module.SPECS)
    return merged
