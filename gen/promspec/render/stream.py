"""Render the output pieces into a Stage as they are made: in this process, or split over worker processes.

Workers (workers.fork_map) each render every jobs-th piece into the staging directory (or compare it with
the output directory) and send back only the small Staged records. The parent accepts every record, so
the plan, the manifests and the swap are the same whichever process rendered a file, and the bytes are
the same for any number of workers: each piece's files depend on that piece alone.
"""

from __future__ import annotations

from ..workers import fork_map
from .outputs import Part
from .tree import Stage, Staged


def write_parts(parts: list[Part], stage: Stage, jobs: int, keep: set[str]) -> set[str]:
    """Render every piece; put the files under the roots in keep into the stage. Returns every rendered path
    (kept or not: `nothing_useful` reads them all)."""

    def render(i: int) -> list[Staged]:
        # A path outside the kept roots is only counted: not written, not compared. One piece's bytes at a
        # time are held.
        return [
            stage.put(path, data) if path.split("/", 1)[0] in keep else Staged(path=path)
            for path, data in parts[i].files().items()
        ]

    staged_by_part = fork_map(render, len(parts), jobs)
    rendered: set[str] = set()
    for staged_list in staged_by_part:
        for staged in staged_list:
            if staged.path in rendered:  # two renderers writing one path: the later would silently win
                raise AssertionError(f"{staged.path} is rendered twice")
            rendered.add(staged.path)
            if staged.path.split("/", 1)[0] in keep:
                stage.accept(staged)
    return rendered
