"""The promspec command line: parse arguments, call the library, print. Imports are lazy for a fast --help."""

from __future__ import annotations

import os
import sys

import click

DEFAULT_SPECS = "specs"


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"promspec: {message}", err=True)
    sys.exit(code)


def _load(specs: tuple, strict: bool = False):
    """Load specs or exit 1 with every diagnostic; warnings go to stderr."""
    from .diagnostics import SpecError
    from .pipeline import load_project

    try:
        project, report = load_project(specs or (DEFAULT_SPECS,), strict=strict)
    except SpecError as exc:
        for d in exc.diagnostics:
            click.echo(d.format(), err=True)
        n = len(exc.diagnostics)
        _fail(f"{n} error{'s' if n != 1 else ''} in specs; nothing written")
    for w in report.warnings:
        click.echo(w.format(), err=True)
    return project


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="promspec")
def cli() -> None:
    """Compile monitoring specs into Prometheus rules, scrape configs and more."""


@cli.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click.option("-o", "--output", "output", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Directory to write rules/ and prometheus/ into.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the output is stale.")
@click.option("--strict", is_flag=True, help="Treat warnings (e.g. high-cardinality labels) as errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def generate(specs, output, check, strict, quiet) -> None:
    """Render SPECS (files or directories; default ./specs) into OUTPUT."""
    from .render.outputs import ROOTS, render_project
    from .render.tree import diff_tree, write_tree

    project = _load(specs, strict)
    files = render_project(project)
    if check:
        diff = diff_tree(output, files, list(ROOTS))
        if diff:
            click.echo(diff, nl=False)
            _fail(f"output in {output} is stale: run `promspec generate -o {output}`")
        if not quiet:
            click.echo(f"{len(files)} files in {output} are up to date", err=True)
        return
    try:
        write_tree(output, files, list(ROOTS))
    except OSError as exc:
        _fail(f"cannot write output to {output}: {exc.strerror or exc}; previous output left as it was")
    if not quiet:
        click.echo(f"wrote {len(files)} files to {output} ({', '.join(r + '/' for r in ROOTS)})", err=True)


@cli.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(specs, strict) -> None:
    """Load and check SPECS (schema and semantics) without writing anything."""
    project = _load(specs, strict)
    n_rules = sum(len(g.rules) for g in project.groups)
    click.echo(f"ok: {len(project.documents)} documents, {len(project.groups)} rule groups, {n_rules} rules, "
               f"{len(project.jobs)} scrape jobs", err=True)


@cli.command()
@click.argument("directory", default=".", type=click.Path(exists=True, file_okay=False))
def check(directory) -> None:
    """Run promtool over the rendered output in DIRECTORY."""
    from .check.rendered import check_rendered
    from .check.tools import ToolMissing

    try:
        results = check_rendered(directory, progress=lambda m: click.echo(m, err=True))
    except ToolMissing as exc:
        _fail(str(exc))
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"FAILED: {' '.join(r.command[1:])}\n{r.output.rstrip()}", err=True)
    if failed:
        _fail(f"{len(failed)} of {len(results)} checks failed")
    click.echo(f"ok: {len(results)} checks passed", err=True)


@cli.command()
@click.option("-o", "--output", default="schemas", show_default=True, type=click.Path(file_okay=False),
              help="Directory to write <Kind>.json into.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files differ.")
def schema(output, check) -> None:
    """Write the JSON Schema of every spec kind (for editor autocompletion)."""
    from .render.tree import diff_tree, write_tree
    from .render.yamlout import dump_json
    from .spec.schemas import all_schemas

    root = os.path.basename(os.path.normpath(output))
    parent = os.path.dirname(os.path.normpath(output)) or "."
    files = {f"{root}/{kind}.json": dump_json(s) for kind, s in all_schemas().items()}
    if check:
        diff = diff_tree(parent, files, [root])
        if diff:
            click.echo(diff, nl=False)
            _fail(f"schemas in {output} are stale: run `promspec schema -o {output}`")
        return
    write_tree(parent, files, [root])
    click.echo(f"wrote {len(files)} schemas to {output}", err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="promspec")


if __name__ == "__main__":  # pragma: no cover
    main()
