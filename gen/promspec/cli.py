"""The promspec command line: parse arguments, call the library, print. Imports are lazy for a fast --help."""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING

import click

from . import process
from .cli_support import (
    DEFAULT_SPECS,
    fail,
    load_build_or_exit,
    load_or_exit,
    recover_output,
)
from .generate_cli import generate
from .live_cli import register_ops  # light: os, re and click only, like this module

if TYPE_CHECKING:
    from .backends.discover import Metric
    from .live.queries import ServicePlan
    from .live.status import StatusSLO
    from .model.project import Project


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="promspec")
@click.option(
    "-J",
    "--jpath",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A Jsonnet library directory that specs may import from (repeatable); "
    "otherwise imports stay inside the specs tree.",
)
def cli(jpath: tuple[str, ...]) -> None:
    """Compile monitoring specs into Prometheus rules, scrape configs and more."""
    if jpath:  # read by model/jsonnet_eval.py, which evaluates each Jsonnet spec in a child process
        previous = os.environ.get("PROMSPEC_JSONNET_PATH", "")
        os.environ["PROMSPEC_JSONNET_PATH"] = os.pathsep.join([*map(os.path.abspath, jpath), previous]).strip(
            os.pathsep
        )


@cli.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(specs: tuple[str, ...], strict: bool) -> None:
    """Load and check SPECS (schema and semantics) without writing anything."""
    build = load_build_or_exit(specs, strict)
    project, groups = build.project, build.rule_groups
    n_rules = sum(len(g.rules) for g in groups)
    click.echo(
        f"ok: {len(project.documents)} documents, {len(groups)} rule groups, {n_rules} rules, "
        f"{len(project.jobs)} scrape jobs",
        err=True,
    )


@cli.command()
@click.argument("paths", nargs=-1, metavar="[DIRECTORY | FILE...]", type=click.Path(exists=True))
@click.option(
    "--dashboard",
    "dashboards",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Check only Grafana dashboard JSON files (schema and lint rules): this one and any FILE "
    "after it (`--dashboard a.json b.json`), not a DIRECTORY.",
)
@click.option(
    "--lenient",
    is_flag=True,
    help="For dashboards exported from the Grafana UI: export-only keys ignored, lint findings are warnings.",
)
def check(paths: tuple[str, ...], dashboards: tuple[str, ...], lenient: bool) -> None:
    """Run promtool over the rendered output in DIRECTORY (default .) and validate its dashboards offline."""
    from .check.rendered import check_rendered
    from .check.tools import ToolMissing

    if dashboards:
        # `--dashboard A B C`: the files after the first are dashboards too, never an output directory.
        folders = [p for p in paths if os.path.isdir(p)]
        if folders:
            raise click.UsageError(f"{folders[0]} is a directory: --dashboard takes JSON files")
        dashboards = tuple(dict.fromkeys(dashboards + paths))
    elif len(paths) > 1 or (paths and not os.path.isdir(paths[0])):
        raise click.UsageError("check takes one output DIRECTORY (or --dashboard FILE...)")
    directory = paths[0] if paths else "."

    if not dashboards:
        recover_output(directory)
    try:
        if dashboards:
            from .check.dashboards import check_files

            results = check_files(dashboards, lenient, progress=lambda m: click.echo(m, err=True))
        else:
            results = check_rendered(directory, progress=lambda m: click.echo(m, err=True), lenient=lenient)
    except ToolMissing as exc:
        fail(str(exc))
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"FAILED: {' '.join(r.command[1:])}\n{r.output.rstrip()}", err=True)
    if failed:
        fail(f"{len(failed)} of {len(results)} checks failed")
    click.echo(f"ok: {len(results)} checks passed", err=True)


@cli.command()
@click.option(
    "-o",
    "--output",
    default="schemas",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory to write <Kind>.json into.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files differ.")
def schema(output: str, check: bool) -> None:
    """Write the JSON Schema of every spec kind (for editor autocompletion)."""
    from .model.schemas import all_schemas
    from .render.tree import ForeignFileError, diff_tree, write_tree
    from .render.yamlout import dump_json

    root = os.path.basename(os.path.normpath(output))
    parent = os.path.dirname(os.path.normpath(output)) or "."
    files = {f"{root}/{kind}.json": dump_json(s) for kind, s in all_schemas().items()}
    if check:
        diff = diff_tree(parent, files, [root], owned=True)
        if diff:
            click.echo(diff, nl=False)
            fail(f"schemas in {output} are stale: run `promspec schema -o {output}`")
        return
    try:
        plan = write_tree(parent, files, [root], owned=True)
    except ForeignFileError as exc:
        fail(f"refusing to replace files promspec did not write: {exc}; nothing written")
    except OSError as exc:
        fail(f"cannot write schemas to {output}: {exc.strerror or exc}; previous files left as they were")
    for path in plan.foreign:
        click.echo(f"{os.path.join(parent, path)}: warning: not written by promspec: left as it is", err=True)
    click.echo(f"wrote {len(files)} schemas to {output}", err=True)


@cli.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["sloth", "openslo", "pyrra"]))
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the promspec specs here (default stdout).")
@click.option(
    "--conventions",
    type=click.Choice(["keep", "promspec"]),
    default="keep",
    show_default=True,
    help="keep: the source's alert names, labels and series (Sloth's); promspec: adopt promspec's "
    "(4 tiers, budget-exhausted alert, slo_id/burn_tier labels), written out as explicit fields.",
)
@click.option("--strict", is_flag=True, help="Anything that cannot be converted is an error, not a warning.")
def import_(fmt: str, files: tuple[str, ...], output: str | None, conventions: str, strict: bool) -> None:
    """Convert Sloth, OpenSLO or Pyrra FILES to promspec specs; say what could not be converted."""
    from .diagnostics import Report, SpecError
    from .importers import (
        adopt_promspec,
        external_catalog,
        import_documents,
        recorded_series,
    )
    from .model.loader import load_paths
    from .model.validate import validate_documents
    from .render.yamlout import dump_yaml

    if conventions == "promspec" and fmt != "sloth":
        fail(f"--conventions promspec applies to Sloth input; {fmt} input is imported as it renders today")
    report = Report()
    try:
        docs = load_paths(files, report)
        report.raise_if_errors()
        converted = import_documents(docs, fmt, report)
        if conventions == "promspec":
            converted = [adopt_promspec(d) for d in converted]
        validate_documents(converted, report)
        if strict:
            for w in report.warnings:
                report.error(w.pos, w.message, w.path, w.expected)
        report.raise_if_errors()
    except SpecError as exc:
        for d in exc.diagnostics:
            click.echo(d.format(), err=True)
        fail(f"cannot import {', '.join(files)}")
    for w in report.warnings:
        click.echo(w.format(), err=True)
    # The metrics foreign queries read come without a Catalog: name them external so the output works alone.
    recorded = recorded_series(converted)
    catalogs = [c for c in (external_catalog(d, recorded=recorded) for d in converted) if c is not None]
    adopt = (
        "# Keeps Sloth's alert names, labels and series (spec.conventions: sloth). To adopt promspec's\n"
        "# conventions (4 tiers, budget-exhausted alert, slo_id/burn_tier labels), re-run with\n"
        "# `--conventions promspec` and review the diff.\n"
        if fmt == "sloth" and conventions == "keep"
        else ""
    )
    text = "".join(
        ("---\n" if i else "")
        + dump_yaml(
            d.data,
            f"# yaml-language-server: $schema=schemas/{d.kind}.json\n"
            f"# Imported from {d.file} ({fmt}) by `promspec import`.\n" + (adopt if d.kind == "Service" else ""),
        ).decode()
        for i, d in enumerate(converted + catalogs)
    )
    if output:
        from .render.tree import write_file

        write_file(output, text.encode())
        click.echo(f"wrote {len(converted) + len(catalogs)} document(s) to {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("base", required=False)
@click.argument("head", required=False)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("--render", is_flag=True, help="Render both sides from their specs instead of reading rendered files.")
@click.option("--specs", "specs_dir", default="specs", show_default=True, help="The specs directory --render reads.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to a file.")
@click.option(
    "--images",
    "images_dir",
    type=click.Path(file_okay=False),
    help="Draw each changed panel before and after as PNGs into this directory (headless Chromium).",
)
@click.option("--prometheus", "prometheus_url", metavar="URL", help="With --images: draw the panels' data from here.")
@click.option("--range", "time_range", default="1h", show_default=True, help="With --prometheus: the charts' range.")
@click.option(
    "--images-url",
    metavar="URL",
    default="",
    help="Link the images as URL/<file> in the report (where CI publishes them), not by their path.",
)
def diff(
    base: str | None,
    head: str | None,
    fmt: str,
    render: bool,
    specs_dir: str,
    output: str | None,
    images_dir: str | None,
    prometheus_url: str | None,
    time_range: str,
    images_url: str,
) -> None:
    """Explain what changed in the rendered output from BASE to HEAD: rules, alerts, SLOs, rule tests,
    dashboards, scrape config, Alertmanager, Kubernetes and blackbox files.

    BASE and HEAD are git revisions or directories of rendered output; BASE defaults to the merge
    base with main, HEAD to the work tree (the current directory).
    """
    from .diff.compare import compare
    from .diff.report import as_json, markdown
    from .diff.sources import SourceError, default_base, may_have_cause, read_causes, read_side, with_cause

    if (prometheus_url or images_url) and not images_dir:
        fail("--prometheus and --images-url draw and link panel images: add --images DIR")
    try:
        base = base or default_base()
        head = head or "."
        for side in (base, head):
            if os.path.isdir(side):
                recover_output(side)
        render_specs = specs_dir if render else ""
        files_a, files_b = read_side(base, render_specs), read_side(head, render_specs)
        changes = compare(files_a, files_b)
    except SourceError as exc:
        fail(str(exc))
    if any(may_have_cause(c) for c in changes):
        causes = read_causes(head, specs_dir)  # why the head's presets left content out; what an SLI reads
        changes = [with_cause(c, causes) for c in changes]
    if images_dir:
        from .diff.images import render_images
        from .preview.render import PreviewError

        try:
            os.makedirs(images_dir, exist_ok=True)
            changes = render_images(changes, files_a, files_b, images_dir, prometheus_url, time_range, images_url)
        except (PreviewError, OSError) as exc:
            fail(f"--images: {exc}")
    label_head = "work tree" if head == "." else head
    if fmt == "json":
        text = as_json(changes, base, label_head)
    else:
        text = markdown(changes, base, label_head, os.path.dirname(os.path.abspath(output)) if output else ".")
    if output:
        from .render.tree import write_file

        write_file(output, text.encode("utf-8"))
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("dashboard")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="FILE.html, or FILE.png (rendered with headless Chromium).",
)
@click.option("--prometheus", "prometheus_url", metavar="URL", help="Draw the panels' data from this Prometheus.")
@click.option(
    "--specs", "specs", multiple=True, type=click.Path(), help="Specs to render DASHBOARD from (default ./specs)."
)
@click.option(
    "--range", "time_range", default="1h", show_default=True, help="Time range of the charts (with --prometheus)."
)
@click.option("--width", default=1600, show_default=True, help="Page width in pixels (PNG).")
def preview(
    dashboard: str,
    output: str,
    prometheus_url: str | None,
    specs: tuple[str, ...],
    time_range: str,
    width: int,
) -> None:
    """A static picture of DASHBOARD (a dashboard JSON file, or a dashboard uid or name in the specs)."""
    from .preview.render import PreviewError, preview_dashboard

    try:
        preview_dashboard(
            dashboard,
            output,
            specs=specs,
            prometheus=prometheus_url,
            time_range=time_range,
            width=width,
            load=load_build_or_exit,
        )
    except PreviewError as exc:
        fail(str(exc))
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option(
    "--engine",
    "engines",
    multiple=True,
    metavar="NAME",
    help="A bundled engine adapter to monitor (repeatable; default vllm): vllm, sglang, tgi, ...",
)
def init(directory: str, engines: tuple[str, ...]) -> None:
    """Scaffold a monitoring repository in DIRECTORY: specs, Makefile, CI and pre-commit config."""
    from .backends.bundled import bundled_backends
    from .render.tree import write_file
    from .scaffold import has_slos, plan_engines, scaffold

    known = bundled_backends()
    unknown = [e for e in engines if e not in known]
    if unknown:
        from .diagnostics import did_you_mean

        hint = did_you_mean(unknown[0], known)
        fail(f"unknown engine {unknown[0]!r}{hint}; expected one of: {', '.join(known)}")
    plans = plan_engines(list(engines) or ["vllm"])
    files = scaffold(plans)
    # Never touch a file promspec did not write: any existing one stops init before it writes anything.
    present = [p for p in files if os.path.lexists(os.path.join(directory, p))]
    if present:
        fail(f"{directory} already has {', '.join(present)}; nothing written (init only creates new files)")
    for path, text in files.items():
        write_file(os.path.join(directory, path), text.encode())
    for plan in plans:
        if not has_slos(plan):
            click.echo(f"note: {plan.name} exposes no error or TTFT signal: scrape job only, no SLO", err=True)
    click.echo(
        f"wrote {len(files)} files to {directory}; next: cd {directory} && promspec generate specs -o . "
        "&& promspec check .",
        err=True,
    )


@cli.group()
def dashboards() -> None:
    """The bundled dashboards: write one as a Dashboard spec to copy and change."""


@dashboards.command("eject")
@click.argument("uid")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the spec to FILE (a new file; default: standard output).",
)
@click.option(
    "--specs", "specs", multiple=True, type=click.Path(), help="Specs the dashboard is built for (default ./specs)."
)
def dashboards_eject(uid: str, output: str | None, specs: tuple[str, ...]) -> None:
    """Write the bundled dashboard UID, as built for SPECS, as a `kind: Dashboard` spec.

    Copy it into your specs and edit it: a Dashboard spec with the same uid replaces the bundled one.
    """
    from .compile.dashboards.to_spec import EjectError, eject

    if output and os.path.lexists(output):
        fail(f"{output} exists: eject to a new file (edits in it would be lost), or remove it first")
    build = load_build_or_exit(specs)
    try:
        data = eject(build.dashboards, uid, " ".join(specs or (DEFAULT_SPECS,)))
    except EjectError as exc:
        fail(str(exc))
    if not output:
        click.echo(data.decode(), nl=False)
        return
    from .render.tree import write_file

    try:
        write_file(output, data)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote {output}: edit it in your specs, where it replaces the bundled dashboard {uid!r}", err=True)


@cli.group()
def catalog() -> None:
    """Metric catalogs: discover them from what is really exposed."""


DISCOVERED_BY = "by `promspec catalog discover`"


@catalog.command("discover")
@click.argument("source")
@click.option(
    "--prometheus",
    "is_prometheus",
    is_flag=True,
    help="SOURCE is a Prometheus server: read /api/v1/metadata and the series --match selects.",
)
@click.option(
    "--match",
    default='{__name__=~".+"}',
    show_default=True,
    help="With --prometheus: the series to catalogue, e.g. '{job=\"vllm\"}'.",
)
@click.option("--name", default="discovered", show_default=True, help="metadata.name of the Catalog.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the Catalog here (default stdout); an existing file is replaced only if discover wrote it.",
)
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False),
    help="A Catalog file to compare with: print what changed, write nothing, exit 1 when anything did.",
)
def catalog_discover(
    source: str,
    is_prometheus: bool,
    match: str,
    name: str,
    output: str | None,
    against: str | None,
) -> None:
    """Build a Catalog spec from SOURCE: a /metrics URL (text or OpenMetrics), or a Prometheus with --prometheus."""
    from .backends.discover import (
        DiscoverError,
        catalog_document,
        changes,
        fetch_exposition,
        fetch_prometheus,
        from_prometheus,
        parse_exposition,
    )
    from .render.yamlout import dump_yaml

    try:
        if is_prometheus:
            metrics = from_prometheus(*fetch_prometheus(source, match))
        else:
            metrics = parse_exposition(fetch_exposition(source))
    except DiscoverError as exc:
        fail(str(exc))
    if not metrics:
        fail(f"{source} exposes no metric families" + (f" matching {match}" if is_prometheus else ""))
    compared = against or (output if output and os.path.exists(output) else None)
    if compared:
        old = _catalog_file(compared, replacing=not against)
        found = changes(old, metrics)
        click.echo("\n".join(found) if found else f"no changes against {compared}", err=not against)
        if against:
            sys.exit(1 if found else 0)
    text = dump_yaml(
        catalog_document(name, metrics),
        f"# Discovered from {source} {DISCOVERED_BY}; re-run it with --against this file to see\n"
        "# what changed. Labels are those seen at discovery; add any that appear only sometimes.\n",
    )
    if not output:
        click.echo(text.decode(), nl=False)
        return
    from .render.tree import write_file

    write_file(output, text)
    click.echo(f"wrote {len(metrics)} metrics to {output}", err=True)


def _catalog_file(path: str, replacing: bool) -> list[Metric]:
    """The metrics of the Catalog documents in a file; exits 1 when it holds none, or when replacing
    a file that discover did not write (that would lose a hand-written catalog's comments and choices)."""
    from .backends.discover import catalog_metrics
    from .diagnostics import Report
    from .model.loader import load_file

    report = Report()
    docs = [d for d in load_file(path, report) if d.kind == "Catalog"]
    if report.errors or not docs:
        fail(f"{path} holds no Catalog document; nothing written")
    with open(path, encoding="utf-8") as fh:
        if replacing and DISCOVERED_BY not in fh.readline():
            fail(
                f"{path} was not written by `promspec catalog discover`; compare with --against {path}, "
                "or write elsewhere; nothing written"
            )
    return [m for d in docs for m in catalog_metrics(d.data)]


def _live_model(
    specs: tuple[str, ...], services: tuple[str, ...]
) -> tuple[Project, list[ServicePlan], list[StatusSLO], list[str]]:
    """(project, plans, SLOs, windows) of the specs for top/report; exit 1 when a named service is unknown."""
    from .live.queries import plans, status_slos

    project = load_or_exit(specs)
    known = sorted(s.name for s in project.services)
    missing = [s for s in services if s not in known]
    if missing:
        fail(f"no service {', '.join(missing)} in the specs (services: {', '.join(known) or 'none'})")
    found = plans(project, services)
    slos, windows = status_slos(project, services)
    if not found and not slos:
        fail("the specs declare no Service with a backend or SLOs: nothing to show")
    return project, found, slos, windows


@cli.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click.option(
    "--prometheus",
    "url",
    default=lambda: os.environ.get("PROMSPEC_PROMETHEUS_URL", "http://127.0.0.1:9090"),
    show_default="env PROMSPEC_PROMETHEUS_URL or http://127.0.0.1:9090",
    metavar="URL",
    help="Prometheus to read.",
)
@click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
@click.option(
    "--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.5), help="Seconds between refreshes."
)
def top(specs: tuple[str, ...], url: str, services: tuple[str, ...], interval: float) -> None:
    """A live terminal dashboard: services, SLOs, alerts and GPUs (keys: / filter, o sort, g GPUs, q quit)."""
    from .live.http import APIError, base_url

    try:
        base_url(url)
    except APIError as exc:
        fail(str(exc))
    _project, found, slos, windows = _live_model(specs, services)
    from .live.top import (
        TopApp,  # Textual loads here only, so `promspec --help` stays fast
    )

    TopApp(url=url, plans=found, slos=slos, windows=windows, interval=interval).run()


@cli.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click.option("--prometheus", "url", required=True, metavar="URL", help="Prometheus holding the period's data.")
@click.option("--from", "start", required=True, metavar="TIME", help="Start (RFC 3339, Unix seconds or now-7d).")
@click.option("--to", "end", default="now", show_default=True, metavar="TIME", help="End of the period.")
@click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="report.html, report.pdf (headless Chromium) or report.json.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["html", "pdf", "json"]), help="Output format (default: from the -o suffix)."
)
def report(
    specs: tuple[str, ...],
    url: str,
    start: str,
    end: str,
    services: tuple[str, ...],
    output: str,
    fmt: str | None,
) -> None:
    """An SLO report over a period: attainment, budget, burn-down, worst windows, traffic, alerts, GPUs."""
    import time

    from .live.http import APIError, base_url
    from .live.times import parse_time

    fmt = fmt or {".html": "html", ".htm": "html", ".pdf": "pdf", ".json": "json"}.get(
        os.path.splitext(output)[1].lower(), ""
    )
    if not fmt:
        fail(f"cannot tell the format of {output}: name it .html, .pdf or .json, or pass --format")
    now = time.time()
    try:
        base_url(url)
        t0, t1 = parse_time(start, now), parse_time(end, now)
    except (APIError, ValueError) as exc:
        fail(str(exc))
    if t1 <= t0:
        fail(f"--to ({end}) must be after --from ({start})")
    project, found, _slos, _windows = _live_model(specs, services)
    from .live.report import ReportError, build_report, write_report

    model_slos = [slo for s in project.services if not services or s.name in services for slo in s.slos]
    try:
        data = build_report(url, found, model_slos, t0, t1, services)
        write_report(data, output, fmt)
    except (APIError, ReportError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote {output} ({len(data['slos'])} SLOs, {len(data['services'])} services)", err=True)


cli.add_command(generate)  # generate_cli.py
# Operations commands (silence, stack, status, collect, render slurm) live in live_cli.py.
register_ops(cli, fail, load_or_exit, load_build_or_exit)


def main() -> None:
    """Console-script entry point."""
    gc.set_threshold(*process.GC_THRESHOLD)
    try:
        cli(prog_name="promspec")
    except SystemExit as done:
        process.exit_now(done.code)
    process.exit_now(0)


if __name__ == "__main__":  # pragma: no cover
    main()
