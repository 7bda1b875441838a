"""promspec-exporter whose statfs blocks for ever on mount points containing 'hung': python hung_exporter.py [flags]."""

import os
import sys
import threading

from promspec.exporter.cli import main

_NEVER = threading.Event()


def hanging_statfs(path: str):
    # Injected at the narrowest boundary: the one syscall a dead mount never returns from.
    if "hung" in path:
        _NEVER.wait()
    return os.statvfs(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], overrides={"filesystem": {"statfs": hanging_statfs}}))
