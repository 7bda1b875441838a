"""promspec-exporter over the fake NVML fleet with one XID event delivered, for the dashboard tests."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "exporter"))

from fake_nvml import fleet

from promspec.exporter.cli import main

if __name__ == "__main__":
    nvml = fleet()
    # So the XID panels chart a real event, not an absent series; NVML records none before registration.
    nvml.inject_xid_once_registered(0, 79)
    sys.exit(main(sys.argv[1:], overrides={"gpu": {"nvml": nvml}}))
