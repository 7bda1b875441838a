"""What tests use to build and write one dashboard on its own (promspec itself builds a project's
dashboards together: compile/dashboards/project.py, render/dashboards.py)."""

from __future__ import annotations

from typing import Any

from promspec.compile.dashboards.compiler import build_dashboard
from promspec.compile.dashboards.plan import Context, plan_dashboard
from promspec.model.dashboards import Dashboard
from promspec.render.dashboards import dashboard_text


def compile_dashboard(ctx: Context, dash: Dashboard) -> dict[str, Any]:
    """Grafana JSON for one dashboard, keys sorted, as a new plain dict."""
    return build_dashboard(plan_dashboard(ctx, dash))


def dashboard_json(data: Any) -> bytes:
    """The bytes a dashboard file holds (json.dumps, indent 2, ensure_ascii off, trailing newline)."""
    return dashboard_text(data).encode("utf-8")
