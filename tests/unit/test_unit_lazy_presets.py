"""Preset dashboards made lazily: the parent of generate's workers knows each template instance by its head
(every field but its rows) and makes the whole model only where the dashboard is built.

Oracles: the same presets made at once (instantiate_lazily switched off, or instantiate() itself), field for
field; and a spy on the per-shape instantiation (`_made`), which must not run while the specs load.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_unit_preset_shapes import _slo  # an SLO of the given names

from bench_trees import write_bench_services
from promspec.compile.dashboards import presets, template_shapes
from promspec.compile.dashboards.signals import Scope
from promspec.compile.dashboards.slo_dashboards import SLO_DETAIL, slo_subject
from promspec.compile.dashboards.template_shapes import Lazily, instantiate_lazily
from promspec.compile.dashboards.templated import Fields, TemplateError, instantiate, prepared, template
from promspec.pipeline import load_build, load_unchecked

# Names a user may give: quotes, backslashes, newlines, unicode, braces, Grafana's variable syntax, empty.
HOSTILE = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(['"', "\\", "\n", 'a"}) or up{x="', "{0}", "{T_slo_id}", "$job", '${a:"}', "[[job]]", ""]),
)
# slo-detail has no computed part (the LLM serving template's tests use a project's own pruning)
KEEP_ALL = Lazily(keeps=lambda _names: True, keeps_expr=lambda _expr: True, computed=lambda _name, _subject: None)


@pytest.fixture(scope="module")
def bench_specs(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = write_bench_services(str(tmp_path_factory.mktemp("bench")), 3)
    return root


def _eager(monkeypatch: pytest.MonkeyPatch, project: Any, groups: Any) -> presets.Presets:
    with monkeypatch.context() as m:
        m.setattr(presets, "instantiate_lazily", lambda *_args: None)
        return presets.preset_dashboards(project, groups)


def _assert_lazy_is_eager(lazy: presets.Presets, eager: presets.Presets) -> None:
    assert lazy.left_out == eager.left_out
    assert len(lazy.made) == len(eager.made)
    for got, want in zip(lazy.made, eager.made, strict=True):
        assert got.head == (replace(want.head, rows=[]) if got.make is not None else want.head)
        assert got.model() == want.head  # every field, every record of every row


def test_the_presets_made_lazily_are_those_made_at_once(bench_specs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    build, _report = load_build([bench_specs], env={})
    lazy = presets.preset_dashboards(build.project, build.rule_groups)
    _assert_lazy_is_eager(lazy, _eager(monkeypatch, build.project, build.rule_groups))
    # every serving and per-SLO dashboard is an instance of a template made per object: all of them lazily
    made_lazily = {p.head.uid for p in lazy.made if p.make is not None}
    assert {u for u in (p.head.uid for p in lazy.made) if u.startswith(("llm-service-", "llm-engine-"))} <= made_lazily
    assert sum(u.startswith("slo-") for u in made_lazily) == sum(len(s.slos) for s in build.project.services)


def test_a_pruned_project_makes_its_losing_presets_at_once_and_says_the_same(
    bench_specs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the recorded SLO series the per-SLO dashboards lose panels: those are made (and pruned) at once."""
    build, _report = load_build([bench_specs], env={})
    lazy = presets.preset_dashboards(build.project, [])
    eager = _eager(monkeypatch, build.project, [])
    assert any(d.dropped for d in eager.dashboards) or eager.left_out
    _assert_lazy_is_eager(lazy, eager)
    assert all(p.make is None for p in lazy.made if p.head.dropped)


def _records(windows: list[str]) -> list[str]:
    return [f"slo:sli_error:ratio_rate{w}" for w in windows]


@settings(max_examples=60, deadline=None)
@given(
    service=HOSTILE,
    name=HOSTILE,
    tier=HOSTILE,
    folder=HOSTILE,
    serving=HOSTILE,
    windows=st.lists(st.sampled_from(["5m", "30m", "1h", "6h"]), unique=True, max_size=3),
)
def test_a_hostile_slo_instance_made_lazily_is_the_one_made_at_once(
    service: str, name: str, tier: str, folder: str, serving: str, windows: list[str]
) -> None:
    try:
        slo = _slo(service or "s", name or "n", tier or "t")
    except Exception:
        return  # not an SLO the model builds
    subject = slo_subject(slo, folder, _records(windows), serving)
    t = template(SLO_DETAIL)
    try:
        want = instantiate(t, subject)
    except Exception as exc:  # a value the template refuses: it is not made lazily either
        assert instantiate_lazily(t, subject, KEEP_ALL) is None, exc
        return
    got = instantiate_lazily(t, slo_subject(slo, folder, _records(windows), serving), KEEP_ALL)
    if got is None:  # an empty value, or no window (a chart left without queries: the pruning drops it)
        assert not windows or "" in (service, name, tier, folder, serving)
        return
    assert got.make is not None
    assert got.head == replace(want, rows=[])
    model = got.model()
    assert model == want
    assert model is not got.model()  # made afresh each time: a forgotten model is made again
    # the model keeps the head's fields but not its lists: what changes one leaves the other as it is
    assert model.variables is not got.head.variables and model.links is not got.head.links


@settings(max_examples=30, deadline=None)
@given(
    selector=st.dictionaries(st.sampled_from(["job", "model_name", "namespace"]), HOSTILE, max_size=2), data=st.data()
)
def test_a_hostile_serving_instance_made_lazily_is_the_one_made_at_once(
    bench_specs: str, selector: dict[str, str], data: st.DataObject
) -> None:
    build, _report = _loaded(bench_specs)
    backend = data.draw(st.sampled_from(sorted(build.project.backends.values(), key=lambda b: b.name)))
    values = {k: data.draw(HOSTILE) for k in ("serving.uid", "serving.name", "serving.summary", "serving.folder")}
    values |= {"serving.service": "", "serving.backend": backend.name, "serving.engine": backend.name}

    def subject() -> Any:
        scope = Scope(backend=backend, selector=selector, variables=presets.LLM_VARIABLES)
        return presets.llm_subject(backend.ref, scope, values)

    t = template(presets.LLM_SERVING)
    lazily = presets._Pruning(build.project, build.rule_groups).lazily()
    try:
        want = instantiate(t, subject())
    except Exception:
        assert instantiate_lazily(t, subject(), lazily) is None
        return
    got = instantiate_lazily(t, subject(), lazily)
    if got is None:  # e.g. an empty value: the pruning parses that copy's queries; made at once then
        return
    assert got.head == replace(want, rows=[])
    assert got.model() == want


def test_an_instance_the_pruning_would_change_is_not_made_lazily() -> None:
    subject = slo_subject(_slo("s", "n", "t"), "f", _records(["5m"]), "x")
    t = template(SLO_DETAIL)
    assert instantiate_lazily(t, subject, KEEP_ALL) is not None
    # its own verdicts: what one pruning found of a plan is not another's
    loses = replace(KEEP_ALL, keeps=lambda names: "slo:sli_error:ratio_rate5m" not in names, verdicts={})
    assert instantiate_lazily(t, subject, loses) is None


_LOADED: dict[str, Any] = {}


def _loaded(specs: str) -> Any:
    if specs not in _LOADED:
        _LOADED[specs] = load_build([specs], env={})
    return _LOADED[specs]


def test_the_parent_makes_no_preset_panel_and_a_worker_forgets_what_it_made(
    bench_specs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_unchecked (what generate's parent does before it forks) makes no template instance's rows; reading
    a dashboard makes them, and forget() drops them with the rest of its build."""
    made: list[str] = []
    real = template_shapes._made

    def spy(*args: Any) -> Any:
        dash = real(*args)
        made.append(dash.uid)
        return dash

    monkeypatch.setattr(template_shapes, "_made", spy)
    unchecked = load_unchecked([bench_specs])
    assert not unchecked.failed
    assert made == []
    built = unchecked.build.dashboards.dashboards
    lazy = [b for b in built if b.make is not None]
    assert lazy and all(not b.head.rows and "dashboard" not in vars(b) for b in lazy)
    first = lazy[0]
    model = first.dashboard
    assert made == [first.head.uid]  # made once, where it is read
    assert first.renders and first.data is not None
    assert made == [first.head.uid]
    first.forget()
    assert "dashboard" not in vars(first) and "made" not in vars(first)
    assert first.dashboard == model and first.dashboard is not model
    assert made == [first.head.uid, first.head.uid]


def test_what_each_instance_may_lack_is_asked_of_each_instance_not_of_its_plan() -> None:
    """One plan serves instances whose values differ: an empty value (its queries' names are then their own
    parse's) or a window that cannot end a metric name (making it raises) is found per instance."""
    t = template(SLO_DETAIL)
    lazily = replace(KEEP_ALL, verdicts={})
    assert instantiate_lazily(t, slo_subject(_slo("s", "n", "t"), "f", _records(["5m"]), "x"), lazily) is not None
    plain = slo_subject(_slo("s", "n", "t"), "f", _records(["5m"]), "x")
    assert instantiate_lazily(t, replace(plain, values=Fields({**plain.values, "T_slo_id": ""})), lazily) is None
    bad = replace(plain, lists={**plain.lists, "window": [prepared({"window": "5-m"})]})
    with pytest.raises(TemplateError):
        instantiate(t, bad)
    assert instantiate_lazily(t, bad, lazily) is None
