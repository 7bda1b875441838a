"""The operations commands are wired into the CLI, with help, and bad arguments are clear errors."""

from __future__ import annotations

import pytest

from conftest import run_promspec

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "command",
    ["silence add", "silence list", "silence expire", "stack up", "stack down", "status", "collect", "render slurm"],
)
def test_help(command):
    proc = run_promspec(*command.split(), "--help", check=0)
    assert proc.stdout.startswith(f"Usage: promspec {command} ")


def test_listed_in_top_level_help():
    out = run_promspec("--help", check=0).stdout
    for command in ("silence", "stack", "status", "collect", "render"):
        assert f"\n  {command} " in out


def test_generate_format_is_checked():
    proc = run_promspec("generate", "--format", "helm", check=2)
    assert "Invalid value for '--format'" in proc.stderr
