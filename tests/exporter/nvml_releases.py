"""Real nvidia-ml-py releases for the tests, each installed by pip into its own cached folder.

Each release is loaded under its own module name, so several live side by side and none is the
`pynvml` the exporter would import. Nothing of them is copied into the repository.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

# The oldest release the exporter supports (pyproject's floor), the last 12.x, the newest 13.x,
# and 12.535.77, whose process records are misread (the exporter must refuse them).
RELEASES = ("12.535.77", "12.560.30", "12.570.172", "13.615.71")


def install(version: str, cache: Path):
    """The pynvml module of one release; skips the test when pip cannot fetch it (no network)."""
    target = cache / version
    if not (target / "pynvml.py").is_file():
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "--target",
                str(target),
                f"nvidia-ml-py=={version}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0 or not (target / "pynvml.py").is_file():
            pytest.skip(
                f"pip could not install nvidia-ml-py=={version} (no network?): "
                f"{result.stderr.strip().splitlines()[-1:] or result.returncode}"
            )
    name = "pynvml_" + version.replace(".", "_")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, target / "pynvml.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
