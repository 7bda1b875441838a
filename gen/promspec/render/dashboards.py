"""dashboards/: one Grafana JSON file per dashboard, by folder, and the provisioning file."""

from __future__ import annotations

from ..compile.dashboards.project import PROVISION_ROOT, compile_project, provisioning
from .yamlout import dump_json, dump_yaml, header

# Marks a Grafana UI export (spec.file) in the provisioning header: `promspec check` reads it and
# checks that file leniently, as the spec check did.
EXPORTED_MARK = "(Grafana export, as it is)"


def render_dashboards(project) -> dict[str, bytes]:
    """dashboards/<folder>/<uid>.json for every dashboard, and dashboards/provisioning.yml."""
    _ctx, compiled = compile_project(project)
    files = {path: dump_json(data) for path, (_dash, data) in compiled.items()}
    if not compiled:
        return files
    sources = [f"{path[len('dashboards/'):]}: {dash.source}" + (" (generated)" if dash.generated else "")
               + (f" {EXPORTED_MARK}" if dash.imported is not None else "")
               for path, (dash, _data) in sorted(compiled.items())]
    extra = (f"Copy or mount this dashboards/ directory at {PROVISION_ROOT} and put this file in",
             "Grafana's provisioning/dashboards/. Dashboards and the specs they come from:",
             *(f"  {line}" for line in sources))
    head = header(sorted({dash.source for dash, _ in compiled.values()}), extra)
    files["dashboards/provisioning.yml"] = dump_yaml(provisioning([d for d, _ in compiled.values()]), head)
    return files
