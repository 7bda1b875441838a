"""Panel links reach the Grafana JSON (they raised AttributeError: the SDK's links() takes builders)."""

from __future__ import annotations

from dashboard_helpers import compile_dashboard
from promspec.compile.dashboards.plan import Context
from promspec.model.dashboards import Dashboard, Link, Panel, Query, Row
from promspec.model.loader import Document
from promspec.model.project import Ref

REF = Ref(Document(file="d.yml", index=0, data={}), ("spec",))


def test_a_panel_link_to_a_url_and_to_a_dashboard_is_in_the_panel_json() -> None:
    panel = Panel(
        title="Up",
        ref=REF,
        unit="short",
        queries=[Query(ref=REF, expr="sum(up)")],
        links=[Link(title="Runbook", url="https://example.invalid/rb"), Link(dashboard="gpu-fleet")],
    )
    dash = Dashboard(name="d", ref=REF, rows=[Row(title="", ref=REF, panels=[panel])])
    data = compile_dashboard(Context(uids={"gpu-fleet": "gpu-fleet-uid"}), dash)
    (built,) = data["panels"]
    # Grafana's panel link fields, written out by hand: an external link opens in a new tab; a dashboard
    # link keeps the time range and carries the data source (the dashboard has no datasource variable here).
    assert [(k["title"], k["url"], k["targetBlank"], k["keepTime"]) for k in built["links"]] == [
        ("Runbook", "https://example.invalid/rb", True, False),
        ("gpu-fleet", "/d/gpu-fleet-uid", False, True),
    ]
