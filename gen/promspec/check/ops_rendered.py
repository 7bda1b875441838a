"""`promspec check` over the output directories of the operations features."""

from __future__ import annotations

from .alertmanager_files import check_alertmanager_dir
from .kubernetes_crds import check_kubernetes_dir
from .tools import Progress, ToolResult


def check_ops_dirs(directory: str, progress: Progress = lambda message: None) -> list[ToolResult]:
    """alertmanager/ and kubernetes/ checks; each returns nothing when its directory is absent."""
    return check_alertmanager_dir(directory, progress) + check_kubernetes_dir(directory, progress)
