"""promspec-exporter with the fake NVML fleet in place of the driver: python fake_exporter.py [flags]."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_nvml import fleet  # noqa: E402
from promspec.exporter.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], overrides={"gpu": {"nvml": fleet(processes_pid=os.getpid())}}))
