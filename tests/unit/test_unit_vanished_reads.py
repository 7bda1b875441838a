"""vanished_panels reads the generated dashboards' queries only when the pruning left something out: the
names they read are what a lost series cannot have become, a question with no subject otherwise."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

from promspec.check import panel_queries
from promspec.check.vanished_panels import vanished_panels
from promspec.model.dashboards import Dashboard, DroppedDashboard, DroppedPanel, Panel, Query, Row
from promspec.model.project import Ref


def _dash(ref: Ref, dropped: list[DroppedPanel]) -> Dashboard:
    panel = Panel(title="A", ref=ref, unit="short", queries=[Query(ref=ref, expr="sum(kept_total)")])
    return Dashboard(
        name="d",
        ref=ref,
        uid="d",
        title="D",
        generated=True,
        rows=[Row(title="", ref=ref, panels=[panel])],
        dropped=dropped,
    )


def _ref() -> Ref:
    return mock.MagicMock(spec=Ref)


def test_nothing_left_out_reads_no_query() -> None:
    with mock.patch.object(panel_queries, "panel_query", side_effect=AssertionError("a query was read")):
        assert vanished_panels(SimpleNamespace(catalogs=[]), [_dash(_ref(), [])], iter(())) == []


def test_a_dropped_panel_still_reads_every_query_for_its_cause() -> None:
    project = SimpleNamespace(catalogs=[])
    dropped = [DroppedPanel(row="", title="B", metrics=("gone_total",))]
    with mock.patch.object(panel_queries, "panel_query", wraps=panel_queries.panel_query) as read:
        (v,) = vanished_panels(project, [_dash(_ref(), dropped)])
    assert read.call_args_list == [mock.call("sum(kept_total)")]
    assert (v.part, v.panel, v.reason) == ("panel", "B", "it reads gone_total, which no Catalog lists")


def test_a_left_out_dashboard_given_as_an_iterator_is_reported() -> None:
    gone = DroppedDashboard(uid="u", title="T", metrics=("gone_total",))
    (v,) = vanished_panels(SimpleNamespace(catalogs=[]), [], iter([gone]))
    assert (v.uid, v.part, v.pos) == ("u", "dashboard", None)
