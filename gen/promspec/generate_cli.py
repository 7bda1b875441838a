"""`promspec generate`: render specs into an output directory, in one process or several."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from .cli_support import DEFAULT_SPECS, exit_spec_errors, fail, load_build_or_exit, print_loaded
from .jobs import AUTO_JOBS_DASHBOARDS, AUTO_JOBS_MAX
from .process import cyclic_collector_off

if TYPE_CHECKING:
    from .compile.build import Build
    from .pipeline import Unchecked


def load_for_workers(specs: tuple[str, ...], strict: bool, jobs: int | None) -> tuple[Build, Unchecked | None, int]:
    """load_build_or_exit for generate's workers: the Build, with its rule checks and its dashboards' own checks
    left to the workers that render the output (the rule checks in whichever takes them first, a dashboard's
    in the one that builds and renders it), and the number of workers (auto resolved). The checks are made
    here (None left) when one process is chosen, or when the specs fail whatever those checks say (exit 1)."""
    from .diagnostics import SpecError
    from .jobs import auto_jobs
    from .pipeline import load_unchecked
    from .workers import available_memory, fork_map, resident_memory, usable_cpus

    try:
        unchecked = load_unchecked(specs or (DEFAULT_SPECS,), strict=strict)
        dashes, check_one = unchecked.build.dashboards.dashboards, unchecked.check_one
        if jobs is None:  # the fork pays for itself only on a project large enough
            jobs = auto_jobs(len(dashes), usable_cpus(), resident_memory(), available_memory())
        if jobs > 1 and not unchecked.failed:
            return unchecked.build, unchecked, jobs
        before = unchecked.checked_before()
        report = unchecked.finish(before, fork_map(lambda i: check_one(dashes[i]), len(dashes), jobs))
    except SpecError as exc:
        exit_spec_errors(exc)
    print_loaded(unchecked.build, report)
    return unchecked.build, None, jobs


class _Jobs(click.ParamType[int | None, object]):
    """--jobs: a number of processes (1 or more), or "auto"."""

    name = "N|auto"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if value is None or value == "auto":
            return None
        try:
            jobs = int(str(value))
        except ValueError:
            jobs = 0
        if jobs < 1:
            self.fail(f"{value!r} is neither a number of processes (1 or more) nor 'auto'", param, ctx)
        return jobs


@click.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--output",
    "output",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory to write rules/ and prometheus/ into.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the output is stale.")
@click.option("--strict", is_flag=True, help="Treat warnings (e.g. high-cardinality labels) as errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["files", "kubernetes"]),
    help="Output format, repeatable (default: Settings outputs, else files); kubernetes writes "
    "PrometheusRule/ServiceMonitor/ConfigMap resources to kubernetes/.",
)
@click.option(
    "-j",
    "--jobs",
    type=_Jobs(),
    metavar="N|auto",
    default="auto",
    show_default=True,
    envvar="PROMSPEC_JOBS",
    help="Worker processes that build, check and render the dashboards and render and write the output "
    "(env PROMSPEC_JOBS). Output and messages are the same for any number. auto: the CPUs this process may "
    f"use, at most {AUTO_JOBS_MAX} and as many copies of this process as the free memory holds, for a project "
    f"of {AUTO_JOBS_DASHBOARDS} dashboards or more (smaller ones gain nothing from the fork), else 1 "
    "(docs/BENCHMARKS.md).",
)
@cyclic_collector_off()
def generate(
    specs: tuple[str, ...],
    output: str,
    check: bool,
    strict: bool,
    quiet: bool,
    formats: tuple[str, ...],
    jobs: int | None,
) -> None:
    """Render SPECS (files or directories; default ./specs) into OUTPUT.

    Only files promspec wrote (listed in each directory's .promspec-manifest) are replaced or removed;
    any other file in rules/, dashboards/, ... is left alone with a warning.
    """
    from .diagnostics import SpecError
    from .render.formats import select_outputs
    from .render.outputs import ROOTS, nothing_useful, render_parts
    from .render.stream import write_parts
    from .render.tree import ForeignFileError, staged_tree

    # One process: load_build checks everything, then the pieces render. Several: each dashboard is built,
    # checked and rendered in one worker (render/stream.py), and the rule checks run in one while the others
    # render; their findings are reported as load_build would.
    if jobs == 1:
        build, unchecked = load_build_or_exit(specs, strict), None
    else:
        build, unchecked, jobs = load_for_workers(specs, strict, jobs)
    if formats:
        from dataclasses import replace

        # --format overrides Settings' outputs: render/ops_outputs.py reads them from the Build's project.
        settings = replace(build.project.settings, outputs=list(formats))
        build = replace(build, project=replace(build.project, settings=settings))
    project = build.project
    parts = render_parts(build)
    _none, roots = select_outputs({}, list(ROOTS), project.settings.outputs)
    # Files go to the staging directory (or are compared with the output) as they are rendered: nothing in
    # OUTPUT changes before the commit below, whatever fails or is interrupted on the way.
    try:
        with staged_tree(output, roots, compare=check) as stage:
            try:
                written = write_parts(parts, stage, jobs, set(roots), unchecked, lambda r: print_loaded(build, r))
            except SpecError as exc:
                exit_spec_errors(exc)
            empty = nothing_useful(build, written)
            if empty:
                fail(f"{empty}; nothing written")
            plan = stage.plan()
            for path in plan.foreign:
                click.echo(
                    f"{os.path.join(output, path)}: warning: not written by promspec (not in its directory's "
                    ".promspec-manifest): left as it is",
                    err=True,
                )
            if plan.collisions:
                for path in plan.collisions:
                    click.echo(
                        f"promspec: {os.path.join(output, path)}: not written by promspec (not in its directory's "
                        ".promspec-manifest), and a spec renders this path",
                        err=True,
                    )
                fail(
                    f"refusing to replace {len(plan.collisions)} file(s) promspec did not write: move them away, "
                    "or rename what renders there; nothing written"
                )
            if check:
                diff = stage.diff(plan)
                if diff:
                    click.echo(diff, nl=False)
                    fail(f"output in {output} is stale: run `promspec generate -o {output}`")
                if not quiet:
                    click.echo(f"{len(stage.paths)} files in {output} are up to date", err=True)
                return
            try:
                stage.commit(plan)
            except ForeignFileError as exc:  # a file appeared between the plan and the write
                fail(f"refusing to replace files promspec did not write: {exc}; nothing written")
    except OSError as exc:  # staging, a worker's write or the swap: the previous output is still whole
        what = "compare output with" if check else "write output to"
        # A file's write names the file (its path in the output: render/tree.py's Stage.put).
        reason = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else exc.strerror or exc
        fail(f"cannot {what} {output}: {reason}; previous output left as it was")
    if not quiet:
        click.echo(f"wrote {len(stage.paths)} files to {output} ({', '.join(r + '/' for r in plan.roots)})", err=True)
