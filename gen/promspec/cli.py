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
@click.option("--format", "formats", multiple=True, type=click.Choice(["files", "kubernetes"]),
              help="Output format, repeatable (default: Settings outputs, else files); kubernetes writes "
                   "PrometheusRule/ServiceMonitor/ConfigMap resources to kubernetes/.")
def generate(specs, output, check, strict, quiet, formats) -> None:
    """Render SPECS (files or directories; default ./specs) into OUTPUT."""
    from .render.formats import select_outputs
    from .render.outputs import ROOTS, render_project
    from .render.tree import diff_tree, write_tree

    project = _load(specs, strict)
    if formats:
        project.settings.outputs = list(formats)
    files, ROOTS = select_outputs(render_project(project), list(ROOTS), project.settings.outputs)
    from .render.probes import blackbox_owned

    if not blackbox_owned(output, files):  # a hand-written blackbox/ next to the output is not ours
        ROOTS = [r for r in ROOTS if r != "blackbox"]
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
@click.option("--dashboard", "dashboards", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Check only these Grafana dashboard JSON files (schema and lint rules), not DIRECTORY.")
@click.option("--lenient", is_flag=True,
              help="For dashboards exported from the Grafana UI: export-only keys ignored, lint findings are warnings.")
def check(directory, dashboards, lenient) -> None:
    """Run promtool over the rendered output in DIRECTORY and validate its dashboards offline."""
    from .check.rendered import check_rendered
    from .check.tools import ToolMissing

    try:
        if dashboards:
            from .check.dashboards import check_files

            results = check_files(dashboards, lenient, progress=lambda m: click.echo(m, err=True))
        else:
            results = check_rendered(directory, progress=lambda m: click.echo(m, err=True), lenient=lenient)
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


@cli.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["sloth", "openslo"]))
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the promspec specs here (default stdout).")
def import_(fmt, files, output) -> None:
    """Convert Sloth or OpenSLO FILES to promspec Service specs; say what could not be converted."""
    from .diagnostics import Report, SpecError
    from .importers import import_documents
    from .render.yamlout import dump_yaml
    from .spec.loader import load_paths
    from .spec.validate import validate_documents

    report = Report()
    try:
        docs = load_paths(files, report)
        report.raise_if_errors()
        converted = import_documents(docs, fmt, report)
        validate_documents(converted, report)
        report.raise_if_errors()
    except SpecError as exc:
        for d in exc.diagnostics:
            click.echo(d.format(), err=True)
        _fail(f"cannot import {', '.join(files)}")
    for w in report.warnings:
        click.echo(w.format(), err=True)
    text = "".join(
        ("---\n" if i else "") + dump_yaml(d.data, "# yaml-language-server: $schema=schemas/Service.json\n"
                                         f"# Imported from {d.file} ({fmt}) by `promspec import`.\n").decode()
        for i, d in enumerate(converted))
    if output:
        from .render.tree import write_file

        write_file(output, text.encode())
        click.echo(f"wrote {len(converted)} Service document(s) to {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("base", required=False)
@click.argument("head", required=False)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("--render", is_flag=True, help="Render both sides from their specs instead of reading rendered files.")
@click.option("--specs", "specs_dir", default="specs", show_default=True, help="The specs directory --render reads.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to a file.")
def diff(base, head, fmt, render, specs_dir, output) -> None:
    """Explain what changed in rules, alerts, SLOs and dashboards from BASE to HEAD.

    BASE and HEAD are git revisions or directories of rendered output; BASE defaults to the merge
    base with main, HEAD to the work tree (the current directory).
    """
    from .diff.compare import compare
    from .diff.report import as_json, markdown
    from .diff.sources import SourceError, default_base, read_side

    try:
        base = base or default_base()
        head = head or "."
        render_specs = specs_dir if render else ""
        changes = compare(read_side(base, render_specs), read_side(head, render_specs))
    except SourceError as exc:
        _fail(str(exc))
    label_head = "work tree" if head == "." else head
    text = (as_json if fmt == "json" else markdown)(changes, base, label_head)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("dashboard")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="FILE.html, or FILE.png (rendered with headless Chromium).")
@click.option("--prometheus", "prometheus_url", metavar="URL", help="Draw the panels' data from this Prometheus.")
@click.option("--specs", "specs", multiple=True, type=click.Path(), help="Specs to render DASHBOARD from (default ./specs).")
@click.option("--range", "time_range", default="1h", show_default=True, help="Time range of the charts (with --prometheus).")
@click.option("--width", default=1600, show_default=True, help="Page width in pixels (PNG).")
def preview(dashboard, output, prometheus_url, specs, time_range, width) -> None:
    """A static picture of DASHBOARD (a dashboard JSON file, or a dashboard uid or name in the specs)."""
    from .preview.render import PreviewError, preview_dashboard

    try:
        preview_dashboard(dashboard, output, specs=specs, prometheus=prometheus_url, time_range=time_range,
                          width=width, load=_load)
    except PreviewError as exc:
        _fail(str(exc))
    click.echo(f"wrote {output}", err=True)


# Operations commands (silence, stack, status, collect, render slurm) live in ops_cli.py.
from .ops_cli import register_ops  # noqa: E402

register_ops(cli, _fail, _load)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="promspec")


if __name__ == "__main__":  # pragma: no cover
    main()
