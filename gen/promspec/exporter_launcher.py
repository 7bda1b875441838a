"""The `promspec-exporter` command of the `promspec` distribution.

`pip install promspec` is the generator and does not pull the exporter's dependencies; its
`promspec-exporter` script says how to get them instead of failing with a traceback.
The `promspec-exporter` distribution points its script at promspec.exporter.cli directly.
"""

from __future__ import annotations

import importlib.util
import sys

EXPORTER_MODULES = ("prometheus_client",)


def main() -> None:
    missing = [m for m in EXPORTER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        sys.stderr.write(
            f"promspec-exporter: {', '.join(missing)} is not installed: run "
            "`pip install 'promspec[exporter]'`, or on a GPU host `pip install promspec-exporter` "
            "(the exporter without the generator's dependencies)\n"
        )
        sys.exit(1)
    from .exporter.cli import main as exporter_main

    exporter_main()
