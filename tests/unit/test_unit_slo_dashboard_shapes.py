"""A per-object template (slo-detail, llm-serving) is laid out once per subject shape and filled per subject.

Oracle: instantiate_direct, the walk of the template for one subject alone (no plan, no shared fields): the
same Dashboard record, the same metric names noted, or the same TemplateError.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.dashboards import presets, template_shapes
from promspec.compile.dashboards.signals import Scope
from promspec.compile.dashboards.slo_dashboards import slo_subject
from promspec.compile.dashboards.slo_thresholds import burn_thresholds, exhaustion_thresholds, first_tier_threshold
from promspec.compile.dashboards.templated import (
    MetricsRead,
    Subject,
    TemplateError,
    instantiate,
    instantiate_direct,
    prepared,
    template,
)
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI
from promspec.pipeline import load_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What a user may name a service, an SLO, a tier or a team: quotes, backslashes, braces (str.format's own
# syntax), newlines, Grafana's variable syntax, the plan's own element-field spelling, empty.
HOSTILE = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10),
    st.sampled_from(['"', "\\", "\n", "{", "}", "{T_slo_id}", "{0}", 'a"}) or up{x="', "$job", "__0tier", ""]),
)
WINDOWS = st.lists(st.sampled_from(["5m", "30m", "1h", "2h", "6h", "1d", "3d"]), unique=True, max_size=5)
# a recorded window is the end of a metric name: one that cannot be is the template's error, either way
BAD_WINDOW = st.sampled_from(["5m}", "a-b", "", "1h x", '"'])


def _outcome(t: Any, subject: Subject, make: Any) -> tuple[str, Any, MetricsRead]:
    read: MetricsRead = {}
    try:
        return "ok", make(t, subject, read), read
    except TemplateError as exc:
        return "error", str(exc), read


def _same(t: Any, subject: Subject) -> None:
    direct = _outcome(t, subject, instantiate_direct)
    fallbacks: list[Subject] = []

    def counted(t: Any, subject: Subject, read: MetricsRead | None = None) -> Any:
        fallbacks.append(subject)
        return instantiate_direct(t, subject, read)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(template_shapes, "instantiate_direct", counted)
        assert _outcome(t, subject, instantiate) == direct
        assert _outcome(t, subject, instantiate) == direct  # the second: from the plan kept
    # the plan makes every instance the direct walk can make: only an error goes the direct way
    assert not fallbacks if direct[0] == "ok" else len(fallbacks) == 2


def _slo(service: str, name: str, tiers: list[tuple[str, str]], objective: str, description: str) -> SLO:
    return SLO(
        service=service,
        name=name,
        ref=Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0)),
        objective_text=objective,
        objective=Decimal(objective),
        window="30d",
        description=description,
        sli=SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        tiers=tuple(
            Tier(name=n, long=TIERS[k][0], short=TIERS[k][1], share=TIERS[k][2], severity=TIERS[k][3]) for n, k in tiers
        ),
    )


TIER_LISTS = st.lists(st.tuples(HOSTILE, st.sampled_from(sorted(TIERS))), max_size=4)


@settings(max_examples=examples(150), deadline=None)
@given(
    service=HOSTILE,
    name=HOSTILE,
    folder=HOSTILE,
    serving=HOSTILE,
    description=HOSTILE,
    tiers=TIER_LISTS,
    windows=WINDOWS,
    objective=st.sampled_from(["0.99", "0.999", "0.9", "0.95"]),
)
def test_an_slo_dashboard_from_its_shape_is_the_one_made_directly(
    service: str,
    name: str,
    folder: str,
    serving: str,
    description: str,
    tiers: list[tuple[str, str]],
    windows: list[str],
    objective: str,
) -> None:
    slo = _slo(service, name, tiers, objective, description)
    records = [f"slo:sli_error:ratio_rate{w}" for w in windows]
    _same(template("slo-detail"), slo_subject(slo, folder, records, serving))


@settings(max_examples=examples(40), deadline=None)
@given(name=HOSTILE, windows=WINDOWS, bad=BAD_WINDOW)
def test_a_window_that_cannot_end_a_metric_name_is_the_same_error_either_way(
    name: str, windows: list[str], bad: str
) -> None:
    subject = slo_subject(_slo("svc", name, [("page", "page-fast")], "0.99", ""), "t", [], "")
    subject = Subject(
        ref=subject.ref,
        values=subject.values,
        lists={**subject.lists, "window": [prepared({"window": w}) for w in [*windows, bad]]},
        slos=subject.slos,
    )
    _same(template("slo-detail"), subject)


def test_a_missing_field_or_list_is_the_same_error_either_way() -> None:
    subject = slo_subject(
        _slo("svc", "a", [("page", "page-fast")], "0.99", ""), "t", ["slo:sli_error:ratio_rate5m"], ""
    )
    no_id = {k: v for k, v in subject.values.items() if k != "T_slo_id"}
    for broken in (
        Subject(ref=subject.ref, values=prepared({}).__class__(no_id), lists=subject.lists, slos=subject.slos),
        Subject(ref=subject.ref, values=subject.values, lists={"tier": subject.lists["tier"]}, slos=subject.slos),
    ):
        direct = _outcome(template("slo-detail"), broken, instantiate_direct)
        assert direct[0] == "error"
        assert _outcome(template("slo-detail"), broken, instantiate) == direct


def test_subjects_of_one_shape_share_a_plan_and_other_windows_make_another() -> None:
    template_shapes._PLANS.clear()
    detail = template("slo-detail")
    for i in range(5):
        instantiate(detail, slo_subject(_slo("svc", f"s{i}", [("p", "page-fast")], "0.99", ""), "t", [], ""))
    assert len(template_shapes._PLANS) == 1
    subject = slo_subject(_slo("svc", "w", [("p", "page-fast")], "0.99", ""), "t", ["slo:sli_error:ratio_rate5m"], "")
    instantiate(detail, subject)
    assert len(template_shapes._PLANS) == 2


def test_computed_thresholds_kept_per_tiers_are_those_computed_afresh() -> None:
    for tiers in ([], [("a", "page-fast")], [("a", "page-fast"), ("b", "ticket-slow")], [("b", "ticket-slow")]):
        slo = _slo("svc", "x", tiers, "0.99", "")
        fresh = [(float(slo.factor(t)), t.name) for t in slo.tiers]
        factors = sorted(f for f, _n in fresh)
        assert first_tier_threshold(slo) == ([(fresh[0][0], "red")] if fresh else [])
        if factors:
            expected = (
                [(factors[0], "orange"), (factors[-1], "red")] if factors[0] < factors[-1] else [(factors[0], "red")]
            )
        else:
            expected = [(1, "orange")]
        assert burn_thresholds(slo) == expected
        steps = exhaustion_thresholds(slo)
        assert steps[0] == (None, "red") and steps[-1] == (30 * 86400, "green")


# ------------------------------------------------------------------------------------ the LLM serving template


@pytest.fixture(scope="module")
def backends() -> list[Any]:
    project, _report = load_model([os.path.join(REPO, "specs")], env={})
    return sorted(project.backends.values(), key=lambda b: b.name)


SELECTORS = st.dictionaries(st.sampled_from(["job", "model_name", "namespace"]), HOSTILE, max_size=2)


@settings(max_examples=examples(40), deadline=None)
@given(values=st.fixed_dictionaries({k: HOSTILE for k in ("serving.uid", "serving.name", "serving.summary")}))
def test_an_llm_serving_dashboard_from_its_shape_is_the_one_made_directly(
    backends: list[Any], values: dict[str, str]
) -> None:
    rest = {"serving.folder": "llm", "serving.service": "", "serving.backend": "", "serving.engine": ""}
    for backend in backends:
        scope = Scope(backend=backend, selector={"job": values["serving.name"]}, variables=presets.LLM_VARIABLES)
        _same(template(presets.LLM_SERVING), presets.llm_subject(backend.ref, scope, {**values, **rest}))
