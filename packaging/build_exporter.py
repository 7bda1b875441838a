"""Build the exporter-only distribution, `promspec-exporter`, from this repository.

`pip install promspec` is the generator (click, jsonschema, the PromQL parser, ...). A GPU host needs
only the exporter, and an extra cannot remove dependencies, so the exporter ships as a second
distribution: gen/promspec/exporter as it is (no move), the `exporter` extra of pyproject.toml as its
dependencies, the same version. `promspec` itself has no __init__ in this wheel: it is a namespace
package, so `promspec.exporter` imports nothing from the generator side.

    python packaging/build_exporter.py DIST_DIR      # writes promspec_exporter-<version>-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "promspec-exporter"


def project_facts(pyproject: str) -> dict:
    """Version, Python requirement and exporter dependencies, read from the main pyproject.toml."""
    with open(pyproject, "rb") as fh:
        project = tomllib.load(fh)["project"]
    return {
        "version": project["version"],
        "requires_python": project["requires-python"],
        "dependencies": list(project["optional-dependencies"]["exporter"]),
    }


def pyproject_text(facts: dict) -> str:
    deps = "".join(f'  "{d}",\n' for d in facts["dependencies"])
    return (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{NAME}"\nversion = "{facts["version"]}"\n'
        'description = "promspec-exporter: GPU (NVML) and host metrics for Prometheus, '
        'without the promspec generator"\n'
        f'requires-python = "{facts["requires_python"]}"\nlicense = {{text = "Apache-2.0"}}\n'
        f"dependencies = [\n{deps}]\n\n"
        '[project.scripts]\npromspec-exporter = "promspec.exporter.cli:main"\n\n'
        '[tool.setuptools.packages.find]\nwhere = ["src"]\ninclude = ["promspec.exporter*"]\nnamespaces = true\n'
    )


def stage(directory: str) -> None:
    """A buildable project tree for the exporter distribution under directory."""
    shutil.copytree(
        os.path.join(REPO, "gen", "promspec", "exporter"),
        os.path.join(directory, "src", "promspec", "exporter"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    with open(os.path.join(directory, "pyproject.toml"), "w", encoding="utf-8") as fh:
        fh.write(pyproject_text(project_facts(os.path.join(REPO, "pyproject.toml"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", help="directory to write the wheel into")
    parser.add_argument(
        "--no-build-isolation",
        action="store_true",
        help="build with this Python's setuptools (>=68 and wheel) instead of an isolated build env",
    )
    args = parser.parse_args(argv)
    os.makedirs(args.dist, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="promspec-exporter-") as tmp:
        stage(tmp)
        cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", os.path.abspath(args.dist), tmp]
        if args.no_build_isolation:
            cmd.insert(cmd.index("--no-deps"), "--no-build-isolation")
        return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
