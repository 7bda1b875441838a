"""promspec-exporter with the fake NVML fleet in place of the driver: python fake_exporter.py [flags]."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_nvml import fleet

from promspec.exporter.cli import main

if __name__ == "__main__":
    nvml = fleet(processes_pid=os.getpid())
    # An in-place driver upgrade: the library no longer matches the loaded kernel module.
    nvml.version_mismatch = os.environ.get("FAKE_NVML_VERSION_MISMATCH") == "1"
    sys.exit(main(sys.argv[1:], overrides={"gpu": {"nvml": nvml}}))
