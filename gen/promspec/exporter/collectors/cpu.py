"""node_cpu_seconds_total from /proc/stat, as node_exporter names it."""

from __future__ import annotations

import os

from prometheus_client.metrics_core import Metric

from ..metrics import RenderedFamily, SeriesLabels, Spec, format_value, make_samples
from ..options import Options
from ..procfs import CPU_MODES, ProcFile, is_procfs_mount, parse_stat_ticks, read_file_parsed
from ..registry import StatelessCollector

_NAME = "node_cpu_seconds_total"
SPECS = {
    _NAME: Spec("counter", "Seconds the CPUs spent in each mode.", ("cpu", "mode")),
}
# Below this many ticks, a whole number of seconds is an int whose str() is Prometheus's spelling
# (format_value() writes integral values from 1e15 up in float notation).
_EXACT_TICKS = 10**15


class CpuCollector(StatelessCollector):
    """Per-CPU time by mode.

    Eight series per CPU (1,024 on a 128-CPU host, most of its series): the collector writes their
    text lines itself, each series' 'name{labels} ' kept across scrapes and only the values
    formatted, and makes Samples only when something other than the text encoder asks for them.
    """

    name = "cpu"

    def __init__(self, options: Options):
        self.in_line = is_procfs_mount(options.procfs)
        self._file = ProcFile(options.proc("stat"), keep=self.in_line)
        self._ticks_per_second = os.sysconf("SC_CLK_TCK")
        self._hz = float(self._ticks_per_second)
        # cpu -> one label set per mode, and each one's series text, built on first sight and reused
        # (never mutated). Bounded by the CPUs the host ever had.
        self._labels: dict[str, tuple[SeriesLabels, ...]] = {}
        self._texts: dict[str, tuple[str, ...]] = {}

    def close(self) -> None:
        """Close the kept /proc descriptors."""
        self._file.close()

    def collect(self) -> list[Metric]:
        """One counter per CPU and mode."""
        stat = read_file_parsed(self._file, parse_stat_ticks)
        labels: list[SeriesLabels] = []
        prefixes: list[str] = []
        known, texts = self._labels, self._texts
        for cpu in stat.cpus:
            kept = known.get(cpu)
            if kept is None:
                kept = known[cpu] = tuple(SeriesLabels({"cpu": cpu, "mode": mode}) for mode in CPU_MODES)
                texts[cpu] = tuple(label.text(_NAME) for label in kept)
            labels += kept
            prefixes += texts[cpu]
        ticks, hz, tick = stat.ticks, self._hz, self._ticks_per_second
        if min(ticks) > -_EXACT_TICKS and max(ticks) < _EXACT_TICKS:
            # repr() of a float is Prometheus's spelling unless it is a whole number ('12.0' is
            # written '12'): whole seconds go as ints, and no value needs a second look.
            shown: list[float] = [t / hz if t % tick else t // tick for t in ticks]
            text = "".join([f"{prefix}{value!r}\n" for prefix, value in zip(prefixes, shown, strict=True)])
        else:
            text = "".join([f"{p}{format_value(t / hz)}\n" for p, t in zip(prefixes, ticks, strict=True)])
        spec = SPECS[_NAME]
        return [
            RenderedFamily(
                _NAME,
                spec.type,
                spec.help,
                [text],
                lambda: make_samples(_NAME, zip(labels, [t / hz for t in ticks], strict=True)),
            )
        ]
