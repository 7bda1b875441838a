"""Dashboards resolved and laid out once per shape (issue 15 item 6, fifth round): a signal query is made once
per query and scope shape and filled with each scope's matchers; ids and grid positions once per frame (the
rows' and panels' titles, ids, types and sizes). Each must equal the work done per instance.

Oracles: signals.signal_query called with each instance's own scope (unchanged by the round), the ids and
layout written out here from their documented rules (crc32 of "row/panel" titles, probing upward; a left-to-
right flow on a 24-column grid), and the compiler given its targets in another order.
"""

from __future__ import annotations

import glob
import os
import zlib
from dataclasses import replace
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.backends.adapter import Backend, Variant, backend_from_spec
from promspec.compile.dashboards import plan
from promspec.compile.dashboards.compiler import build_compiled
from promspec.compile.dashboards.plan import SIZES, Context, Target, frame_of, plan_with
from promspec.compile.dashboards.signals import Scope, SignalError, signal_query
from promspec.compile.promql import matcher
from promspec.model.dashboards import Dashboard, Panel, Query, Row, Slot
from promspec.model.loader import Document
from promspec.model.project import Ref

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _ref() -> Ref:
    return Ref(doc=Document("t.yml", 0, {}), path=())


def _bundled() -> list[Backend]:
    out = []
    for path in sorted(glob.glob(os.path.join(REPO, "specs", "backends", "*.yml"))):
        with open(path, encoding="utf-8") as fh:
            for doc in yaml.safe_load_all(fh):
                if doc and doc.get("kind") == "Backend":
                    out.append(backend_from_spec(doc["metadata"]["name"], doc["spec"], _ref()))
    return out


BACKENDS = _bundled()
SIGNALS = sorted({s for b in BACKENDS for s in b.signals} | {"no_such_signal"})
VERSIONS = sorted({v for b in BACKENDS for vs in b.signals.values() for x in vs for v in (x.since, x.until)} | {""})
# Values no spec writes but a hostile one could: quotes, backslashes, newlines, braces, the probes' own text.
HOSTILE = st.one_of(
    st.text(max_size=8),
    st.sampled_from(['a"b', "a\\", "x\ny", "}", "{job}", "$job", "\ue000probe0.0\ue001", "\ue000probe1.0\ue001", ""]),
)
LABELS = st.lists(st.sampled_from(["job", "namespace", "model_name", "a", "ba", "quantile"]), unique=True, max_size=4)


def _oracle(scope: Scope, q: Query, heatmap_panel: bool) -> Any:
    try:
        return signal_query(
            scope,
            q.signal,
            quantile=q.quantile,
            quantile_written=q.quantile_text,
            mean=q.mean,
            ratio=q.ratio,
            by=q.by,
            heatmap=heatmap_panel and q.quantile is None and not q.mean,
        )
    except SignalError as exc:
        return ("error", str(exc), exc.expected)


def _by_shape(scope: Scope, q: Query, heatmap_panel: bool) -> Any:
    matchers = tuple(matcher(k, v) for k, v in scope.selector.items())
    try:
        return plan._signal_query(scope, matchers, q, heatmap_panel)
    except SignalError as exc:
        return ("error", str(exc), exc.expected)


@settings(max_examples=examples(300), deadline=None)
@given(
    backend=st.sampled_from(BACKENDS),
    version=st.sampled_from(VERSIONS),
    rename=st.booleans(),
    variables=st.lists(st.sampled_from(["job", "instance", "model"]), unique=True),
    labels=LABELS,
    values=st.lists(st.lists(HOSTILE, min_size=4, max_size=4), min_size=1, max_size=3),
    signal=st.sampled_from(SIGNALS),
    quantile=st.sampled_from([None, 0.5, 0.95, 0.999, 1, 1.0]),
    written=st.sampled_from(["", "0.95", "0.990"]),
    mean=st.booleans(),
    ratio=st.booleans(),
    by=st.lists(st.sampled_from(["model", "engine", "le"]), unique=True, max_size=2),
    heatmap_panel=st.booleans(),
)
def test_a_signal_query_by_shape_is_the_query_made_for_its_own_scope(
    backend: Backend,
    version: str,
    rename: bool,
    variables: list[str],
    labels: list[str],
    values: list[list[str]],
    signal: str,
    quantile: float | None,
    written: str,
    mean: bool,
    ratio: bool,
    by: list[str],
    heatmap_panel: bool,
) -> None:
    q = Query(
        ref=_ref(),
        signal=signal,
        quantile=quantile,
        quantile_text=written if quantile is not None else "",
        mean=mean,
        ratio=ratio,
        by=tuple(by),
    )
    # Several scopes of one shape (the same labels, other values): the first makes the shape, the others fill it.
    for vals in values:
        scope = Scope(
            backend=backend,
            version=version,
            selector=dict(zip(labels, vals, strict=False)),
            rename=rename,
            variables=tuple(variables),
        )
        assert _by_shape(scope, q, heatmap_panel) == _oracle(scope, q, heatmap_panel)


def test_a_backend_that_writes_the_probe_itself_is_resolved_per_query() -> None:
    # The variant's own matcher is what the first probe puts in the selector: cutting there would put the
    # service's value in the variant's matcher too. The second probe sees it; the query is made per scope.
    probe = matcher("job", plan._probe_value(0, 0))
    variant = Variant(signal="requests", metric="m_total", type="counter", ref=_ref(), matchers=probe)
    backend = Backend(name="hostile", ref=_ref(), signals={"requests": (variant,)})
    q = Query(ref=_ref(), signal="requests")
    for value in ("svc-a", "svc-b", plan._probe_value(1, 0)):
        scope = Scope(backend=backend, selector={"job": value})
        assert _by_shape(scope, q, False) == _oracle(scope, q, False)
        assert probe in _by_shape(scope, q, False)[0]


def test_a_shape_is_used_only_for_the_backend_object_it_was_made_with() -> None:
    # Two projects in one process may spell one backend name two ways.
    q = Query(ref=_ref(), signal="requests")
    for metric in ("first_total", "second_total"):
        variant = Variant(signal="requests", metric=metric, type="counter", ref=_ref())
        backend = Backend(name="same-name", ref=_ref(), signals={"requests": (variant,)})
        scope = Scope(backend=backend, selector={"job": "x"})
        assert metric in _by_shape(scope, q, False)[0]


# ------------------------------------------------------------------------------ frames: ids and layout


def _ids_oracle(dash: Dashboard) -> dict[Slot, int]:
    """docs: explicit ids kept; others crc32("row title/panel title") (rows: "row/<title>") mod 99999 + 1,
    probing upward past ids taken, in layout order."""
    taken = {p.id for r in dash.rows for p in r.panels if p.id}
    ids: dict[Slot, int] = {}
    for i, row in enumerate(dash.rows):
        names = ([(Slot(row=i), f"row/{row.title}")] if row.title else []) + [
            (Slot(row=i, panel=j), f"{row.title}/{p.title}") for j, p in enumerate(row.panels) if not p.id
        ]
        for j, p in enumerate(row.panels):
            if p.id:
                ids[Slot(row=i, panel=j)] = p.id
        for slot, name in names:
            n = zlib.crc32(name.encode()) % 99999 + 1
            while n in taken:
                n = n % 99999 + 1
            taken.add(n)
            ids[slot] = n
    return ids


def _grid_oracle(dash: Dashboard) -> dict[Slot, tuple[int, int, int, int]]:
    """A titled row is a full-width line; its panels flow left to right, wrapping past 24 columns."""
    out: dict[Slot, tuple[int, int, int, int]] = {}
    y = 0
    for i, row in enumerate(dash.rows):
        if row.title:
            out[Slot(row=i)] = (0, y, 24, 1)
            y += 1
        x, tallest = 0, 0
        for j, p in enumerate(row.panels):
            w = p.width or SIZES[p.type][0]
            h = p.height or SIZES[p.type][1]
            if x + w > 24:
                y, x, tallest = y + tallest, 0, 0
            out[Slot(row=i, panel=j)] = (x, y, w, h)
            x, tallest = x + w, max(tallest, h)
        y += tallest
    return out


PANELS = st.builds(
    lambda title, kind, width, height, ident: Panel(
        title=title, ref=_ref(), type=kind, width=width, height=height, id=ident
    ),
    title=st.sampled_from(["a", "b", 'q"', "é"]),
    kind=st.sampled_from(sorted(SIZES)),
    width=st.sampled_from([None, 3, 12, 24]),
    height=st.sampled_from([None, 2, 8]),
    ident=st.sampled_from([None, None, 7, 12]),
)
ROWS = st.builds(
    lambda title, panels: Row(title=title, ref=_ref(), panels=panels),
    title=st.sampled_from(["", "R", "S"]),
    panels=st.lists(PANELS, max_size=5),
)
DASHES = st.builds(lambda rows: Dashboard(name="d", ref=_ref(), rows=rows), rows=st.lists(ROWS, max_size=4))


@settings(max_examples=examples(150), deadline=None)
@given(dashes=st.lists(DASHES, min_size=1, max_size=4))
def test_a_frames_ids_and_layout_are_the_dashboards_own(dashes: list[Dashboard]) -> None:
    # Small alphabets, so that dashboards often share a frame, or differ in one title, size or id only.
    for dash in dashes:
        frame = frame_of(dash)
        assert frame.ids == _ids_oracle(dash)
        assert frame.grid == _grid_oracle(dash)
        assert list(frame.slots) == [slot for slot, _r, _p in dash.slots()]
        assert frame.panel_ids == tuple(frame.ids[s] for s in frame.slots)
        assert frame.panel_grid == tuple(frame.grid[s] for s in frame.slots)


def test_a_width_of_true_is_not_the_frame_of_a_width_of_1() -> None:
    one, true = (
        Dashboard(
            name="d", ref=_ref(), rows=[Row(title="", ref=_ref(), panels=[Panel(title="p", ref=_ref(), width=w)])]
        )
        for w in (1, True)
    )
    assert frame_of(one).grid[Slot(row=0, panel=0)][2] is not True
    assert frame_of(true).grid[Slot(row=0, panel=0)][2] is True


@settings(max_examples=examples(100), deadline=None)
@given(dash=DASHES, exprs=st.lists(HOSTILE, min_size=1, max_size=3), order=st.randoms(use_true_random=False))
def test_the_compiler_reads_targets_by_slot_in_any_order(dash: Dashboard, exprs: list[str], order: Any) -> None:
    targets = {
        slot: [Target(expr=e or "up", ref_id=plan.ref_letters(k)) for k, e in enumerate(exprs)]
        for slot, _r, _p in dash.slots()
    }
    in_order = build_compiled(plan_with(Context(), dash, targets)).to_data()
    slots = list(targets)
    order.shuffle(slots)
    shuffled = {Slot(row=s.row, panel=s.panel): targets[s] for s in slots}  # new Slot objects too
    assert build_compiled(plan_with(Context(), dash, shuffled)).to_data() == in_order
    if slots:  # a panel without targets: as if it had none
        fewer = {s: t for s, t in shuffled.items() if s != slots[0]}
        expected = build_compiled(plan_with(Context(), dash, {**fewer, slots[0]: []})).to_data()
        assert build_compiled(plan_with(Context(), dash, fewer)).to_data() == expected
    # The plan's own ids and grid are read (a plan made otherwise than from the frame).
    moved = replace(plan_with(Context(), dash, targets), grid={s: (0, 0, 1, 1) for s in frame_of(dash).grid})
    for panel in build_compiled(moved).to_data()["panels"]:
        assert panel["gridPos"] == {"h": 1, "w": 1, "x": 0, "y": 0}


def _one_panel(queries: list[Query]) -> Dashboard:
    panel = Panel(title="p", ref=_ref(), queries=queries)
    return Dashboard(name="d", ref=_ref(), rows=[Row(title="", ref=_ref(), panels=[panel])])


def test_every_query_of_a_panel_of_more_than_the_table_gets_its_ref_id() -> None:
    # Past the table of refIds (10,000) a panel's queries get theirs computed (an IndexError traceback before).
    n = len(plan._ref_letter_table()) + 3
    dash = _one_panel([Query(ref=_ref(), expr=f"up{k}") for k in range(n)])
    targets, problems = plan.resolve(Context(), dash)
    assert not problems
    got = targets[Slot(row=0, panel=0)]
    assert [t.ref_id for t in got] == [plan.ref_letters(k) for k in range(n)]
    assert [t.expr for t in got] == [f"up{k}" for k in range(n)]


@given(written=st.lists(st.sampled_from(["", "", "A", "B", "C", "AA", "x"]), min_size=1, max_size=6))
def test_written_ref_ids_are_kept_and_the_others_are_the_first_letters_free(written: list[str]) -> None:
    dash = _one_panel([Query(ref=_ref(), expr="up", ref_id=r) for r in written])
    got = [t.ref_id for t in plan.resolve(Context(), dash)[0][Slot(row=0, panel=0)]]
    # Grafana's rule, written out: a written refId is kept; the others take the first letters no query took.
    used = {r for r in written if r}
    letters = (plan.ref_letters(k) for k in range(100))
    expected = []
    for r in written:
        ref_id = r or next(x for x in letters if x not in used)
        used.add(ref_id)
        expected.append(ref_id)
    assert got == expected
