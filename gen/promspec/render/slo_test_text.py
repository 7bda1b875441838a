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

from ..compile.slo_tests import PlanKey, TierPart, TierText, case_plans, file_parts, promtool_file
from ..model.services import SLO
from . import slo_atoms
from .yamlout import Template, TemplateError, dump_text, fill, holds_placeholder, placed, slot_name, template


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


def shape_key(slo: SLO, groups: int) -> tuple[Hashable, ...]:
    """Everything slo's test files read but its atoms (slo_atoms.atoms): SLOs that agree on it get the same files
    up to their names."""
    return (
        groups,
        slo.objective,
        slo.window,
        slo.min_traffic,
        tuple(slo.labels),
        tuple(map(slo_atoms.tier_key, slo.tiers)),
        slo_atoms.tier_key(slo.exhausted) if slo.exhausted else None,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class _SloShape:
    """The templates of one SLO shape's test files, by tier; None where the shape's files are not written
    from templates (a placeholder the emitter would not keep as it is): its SLOs take the per-file path."""

    files: dict[str, Template] | None


_SHAPES: dict[tuple[Hashable, ...], _SloShape] = {}
_SHAPES_MAX = 1 << 10


def _values(rule_file: str, group_order: list[str], slo: SLO) -> list[str]:
    return [rule_file, *group_order, *slo_atoms.atoms(slo)]


def _slo_shape(rule_file: str, slo: SLO, group_order: list[str], values: list[str]) -> _SloShape | None:
    """The shape of slo's files, made from slo and kept only when it gives slo's own files (the plain path's
    text) byte for byte; None where slo cannot tell (a name that is not an atom, or that looks like a
    placeholder): the next SLO of the shape makes it again."""
    first = 1 + len(group_order)
    slotted_slo = slo_atoms.slotted(slo, first)
    order = [slot_name(i) for i in range(1, first)]
    try:
        files = {
            name: template(promtool_file(slot_name(0), step, order, parts), len(values), len(values) - first)
            for name, (step, parts) in file_parts(slotted_slo).items()
        }
    except TemplateError:
        return _SloShape(files=None)  # the shape's own text decides that: so for every SLO of the shape
    filled = {name: fill(tmpl, values) for name, tmpl in files.items()}
    plain = {
        name: dump_text(promtool_file(rule_file, step, group_order, parts))
        for name, (step, parts) in file_parts(slo).items()
    }
    if None in filled.values() or any(map(holds_placeholder, plain.values())):
        return None
    return _SloShape(files=files if filled == plain else None)


def _by_shape(rule_file: str, slo: SLO, group_order: list[str]) -> dict[str, str] | None:
    """slo_test_texts from slo's shape; None where its shape or one of its names does not allow it."""
    key = shape_key(slo, len(group_order))
    values = _values(rule_file, group_order, slo)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _slo_shape(rule_file, slo, group_order, values)
        if shape is None:
            return None
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        _SHAPES[key] = shape
    if shape.files is None:
        return None
    templates = shape.files
    # Every template of the shape has the same slots: the values are placed once for all of them.
    written = placed(next(iter(templates.values())), values) if templates else []
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
