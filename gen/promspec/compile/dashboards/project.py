"""A project's dashboards: the ones its specs declare plus the generated presets, compiled together."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ...model.dashboards import Dashboard, DroppedDashboard
from ...model.project import RuleGroup
from .compiler import CompiledDashboard, build_compiled
from .plan import Context, Plan, Problem, context_for, frame_of, plan_with, resolve
from .presets import Presets, preset_dashboards

# Where Grafana reads the files from: copy or mount the rendered dashboards/ directory here.
PROVISION_ROOT = "/var/lib/grafana/dashboards/promspec"


def project_dashboards(project: Any, groups: list[RuleGroup], written: list[Dashboard]) -> list[Dashboard]:
    """Dashboards written in specs, then the generated ones whose uid no spec took (a spec overrides a preset)."""
    return _with_presets(written, preset_dashboards(project, groups))[0]


@dataclass(frozen=True, kw_only=True)
class Replaced:
    """A bundled dashboard not built because a spec took its uid: the spec's dashboard is drawn instead."""

    uid: str
    title: str
    by: Dashboard  # the written dashboard whose uid or name is the preset's uid
    bundled: Dashboard  # the preset as it would have been built (`promspec dashboards eject` still writes it)


def _with_presets(
    written: list[Dashboard], presets: Presets
) -> tuple[list[Dashboard], list[DroppedDashboard], list[Replaced]]:
    """The dashboards to build, the presets left out, and the presets a spec replaced (its uid or name is
    theirs)."""
    # A uid match names the replacing spec before a name match; the first spec of a key wins (dict order).
    taken = {**{d.name: d for d in reversed(written)}, **{d.uid: d for d in reversed(written)}}
    return (
        written + [d for d in presets.dashboards if d.uid not in taken],
        [d for d in presets.left_out if d.uid not in taken],
        [Replaced(uid=d.uid, title=d.title, by=taken[d.uid], bundled=d) for d in presets.dashboards if d.uid in taken],
    )


def dashboard_path(dash: Dashboard) -> str:
    """dashboards/<folder>/<uid>.json: one directory per folder, so a team's dashboards sit together."""
    return f"dashboards/{folder_dir(dash.folder)}/{dash.uid}.json"


def folder_dir(folder: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", folder.strip()).strip("-").lower() or "general"


@dataclass(frozen=True, kw_only=True)
class BuiltDashboard:
    """One dashboard of the build: its model, where it is written, and its Grafana JSON built once."""

    dashboard: Dashboard
    path: str
    # The compiler's plan (queries resolved, ids, layout); None for a Grafana export, rendered as it is.
    plan: Plan | None
    problems: list[Problem]  # queries that did not resolve; the dashboard checks report them
    # What the compiler built (the check and the writer read it); None for a Grafana export (its JSON is
    # dashboard.imported) and when a query did not resolve (the checks report why, and nothing is rendered).
    compiled: CompiledDashboard | None

    @cached_property
    def data(self) -> dict[str, Any] | None:
        """The Grafana JSON as a plain dict, made on first use (the writer and the check of a generated
        dashboard read `compiled`); None when nothing is rendered."""
        return self.compiled.to_data() if self.compiled is not None else self.dashboard.imported

    @property
    def renders(self) -> bool:
        """Whether the dashboard is written (it built, or it is an export that loaded)."""
        return self.compiled is not None or self.dashboard.imported is not None


@dataclass(frozen=True, kw_only=True)
class DashboardBuild:
    """Every dashboard of a project (written ones, then the presets no spec overrides), built once."""

    ctx: Context
    written: list[Dashboard]  # the Dashboard documents' models, in document order
    dashboards: list[BuiltDashboard]
    left_out: list[DroppedDashboard] = field(default_factory=list)  # presets not built: nothing they read is catalogued
    replaced: list[Replaced] = field(default_factory=list)  # presets not built: a spec took their uid

    def rendered(self) -> dict[str, tuple[Dashboard, dict[str, Any]]]:
        """{output path: (dashboard model, Grafana JSON)} of every dashboard that built."""
        return {b.path: (b.dashboard, b.data) for b in self.dashboards if b.data is not None}

    def written_files(self) -> list[BuiltDashboard]:
        """The dashboards that are written (rendered()'s, in its order), without making their dicts."""
        return [b for b in self.dashboards if b.renders]


def _built(ctx: Context, dash: Dashboard) -> BuiltDashboard:
    path = dashboard_path(dash)
    if dash.imported is not None:  # a referenced Grafana export: its identity is the user's
        return BuiltDashboard(dashboard=dash, path=path, plan=None, problems=[], compiled=None)
    if dash.file:  # an export that did not load: reported where it was read
        return BuiltDashboard(dashboard=dash, path=path, plan=None, problems=[], compiled=None)
    frame = frame_of(dash)  # its ids, layout and slots: worked out once per frame key, looked up once here
    targets, problems = resolve(ctx, dash, frame)
    plan = plan_with(ctx, dash, targets, frame)
    compiled = build_compiled(plan) if not problems else None
    return BuiltDashboard(dashboard=dash, path=path, plan=plan, problems=problems, compiled=compiled)


def compile_dashboards(project: Any, groups: list[RuleGroup]) -> DashboardBuild:
    """Build every dashboard of the project once; groups are all its rule groups (the presets read the
    series they record)."""
    written = project.dashboards
    dashes, left_out, replaced = _with_presets(written, preset_dashboards(project, groups))
    ctx = context_for(project, dashes)
    return DashboardBuild(
        ctx=ctx,
        written=written,
        dashboards=[_built(ctx, d) for d in dashes],
        left_out=left_out,
        replaced=replaced,
    )


def provisioning(dashes: list[Dashboard]) -> dict[str, Any]:
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
