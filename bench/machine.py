"""What every benchmark prints first: the machine's state, so that each figure says what it ran on.

Shared by the scripts in bench/ (import it as `from machine import ...`; each script puts bench/ on
sys.path). Timings on a shared or loaded machine measure the neighbours too, so the header states
the load average before and after, whether Python could use cached bytecode (a cold `promspec`
without .pyc files compiles its modules first), and the versions of the tools a figure depends on.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# How each external tool states its version (first line of the output).
_VERSION_FLAGS = {
    "promtool": ["--version"],
    "prometheus": ["--version"],
    "prometheus-node-exporter": ["--version"],
    "node_exporter": ["--version"],
    "amtool": ["--version"],
    "vmalert": ["-version"],
    "victoria-metrics": ["-version"],
}


@dataclass(frozen=True, kw_only=True)
class MachineState:
    """The facts a benchmark figure depends on, read when the benchmark starts."""

    platform: str
    cores: int
    load: tuple[float, float, float]
    python: str
    bytecode: str
    tools: dict[str, str]
    packages: dict[str, str]

    def lines(self) -> list[str]:
        head = (
            f"machine: {self.platform}, {self.cores} cores usable, load average "
            f"{format_load(self.load)}, Python {self.python}, {self.bytecode}"
        )
        out = [head]
        if self.tools:
            out.append("tools: " + "; ".join(f"{k} {v}" for k, v in sorted(self.tools.items())))
        if self.packages:
            out.append("packages: " + ", ".join(f"{k} {v}" for k, v in sorted(self.packages.items())))
        return out


def format_load(load: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def load_now() -> str:
    """The 1, 5 and 15 minute load averages, for the line a benchmark prints when it ends."""
    return format_load(os.getloadavg())


def _bytecode() -> str:
    """Whether this interpreter writes .pyc files and whether promspec's are cached already."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE") or sys.dont_write_bytecode:
        writes = "PYTHONDONTWRITEBYTECODE set (no .pyc written)"
    else:
        writes = ".pyc written"
    spec = importlib.util.find_spec("promspec")
    cached = "unknown"
    if spec is not None and spec.origin:
        pyc = importlib.util.cache_from_source(spec.origin)
        cached = "present" if os.path.exists(pyc) else "absent"
    return f"{writes}, promspec .pyc {cached}"


def _tool_version(name: str) -> str | None:
    path = shutil.which(name)
    if path is None:
        return None
    try:
        proc = subprocess.run(
            [path, *_VERSION_FLAGS.get(name, ["--version"])], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "(version unknown)"
    # Go tools print the version on stderr or stdout depending on the release.
    text = (proc.stdout or proc.stderr).strip().splitlines()
    if not text:
        # Debian builds some Go tools without their version string (vmalert and victoria-metrics
        # print nothing): the package that installed the binary still says which release it is.
        return _debian_version(path) or "(version unknown)"
    words = text[0].split()
    return words[words.index("version") + 1] if "version" in words[:-1] else text[0]


def _debian_version(path: str) -> str | None:
    """`<version> (Debian package <name>)` of the package that installed `path`, or None off Debian."""
    try:
        owner = subprocess.run(
            ["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True, timeout=20, check=False
        )
        package = owner.stdout.split(":", 1)[0].strip() if owner.returncode == 0 else ""
        if not package:
            return None
        query = ["dpkg-query", "-W", "-f", "${Version}", package]
        version = subprocess.run(query, capture_output=True, text=True, timeout=20, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return f"{version} (Debian package {package})" if version else None


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_state(tools: Iterable[str] = (), packages: Iterable[str] = ()) -> MachineState:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    found_tools = {name: v for name in tools if (v := _tool_version(name)) is not None}
    found_packages = {name: v for name in ("promspec", *packages) if (v := _package_version(name)) is not None}
    la = os.getloadavg()
    return MachineState(
        platform=platform.platform(),
        cores=cores,
        load=(la[0], la[1], la[2]),
        python=sys.version.split()[0],
        bytecode=_bytecode(),
        tools=found_tools,
        packages=found_packages,
    )


def print_machine(tools: Iterable[str] = (), packages: Iterable[str] = ()) -> MachineState:
    """Print the machine's state (first thing a benchmark does) and return it."""
    state = machine_state(tools, packages)
    for line in state.lines():
        print(line, flush=True)
    return state


def spread(values: Sequence[float], fmt: str) -> str:
    """`median (min-max)` of the values, each formatted with `fmt`."""
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def interleaved(a: Callable[[], float], b: Callable[[], float], runs: int) -> tuple[list[float], list[float]]:
    """Run a and b alternately `runs` times each (A B, B A, A B, ...), so that a change in the machine's
    load hits both alike; each returns the cost it measured. The ratio of a pair is taken within one
    round, never across rounds."""
    first: list[float] = []
    second: list[float] = []
    for i in range(runs):
        if i % 2 == 0:
            first.append(a())
            second.append(b())
        else:
            second.append(b())
            first.append(a())
    return first, second


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-round a/b of two interleaved series."""
    return [x / y for x, y in zip(a, b, strict=True) if y > 0]
