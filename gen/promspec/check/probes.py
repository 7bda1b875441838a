"""blackbox_exporter --config.check over a rendered blackbox/blackbox.yml."""

from __future__ import annotations

import os
import shutil
import subprocess

from .tools import Progress, ToolMissing, ToolResult

NAMES = ("prometheus-blackbox-exporter", "blackbox_exporter")  # Debian's name, then upstream's


def check_blackbox(directory: str, progress: Progress = lambda message: None) -> list[ToolResult]:
    """Nothing when there is no blackbox/blackbox.yml; ToolMissing when there is one and no exporter."""
    config = os.path.join(directory, "blackbox", "blackbox.yml")
    if not os.path.exists(config):
        return []
    binary = os.environ.get("PROMSPEC_BLACKBOX_BIN") or next(filter(None, map(shutil.which, NAMES)), None)
    if not binary:
        raise ToolMissing("blackbox_exporter")
    progress("blackbox_exporter --config.check: blackbox/blackbox.yml")
    cmd = [binary, "--config.check", f"--config.file={config}"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60, check=False)
    return [ToolResult(cmd, proc.returncode, proc.stdout)]
