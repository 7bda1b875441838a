"""`promspec render slurm`: the sbatch script, from the rendered output, written atomically."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..compile.slurm import SbatchOptions, sbatch_script, slurm_config, slurm_jobs
from ..render.tree import write_file

if TYPE_CHECKING:
    from ..compile.build import Build


def write_sbatch(build: Build, output: str, options: SbatchOptions) -> str:
    """Write the script (mode 755) from the specs' Build; returns a note for the user, or ''."""
    from ..compile.scrape import prometheus_config
    from ..render.outputs import render_build
    from ..render.yamlout import dump_json, dump_yaml, header

    project = build.project
    rendered = render_build(build)  # the rule files' text goes into the script as it is
    slurm = slurm_jobs(project)
    names = {name for name, _port, _labels in slurm}
    # The config generate writes, as data (prometheus/prometheus.yml's rule_files point at ../rules/).
    config = slurm_config(prometheus_config(project, [f"../{p}" for p in build.rule_files]), names)
    files = {"prometheus/prometheus.yml": dump_yaml(config).decode("utf-8")}
    files.update({p: b.decode("utf-8") for p, b in rendered.items() if p.startswith("rules/") and p.count("/") == 1})
    for job in project.jobs:
        if job.name in names:
            groups = [
                {"targets": list(g.targets), **({"labels": dict(g.labels)} if g.labels else {})}
                for g in job.target_groups
            ]
            files[f"prometheus/targets/{job.name}.json"] = dump_json(groups).decode("utf-8")
    sources = sorted({d.source or d.file for d in project.documents})
    extra = (
        "Runs Prometheus for the lifetime of a Slurm job, scraping the job's own nodes; the TSDB stays",
        "in $PROMSPEC_OUT (default $SLURM_SUBMIT_DIR/promspec-$SLURM_JOB_ID) for `promspec collect`.",
        "Usage: sbatch THIS_SCRIPT [COMMAND ARGS...]; with a command, Prometheus stops when it ends.",
    )
    text = sbatch_script(files, slurm, header(sources, extra), options)
    write_file(output, text.encode("utf-8"))
    os.chmod(output, 0o755)
    if not slurm:
        return "no Targets job takes its targets from a slurm: nodelist; the job scrapes the rendered targets only"
    return ""
