"""Output formats (Settings outputs or generate --format): which rendered files and directories are written."""

from __future__ import annotations

FORMATS = ("files", "kubernetes")
KUBERNETES_ROOTS = ("kubernetes",)


def select_outputs(files: dict[str, bytes], roots: list[str], outputs: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """The files and owned directories to write for the chosen formats."""
    # Without "files", only kubernetes/ is written and the other directories are left as they are.
    if "files" in outputs:
        return files, roots
    kept = [r for r in roots if r in KUBERNETES_ROOTS]
    return {p: b for p, b in files.items() if p.split("/", 1)[0] in kept}, kept
