"""A project's dashboards: the ones its specs declare plus the generated presets, compiled together."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...spec.dashboards import Dashboard
from .compiler import Context, compile_dashboard, context_for
from .presets import preset_dashboards

# Where Grafana reads the files from: copy or mount the rendered dashboards/ directory here.
PROVISION_ROOT = "/var/lib/grafana/dashboards/promspec"


def project_dashboards(project, written: list | None = None) -> list[Dashboard]:
    """Dashboards written in specs, then the generated ones whose uid no spec took (a spec overrides a preset)."""
    if written is None:
        written = project.dashboards
    taken = {d.uid for d in written} | {d.name for d in written}
    return written + [d for d in preset_dashboards(project) if d.uid not in taken]


def dashboard_path(dash: Dashboard) -> str:
    """dashboards/<folder>/<uid>.json: one directory per folder, so a team's dashboards sit together."""
    return f"dashboards/{folder_dir(dash.folder)}/{dash.uid}.json"


def folder_dir(folder: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", folder.strip()).strip("-").lower() or "general"


@dataclass(frozen=True, kw_only=True)
class _Compiled:
    """Dashboards the spec checks already built for one project, kept for the renderer."""

    project: object
    inputs: tuple
    ctx: Context
    compiled: dict


# One entry: `generate` checks a project, then renders that same project. Building every dashboard
# twice cost a third of the dashboard time at 1,000 services.
_last: list[_Compiled] = []


def _inputs(project) -> tuple:
    """What a project's dashboards are made of: a project changed since it was compiled misses.

    The records are frozen, so equal tuples mean equal inputs; the same objects compare by identity first.
    """
    return (
        tuple(project.services),
        tuple(project.dashboards),
        tuple(project.backends.items()),
        len(project.groups),
    )


def remember_compiled(project, ctx: Context, compiled: dict) -> None:
    """Keep what check_dashboards built, so compile_project of the same project does not build it again."""
    _last[:] = [_Compiled(project=project, inputs=_inputs(project), ctx=ctx, compiled=compiled)]


def compile_project(project) -> tuple[Context, dict]:
    """{output path: (dashboard model, Grafana JSON dict)} for every dashboard of the project."""
    if _last and _last[0].project is project and _last[0].inputs == _inputs(project):
        return _last[0].ctx, _last[0].compiled
    dashes = project_dashboards(project)
    ctx = context_for(project, dashes)
    # A referenced Grafana export (spec.file) is rendered as it is: its identity is the user's.
    return ctx, {
        dashboard_path(d): (d, d.imported if d.imported is not None else compile_dashboard(ctx, d)) for d in dashes
    }


def provisioning(dashes: list[Dashboard]) -> dict:
    """Grafana's dashboard provisioning config: one file provider per folder."""
    folders = sorted({folder_dir(d.folder): d.folder for d in dashes}.items())
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": f"promspec-{directory}",
                "orgId": 1,
                "folder": title,
                "folderUid": f"promspec-{directory}"[:40],
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": f"{PROVISION_ROOT}/{directory}", "foldersFromFilesStructure": False},
            }
            for directory, title in folders
        ],
    }
