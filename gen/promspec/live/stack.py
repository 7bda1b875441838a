"""`promspec stack up|down`: Prometheus, Alertmanager and the bundled exporter on loopback, from rendered output.

The stack's state (PIDs with their start times, ports, logs, data) lives in DIR/.promspec-stack, so
`down` stops exactly the processes `up` started and leaves a reused PID alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from typing import Any

from ..check.tools import Progress

STATE_DIR = ".promspec-stack"
EXPORTER_PORT = 19400  # promspec-exporter's default port, which the bundled Targets scrape
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
INSTALL = {
    "prometheus": "install Debian's 'prometheus' package (apt-get install prometheus), put a Prometheus "
    "release's `prometheus` on PATH, or set PROMSPEC_PROMETHEUS_BIN",
    "alertmanager": "install Debian's 'prometheus-alertmanager' package (apt-get install prometheus-alertmanager), "
    "put an Alertmanager release's `alertmanager` on PATH, or set PROMSPEC_ALERTMANAGER_BIN",
    "blackbox": "install Debian's 'prometheus-blackbox-exporter' package (the output has Probe specs), put a "
    "`blackbox_exporter` on PATH, or set PROMSPEC_BLACKBOX_BIN",
}
BLACKBOX_NAMES = ("prometheus-blackbox-exporter", "blackbox_exporter")


class StackError(Exception):
    """Why the stack cannot start or stop, as a sentence for the user."""


def binary(kind: str) -> str:
    """Path of prometheus or alertmanager (Debian names it prometheus-alertmanager)."""
    env = os.environ.get(f"PROMSPEC_{kind.upper()}_BIN")
    if env:
        return env
    names = {"prometheus": ("prometheus",), "blackbox": BLACKBOX_NAMES}.get(
        kind, ("prometheus-alertmanager", "alertmanager")
    )
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise StackError(f"{kind} not found on PATH: {INSTALL[kind]}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_ticks(pid: int) -> str | None:
    """The kernel's start time of pid (clock ticks since boot): with the PID it names one process for good."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def is_running(proc: dict[str, Any]) -> bool:
    """True when the process recorded in the state is still that process (not a reused PID)."""
    if proc["start_ticks"] is None:  # no /proc (not Linux): the PID is all there is to go by
        try:
            os.kill(proc["pid"], 0)
        except OSError:
            return False
        return True
    ticks = _start_ticks(proc["pid"])
    return ticks is not None and ticks == proc["start_ticks"]


def _write_json(path: str, data: object) -> None:
    from ..render.tree import write_file

    write_file(path, (json.dumps(data, indent=2) + "\n").encode())


def read_state(directory: str) -> dict[str, Any] | None:
    """The state `up` wrote in directory, or None."""
    path = os.path.join(directory, STATE_DIR, "state.json")
    try:
        with open(path, encoding="utf-8") as fh:
            state: dict[str, Any] = json.load(fh)
            return state
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StackError(f"cannot read {path}: {exc}") from None


def _prometheus_config(
    directory: str, state: str, am_port: int, exporter_port: int | None, blackbox_port: int | None = None
) -> str:
    """A runtime copy of prometheus.yml: absolute paths, this stack's Alertmanager and exporter."""
    import yaml

    source = os.path.join(directory, "prometheus", "prometheus.yml")
    base = os.path.dirname(os.path.abspath(source))
    with open(source, encoding="utf-8") as fh:
        config = yaml.safe_load(fh) or {}
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]}
    config["rule_files"] = [os.path.normpath(os.path.join(base, p)) for p in config.get("rule_files", [])]
    exporter_jobs = 0
    for job in config.get("scrape_configs", []):
        if blackbox_port and job.get("metrics_path") == "/probe":
            # Probe jobs (compile/probes.py) end with the rule that sends the scrape to their location's
            # blackbox_exporter: every location is this stack's one exporter here.
            for rule in job.get("relabel_configs", []):
                if rule.get("target_label") == "__address__" and "source_labels" not in rule:
                    rule["replacement"] = f"127.0.0.1:{blackbox_port}"
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [os.path.normpath(os.path.join(base, f)) for f in sd["files"]]
            targets = _file_sd_targets(sd["files"])
            if exporter_port and _points_at_exporter(targets):
                sd["files"] = [_exporter_sd(state, job["job_name"], exporter_port)]
                exporter_jobs += 1
        for group in job.get("static_configs", []):
            if exporter_port and _points_at_exporter(group.get("targets", [])):
                group["targets"] = [f"127.0.0.1:{exporter_port}"]
                exporter_jobs += 1
    if exporter_port and not exporter_jobs:
        config.setdefault("scrape_configs", []).append(
            {"job_name": "promspec-exporter", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}
        )
    path = os.path.join(state, "prometheus.yml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    return path


def _file_sd_targets(files: list[str]) -> list[str]:
    out = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                out += [t for group in json.load(fh) for t in group.get("targets", [])]
        except (OSError, ValueError):
            continue
    return out


def _points_at_exporter(targets: list[str]) -> bool:
    return any(t in (f"localhost:{EXPORTER_PORT}", f"127.0.0.1:{EXPORTER_PORT}") for t in targets)


def _exporter_sd(state: str, job: str, port: int) -> str:
    path = os.path.join(state, f"targets-{job}.json")
    _write_json(path, [{"targets": [f"127.0.0.1:{port}"]}])
    return path


def _alertmanager_config(directory: str, state: str, env: Mapping[str, str]) -> str:
    """The rendered alertmanager.yml, or a runtime copy with ${VAR} placeholders filled from the environment."""
    source = os.path.join(directory, "alertmanager", "alertmanager.yml")
    if not os.path.exists(source):
        path = os.path.join(state, "alertmanager.yml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(
                "# No Notifications spec: alerts are kept in Alertmanager, sent nowhere.\n"
                "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n"
            )
        return path
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in env})
    if missing:
        raise StackError(
            "alertmanager/alertmanager.yml has environment placeholders; set "
            + ", ".join(missing)
            + " before `promspec stack up`"
        )
    if not _PLACEHOLDER.search(text):
        return source
    import yaml

    config = yaml.safe_load(_PLACEHOLDER.sub(lambda m: env[m.group(1)], text))
    base = os.path.dirname(os.path.abspath(source))
    if config.get("templates"):
        config["templates"] = [os.path.join(base, t) for t in config["templates"]]
    path = os.path.join(state, "alertmanager.yml")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the expanded credentials
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    return path


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return ""


def _terminate(proc: dict[str, Any], timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after timeout; True when it was running and is gone."""
    if not is_running(proc):
        return False
    os.kill(proc["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(proc):
            return True
        time.sleep(0.05)
    if is_running(proc):
        os.kill(proc["pid"], signal.SIGKILL)
    return True


def up(
    directory: str,
    exporter: bool = True,
    env: Mapping[str, str] | None = None,
    progress: Progress = lambda message: None,
) -> dict[str, Any]:
    """Start the stack; returns the state written to DIR/.promspec-stack/state.json."""
    from ..render.tree import HalfWrittenOutput, recover_for_read

    env = os.environ if env is None else env
    # The servers run in the state directory: every path handed to them must not depend on our cwd.
    directory = os.path.abspath(directory)
    try:
        recover_for_read(directory)
    except HalfWrittenOutput as exc:
        raise StackError(str(exc)) from None
    if not os.path.exists(os.path.join(directory, "prometheus", "prometheus.yml")):
        raise StackError(
            f"no rendered output in {directory} (prometheus/prometheus.yml is missing): "
            f"run `promspec generate -o {directory}` first"
        )
    state_dir = os.path.join(directory, STATE_DIR)
    previous = read_state(directory)
    if previous and any(is_running(p) for p in previous["processes"]):
        raise StackError(
            f"a stack started {previous['started']} is still running from {directory}: "
            f"run `promspec stack down --dir {directory}` first"
        )
    binaries = {"prometheus": binary("prometheus"), "alertmanager": binary("alertmanager")}
    os.makedirs(state_dir, exist_ok=True)
    am_port = free_port()
    exporter_port = free_port() if exporter else None
    ports = {"prometheus": free_port(), "alertmanager": am_port, "exporter": exporter_port}
    am_config = _alertmanager_config(directory, state_dir, env)
    blackbox_file = os.path.join(directory, "blackbox", "blackbox.yml")
    if os.path.exists(blackbox_file):  # the specs declare probes: run their exporter too
        binaries["blackbox"] = binary("blackbox")
        ports["blackbox"] = free_port()
    prom_config = _prometheus_config(directory, state_dir, am_port, exporter_port, ports.get("blackbox"))
    data = os.path.join(state_dir, "data")
    plan = [
        (
            "alertmanager",
            [
                binaries["alertmanager"],
                f"--config.file={am_config}",
                f"--storage.path={data}/alertmanager",
                f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                "--cluster.listen-address=",
            ],
            "/-/ready",
        ),
        (
            "prometheus",
            [
                binaries["prometheus"],
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={data}/prometheus",
                f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                "--web.enable-lifecycle",
                # An alert that fires before Alertmanager is discovered is resent after this delay.
                "--rules.alert.resend-delay=5s",
            ],
            "/-/ready",
        ),
    ]
    if "blackbox" in binaries:
        plan.insert(
            1,
            (
                "blackbox",
                [
                    binaries["blackbox"],
                    f"--config.file={os.path.abspath(blackbox_file)}",
                    f"--web.listen-address=127.0.0.1:{ports['blackbox']}",
                ],
                "/-/healthy",
            ),
        )
    if exporter:
        plan.append(
            (
                "exporter",
                [sys.executable, "-m", "promspec.exporter", f"--web.listen-address=127.0.0.1:{ports['exporter']}"],
                "/healthz",
            )
        )
    return start_processes(plan, ports, directory, state_dir, progress)


def start_processes(
    plan: list[tuple[str, list[str], str]],
    ports: Mapping[str, int | None],
    directory: str,
    state_dir: str,
    progress: Progress = lambda message: None,
) -> dict[str, Any]:
    """Start each (name, argv, ready path) of plan in order, waiting for each; the state is written to
    state_dir/state.json before each wait, so `down` stops whatever started. On failure: all stopped."""
    processes: list[dict[str, object]] = []
    state = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dir": os.path.abspath(directory),
        "processes": processes,
    }
    state_file = os.path.join(state_dir, "state.json")
    try:
        for name, argv, ready in plan:
            log = os.path.join(state_dir, f"{name}.log")
            with open(log, "wb") as out:
                # A session of its own: the stack outlives this command and a Ctrl-C in its terminal.
                proc = subprocess.Popen(
                    argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=state_dir,
                )
            url = f"http://127.0.0.1:{ports[name]}"
            entry = {
                "name": name,
                "pid": proc.pid,
                "start_ticks": _start_ticks(proc.pid),
                "port": ports[name],
                "url": url,
                "log": log,
            }
            processes.append(entry)
            _write_json(state_file, state)  # recorded before waiting, so `down` can stop it whatever happens
            progress(f"started {name} (pid {proc.pid}), waiting for {url}{ready}")
            if not _wait_ready(url + ready, proc, 30):
                raise StackError(f"{name} did not become ready at {url}{ready}; the end of {log}:\n{_tail(log)}")
    except BaseException:
        for started in reversed(processes):
            _terminate(started)
        if os.path.exists(state_file):
            os.unlink(state_file)
        raise
    return state


def down(directory: str, progress: Progress = lambda message: None) -> list[str]:
    """Stop the processes `up` started from directory; returns one line per process."""
    state = read_state(directory)
    if state is None:
        raise StackError(
            f"no stack is running from {directory} (no {os.path.join(directory, STATE_DIR, 'state.json')})"
        )
    lines = []
    for proc in reversed(state["processes"]):
        if _terminate(proc):
            lines.append(f"stopped {proc['name']} (pid {proc['pid']})")
        else:
            lines.append(f"{proc['name']} (pid {proc['pid']}) was no longer running")
    os.unlink(os.path.join(directory, STATE_DIR, "state.json"))
    return lines
