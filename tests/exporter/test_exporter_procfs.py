"""The /proc parsers on fixture text (no /proc read), and binary or truncated files failing their collector."""

import pytest

from promspec.exporter import collectors, procfs
from promspec.exporter.options import Options
from promspec.exporter.procfs import ProcFormatError
from promspec.exporter.registry import Registry

from .exporter_harness import PROC_FILES


def test_stat_per_cpu_ticks():
    cpus = procfs.parse_stat(PROC_FILES["stat"].encode())
    assert [c.cpu for c in cpus] == ["0", "1"]  # the aggregate line is not a CPU
    assert cpus[1].ticks == (200, 6, 100, 2500, 20, 0, 4, 2)


def test_loadavg_meminfo_pressure():
    load = procfs.parse_loadavg(PROC_FILES["loadavg"].encode())
    assert (load.load1, load.load5, load.load15) == (1.5, 0.75, 0.25)
    memory = procfs.parse_meminfo(PROC_FILES["meminfo"].encode())
    assert memory["MemTotal"] == 16384000 * 1024 and memory["HugePages_Total"] == 0
    assert memory["Active(anon)"] == 100000 * 1024
    pressure = procfs.parse_pressure(PROC_FILES["pressure/memory"].encode())
    assert (pressure.some_us, pressure.full_us) == (1500000, 500000)
    assert procfs.parse_pressure(b"some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n").full_us is None


def test_diskstats_netdev_mounts():
    disks = procfs.parse_diskstats(PROC_FILES["diskstats"].encode())
    assert [d.device for d in disks] == ["loop0", "vda", "vda1", "nvme0n1"]
    assert disks[1].values[:3] == (1000, 10, 2000) and len(disks[1].values) == 11
    interfaces = procfs.parse_netdev(PROC_FILES["net/dev"].encode())
    assert [(i.device, i.values[0], i.values[8]) for i in interfaces] == [
        ("lo", 1000, 1000),
        ("eth0", 5000000, 3000000),
    ]
    mounts = procfs.parse_mounts(PROC_FILES["mounts"].encode())
    assert mounts[-1].mountpoint == "/mnt/gone away" and mounts[-1].fstype == "xfs"
    assert [m.readonly for m in mounts if m.mountpoint == "/data"] == [True, False]


def test_container_id_from_cgroup():
    assert procfs.parse_container_id(PROC_FILES["4242/cgroup"].encode()) == "3f4e" * 16
    assert procfs.parse_container_id(b"0::/user.slice/session-1.scope\n") == ""


# (parser, content): each is what a binary, truncated or garbled file reads like.
BROKEN = {
    "binary stat": (procfs.parse_stat, b"\x7fELF\x02\x01\x01\x00\x00\x00cpu0 1 2 3 4 5 6 7 8\n"),
    "stat cut mid-line": (procfs.parse_stat, PROC_FILES["stat"].encode()[:40]),
    "stat without CPUs": (procfs.parse_stat, b"intr 1\nctxt 2\n"),
    "empty loadavg": (procfs.parse_loadavg, b""),
    "loadavg cut": (procfs.parse_loadavg, b"1.50 0.75\n"),
    "binary meminfo": (procfs.parse_meminfo, b"\x00" * 64),
    "meminfo cut": (procfs.parse_meminfo, PROC_FILES["meminfo"].encode()[:60]),
    "meminfo without MemTotal": (procfs.parse_meminfo, b"MemFree: 1 kB\n"),
    "diskstats cut": (procfs.parse_diskstats, PROC_FILES["diskstats"].encode()[:90] + b"\n"),
    "netdev cut": (procfs.parse_netdev, PROC_FILES["net/dev"].encode()[:-40] + b"\n"),
    "netdev without headers": (procfs.parse_netdev, b"eth0: 1 2 3\n"),
    "pressure garbled": (procfs.parse_pressure, b"\xff\xfe\n"),
    "mounts cut": (procfs.parse_mounts, b"/dev/vda1 / ext4 rw,relatime 0 0\n/dev/vdb /da"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_content_is_an_error(case):
    parse, data = BROKEN[case]
    with pytest.raises(ProcFormatError):
        parse(data)


@pytest.mark.parametrize(
    ("collector", "name", "content"),
    [
        ("meminfo", "meminfo", b"\x00\x01\x02binary\x00"),
        ("meminfo", "meminfo", PROC_FILES["meminfo"].encode()[:9]),
        ("cpu", "stat", b"\x00" * 100),
        ("loadavg", "loadavg", b""),
        ("diskstats", "diskstats", b"\x89PNG\r\n\x1a\n\x00"),
        ("netdev", "net/dev", PROC_FILES["net/dev"].encode()[:30]),
        ("pressure", "pressure/io", b"some avg10=0.00 avg60=0.00 avg300=0.00 tot"),
        ("filesystem", "mounts", b"\x00garbage"),
    ],
)
def test_binary_or_truncated_file_fails_the_collector(tmp_path, procfs_tree, collector, name, content):
    (procfs_tree / name).write_bytes(content)
    registry = Registry(
        collectors.build(
            [collector, "loadavg" if collector != "loadavg" else "cpu"],
            Options(procfs=str(procfs_tree), rootfs=str(tmp_path)),
        )
    )
    try:
        registry.gather()
        assert registry.health[collector].success is False
        assert name.split("/")[0] in registry.health[collector].last_error
        other = next(c.name for c in registry.collectors if c.name != collector)
        assert registry.health[other].success is True
    finally:
        registry.close()


@pytest.fixture
def procfs_tree(procfs):
    return procfs


def test_meminfo_fast_path_reads_what_the_line_parser_reads():
    from pathlib import Path

    for data in (PROC_FILES["meminfo"].encode(), Path("/proc/meminfo").read_bytes()):
        assert procfs.parse_meminfo(data) == procfs.parse_meminfo_lines(data)
    # Written out, independent of both parsers: kB scaled, counts as they are, tabs allowed.
    text = b"MemTotal:       8000 kB\nHugePages_Total:\t   3\nDirectMap4k:  0 kB\n"
    assert procfs.parse_meminfo(text) == {"MemTotal": 8192000, "HugePages_Total": 3, "DirectMap4k": 0}


@pytest.mark.parametrize(
    "bad_line",
    [
        b"Bad line: x Foo: 5\n",  # a valid-looking tail after garbage
        b"Foo: 5 MB\n",
        b"Foo: 5 kB extra\n",
        b"no colon 5 kB\n",
        b"Foo:\n",
    ],
)
def test_meminfo_with_a_line_the_kernel_never_writes_is_refused(bad_line):
    data = b"MemTotal: 1 kB\n" + bad_line + b"MemFree: 1 kB\n"
    with pytest.raises(procfs.ProcFormatError):
        procfs.parse_meminfo(data)


MEMINFO_FIELDS = ("MemTotal", "Cached", "SwapCached", "Active", "HugePages_Total", "Absent")


@pytest.mark.parametrize(
    "data",
    [
        PROC_FILES["meminfo"].encode(),
        b"MemTotal:       8000 kB\nHugePages_Total:\t   3\nActive(anon):  7 kB\nActive: 9 kB\nCached: 1 kB\n",
        b"MemTotal: 1 kB\nCached: 2 kB\nCached: 3 kB\n",  # a repeated line: the last one, as line by line
        b"MemTotal:5 kB\nFoo bar: 2 kB\nCached:   4   kB  \n",  # odd spacing the one pass leaves to the lines
        b"MemFree: 1 kB\n",  # no MemTotal
        *[b"MemTotal: 1 kB\n" + bad + b"MemFree: 1 kB\n" for bad in (b"Bad line: x Foo: 5\n", b"Foo: 5 MB\n")],
        b"MemTotal: 1 kB\nFoo: 5 kB extra\n",
        b"MemTotal: 1 kB\nFoo:\n",
        b"MemTotal: 1 kB\nCached: 5 kB",  # cut
        b"MemTotal: 1 kB\n\x00\n",
    ],
)
def test_meminfo_parser_of_some_fields_reads_and_refuses_what_parse_meminfo_does(data):
    parse = procfs.meminfo_parser(MEMINFO_FIELDS)
    try:
        every = procfs.parse_meminfo(data)
    except ProcFormatError as exc:
        with pytest.raises(ProcFormatError) as caught:
            parse(data)
        assert str(caught.value) == str(exc)
        return
    assert parse(data) == {field: every[field] for field in MEMINFO_FIELDS if field in every}


def test_diskstats_devices_left_out_are_shape_checked_but_not_converted():
    data = PROC_FILES["diskstats"].encode()
    every = procfs.parse_diskstats(data)
    kept = procfs.parse_diskstats(data, wanted=lambda device: not device.startswith("loop"))
    assert kept == [disk for disk in every if not disk.device.startswith("loop")]
    short = b"   7 0 loop0 1 2 3\n"
    with pytest.raises(ProcFormatError, match="expected major, minor, name"):
        procfs.parse_diskstats(short + data, wanted=lambda device: device != "loop0")
