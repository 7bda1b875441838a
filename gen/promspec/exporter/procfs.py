"""Small readers of /proc files shared by collectors."""

from __future__ import annotations

import re

# The 64-hex container id in a cgroup path: docker-<id>.scope, cri-containerd-<id>.scope,
# crio-<id>.scope, /docker/<id>, /kubepods/.../<id>, libpod-<id>.scope.
_CONTAINER_ID = re.compile(r"([0-9a-f]{64})(?:\.scope)?$")


def read_lines(path: str) -> list:
    """The lines of a (small) file as bytes."""
    with open(path, "rb") as handle:
        return handle.read().split(b"\n")


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
        lines = read_lines(f"{procfs}/{pid}/cgroup")
    except OSError:
        return ""
    for line in lines:
        path = line.decode(errors="replace").rpartition(":")[2]
        for part in reversed(path.split("/")):
            match = _CONTAINER_ID.search(part)
            if match:
                return match.group(1)
    return ""
