"""Render the output pieces into a Stage as they are made: in this process, or split over worker processes.

Workers (workers.fork_map) each render the next piece no process took yet into the staging directory (or compare it with
the output directory) and send back only the small Staged records. The parent accepts every record, so
the plan, the manifests and the swap are the same whichever process rendered a file, and the bytes are
the same for any number of workers: each piece's files depend on that piece alone.

Given the Build's checks left to run (pipeline.Unchecked), the rule checks are one more item, taken by
whichever process comes first while the others render, and a worker also checks the dashboards of each piece
of dashboard files before it renders them: a dashboard is built on first use (compile/dashboards/project.py),
so it is built once, in that worker, and the parent (which forked before any was built) never builds it.
The parent adds the rule checks' report, then the findings in dashboard order, so the report is
load_build's, and an error there stops everything before the stage is committed. The provisioning file,
which lists the dashboards that render, is rendered by the parent from what the workers sent back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..diagnostics import Report
from ..workers import fork_map, portable
from .dashboards import render_dashboard_files, render_provisioning
from .outputs import Part
from .tree import Stage, Staged

if TYPE_CHECKING:
    from ..check.dashboard_specs import Findings
    from ..pipeline import Unchecked


@dataclass(frozen=True, kw_only=True)
class _Piece:
    """What a worker sends back for one piece: its files, and for a piece of dashboard files the findings
    of its dashboards and whether each renders; or the error that stopped its rendering."""

    staged: list[Staged]
    findings: list[Findings]
    renders: list[bool]
    error: BaseException | None = None


def write_parts(
    parts: list[Part],
    stage: Stage,
    jobs: int,
    keep: set[str],
    unchecked: Unchecked | None = None,
    checked: Callable[[Report], None] | None = None,
) -> set[str]:
    """Render every piece; put the files under the roots in keep into the stage. Returns every path rendered
    (kept or not: `nothing_useful` reads them all).

    unchecked: the rule checks and the dashboards' are run here too, the dashboards each where it is built,
    and unchecked.finish() raises SpecError (nothing committed) as load_build would; a rendering error
    counts only when they pass. checked(report) is then given their report (load_build's) before anything
    else can fail, so that its warnings are printed even when writing the output fails, as with one process.
    """

    def render(part: Part) -> list[Staged]:
        # A path outside the kept roots is only counted: not written, not compared. One piece's bytes at a
        # time are held.
        return [
            stage.put(path, data) if path.split("/", 1)[0] in keep else Staged(path=path)
            for path, data in part.files().items()
        ]

    if unchecked is None:
        return _accepted(stage, keep, fork_map(lambda i: render(parts[i]), len(parts), jobs))
    check_one = unchecked.check_one
    # The provisioning file reads which dashboards render: the parent renders it once the workers said.
    later = [i for i, part in enumerate(parts) if part.render is render_provisioning]
    stopped = False  # in this process: after a rendering error, only the checks go on (a loop stops there)

    def piece(i: int) -> _Piece:
        nonlocal stopped
        part = parts[i]
        own = part.build.dashboards.dashboards if part.render is render_dashboard_files else []
        findings = [check_one(built) for built in own]
        renders = [built.renders for built in own]
        if stopped or i in later:
            return _Piece(staged=[], findings=findings, renders=renders)
        try:
            return _Piece(staged=render(part), findings=findings, renders=renders)
        except Exception as exc:  # raised by the parent, after the checks (which a loop ran first)
            stopped = True
            return _Piece(staged=[], findings=findings, renders=renders, error=portable(exc))
        finally:
            for built in own:  # checked and written: this worker reads them no more
                built.forget()

    def item(i: int) -> _Piece | Report:
        # Item 0, the rule checks, is taken first: a process takes items in order, and the others render
        # meanwhile.
        return unchecked.checked_before() if i == 0 else piece(i - 1)

    done = fork_map(item, len(parts) + 1, jobs)
    before, pieces = done[0], [p for p in done[1:] if isinstance(p, _Piece)]
    assert isinstance(before, Report) and len(pieces) == len(parts)
    report = unchecked.finish(before, (finding for p in pieces for finding in p.findings))
    if checked is not None:
        checked(report)
    failed = next((p.error for p in pieces if p.error is not None), None)
    if failed is not None:
        raise failed
    renders = [r for p in pieces for r in p.renders]
    staged_by_part = []
    for i, p in enumerate(pieces):
        if i in later:
            part = parts[i]
            dashboards = replace(part.build.dashboards, renders=renders)
            p = replace(p, staged=render(replace(part, build=replace(part.build, dashboards=dashboards))))
        staged_by_part.append(p.staged)
    return _accepted(stage, keep, staged_by_part)


def _accepted(stage: Stage, keep: set[str], staged_by_part: list[list[Staged]]) -> set[str]:
    rendered: set[str] = set()
    for staged_list in staged_by_part:
        for staged in staged_list:
            if staged.path in rendered:  # two renderers writing one path: the later would silently win
                raise AssertionError(f"{staged.path} is rendered twice")
            rendered.add(staged.path)
            if staged.path.split("/", 1)[0] in keep:
                stage.accept(staged)
    return rendered
