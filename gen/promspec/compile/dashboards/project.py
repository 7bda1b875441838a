"""A project's dashboards: the ones its specs declare plus the generated presets, compiled together."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ...model.dashboards import Dashboard, DroppedDashboard
from ...model.project import RuleGroup
from .compiler import CompiledDashboard, build_compiled
from .plan import Context, Plan, Problem, context_for, frame_of, plan_with, resolve
from .presets import Presets, preset_dashboards
from .templated import Preset

# Where Grafana reads the files from: copy or mount the rendered dashboards/ directory here.
PROVISION_ROOT = "/var/lib/grafana/dashboards/promspec"


def project_dashboards(project: Any, groups: list[RuleGroup], written: list[Dashboard]) -> list[Dashboard]:
    """Dashboards written in specs, then the generated ones whose uid no spec took (a spec overrides a preset)."""
    return [p.model() for p in _with_presets(written, preset_dashboards(project, groups))[0]]


@dataclass(frozen=True, kw_only=True)
class Replaced:
    """A bundled dashboard not built because a spec took its uid: the spec's dashboard is drawn instead."""

    uid: str
    title: str
    by: Dashboard  # the written dashboard whose uid or name is the preset's uid
    bundled: Dashboard  # the preset as it would have been built (`promspec dashboards eject` still writes it)


def _with_presets(
    written: list[Dashboard], presets: Presets
) -> tuple[list[Preset], list[DroppedDashboard], list[Replaced]]:
    """The dashboards to build (the written ones as they are), the presets left out, and the presets a spec
    replaced (its uid or name is theirs)."""
    # A uid match names the replacing spec before a name match; the first spec of a key wins (dict order).
    taken = {**{d.name: d for d in reversed(written)}, **{d.uid: d for d in reversed(written)}}
    return (
        [Preset(head=d) for d in written] + [p for p in presets.made if p.head.uid not in taken],
        [d for d in presets.left_out if d.uid not in taken],
        [
            Replaced(uid=p.head.uid, title=p.head.title, by=taken[p.head.uid], bundled=p.model())
            for p in presets.made
            if p.head.uid in taken
        ],
    )


def dashboard_path(dash: Dashboard) -> str:
    """dashboards/<folder>/<uid>.json: one directory per folder, so a team's dashboards sit together."""
    return f"dashboards/{folder_dir(dash.folder)}/{dash.uid}.json"


def folder_dir(folder: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", folder.strip()).strip("-").lower() or "general"


@dataclass(frozen=True, kw_only=True)
class Made:
    """What the compiler made of one dashboard (nothing for a Grafana export, rendered as it is)."""

    # The compiler's plan (queries resolved, ids, layout); None for a Grafana export.
    plan: Plan | None
    problems: list[Problem]  # queries that did not resolve; the dashboard checks report them
    # None for a Grafana export (its JSON is dashboard.imported) and when a query did not resolve (the checks
    # report why, and nothing is rendered).
    compiled: CompiledDashboard | None


@dataclass(frozen=True, kw_only=True)
class BuiltDashboard:
    """One dashboard of the build: its model, where it is written, and its Grafana JSON built once.

    The build (resolve, plan, compile: most of a dashboard's cost) is made on first use, in the process that
    reads it: `generate -j N` forks its workers before any is made, so each is made once, by the worker that
    checks and renders it, and the parent holds only the models.
    """

    # The model; of a preset made lazily (template_shapes.instantiate_lazily), every field but its rows, which
    # `dashboard` makes on first use: what the parent of generate's workers reads (uid, title, folder, links,
    # what the pruning dropped) is here.
    head: Dashboard
    path: str
    ctx: Context = field(repr=False, compare=False)  # what the dashboard's queries resolve against
    given: Made | None = None  # made already (a test's altered dashboard); else made from ctx on first use
    make: Callable[[], Dashboard] | None = field(default=None, repr=False, compare=False)  # head's whole model

    @cached_property
    def dashboard(self) -> Dashboard:
        """The whole model: head, or made from it on first use."""
        return self.head if self.make is None else self.make()

    @cached_property
    def made(self) -> Made:
        if self.given is not None:
            return self.given
        dash = self.dashboard
        # A referenced Grafana export keeps the user's identity; one that did not load was reported where it
        # was read.
        if dash.imported is not None or dash.file:
            return Made(plan=None, problems=[], compiled=None)
        frame = frame_of(dash)  # its ids, layout and slots: worked out once per frame key, looked up once here
        targets, problems = resolve(self.ctx, dash, frame)
        plan = plan_with(self.ctx, dash, targets, frame)
        return Made(plan=plan, problems=problems, compiled=build_compiled(plan) if not problems else None)

    @property
    def plan(self) -> Plan | None:
        return self.made.plan

    @property
    def problems(self) -> list[Problem]:
        return self.made.problems

    @property
    def compiled(self) -> CompiledDashboard | None:
        return self.made.compiled

    @cached_property
    def data(self) -> dict[str, Any] | None:
        """The Grafana JSON as a plain dict, made on first use (the writer and the check of a generated
        dashboard read `compiled`); None when nothing is rendered."""
        return self.compiled.to_data() if self.compiled is not None else self.head.imported

    def forget(self) -> None:
        """Drop what was built and rendered of this dashboard, and its model when that was made lazily (a later
        read makes them again): a generate worker that has checked and written it needs it no more, and
        keeping every dashboard it built held about twice the memory of one process at 10,000 services. A
        frozen record refuses `del`, so the cached values are taken out of the instance's dict, where
        cached_property keeps them."""
        for name in ("made", "data", "dashboard"):
            vars(self).pop(name, None)

    @property
    def renders(self) -> bool:
        """Whether the dashboard is written (it built, or it is an export that loaded)."""
        return self.compiled is not None or self.head.imported is not None


@dataclass(frozen=True, kw_only=True)
class DashboardBuild:
    """Every dashboard of a project (written ones, then the presets no spec overrides), built once."""

    ctx: Context
    written: list[Dashboard]  # the Dashboard documents' models, in document order
    dashboards: list[BuiltDashboard]
    left_out: list[DroppedDashboard] = field(default_factory=list)  # presets not built: nothing they read is catalogued
    replaced: list[Replaced] = field(default_factory=list)  # presets not built: a spec took their uid
    # Which of the dashboards render, when worked out where they were built (generate's workers): the
    # provisioning file reads it in a process that has not built them.
    renders: list[bool] | None = None

    def rendered(self) -> dict[str, tuple[Dashboard, dict[str, Any]]]:
        """{output path: (dashboard model, Grafana JSON)} of every dashboard that built."""
        return {b.path: (b.dashboard, b.data) for b in self.dashboards if b.data is not None}

    def written_files(self) -> list[BuiltDashboard]:
        """The dashboards that are written (rendered()'s, in its order), without making their dicts."""
        if self.renders is not None:
            return [b for b, renders in zip(self.dashboards, self.renders, strict=True) if renders]
        return [b for b in self.dashboards if b.renders]

    def models(self) -> list[Dashboard]:
        """Every dashboard's model as the checks of them all together read it (check.vanished_panels): the
        heads when no preset lost anything (only what was dropped is read then), else the whole models (the
        causes of a loss read every query of the presets)."""
        heads = [b.head for b in self.dashboards]
        if not self.left_out and not any(h.dropped for h in heads):
            return heads
        return [b.dashboard for b in self.dashboards]


def compile_dashboards(project: Any, groups: list[RuleGroup]) -> DashboardBuild:
    """Every dashboard of the project, each built once on first use; groups are all its rule groups (the
    presets read the series they record)."""
    written = project.dashboards
    dashes, left_out, replaced = _with_presets(written, preset_dashboards(project, groups))
    ctx = context_for(project, [p.head for p in dashes])
    return DashboardBuild(
        ctx=ctx,
        written=written,
        dashboards=[BuiltDashboard(head=p.head, path=dashboard_path(p.head), ctx=ctx, make=p.make) for p in dashes],
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
