"""Run promtool and amtool through subprocess, with a clear message when they are missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

Progress = Callable[[str], None]  # what a check says while it runs (`promspec check` prints it)

INSTALL_HINT = {
    "promtool": "install Debian's 'prometheus' package (apt-get install prometheus) "
    "or put promtool from a Prometheus release on PATH",
    "amtool": "install Debian's 'prometheus-alertmanager' package (apt-get install prometheus-alertmanager) "
    "or put amtool from an Alertmanager release on PATH",
    "vmalert": "install Debian's 'victoria-metrics' package (apt-get install victoria-metrics), which ships vmalert, "
    "or put vmalert from a VictoriaMetrics release on PATH",
    "vmagent": "install Debian's 'victoria-metrics' package (apt-get install victoria-metrics), which ships vmagent, "
    "or put vmagent from a VictoriaMetrics release on PATH",
    "blackbox_exporter": "install Debian's 'prometheus-blackbox-exporter' package, put blackbox_exporter on PATH, "
    "or set PROMSPEC_BLACKBOX_BIN",
}


class ToolMissing(Exception):
    """A required external tool is not on PATH."""

    def __init__(self, tool: str):
        super().__init__(f"{tool} not found on PATH: {INSTALL_HINT.get(tool, 'install it')}")
        self.tool = tool


@dataclass
class ToolResult:
    command: list[str]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def find_tool(tool: str) -> str:
    """Path of a tool, or ToolMissing."""
    env = os.environ.get(f"PROMSPEC_{tool.upper()}")
    path = env or shutil.which(tool)
    if not path:
        raise ToolMissing(tool)
    return path


def run_tool(tool: str, *args: str, cwd: str | None = None, timeout: float = 120) -> ToolResult:
    """Run tool with args and capture its combined output."""
    cmd = [find_tool(tool), *args]
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return ToolResult(cmd, proc.returncode, proc.stdout)


_RULE_ERROR = re.compile(r'rule (\d+), "[^"]*": could not parse expression: (\d+):(\d+): parse error: (.*)$')


def locate_parse_errors(exprs: list[str]) -> list[tuple[int, int, str] | None]:
    """Ask promtool where each expression fails to parse: (line, col, message) inside the expression."""
    import yaml

    try:
        find_tool("promtool")
    except ToolMissing:
        return [None] * len(exprs)
    doc = {"groups": [{"name": "locate", "rules": [{"record": f"r{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        yaml.safe_dump(doc, fh)
        path = fh.name
    try:
        result = run_tool("promtool", "check", "rules", path)
    finally:
        os.unlink(path)
    found: list[tuple[int, int, str] | None] = [None] * len(exprs)
    for line in result.output.splitlines():
        m = _RULE_ERROR.search(line)
        if m:
            index = int(m.group(1)) - 1
            if 0 <= index < len(found):
                found[index] = (int(m.group(2)), int(m.group(3)), m.group(4))
    return found
