"""The YAML text of the SLO promtool test files, written once per shape.

SLOs of one shape (the plan keys of a test file's tiers, its evaluation step and its number of rule
groups) get test files that differ only in the strings their names and labels make: the rule file,
group, case and series names, the alert selectors. Each shape's file is written once with placeholders
for those strings (yamlout.template) and each SLO's file fills them in (yamlout.fill), so rendering
3,000 SLOs' 15,000 files does the numbers and the layout a few dozen times, not 15,000.
"""

from __future__ import annotations

import functools
import itertools

from ..compile.slo_tests import PlanKey, TierPart, TierText, case_plans, file_parts, promtool_file
from ..model.services import SLO
from .yamlout import Template, dump_text, fill, slot_name, template


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


def slo_test_texts(rule_file: str, slo: SLO, group_order: list[str]) -> dict[str, str]:
    """The YAML text of each of slo_test_files(rule_file, slo, group_order), by tier: dump_text's bytes
    (tests/unit/test_unit_slo_test_text.py holds them to it), filled in from the file's shape."""
    out = {}
    for name, (step, parts) in file_parts(slo).items():
        filled = fill(
            _file_template(step, len(group_order), tuple(part.key for part in parts)),
            _slot_values(rule_file, group_order, parts),
        )
        # A string the template cannot place (a line break, an over-long name): the document itself.
        out[name] = filled if filled is not None else dump_text(promtool_file(rule_file, step, group_order, parts))
    return out
