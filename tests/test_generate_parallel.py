"""generate in pieces and in worker processes (-j/--jobs): the same bytes, messages and guarantees as serially.

The pieces of each output (rule files, SLOs, dashboards by slices, render/outputs.py) are rendered and
staged one at a time; with --jobs N > 1 they are shared among N forked workers (render/stream.py).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import BIN, REPO, run_promspec, snapshot


def _bench_specs(root, n: int) -> None:
    """bench/generate.py's tree: the bundled backends, catalogs and settings plus n services with 3 SLOs."""
    spec = importlib.util.spec_from_file_location("bench_generate", os.path.join(REPO, "bench", "generate.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    module.write_specs(str(root), n)


def test_the_pieces_render_exactly_the_whole_output(monkeypatch):
    from promspec.pipeline import load_build
    from promspec.render import outputs

    build, _report = load_build([os.path.join(REPO, "specs")], env={})
    whole = outputs.render_build(build)
    monkeypatch.setattr(outputs, "PART_SIZE", 2)  # many pieces per output, each of a few items
    parts = outputs.render_parts(build)
    assert len(parts) > len(outputs.OUTPUTS) + 5
    pieces: dict[str, bytes] = {}
    for part in parts:
        files = part.files()
        assert not set(files) & set(pieces), "two pieces render one path"
        pieces.update(files)
    assert pieces == whole  # the oracle: the outputs' own render functions over the whole Build


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("services") / "specs"
    _bench_specs(root, 12)
    return root


@pytest.mark.slow
def test_any_number_of_workers_writes_the_same_bytes_and_messages(services, tmp_path):
    runs = {}
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"out{jobs}"
        proc = run_promspec("generate", str(services), "-o", str(out), "--jobs", jobs, check=0)
        runs[jobs] = (snapshot(str(out)), proc.stdout, proc.stderr.replace(str(out), "OUT"))
    assert runs["1"] == runs["2"] == runs["3"]
    assert len(runs["1"][0]) > 200
    # The environment variable is the same option; a stale tree gives the same diff from any count.
    (services / "services" / "svc00003.yml").write_text(
        (services / "services" / "svc00003.yml").read_text().replace("99.5%", "99.9%")
    )
    try:
        checks = [
            run_promspec("generate", str(services), "-o", str(tmp_path / "out1"), "--check", env={"PROMSPEC_JOBS": j})
            for j in ("1", "3")
        ]
    finally:
        (services / "services" / "svc00003.yml").write_text(
            (services / "services" / "svc00003.yml").read_text().replace("99.9%", "99.5%")
        )
    assert [c.returncode for c in checks] == [1, 1]
    assert checks[0].stdout == checks[1].stdout and "99.9" in checks[0].stdout
    assert checks[0].stderr == checks[1].stderr
    assert snapshot(str(tmp_path / "out1")) == runs["1"][0]  # --check wrote nothing


# Stands in for a full disk: one staged file's write fails, in whichever process renders it.
FULL_DISK = """
import errno, sys
from promspec.render import tree
real = tree.Stage.put
def put(self, path, data):
    if self.staging is not None and path.endswith("svc00007-errors-page-fast.test.yml"):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(self, path, data)
tree.Stage.put = put
from promspec.cli import main
sys.argv = ["promspec", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_an_error_in_a_worker_is_reported_as_serially_and_nothing_is_written(services, tmp_path):
    out = tmp_path / "out"
    run_promspec("generate", str(services), "-o", str(out), "-q", check=0)
    (services / "services" / "svc00007.yml").write_text(
        (services / "services" / "svc00007.yml").read_text().replace("99.5%", "99.9%")
    )
    before = snapshot(str(out))
    try:
        procs = [
            subprocess.run(
                [sys.executable, "-c", FULL_DISK, "generate", str(services), "-o", str(out), "--jobs", jobs],
                capture_output=True,
                text=True,
                timeout=120,
            )
            for jobs in ("1", "2")
        ]
    finally:
        (services / "services" / "svc00007.yml").write_text(
            (services / "services" / "svc00007.yml").read_text().replace("99.9%", "99.5%")
        )
    assert [p.returncode for p in procs] == [1, 1]
    assert procs[0].stderr == procs[1].stderr
    assert procs[0].stderr.endswith(
        f"promspec: cannot write output to {out}: No space left on device; previous output left as it was\n"
    )
    assert "Traceback" not in procs[0].stderr
    assert snapshot(str(out)) == before
    assert not [p for p in os.listdir(out) if p.startswith(".promspec")]


@pytest.mark.slow
def test_a_write_that_fails_keeps_the_warnings_and_names_the_file_with_any_number_of_workers(tmp_path):
    """The warnings of the checks are printed before a failed write's error with workers too (they were lost:
    the workers' report was printed only after every file was written), and the error names the file, by its
    path in the output: here a service name that makes a test file's name longer than a file system allows."""
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(os.path.join(REPO, "tests", "fixtures", "foreign", "sloth", "checkout.yml"), specs)  # a warning
    name = "a" * 250
    (specs / "svc.yml").write_text(
        "apiVersion: promspec/v1\nkind: Service\nmetadata:\n  name: " + name + "\nspec:\n  backend: vllm\n"
        "  selector: {job: x}\n  slos:\n    - name: errors\n      objective: 99%\n      sli: {signal: errors}\n"
    )
    out = tmp_path / "out"
    procs = [run_promspec("generate", str(specs), "-o", str(out), "--jobs", jobs, check=1) for jobs in ("1", "2", "3")]
    assert procs[0].stderr == procs[1].stderr == procs[2].stderr
    warning, error = procs[0].stderr.splitlines()
    assert warning.startswith(f"{specs / 'checkout.yml'}:2:1: warning: foreign input")
    assert error.startswith(f"promspec: cannot write output to {out}: rules/tests/svc-slo-{name}-errors")
    assert error.endswith(": File name too long; previous output left as it was")
    assert not out.exists() or not os.listdir(out)


def _session(sid: int) -> list[int]:
    """The processes still alive in a session (zombies included: a zombie is a child nobody reaped)."""
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:
                alive.append(int(entry))
    return alive


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


@pytest.mark.slow
@pytest.mark.serial
def test_ctrl_c_stops_every_worker_and_leaves_the_previous_tree(services, tmp_path):
    out = tmp_path / "out"
    run_promspec("generate", str(services), "-o", str(out), "-q", check=0)
    specs = tmp_path / "specs"
    shutil.copytree(services, specs)
    for spec in (specs / "services").iterdir():  # every file changes: a swap would show anywhere
        spec.write_text(spec.read_text().replace("99.5%", "99.9%"))
    before = snapshot(str(out))
    # A new session, signalled as a whole: what a terminal does on Ctrl-C to a foreground job.
    proc = subprocess.Popen(
        [os.path.join(BIN, "promspec"), "generate", str(specs), "-o", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "generate finished before its workers could be seen"
    workers = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert "Aborted!" in stderr and "Traceback" not in stderr
    time.sleep(0.2)
    assert _session(proc.pid) == [], f"left running: {_session(proc.pid)} (workers were {workers})"
    assert snapshot(str(out)) == before
    assert not [p for p in os.listdir(out) if p.startswith(".promspec")]


BROKEN_DASHBOARDS = """\
apiVersion: promspec/v1
kind: Dashboard
metadata:
  name: colours
spec:
  panels:
    - title: Requests
      unit: reqps
      thresholds:
        - value: 10
          color: orange
        - color: red
      queries:
        - expr: sum(rate(vllm:request_success_total[5m]))
---
apiVersion: promspec/v1
kind: Dashboard
metadata:
  name: twice
spec:
  panels:
    - title: Same
      queries:
        - expr: sum(rate(vllm:request_success_total[5m]))
    - title: Same
      unit: s
      queries:
        - expr: sum(rate(no_such_series_total[5m]))
---
apiVersion: promspec/v1
kind: Dashboard
metadata:
  name: elsewhere
spec:
  service: svc9999
  panels:
    - title: Requests
      unit: reqps
      queries:
        - expr: sum(rate(vllm:request_success_total[5m]))
"""


@pytest.mark.slow
def test_dashboard_checks_in_workers_report_what_one_process_does(services, tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(services, specs)
    (specs / "dashboards.yml").write_text(BROKEN_DASHBOARDS)
    out = tmp_path / "out"
    procs = [run_promspec("generate", str(specs), "-o", str(out), "--jobs", jobs) for jobs in ("1", "3")]
    assert [p.returncode for p in procs] == [1, 1]
    assert procs[0].stderr == procs[1].stderr
    errors = [line for line in procs[0].stderr.splitlines() if line.startswith(str(specs / "dashboards.yml"))]
    assert len(errors) >= 4, procs[0].stderr  # every broken dashboard, each at its own line:col
    assert "Traceback" not in procs[0].stderr
    assert not out.exists()


@pytest.mark.slow
def test_a_dashboard_error_found_in_a_worker_wins_over_a_write_error_as_serially(services, tmp_path):
    """Each worker checks the dashboards it builds and renders: their errors are the specs' errors, reported
    in dashboard order before any rendering error, and the stage (written in part) is dropped."""
    specs = tmp_path / "specs"
    shutil.copytree(services, specs)
    (specs / "dashboards.yml").write_text(BROKEN_DASHBOARDS)
    out = tmp_path / "out"
    procs = [
        subprocess.run(
            [sys.executable, "-c", FULL_DISK, "generate", str(specs), "-o", str(out), "--jobs", jobs, "--strict"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        for jobs in ("1", "2", "3")
    ]
    assert [p.returncode for p in procs] == [1, 1, 1]
    assert procs[0].stderr == procs[1].stderr == procs[2].stderr
    assert procs[0].stderr.endswith("in specs; nothing written\n") and "Traceback" not in procs[0].stderr
    assert not out.exists()


# A rule warning (a high-cardinality label), then a series no catalog knows and a parse error: each found
# by the rule checks (check/semantic.py), which generate -j runs beside the rendering (render/stream.py).
RULE_WARNING = """\
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: cardinal}
spec:
  alerts:
    - name: Cardinal
      expr: sum(rate(vllm:request_success_total[5m])) > 0
      labels: {request_id: "x"}
"""
BROKEN_RULES = (
    RULE_WARNING
    + """\
---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: broken}
spec:
  alerts:
    - name: NoSuchSeries
      expr: sum(rate(no_such_rule_series_total[5m])) > 0
    - name: Unclosed
      expr: sum(rate(vllm:request_success_total[5m]) > 0
"""
)


# A dashboard warning (a row repeated by a variable no query of it reads), for the order of the warnings.
DASHBOARD_WARNING = """\
apiVersion: promspec/v1
kind: Dashboard
metadata:
  name: per-instance
spec:
  variables: [datasource, job, instance]
  rows:
    - title: Instance $instance
      repeat: instance
      panels:
        - title: Requests
          unit: reqps
          queries:
            - expr: sum(rate(vllm:request_success_total{job=~"$job"}[$__rate_interval]))
"""


def _generate(specs, out, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", FULL_DISK, "generate", str(specs), "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_rule_checks_beside_the_workers_report_what_one_process_does(services, tmp_path):
    """With workers the rule checks run while the output renders, yet their diagnostics come where one process
    puts them (their warnings before every dashboard's), for any number of processes, with a dashboard error and a write
    error beside them; their error, or their warning with --strict, stops everything before the commit."""
    specs = tmp_path / "specs"
    shutil.copytree(services, specs)
    (specs / "rules.yml").write_text(BROKEN_RULES)
    (specs / "dashboards.yml").write_text(BROKEN_DASHBOARDS)
    out = tmp_path / "out"
    for strict in ([], ["--strict"]):
        procs = [_generate(specs, out, "--jobs", jobs, *strict) for jobs in ("1", "2", "3")]
        assert [p.returncode for p in procs] == [1, 1, 1]
        assert procs[0].stderr == procs[1].stderr == procs[2].stderr
        lines = procs[0].stderr.splitlines()
        # Errors are printed sorted by place: their count says none was lost (--strict adds the warnings).
        rules = [line for line in procs[0].stderr.splitlines() if line.startswith(str(specs / "rules.yml"))]
        assert len(rules) == 2 + len(strict), procs[0].stderr
        assert "Traceback" not in procs[0].stderr
        assert not out.exists()
    # Warnings alone: printed in one process's order (the rule checks' before the dashboards', unsorted), and
    # errors with --strict.
    (specs / "rules.yml").write_text(RULE_WARNING)
    (specs / "dashboards.yml").write_text(DASHBOARD_WARNING)
    for strict in ([], ["--strict"]):
        runs = []
        for jobs in ("1", "2", "3"):
            to = out / f"{jobs}{''.join(strict)}"
            proc = run_promspec("generate", str(specs), "-o", str(to), "--jobs", jobs, *strict, check=None)
            runs.append((proc.returncode, proc.stderr.replace(str(to), "OUT"), snapshot(str(to))))
        assert runs[0] == runs[1] == runs[2]
        assert runs[0][0] == (1 if strict else 0) and bool(runs[0][2]) != bool(strict)
        lines = runs[0][1].splitlines()
        cardinal = [i for i, line in enumerate(lines) if "label 'request_id' looks high-cardinality" in line]
        repeat = [i for i, line in enumerate(lines) if "no query of the row reads $instance" in line]
        assert len(cardinal) == len(repeat) == 1, runs[0][1]
        assert cardinal < repeat or strict  # --strict's errors are sorted by place


def test_the_provisioning_file_from_the_workers_renders_is_the_one_made_alone():
    """generate -j renders dashboards/provisioning.yml in the parent from which dashboards the workers found
    to render (DashboardBuild.renders): the same bytes as from the dashboards themselves, and a wrong list
    would change them."""
    from dataclasses import replace

    from promspec.pipeline import load_build
    from promspec.render.dashboards import render_provisioning

    build, _report = load_build([os.path.join(REPO, "specs")], env={})
    told = [b.renders for b in build.dashboards.dashboards]
    assert any(told)

    def with_renders(renders: list[bool]) -> dict[str, bytes]:
        return render_provisioning(replace(build, dashboards=replace(build.dashboards, renders=renders)))

    assert with_renders(told) == render_provisioning(build)
    wrong = list(told)
    wrong[told.index(True)] = False
    assert with_renders(wrong) != render_provisioning(build)


def test_jobs_is_a_number_of_processes_or_auto(monkeypatch, tmp_path):
    """--jobs auto (the default) forks no worker for a project below AUTO_JOBS_DASHBOARDS dashboards, and
    writes what --jobs 1 writes; a number below 1 or a word is refused, from the option or the environment."""
    from click.testing import CliRunner

    from promspec import cli, workers

    forks: list[int] = []
    real = workers._in_workers
    monkeypatch.setattr(workers, "_in_workers", lambda fn, n, jobs: forks.append(jobs) or real(fn, n, jobs))
    runner = CliRunner()
    specs = os.path.join(REPO, "specs")
    outs = {}
    for jobs in ("auto", "1"):
        out = tmp_path / jobs
        result = runner.invoke(cli.cli, ["generate", specs, "-o", str(out), "-q", "--jobs", jobs])
        assert result.exit_code == 0, result.output
        outs[jobs] = snapshot(str(out))
    assert outs["auto"] == outs["1"] and forks == []
    for bad in ("0", "-2", "many"):
        refused = runner.invoke(cli.cli, ["generate", specs, "-o", str(tmp_path / "x"), "--jobs", bad])
        assert refused.exit_code == 2 and "neither a number of processes" in refused.output
    refused = runner.invoke(cli.cli, ["generate", specs, "-o", str(tmp_path / "x")], env={"PROMSPEC_JOBS": "0"})
    assert refused.exit_code == 2 and not (tmp_path / "x").exists()
