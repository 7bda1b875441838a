"""Operations commands: silence, stack, status, collect, render slurm. Imports stay lazy for a fast --help."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, Protocol

import click

if TYPE_CHECKING:
    from .compile.build import Build
    from .model.project import Project


class Fail(Protocol):
    """cli.py's _fail: print the message and exit with code."""

    def __call__(self, message: str, code: int = 1) -> NoReturn: ...


ALERTMANAGER_URL = os.environ.get("PROMSPEC_ALERTMANAGER_URL", "http://127.0.0.1:9093")
_alertmanager = click.option(
    "--alertmanager",
    "url",
    default=ALERTMANAGER_URL,
    show_default=True,
    metavar="URL",
    help="Alertmanager to talk to (env PROMSPEC_ALERTMANAGER_URL).",
)


def register_ops(
    cli: click.Group,
    fail: Fail,
    load: Callable[[tuple[str, ...]], Project],
    load_build: Callable[[tuple[str, ...]], Build],
) -> None:
    """Add the operations commands to the promspec command group; load(specs) is the checked model,
    load_build(specs) its compiled Build."""

    @cli.group()
    def silence() -> None:
        """Create, list and expire Alertmanager silences (an acknowledgement is a silence with a comment)."""

    @silence.command("add")
    @_alertmanager
    @click.argument("matchers", nargs=-1, required=True)
    @click.option("-d", "--duration", default="2h", show_default=True, help="How long the silence lasts.")
    @click.option("--until", "until", metavar="TIME", help="End time instead of --duration (RFC 3339 or now+4h).")
    @click.option("-c", "--comment", required=True, help="Why (e.g. 'ack: investigating, see INC-123').")
    @click.option("-a", "--author", default=lambda: os.environ.get("USER") or "promspec", help="Who silences.")
    def silence_add(
        url: str,
        matchers: tuple[str, ...],
        duration: str,
        until: str | None,
        comment: str,
        author: str,
    ) -> None:
        """Silence alerts matching MATCHERS (name=value, name=~regex, name!=value; a bare word is an alertname)."""
        import datetime
        import time

        from .compile.promql import parse_duration
        from .live.http import APIError
        from .live.silences import add_silence, parse_matcher
        from .live.times import parse_time

        try:
            parsed = [parse_matcher(m) for m in matchers]
            now = time.time()
            end = parse_time(until, now) if until else now + parse_duration(duration)
            ends = datetime.datetime.fromtimestamp(end, datetime.UTC)
            silence_id = add_silence(url, parsed, ends, author, comment)
        except ValueError as exc:
            fail(str(exc))
        except APIError as exc:
            fail(str(exc))
        click.echo(silence_id)

    @silence.command("list")
    @_alertmanager
    @click.argument("matchers", nargs=-1)
    @click.option("--expired", is_flag=True, help="Include expired silences.")
    @click.option("--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    def silence_list(url: str, matchers: tuple[str, ...], expired: bool, fmt: str) -> None:
        """List silences (optionally those with MATCHERS among their matchers)."""
        import json

        from .live.http import APIError
        from .live.silences import list_silences, parse_matcher, table

        try:
            found = list_silences(url, [parse_matcher(m) for m in matchers], expired)
        except (ValueError, APIError) as exc:
            fail(str(exc))
        click.echo(json.dumps(found, indent=2, sort_keys=True) if fmt == "json" else table(found), nl=fmt == "json")

    @silence.command("expire")
    @_alertmanager
    @click.argument("ids", nargs=-1, required=True)
    def silence_expire(url: str, ids: tuple[str, ...]) -> None:
        """Expire the silences with these IDS."""
        from .live.http import APIError
        from .live.silences import expire_silence

        for silence_id in ids:
            try:
                expire_silence(url, silence_id)
            except APIError as exc:
                fail(str(exc))
            click.echo(f"expired {silence_id}", err=True)

    @cli.group()
    def stack() -> None:
        """Run the rendered output locally: Prometheus, Alertmanager and promspec-exporter on 127.0.0.1."""

    @stack.command("up")
    @click.option(
        "--dir",
        "directory",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Rendered output (from `promspec generate -o DIR`); the stack's state goes in DIR/.promspec-stack.",
    )
    @click.option("--no-exporter", is_flag=True, help="Do not start promspec-exporter.")
    @click.option(
        "--topology",
        is_flag=True,
        help="Start the fleet of fleet/ instead: VictoriaMetrics, a Prometheus per cluster, vmalert (docs/fleet.md).",
    )
    def stack_up(directory: str, no_exporter: bool, topology: bool) -> None:
        """Start the stack on free loopback ports and print where each part listens."""
        from .live.stack import StackError, up

        try:
            if topology:  # fleet (issue 16): gen/promspec/fleet/stack.py
                from .fleet.stack import up_fleet

                state = up_fleet(directory, progress=lambda m: click.echo(m, err=True))
            else:
                state = up(directory, exporter=not no_exporter, progress=lambda m: click.echo(m, err=True))
        except (StackError, OSError) as exc:
            fail(str(exc))
        for proc in state["processes"]:
            path = "/metrics" if proc["name"] == "exporter" else ""
            click.echo(f"{proc['name']:<13} {proc['url']}{path}  (pid {proc['pid']})")
        click.echo(f"stop it with: promspec stack down --dir {directory}", err=True)

    @stack.command("down")
    @click.option(
        "--dir",
        "directory",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False),
        help="The directory `promspec stack up --dir` was given.",
    )
    def stack_down(directory: str) -> None:
        """Stop exactly the processes `promspec stack up` started from DIR."""
        from .live.stack import StackError, down

        try:
            lines = down(directory)
        except (StackError, OSError) as exc:
            fail(str(exc))
        for line in lines:
            click.echo(line, err=True)

    @cli.group()
    def render() -> None:
        """Render the specs into other forms than the output tree (see also `generate`)."""

    @render.command("slurm")
    @click.argument("specs", nargs=-1, type=click.Path())
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The sbatch script to write.")
    @click.option("--job-name", default="promspec-monitor", show_default=True)
    @click.option("--time", "time_limit", metavar="D-HH:MM:SS", help="#SBATCH --time of the job.")
    @click.option("--partition", help="#SBATCH --partition of the job.")
    @click.option("--nodes", help="#SBATCH --nodes of the job.")
    @click.option("--port", default=9090, show_default=True, help="Prometheus port (env PROMSPEC_PROMETHEUS_PORT).")
    @click.option("--retention", default="30d", show_default=True, help="TSDB retention of the job's Prometheus.")
    @click.option("--start-exporters", is_flag=True, help="Also run promspec-exporter on every node with srun.")
    @click.option("--exporter-port", default=19400, show_default=True, help="Port of those exporters.")
    def render_slurm(
        specs: tuple[str, ...],
        output: str,
        job_name: str,
        time_limit: str | None,
        partition: str | None,
        nodes: str | None,
        port: int,
        retention: str,
        start_exporters: bool,
        exporter_port: int,
    ) -> None:
        """An sbatch script that runs Prometheus with the rendered config for the lifetime of a Slurm job."""
        from .compile.slurm import SbatchOptions
        from .live.slurm_script import write_sbatch

        build = load_build(specs)
        options: SbatchOptions = {
            "job_name": job_name,
            "time": time_limit,
            "partition": partition,
            "nodes": nodes,
            "port": port,
            "retention": retention,
            "start_exporters": start_exporters,
            "exporter_port": exporter_port,
        }
        try:
            note = write_sbatch(build, output, options)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}; nothing written")
        if note:
            click.echo(f"promspec: {note}", err=True)
        click.echo(f"wrote {output}: submit it with `sbatch {output} [COMMAND...]`", err=True)

    @cli.command()
    @click.argument("specs", nargs=-1, type=click.Path())
    @click.option("--prometheus", "url", required=True, metavar="URL", help="Prometheus to read from.")
    @click.option(
        "--from", "start", required=True, metavar="TIME", help="Window start: RFC 3339, Unix seconds or now-7d."
    )
    @click.option("--to", "end", default="now", show_default=True, metavar="TIME", help="Window end.")
    @click.option("--step", default="15s", show_default=True, help="Resolution of the exported series.")
    @click.option("--run-id", default="", help="A name for this window (a benchmark run); recorded in every file.")
    @click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(file_okay=False),
        help="Directory for manifest.json and series/*.csv|json.",
    )
    @click.option(
        "--max-points",
        default=11000,
        show_default=True,
        help="Points per series per request; Prometheus refuses more than 11,000.",
    )
    @click.option("--retries", default=3, show_default=True, help="Retries of a request that failed transiently.")
    @click.option(
        "--timeout",
        default=600.0,
        show_default=True,
        metavar="SECONDS",
        help="Overall deadline of the export (chunks fetched so far are kept to resume).",
    )
    def collect(
        specs: tuple[str, ...],
        url: str,
        start: str,
        end: str,
        step: str,
        run_id: str,
        output: str,
        max_points: int,
        retries: int,
        timeout: float,
    ) -> None:
        """Export every series the specs record, alert on and chart, for a time window, to CSV and JSON."""
        import time

        from .compile.promql import parse_duration
        from .live.collect import CollectError, collect_queries
        from .live.collect import collect as run
        from .live.http import APIError, overall_deadline
        from .live.times import parse_time

        try:
            now = time.time()
            t0, t1 = parse_time(start, now), parse_time(end, now)
            seconds = float(step) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", step) else parse_duration(step)
        except ValueError as exc:
            fail(str(exc))
        queries, skipped = collect_queries(load_build(specs), seconds, t1 - t0)
        try:
            with overall_deadline(timeout):
                manifest = run(
                    url,
                    queries,
                    skipped,
                    t0,
                    t1,
                    seconds,
                    output,
                    run_id,
                    max_points,
                    retries,
                    progress=lambda m: click.echo(m, err=True),
                )
        except (CollectError, APIError) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(
                f"cannot write to {output}: {exc.strerror or exc}; the previous export there is unchanged "
                "(fetched chunks are kept: run the same command again to resume)"
            )
        except KeyboardInterrupt:
            fail("interrupted; run the same command again to resume", 130)
        rows = sum(q["rows"] for q in manifest["queries"])
        click.echo(
            f"wrote {len(manifest['queries'])} queries ({rows} rows) to {output}; see {output}/manifest.json", err=True
        )

    @cli.command()
    @click.argument("specs", nargs=-1, type=click.Path())
    @click.option("--prometheus", "url", required=True, metavar="URL", help="Prometheus that evaluates the SLO rules.")
    @click.option("--service", "services", multiple=True, help="Only this service's SLOs (repeatable).")
    @click.option("--time", "at", metavar="TIME", help="Evaluate at this time instead of now (RFC 3339, now-1h).")
    @click.option("--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    @click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
    @click.option(
        "--timeout",
        default=60.0,
        show_default=True,
        metavar="SECONDS",
        help="Overall deadline for Prometheus's answers.",
    )
    def status(
        specs: tuple[str, ...],
        url: str,
        services: tuple[str, ...],
        at: str | None,
        fmt: str,
        color: str,
        timeout: float,
    ) -> None:
        """Every SLO of SPECS with its SLI, error budget left, burn rate per alert window and firing tiers."""
        import json
        import sys
        import time

        from .live.http import APIError, overall_deadline
        from .live.queries import status_slos
        from .live.status import status as live
        from .live.status import table
        from .live.times import parse_time

        try:
            when = parse_time(at, time.time()) if at else None
        except ValueError as exc:
            fail(str(exc))
        project = load(specs)
        slos, windows = status_slos(project, own_series=True)  # from the model, not from rendered rules
        if not slos:
            fail("the specs declare no SLOs (Service documents, or Sloth/OpenSLO files)")
        if services:
            known = sorted({s.service for s in slos})
            missing = [s for s in services if s not in known]
            if missing:
                fail(f"no SLOs of service {', '.join(missing)} in the specs (services: {', '.join(known)})")
            slos = [s for s in slos if s.service in services]
        try:
            with overall_deadline(timeout):
                report = live(url, slos, windows, when)
        except APIError as exc:
            fail(str(exc))
        if fmt == "json":
            click.echo(json.dumps(report, indent=2))
            return
        colour = color == "always" or (color == "auto" and sys.stdout.isatty())
        click.echo(table(report, windows, click.style if colour else (lambda text, **kw: text)), nl=False, color=colour)
