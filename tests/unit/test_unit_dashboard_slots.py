"""What the dashboard compiler decides per panel is keyed by the panel's Slot (row, index), not by id().

Built from records in Python; the oracle is Grafana's 24-column grid written out by hand.
"""

from __future__ import annotations

from promspec.compile.dashboards.plan import layout, panel_ids
from promspec.model.dashboards import Dashboard, Panel, Row, Slot
from promspec.model.loader import Document
from promspec.model.project import Ref

REF = Ref(Document(file="d.yml", index=0, data={}), ("spec",))


def _dash() -> Dashboard:
    shared = Panel(title="Requests", ref=REF, unit="reqps")  # one object placed twice: presets may reuse one
    return Dashboard(
        name="d",
        ref=REF,
        rows=[Row(title="A", ref=REF, panels=[shared, shared]), Row(title="B", ref=REF, panels=[shared])],
    )


def test_every_slot_has_its_own_position_even_for_one_panel_object() -> None:
    grid = layout(_dash())
    # timeseries panels are 12 wide and 8 high; a titled row takes one grid line.
    assert grid == {
        Slot(row=0): (0, 0, 24, 1),
        Slot(row=0, panel=0): (0, 1, 12, 8),
        Slot(row=0, panel=1): (12, 1, 12, 8),
        Slot(row=1): (0, 9, 24, 1),
        Slot(row=1, panel=0): (0, 10, 12, 8),
    }


def test_every_slot_has_its_own_panel_id() -> None:
    ids = panel_ids(_dash())
    assert len(ids) == 5 and len(set(ids.values())) == 5


def test_slots_walk_the_layout_order() -> None:
    assert [slot for slot, _row, _panel in _dash().slots()] == [
        Slot(row=0, panel=0),
        Slot(row=0, panel=1),
        Slot(row=1, panel=0),
    ]
