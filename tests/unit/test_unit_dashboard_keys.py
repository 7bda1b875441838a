"""The compiler's panel and row templates are found by a key, and the writer's dashboard texts by the
dashboard's templates: the keys must tell apart whatever builds different JSON, including values Python
holds equal that JSON writes differently (1, 1.0, True; 0.0 and -0.0) and any text. The oracle is the
SDK building every panel (the caches off) and Python's json module writing the plain dict."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.dashboards import compiler
from promspec.compile.dashboards.plan import Context, Target, plan_dashboard, ref_letters
from promspec.model.dashboards import Dashboard, Panel, Row
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.render import dashboards as writer


def _ref() -> Ref:
    return Ref(doc=Document("t.yml", 0, {}), path=())


def _json_module_text(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# Equal to each other in Python, written differently in JSON.
TWINS = st.sampled_from([1, 1.0, True, 0, 0.0, -0.0, False, None, 2, 2.0, 0.5, float("nan")])
HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", "\x00", "\n", "\u2028", "é", "\U0001f600", "{", "}", "$", "'"]),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=6,
)
SMALL = st.sampled_from(["", "a", "b"])  # small alphabets: keys collide unless the values differ


@st.composite
def panels(draw) -> Panel:
    return Panel(
        title=draw(st.one_of(SMALL, HOSTILE)),
        ref=_ref(),
        type=draw(st.sampled_from(["timeseries", "stat", "gauge", "table"])),
        id=draw(st.sampled_from([None, 7, True])),
        description=draw(SMALL),
        width=draw(st.sampled_from([None, 6, 6.0, 12])),
        height=draw(st.sampled_from([None, 8, 8.0])),
        unit=draw(st.one_of(SMALL, HOSTILE)),
        decimals=draw(st.sampled_from([None, 1, 1.0, True, 0, False])),
        min=draw(TWINS),
        max=draw(TWINS),
        thresholds=draw(st.sampled_from([[], [(None, "green")], [(1, "red")], [(1.0, "red")], [(True, "red")]])),
        legend=draw(st.sampled_from([{}, {"show": True}, {"show": 1}, {"calcs": ["mean"]}])),
        stack=draw(st.sampled_from([False, True, 1])),
        fill=draw(st.sampled_from([None, 0, 0.0, False, 10])),
        overrides=draw(st.sampled_from([[], [("x", {"unit": 1})], [("x", {"unit": 1.0})]])),
    )


@st.composite
def targets(draw) -> list[Target]:
    return [
        Target(
            expr=draw(HOSTILE),
            ref_id=ref_letters(k),
            legend=draw(st.one_of(SMALL, HOSTILE, st.sampled_from([1, True, 1.0]))),
            format=draw(st.sampled_from(["time_series", "table"])),
            instant=draw(st.sampled_from([False, True, 1])),
            hide=draw(st.booleans()),
        )
        for k in range(draw(st.integers(0, 2)))
    ]


def _dashboard(rows: list[tuple[str, list[Panel]]], title: str) -> Dashboard:
    return Dashboard(
        name="d",
        ref=_ref(),
        uid="d",
        title=title,
        rows=[Row(title=t, ref=_ref(), collapsed=bool(i % 2), panels=p) for i, (t, p) in enumerate(rows)],
    )


def _texts(dash: Dashboard, chosen: list[list[Target]]) -> tuple[str, str]:
    """(the text as promspec writes it, the oracle's text of the dashboard built with every cache off)."""
    plan = plan_dashboard(Context(), dash)
    slots = [s for s in plan.frame.slots]
    plan = replace(plan, targets=dict(zip(slots, chosen, strict=True)))
    text = writer.compiled_text(compiler.build_compiled(plan))
    saved, compiler._PANEL_JSON_MAX = compiler._PANEL_JSON_MAX, 0
    try:
        oracle = _json_module_text(compiler.build_compiled(plan).to_data())
    finally:
        compiler._PANEL_JSON_MAX = saved
    return text, oracle


LAYOUTS = st.lists(st.tuples(SMALL, st.lists(panels(), min_size=1, max_size=3)), min_size=1, max_size=2)


@settings(max_examples=examples(150), deadline=None)
@given(data=st.data(), first=LAYOUTS, second=LAYOUTS, title=HOSTILE)
def test_dashboards_built_after_each_other_are_each_what_building_them_alone_gives(data, first, second, title):
    """Two dashboards built one after the other (the second meets the first's templates, and sometimes its
    very panels, lists and dicts) each write what the SDK and the json module give for them alone."""
    if data.draw(st.booleans()):
        second = [(t, [replace(p, title=p.title) for p in ps]) for t, ps in first]  # same shapes, new records
    for layout in (first, second):
        dash = _dashboard(layout, title)
        chosen = [data.draw(targets()) for _r, p in dash.panels()]
        text, oracle = _texts(dash, chosen)
        assert text == oracle


def test_equal_values_that_write_differently_are_different_keys():
    """One panel at a time, twins side by side: each written as the oracle writes it."""
    for field, twins in [
        ("decimals", [1, 1.0, True]),
        ("min", [0.0, -0.0, 0, False]),
        ("max", [1, 1.0, True]),
        ("fill", [0, 0.0, False]),
        ("id", [1, True]),
        ("width", [6, 6.0]),
        ("thresholds", [[(1, "red")], [(1.0, "red")], [(True, "red")]]),
        ("overrides", [[("x", {"unit": 1})], [("x", {"unit": 1.0})], [("x", {"unit": True})]]),
    ]:
        seen = set()
        for value in twins:
            panel = Panel(title="p", ref=_ref(), type="timeseries", unit="s", **{field: value})
            dash = _dashboard([("", [panel]), ("r", [Panel(title="q", ref=_ref(), unit="s")])], "t")
            text, oracle = _texts(dash, [[Target(expr="up", ref_id="A")], []])
            assert text == oracle, (field, value)
            seen.add(text)
        assert len(seen) == len(twins), field


def test_a_target_legend_or_instant_of_another_type_is_its_own_key():
    panel = Panel(title="p", ref=_ref(), type="timeseries", unit="s")
    dash = _dashboard([("", [panel])], "t")
    texts = set()
    for legend in ("1", 1, True, 1.0):
        text, oracle = _texts(dash, [[Target(expr="up", ref_id="A", legend=legend)]])  # type: ignore[arg-type]
        assert text == oracle
        texts.add(text)
    assert len(texts) == 4


def test_a_dashboard_text_is_cut_once_per_shape():
    writer._DASHBOARD_TEXT.clear()
    panel = Panel(title="p", ref=_ref(), type="timeseries", unit="s")
    dash = _dashboard([("r", [panel, replace(panel, title="q")])], "t")
    for expr in ('up{job="a"}', 'up{job="b\\"\n"}'):
        text, oracle = _texts(dash, [[Target(expr=expr, ref_id="A")], [Target(expr=expr, ref_id="A")]])
        assert text == oracle
    assert len(writer._DASHBOARD_TEXT) == 1


def test_a_row_below_a_float_height_keeps_its_own_y():
    """Regression: the row key held its position without types, so after a dashboard whose panel height
    8.0 put a row at y 8.0, the same row under a height of 8 was written at 8.0 too."""
    texts = []
    for height in (8.0, 8):
        panel = Panel(title="p", ref=_ref(), type="timeseries", unit="s", height=height)
        dash = _dashboard([("", [panel]), ("r", [])], "t")
        dash = replace(dash, rows=[replace(r, collapsed=False) for r in dash.rows])
        text, oracle = _texts(dash, [[Target(expr="up", ref_id="A")]])
        assert text == oracle, height
        texts.append(json.loads(text)["panels"][1]["gridPos"]["y"])
    assert [type(y) for y in texts] == [float, int]
