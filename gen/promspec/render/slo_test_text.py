"""The YAML text of the SLO promtool test files, written once per shape.

SLOs of one shape (the plan keys of a test file's tiers, its evaluation step and its number of rule
groups) get test files that differ only in the strings their names and labels make: the rule file,
group, case and series names, the alert selectors. Each shape's file is written once with placeholders
for those strings (yamlout.template) and each SLO's file fills them in (yamlout.fill), so rendering
3,000 SLOs' 15,000 files does the numbers and the layout a few dozen times, not 15,000.

Most SLOs go one step further (_SloShape): every test file of an SLO is written once per SLO *shape* (what
the files' numbers and fixed text read: the tiers, the objective, the window, the label names, the number
of groups) with the SLO's names as atoms (yamlout.template's placeholders inside the strings: service, SLO
name, alert name prefix, label values and severities), so an SLO costs a few checked atoms and one
str.format per file instead of building and classifying every series, selector and case name. A name that
is not an atom (yamlout._ATOM: `yes`, "a: b", quotes, unicode, ...) takes the per-file path above.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Hashable

from ..compile.slo import alert_name
from ..compile.slo_tests import PlanKey, TierPart, TierText, case_plans, file_parts, promtool_file
from ..model.services import SLO, Tier
from .yamlout import _SLOT, Template, TemplateError, dump_text, fill, placed, slot_name, template


def _slotted(parts: list[TierPart], groups: int) -> tuple[str, list[str], list[TierPart]]:
    """Placeholders for one file's strings: the rule file, its groups, and each part's series, selectors
    and case names, in the order _slot_values lists them."""
    names = (slot_name(i) for i in itertools.count())
    rule_file = next(names)
    order = [next(names) for _ in range(groups)]
    slotted = [
        TierPart(
            key=part.key,
            text=TierText(
                total=next(names), errors=next(names), alert=next(names), firing=next(names), sample=next(names)
            ),
            names=[next(names) for _ in part.names],
        )
        for part in parts
    ]
    return rule_file, order, slotted


def _slot_values(rule_file: str, group_order: list[str], parts: list[TierPart]) -> list[str]:
    values = [rule_file, *group_order]
    for part in parts:
        t = part.text
        values += [t.total, t.errors, t.alert, t.firing, t.sample, *part.names]
    return values


@functools.lru_cache(maxsize=1 << 10)
def _file_template(step: float, groups: int, keys: tuple[PlanKey, ...]) -> Template:
    blank = TierText(total="", errors="", alert="", firing="", sample="")
    parts = [TierPart(key=key, text=blank, names=[""] * len(case_plans(key))) for key in keys]
    rule_file, order, slotted = _slotted(parts, groups)
    return template(promtool_file(rule_file, step, order, slotted), len(_slot_values(rule_file, order, slotted)))


def _tiers(slo: SLO) -> tuple[Tier, ...]:
    return (*slo.tiers, *([slo.exhausted] if slo.exhausted else []))


def _tier_key(tier: Tier) -> tuple[Hashable, ...]:
    # Every field of a Tier but its annotations (no test reads them) and what are atoms (label values,
    # severity); tests/unit/test_unit_slo_test_shape.py fails when a field is added and not named here.
    return (tier.name, tier.long, tier.short, tier.share, tier.enabled, tier.for_, tuple(tier.labels), tier.burn_rate)


def shape_key(slo: SLO, groups: int) -> tuple[Hashable, ...]:
    """Everything slo's test files read but its atoms (_atoms): SLOs that agree on it get the same files up to
    their names."""
    return (
        groups,
        slo.objective,
        slo.window,
        slo.min_traffic,
        tuple(slo.labels),
        tuple(map(_tier_key, slo.tiers)),
        _tier_key(slo.exhausted) if slo.exhausted else None,
    )


def _atoms(slo: SLO) -> list[str]:
    """The names slo's test files hold inside their strings, in the order _slotted_slo numbers them."""
    atoms = [slo.service, slo.name, alert_name(slo, ""), *slo.labels.values()]
    for tier in _tiers(slo):
        atoms += [*tier.labels.values(), tier.severity]
    return atoms


def _slotted_slo(slo: SLO, first: int) -> SLO:
    """slo with each atom replaced by its placeholder, numbered from first."""
    names = (slot_name(i) for i in itertools.count(first))

    def tier(t: Tier) -> Tier:
        return dataclasses.replace(t, labels={k: next(names) for k in t.labels}, severity=next(names))

    service, name, prefix = next(names), next(names), next(names)
    labels = {k: next(names) for k in slo.labels}
    tiers = tuple(map(tier, slo.tiers))
    exhausted = tier(slo.exhausted) if slo.exhausted else None
    return dataclasses.replace(
        slo, service=service, name=name, alert_name=prefix, labels=labels, tiers=tiers, exhausted=exhausted
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class _SloShape:
    """The templates of one SLO shape's test files, by tier; None where the shape's files are not written
    from templates (a placeholder the emitter would not keep as it is, text of the SLO's own that looks like
    one): its SLOs take the per-file path."""

    files: dict[str, Template] | None


_SHAPES: dict[tuple[Hashable, ...], _SloShape] = {}
_SHAPES_MAX = 1 << 10


def _values(rule_file: str, group_order: list[str], slo: SLO) -> list[str]:
    return [rule_file, *group_order, *_atoms(slo)]


def _slo_shape(rule_file: str, slo: SLO, group_order: list[str]) -> _SloShape:
    """The shape of slo's files, from slo itself: its templates are kept only when they give slo's own files
    (the plain path's text, in which no placeholder may stand) byte for byte."""
    first = 1 + len(group_order)
    values = _values(rule_file, group_order, slo)
    slotted = _slotted_slo(slo, first)
    order = [slot_name(i) for i in range(1, first)]
    files: dict[str, Template] | None = {}
    try:
        for name, (step, parts) in file_parts(slotted).items():
            files[name] = template(promtool_file(slot_name(0), step, order, parts), len(values), len(values) - first)
    except TemplateError:
        files = None
    if files is not None:
        plain = {
            name: dump_text(promtool_file(rule_file, step, group_order, parts))
            for name, (step, parts) in file_parts(slo).items()
        }
        if any(_SLOT.search(text) for text in plain.values()) or plain != {
            name: fill(tmpl, values) for name, tmpl in files.items()
        }:
            files = None
    if len(_SHAPES) >= _SHAPES_MAX:
        _SHAPES.clear()
    return _SloShape(files=files)


def _by_shape(rule_file: str, slo: SLO, group_order: list[str]) -> dict[str, str] | None:
    """slo_test_texts from slo's shape; None where its shape or one of its names does not allow it."""
    key = shape_key(slo, len(group_order))
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _SHAPES[key] = _slo_shape(rule_file, slo, group_order)
    if shape.files is None:
        return None
    templates = shape.files
    written = placed(next(iter(templates.values())), _values(rule_file, group_order, slo)) if templates else []
    if written is None:
        return None
    return {name: tmpl.pattern.format(*written) for name, tmpl in templates.items()}


def slo_test_texts(rule_file: str, slo: SLO, group_order: list[str]) -> dict[str, str]:
    """The YAML text of each of slo_test_files(rule_file, slo, group_order), by tier: dump_text's bytes
    (tests/unit/test_unit_slo_test_text.py holds them to it), filled in from the SLO's shape or the file's."""
    texts = _by_shape(rule_file, slo, group_order)
    if texts is not None:
        return texts
    out = {}
    for name, (step, parts) in file_parts(slo).items():
        filled = fill(
            _file_template(step, len(group_order), tuple(part.key for part in parts)),
            _slot_values(rule_file, group_order, parts),
        )
        # A string the template cannot place (a line break, an over-long name): the document itself.
        out[name] = filled if filled is not None else dump_text(promtool_file(rule_file, step, group_order, parts))
    return out
