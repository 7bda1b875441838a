"""`promspec stack up --topology`: the fleet on loopback from rendered fleet/: Alertmanager, VictoriaMetrics
single-node, one Prometheus per cluster (and shard) writing to it, vmalert running the global rules.

Only a VictoriaMetrics global tier runs locally (Debian packages it); Mimir and Thanos do not install here.
`promspec stack down` stops it like the single-Prometheus stack (the same state file).
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable, Mapping
from typing import Any

from ..live.stack import (
    STATE_DIR,
    StackError,
    _alertmanager_config,
    binary,
    free_port,
    is_running,
    read_state,
    start_processes,
)

INSTALL_VM = (
    "install Debian's 'victoria-metrics' package (apt-get install victoria-metrics), or set "
    "PROMSPEC_VICTORIA_METRICS_BIN and PROMSPEC_VMALERT_BIN"
)


def _vm_binary(name: str) -> str:
    env = os.environ.get(f"PROMSPEC_{name.upper().replace('-', '_')}_BIN")
    found = env or shutil.which(name)
    if not found:
        raise StackError(f"{name} not found on PATH: {INSTALL_VM}")
    return found


def _cluster_config(path: str, state_dir: str, am_port: int, vm_port: int) -> str:
    """A runtime copy of a rendered cluster config: absolute paths, this stack's Alertmanager and store."""
    import yaml

    base = os.path.dirname(path)
    with open(path, encoding="utf-8") as fh:
        config: dict[str, Any] = yaml.safe_load(fh) or {}
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]}
    writes = config.get("remote_write") or []
    if writes:  # the first entry is the global tier's (fleet/render.py); its keep list stays
        writes[0]["url"] = f"http://127.0.0.1:{vm_port}/api/v1/write"
        writes[0].pop("headers", None)
    config["remote_write"] = writes[:1]
    config["rule_files"] = [os.path.join(base, p) for p in config.get("rule_files", [])]
    for job in config.get("scrape_configs", []):
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [os.path.join(base, f) for f in sd["files"]]
    cluster = os.path.basename(base)
    out = os.path.join(state_dir, f"{cluster}-{os.path.basename(path)}")
    with open(out, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    return out


def _vmalert_args(vmalert_dir: str, vm_url: str, am_url: str) -> list[str]:
    args = []
    with open(os.path.join(vmalert_dir, "vmalert.args"), encoding="utf-8") as fh:
        for line in (raw.strip() for raw in fh):
            if not line or line.startswith("#") or line.startswith("-notifier.url="):
                continue
            flag, _, value = line.partition("=")
            if flag == "-rule":
                value = os.path.join(vmalert_dir, value)
            elif flag in ("-datasource.url", "-remoteRead.url", "-remoteWrite.url"):
                value = vm_url
            args.append(f"{flag}={value}")
    return [*args, f"-notifier.url={am_url}"]


def up_fleet(
    directory: str, env: Mapping[str, str] | None = None, progress: Callable[[str], None] = lambda message: None
) -> dict[str, Any]:
    """Start the fleet; returns the state written to DIR/.promspec-stack/state.json."""
    from ..render.tree import HalfWrittenOutput, recover_for_read

    env = os.environ if env is None else env
    directory = os.path.abspath(directory)
    try:
        recover_for_read(directory)
    except HalfWrittenOutput as exc:
        raise StackError(str(exc)) from None
    fleet = os.path.join(directory, "fleet")
    vmalert_dir = os.path.join(fleet, "global", "vmalert")
    if not os.path.isdir(vmalert_dir):
        other = (
            sorted(os.listdir(os.path.join(fleet, "global"))) if os.path.isdir(os.path.join(fleet, "global")) else []
        )
        if other:
            raise StackError(
                f"the Topology's global tier is {other[0]}: only a victoriametrics global tier runs locally "
                "(Mimir and Thanos are not packaged here); render with global.backend: victoriametrics to try it"
            )
        raise StackError(
            f"no fleet output in {directory} (fleet/global/vmalert is missing): add a Topology document to the "
            f"specs and run `promspec generate -o {directory}` first"
        )
    scraped_by_vmagent = sorted(glob.glob(os.path.join(fleet, "clusters", "*", "vmagent.yml")))
    if scraped_by_vmagent:
        # Its prometheus.yml scrapes nothing: started alone, the cluster would send no events at all.
        cluster = os.path.basename(os.path.dirname(scraped_by_vmagent[0]))
        raise StackError(
            f"cluster {cluster} is scraped by vmagent: `stack up --topology` starts Prometheus scrapers only; "
            "render it with scraper: prometheus (the default) to try it locally"
        )
    state_dir = os.path.join(directory, STATE_DIR)
    previous = read_state(directory)
    if previous and any(is_running(p) for p in previous["processes"]):
        raise StackError(
            f"a stack started {previous['started']} is still running from {directory}: "
            f"run `promspec stack down --dir {directory}` first"
        )
    binaries = {
        "prometheus": binary("prometheus"),
        "alertmanager": binary("alertmanager"),
        "victoria-metrics": _vm_binary("victoria-metrics"),
        "vmalert": _vm_binary("vmalert"),
    }
    os.makedirs(state_dir, exist_ok=True)
    ports = {"alertmanager": free_port(), "victoria-metrics": free_port(), "vmalert": free_port()}
    vm_url = f"http://127.0.0.1:{ports['victoria-metrics']}"
    am_config = _alertmanager_config(directory, state_dir, env)
    data = os.path.join(state_dir, "data")
    plan: list[tuple[str, list[str], str]] = [
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
            "victoria-metrics",
            [
                binaries["victoria-metrics"],
                f"-storageDataPath={data}/victoria-metrics",
                f"-httpListenAddr=127.0.0.1:{ports['victoria-metrics']}",
            ],
            "/health",
        ),
    ]
    for path in sorted(glob.glob(os.path.join(fleet, "clusters", "*", "prometheus*.yml"))):
        cluster = os.path.basename(os.path.dirname(path))
        name = f"prometheus-{cluster}" + os.path.basename(path)[len("prometheus") : -len(".yml")]
        ports[name] = free_port()
        config = _cluster_config(path, state_dir, ports["alertmanager"], ports["victoria-metrics"])
        plan.append(
            (
                name,
                [
                    binaries["prometheus"],
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data}/{name}",
                    f"--web.listen-address=127.0.0.1:{ports[name]}",
                    "--rules.alert.resend-delay=5s",
                ],
                "/-/ready",
            )
        )
    args = _vmalert_args(vmalert_dir, vm_url, f"http://127.0.0.1:{ports['alertmanager']}")
    plan.append(("vmalert", [binaries["vmalert"], *args, f"-httpListenAddr=127.0.0.1:{ports['vmalert']}"], "/health"))
    return start_processes(plan, ports, directory, state_dir, progress)
