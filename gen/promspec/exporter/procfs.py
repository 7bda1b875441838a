"""/proc files: pure parsers (bytes -> records) apart from the reading, shared by collectors.

Every parser refuses content the kernel does not write (NUL bytes, a missing final newline, a
short or non-numeric line, a file without the lines it always has): a truncated or binary file is a
collector failure, never a successful scrape with no series.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .registry import CollectorFailed

T = TypeVar("T")

# The 64-hex container id in a cgroup path: docker-<id>.scope, cri-containerd-<id>.scope,
# crio-<id>.scope, /docker/<id>, /kubepods/.../<id>, libpod-<id>.scope.
_CONTAINER_ID = re.compile(r"([0-9a-f]{64})(?:\.scope)?$")
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
DISKSTATS_COLUMNS = 11  # reads completed .. weighted I/O time: what every kernel since 2.6 writes
NETDEV_COLUMNS = 16


class ProcFormatError(CollectorFailed):
    """A /proc file whose content is not what the kernel writes: binary, truncated or garbled."""


@dataclass(frozen=True, kw_only=True)
class CpuTimes:
    """Ticks per mode (CPU_MODES order) of one CPU, from a cpuN line of /proc/stat."""

    cpu: str
    ticks: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class StatTicks:
    """The cpuN lines of /proc/stat in columns: each CPU's name, and every CPU's ticks end to end.

    One record per file rather than one per CPU: a 128-CPU host's 128 records cost a tenth of its scrape.
    """

    cpus: list[str]
    ticks: list[int]  # CPU_MODES order, len(CPU_MODES) per CPU, CPUs in the order of `cpus`


@dataclass(frozen=True, kw_only=True)
class LoadAverage:
    """The three load averages of /proc/loadavg."""

    load1: float
    load5: float
    load15: float


@dataclass(frozen=True, kw_only=True)
class DeviceCounters:
    """The counters of one block device (/proc/diskstats) or network interface (/proc/net/dev)."""

    device: str
    values: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Pressure:
    """Total stall microseconds of one PSI file: 'some' always, 'full' where the kernel writes it."""

    some_us: int
    full_us: int | None


@dataclass(frozen=True, kw_only=True)
class Mount:
    """One line of /proc/mounts."""

    device: str
    mountpoint: str
    fstype: str
    readonly: bool


_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC
_CHUNK = 65536


def read_bytes(path: str) -> bytes:
    """The whole content of a file, read to its end.

    os.open()/os.read() rather than open(): no buffered file object per read, about 5 us less per
    file, and a scrape reads a dozen of them.
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        data = os.read(fd, _CHUNK)
        if data:
            more = os.read(fd, _CHUNK)  # /proc files have no size to trust: read until the end
            while more:
                data += more
                more = os.read(fd, _CHUNK)
        return data
    finally:
        os.close(fd)


def read_parsed(path: str, parse: Callable[[bytes], T]) -> T:
    """Read a /proc file and parse it; a parse error names the file."""
    return parse_file(path, read_bytes(path), parse)


def parse_file(path: str, data: bytes, parse: Callable[[bytes], T]) -> T:
    """Parse the content of the /proc file at path; a parse error names the file."""
    try:
        return parse(data)
    except ProcFormatError as exc:
        raise ProcFormatError(f"{path}: {exc}") from None


def text_lines(data: bytes) -> list[bytes]:
    """The lines of a text /proc file, the final newline checked; ProcFormatError when binary or cut."""
    if not data:
        raise ProcFormatError("empty file")
    if b"\0" in data:
        raise ProcFormatError("binary content (NUL bytes), not the kernel's text")
    if not data.endswith(b"\n"):
        raise ProcFormatError("truncated: the last line has no newline")
    return data[:-1].split(b"\n")


def _integers(fields: list[bytes], what: str) -> tuple[int, ...]:
    try:
        return tuple(map(int, fields))
    except ValueError:
        raise ProcFormatError(f"{what}: expected integers, got {b' '.join(fields)[:80]!r}") from None


def parse_stat(data: bytes) -> list[CpuTimes]:
    """The per-CPU lines of /proc/stat (the aggregate 'cpu' line left out)."""
    cpus: list[CpuTimes] = []
    modes = len(CPU_MODES)
    for line in text_lines(data):
        if line[:3] != b"cpu" or line[3:4] == b" ":
            continue
        # guest and guest_nice (and what later kernels append) are not read: left unsplit.
        fields = line.split(None, modes + 1)
        if len(fields) < 1 + modes:
            raise ProcFormatError(f"line {line[:80]!r}: expected {modes} tick counts")
        cpus.append(
            CpuTimes(
                cpu=fields[0][3:].decode(errors="replace"),
                ticks=_integers(fields[1 : 1 + modes], fields[0].decode(errors="replace")),
            )
        )
    if not cpus:
        raise ProcFormatError("no cpuN lines")
    return cpus


def parse_stat_ticks(data: bytes) -> StatTicks:
    """parse_stat() in columns: what it accepts and refuses, with the same errors."""
    names: list[bytes] = []
    fields: list[bytes] = []
    modes = len(CPU_MODES)
    for line in text_lines(data):
        if line[:3] != b"cpu" or line[3:4] == b" ":
            continue
        split = line.split(None, modes + 1)
        if len(split) < 1 + modes:
            raise ProcFormatError(f"line {line[:80]!r}: expected {modes} tick counts")
        names.append(split[0])
        fields += split[1 : 1 + modes]
    if not names:
        raise ProcFormatError("no cpuN lines")
    try:
        ticks = list(map(int, fields))
    except ValueError:
        parse_stat(data)  # raises the error that names the line
        raise
    return StatTicks(cpus=[name[3:].decode(errors="replace") for name in names], ticks=ticks)


def parse_loadavg(data: bytes) -> LoadAverage:
    """/proc/loadavg: '1.50 0.75 0.25 2/300 4321'."""
    lines = text_lines(data)
    fields = lines[0].split()
    if len(lines) != 1 or len(fields) != 5:
        raise ProcFormatError(f"expected one line of five fields, got {data[:80]!r}")
    try:
        return LoadAverage(load1=float(fields[0]), load5=float(fields[1]), load15=float(fields[2]))
    except ValueError:
        raise ProcFormatError(f"expected three load averages, got {data[:80]!r}") from None


# One line of /proc/meminfo as the kernel writes it: 'Field:   123 kB' or 'HugePages_Total:   0'.
_MEMINFO_LINE = re.compile(rb"^([^:\n]+):[ \t]+(\d+)( kB)?\n", re.MULTILINE)


def parse_meminfo(data: bytes) -> dict[str, int]:
    """/proc/meminfo as field -> bytes ('kB' values scaled; HugePages_* counts as they are)."""
    # One regex pass when every line is the kernel's (the usual case, a third of the line-by-line
    # cost); anything else goes through the line-by-line parser, which says what is wrong.
    if data.endswith(b"\n") and b"\0" not in data:
        pairs = _MEMINFO_LINE.findall(data)
        if len(pairs) == data.count(b"\n"):
            fast = {key.decode(errors="replace"): int(value) * (1024 if kb else 1) for key, value, kb in pairs}
            if "MemTotal" in fast and len(fast) == len(pairs):
                return fast
    return parse_meminfo_lines(data)


# A whole /proc/meminfo of the kernel's lines, names without blanks (checked in one pass, nothing extracted).
_MEMINFO_FILE = re.compile(rb"(?:[^:\s]+:[ \t]+\d+(?: kB)?\n)+")


def meminfo_parser(fields: tuple[str, ...]) -> Callable[[bytes], dict[str, int]]:
    """A parser of /proc/meminfo that accepts and refuses what parse_meminfo() does but converts only `fields`.

    A collector reads 21 of the 50-odd lines: the whole file is checked in one regex pass, then
    split into (name:, value) pairs at C speed, and only the fields asked for are converted (half
    the cost of converting every line).
    """
    keys = tuple((field, field.encode() + b":") for field in fields)

    def parse(data: bytes) -> dict[str, int]:
        if data.endswith(b"\n") and b"\0" not in data and _MEMINFO_FILE.fullmatch(data):
            # Checked: every line is 'name: digits' or 'name: digits kB', so the tokens pair up.
            tokens = data.replace(b" kB\n", b"K\n").split()
            pairs = dict(zip(tokens[::2], tokens[1::2], strict=True))
            if b"MemTotal:" in pairs:
                found: dict[str, int] = {}
                for field, key in keys:
                    value = pairs.get(key)
                    if value is not None:
                        found[field] = int(value[:-1]) * 1024 if value[-1:] == b"K" else int(value)
                return found
        every = parse_meminfo_lines(data)  # says what is wrong, or reads what the one pass does not
        return {field: every[field] for field in fields if field in every}

    return parse


def parse_meminfo_lines(data: bytes) -> dict[str, int]:
    """parse_meminfo() line by line, with an error naming the first line that is not the kernel's."""
    fields: dict[str, int] = {}
    for line in text_lines(data):
        key, sep, rest = line.partition(b":")
        parts = rest.split()
        if not sep or not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] != b"kB"):
            raise ProcFormatError(f"line {line[:80]!r}: expected 'Field: value [kB]'")
        (value,) = _integers(parts[:1], key.decode(errors="replace"))
        fields[key.decode(errors="replace")] = value * (1024 if len(parts) == 2 else 1)
    if "MemTotal" not in fields:
        raise ProcFormatError("no MemTotal line")
    return fields


def parse_diskstats(data: bytes, wanted: Callable[[str], bool] | None = None) -> list[DeviceCounters]:
    """/proc/diskstats: the first DISKSTATS_COLUMNS counters per device.

    With `wanted`, the devices it refuses (loop devices, partitions: most lines on many hosts) are
    checked for their shape only and left out, their counters never converted.
    """
    disks: list[DeviceCounters] = []
    for line in text_lines(data):
        fields = line.split()
        if len(fields) < 3 + DISKSTATS_COLUMNS:
            raise ProcFormatError(f"line {line[:80]!r}: expected major, minor, name and {DISKSTATS_COLUMNS} counters")
        device = fields[2].decode(errors="replace")
        if wanted is None or wanted(device):
            disks.append(DeviceCounters(device=device, values=_integers(fields[3 : 3 + DISKSTATS_COLUMNS], device)))
    return disks


def parse_netdev(data: bytes) -> list[DeviceCounters]:
    """/proc/net/dev: the NETDEV_COLUMNS counters per interface, after the two header lines."""
    lines = text_lines(data)
    if len(lines) < 2 or b"|" not in lines[0] or b"|" not in lines[1]:
        raise ProcFormatError("expected the two header lines of /proc/net/dev")
    interfaces: list[DeviceCounters] = []
    for line in lines[2:]:
        device, sep, rest = line.partition(b":")
        values = rest.split()
        if not sep or len(values) != NETDEV_COLUMNS:
            raise ProcFormatError(f"line {line[:80]!r}: expected 'interface:' and {NETDEV_COLUMNS} counters")
        name = device.strip().decode(errors="replace")
        interfaces.append(DeviceCounters(device=name, values=_integers(values, name)))
    return interfaces


def parse_pressure(data: bytes) -> Pressure:
    """A /proc/pressure/* file: the total= of its 'some' and 'full' lines, in microseconds."""
    totals: dict[bytes, int] = {}
    for line in text_lines(data):
        kind, _, rest = line.partition(b" ")
        total = rest.rpartition(b"total=")
        if kind not in (b"some", b"full") or not total[1]:
            raise ProcFormatError(f"line {line[:80]!r}: expected 'some|full avg10=... total=N'")
        (totals[kind],) = _integers([total[2]], kind.decode())
    if b"some" not in totals:
        raise ProcFormatError("no 'some' line")
    return Pressure(some_us=totals[b"some"], full_us=totals.get(b"full"))


def unescape_mount_field(field: bytes) -> str:
    """A /proc/mounts field with the kernel's octal escapes (\\040 for a space) decoded."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field.decode(errors="replace"))


def parse_mounts(data: bytes) -> list[Mount]:
    """/proc/mounts, in order."""
    mounts: list[Mount] = []
    for line in text_lines(data):
        fields = line.split()
        if len(fields) != 6:
            raise ProcFormatError(f"line {line[:80]!r}: expected six fields")
        mounts.append(
            Mount(
                device=unescape_mount_field(fields[0]),
                mountpoint=unescape_mount_field(fields[1]),
                fstype=fields[2].decode(errors="replace"),
                readonly=b"ro" in fields[3].split(b","),
            )
        )
    return mounts


def parse_container_id(data: bytes) -> str:
    """The container id in a /proc/<pid>/cgroup file, or '' for a process outside containers."""
    for line in data.split(b"\n"):
        path = line.decode(errors="replace").rpartition(":")[2]
        for part in reversed(path.split("/")):
            match = _CONTAINER_ID.search(part)
            if match:
                return match.group(1)
    return ""


def process_name(procfs: str, pid: int) -> str:
    """The command name of a process, or '' when it is gone or hidden."""
    try:
        with open(f"{procfs}/{pid}/comm", "rb") as handle:
            return handle.read().strip().decode(errors="replace")
    except OSError:
        return ""


def container_id(procfs: str, pid: int) -> str:
    """The container id of a process from its cgroup path, or '' when it runs outside containers."""
    try:
        with open(f"{procfs}/{pid}/cgroup", "rb") as handle:
            return parse_container_id(handle.read())
    except OSError:
        return ""
