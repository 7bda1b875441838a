"""Slurm: nodelists (gpu[001-064]) to scrape targets, and an sbatch script running Prometheus for a job's lifetime."""

from __future__ import annotations

import json
import re
import shlex
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from ..model.project import Labels, Project

MAX_NODES = 100_000  # a guard against gpu[0-99999999] turning into a billion targets


class NodelistError(ValueError):
    """A nodelist Slurm would not accept; offset is where in the text."""

    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset = offset


def _split_top(text: str, start: int = 0) -> list[tuple[int, str]]:
    """Split at commas outside brackets: (offset, part)."""
    parts, depth, begin = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            if depth:
                raise NodelistError(start + i, "nested '['")
            depth = 1
        elif ch == "]":
            if not depth:
                raise NodelistError(start + i, "']' without '['")
            depth = 0
        elif ch == "," and not depth:
            parts.append((start + begin, text[begin:i]))
            begin = i + 1
    if depth:
        raise NodelistError(start + text.rfind("["), "'[' without ']'")
    parts.append((start + begin, text[begin:]))
    return parts


def _range(text: str, offset: int) -> list[str]:
    """One bracket range: 7, 01-16 (zero padding kept from the first number)."""
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        raise NodelistError(offset, f"{text!r} is not a number or a range such as 001-064")
    first, last = m.group(1), m.group(2) or m.group(1)
    if int(last) < int(first):
        raise NodelistError(offset, f"range {text} runs backwards")
    width = len(first) if first.startswith("0") or len(first) == len(last) else 0
    return [str(n).zfill(width) for n in range(int(first), int(last) + 1)]


def _expand_item(item: str, offset: int) -> list[str]:
    names = [""]
    pos = 0
    for m in re.finditer(r"\[([^\]]*)\]", item):
        literal = item[pos : m.start()]
        choices = [n for off, part in _split_top(m.group(1), offset + m.start() + 1) for n in _range(part, off)]
        names = [n + literal + c for n in names for c in choices]
        if len(names) > MAX_NODES:
            raise NodelistError(offset, f"expands to more than {MAX_NODES} nodes")
        pos = m.end()
    names = [n + item[pos:] for n in names]
    if any(not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", n) for n in names):
        raise NodelistError(offset, f"{item!r} does not expand to host names")
    return names


def expand_nodelist(text: str) -> list[str]:
    """Host names of a Slurm nodelist such as gpu[001-004,010],cpu01, in order, without repeats."""
    out: list[str] = []
    for offset, item in _split_top(text):
        if not item:
            raise NodelistError(offset, "empty entry (two commas, or one at an end)")
        out += _expand_item(item, offset)
        if len(out) > MAX_NODES:
            raise NodelistError(0, f"expands to more than {MAX_NODES} nodes")
    return list(dict.fromkeys(out))


class SbatchOptions(TypedDict):
    """`promspec render slurm`'s options: the #SBATCH lines and the job's Prometheus (and exporters)."""

    job_name: str
    time: str | None
    partition: str | None
    nodes: str | None
    port: int
    retention: str
    start_exporters: bool
    exporter_port: int


def slurm_jobs(project: Project) -> list[tuple[str, int, Labels]]:
    """(job name, port, target labels) of the scrape jobs whose targets come from a nodelist."""
    return [(job.name, job.slurm.port, dict(job.slurm.labels)) for job in project.jobs if job.slurm is not None]


def _heredoc(path: str, body: str) -> str:
    tag = "PROMSPEC_EOF"
    while tag in body.splitlines():
        tag += "_"
    return f"cat > \"$OUT/config/{path}\" <<'{tag}'\n{body}{'' if body.endswith(chr(10)) else chr(10)}{tag}\n"


def sbatch_script(
    files: dict[str, str], slurm: list[tuple[str, int, Labels]], header: str, options: SbatchOptions
) -> str:
    """The sbatch script: the rendered config embedded, the job's nodes as targets, Prometheus for its lifetime."""
    # files: prometheus/prometheus.yml, rules/*.yml and prometheus/targets/*.json as text (rendered paths).
    lines = ["#!/bin/bash", header.rstrip("\n")]
    lines += [f"#SBATCH --job-name={options['job_name']}"]
    for key in ("time", "partition", "nodes"):
        if options.get(key):
            lines.append(f"#SBATCH --{key}={options[key]}")
    lines += ["#SBATCH --ntasks-per-node=1", "set -euo pipefail", ""]
    lines += [
        "# Where config, TSDB and logs go: collect from it afterwards with `promspec collect`.",
        'OUT="${PROMSPEC_OUT:-${SLURM_SUBMIT_DIR:-$PWD}/promspec-${SLURM_JOB_ID:-local}}"',
        f'PORT="${{PROMSPEC_PROMETHEUS_PORT:-{options["port"]}}}"',
        "# Loopback by default; PROMSPEC_LISTEN=0.0.0.0 to query it from another host of the cluster.",
        'LISTEN="${PROMSPEC_LISTEN:-127.0.0.1}"',
        'PROMETHEUS="${PROMSPEC_PROMETHEUS_BIN:-prometheus}"',
        'mkdir -p "$OUT/config/prometheus/targets" "$OUT/config/rules" "$OUT/tsdb"',
        "",
        "# The rendered configuration, embedded so that the job needs nothing but this script and Prometheus.",
    ]
    script = "\n".join(lines) + "\n"
    for path in sorted(files):
        script += _heredoc(path, files[path])
    script += "\n# This job's nodes replace the rendered targets of the nodelist-sourced scrape jobs:\n"
    script += "# PROMSPEC_NODES (space-separated host names) if set, else Slurm's own expansion of the nodelist.\n"
    script += 'NODES="${PROMSPEC_NODES:-}"\n'
    script += 'if [ -z "$NODES" ] && [ -n "${SLURM_JOB_NODELIST:-}" ]; then\n'
    script += "  NODES=\"$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | tr '\\n' ' ')\"\nfi\n"
    script += "write_targets() {  # job port labels-json\n"
    script += '  local sep="" list=""\n  for node in $NODES; do list="$list$sep\\"$node:$2\\""; sep=", "; done\n'
    script += (
        '  printf \'[{"targets": [%s], "labels": %s}]\\n\' "$list" "$3" > "$OUT/config/prometheus/targets/$1.json"\n}\n'
    )
    script += 'if [ -n "$NODES" ]; then\n'
    for name, port, labels in slurm:
        text = json.dumps(labels, sort_keys=True, ensure_ascii=False)
        script += f"  write_targets {shlex.quote(name)} {port} {shlex.quote(text)}\n"
    script += "  :\nfi\n\n"
    if options.get("start_exporters"):
        script += (
            "# promspec-exporter on every node of the job, for the job's lifetime.\n"
            "srun --overlap --ntasks-per-node=1 promspec-exporter "
            f'--web.listen-address=":${{PROMSPEC_EXPORTER_PORT:-{options["exporter_port"]}}}" '
            '> "$OUT/exporters.log" 2>&1 &\n\n'
        )
    script += (
        '"$PROMETHEUS" --config.file="$OUT/config/prometheus/prometheus.yml" --storage.tsdb.path="$OUT/tsdb" \\\n'
        f'  --storage.tsdb.retention.time={options["retention"]} --web.listen-address="$LISTEN:$PORT" \\\n'
        '  > "$OUT/prometheus.log" 2>&1 &\n'
        "PROM_PID=$!\n"
        'echo "$PROM_PID" > "$OUT/prometheus.pid"\n'
        "# Stop Prometheus (cleanly, so the head block is written) when the job ends, however it ends.\n"
        'trap \'kill -TERM "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true\' EXIT\n'
        "trap 'exit 143' TERM  # Slurm's end of job: exit through the EXIT trap above\n"
        "trap 'exit 130' INT\n"
        'PROBE="$LISTEN"; [ "$LISTEN" = 0.0.0.0 ] && PROBE=127.0.0.1\n'
        "for _ in $(seq 300); do\n"
        '  if (exec 3<>"/dev/tcp/$PROBE/$PORT") 2>/dev/null; then break; fi\n'
        '  kill -0 "$PROM_PID" 2>/dev/null || '
        '{ echo "promspec: Prometheus did not start; see $OUT/prometheus.log" >&2; exit 1; }\n'
        "  sleep 0.1\n"
        "done\n"
        'echo "promspec: Prometheus on $(hostname):$PORT for this job; data in $OUT/tsdb" >&2\n'
        "# With a command, run it and stop Prometheus when it ends; without, run until the job ends.\n"
        'if [ "$#" -gt 0 ]; then\n  "$@"\nelse\n  wait "$PROM_PID"\nfi\n'
    )
    return script


def slurm_config(config: dict[str, Any], slurm_names: set[str]) -> dict[str, Any]:
    """prometheus.yml for a batch job: nodelist jobs read file_sd targets the script writes; no Alertmanager."""
    out = {k: v for k, v in config.items() if k != "alerting"}
    jobs = []
    for job in config.get("scrape_configs", []):
        job = dict(job)
        if job["job_name"] in slurm_names:
            job.pop("static_configs", None)
            job["file_sd_configs"] = [{"files": [f"targets/{job['job_name']}.json"]}]
        jobs.append(job)
    out["scrape_configs"] = jobs
    return out
