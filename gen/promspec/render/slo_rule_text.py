"""The YAML text of an SLO's rule groups, written once per SLO shape.

Every SLO's groups are written into its service's rule file (rules/<spec>.yml) and again, alone and without
INJECTED, into its copy for its promtool tests (rules/tests/<spec>-slo-<id>.rules.yml). SLOs of one shape (all
that the groups read but the SLO's names: its objective, window, tiers, SLI kind, description, annotations...)
get groups that differ only in those names and in the SLI's two queries. So, as render/slo_test_text.py does
for the test files, each shape's text is written once from an SLO whose names are placeholders
(slo_atoms.slotted), and each SLO's text is one str.format of it:

- a name inside a longer string (a selector, a group name, a multi-line expression) is an atom
  (yamlout.template's atoms: written as it is, checked against yamlout._ATOM);
- a string that is a name alone, or that holds one where an atom cannot stand (a label value, an alert name
  that begins with the prefix), or that is an SLI query, is a whole slot: its value (a str.format of the
  SLO's names, _Shape.wholes) is written as the emitter writes that string.

A shape is kept only when it gives its first SLO's texts byte for byte (dump_text of the groups, the plain
path); an SLO whose names are not atoms, or a file whose groups the fast path cannot place, takes the plain
path (render/outputs.py render_rules).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Hashable, Mapping
from typing import Any

from ..compile.build import SLORules
from ..compile.rules import RuleFile, group_dict
from ..compile.slo import slo_groups
from ..compile.slo_tests import rules_under_test
from ..model.project import RuleGroup
from ..model.services import SLO, Tier
from ..model.sli import SLI
from . import slo_atoms
from .yamlout import (
    Template,
    TemplateError,
    atom_context,
    dump_text,
    format_pattern,
    holds_placeholder,
    placed,
    renumbered,
    shaped,
    slot_name,
    slot_numbers,
    template,
)


def _tier_key(tier: Tier) -> tuple[Hashable, ...]:
    # The test files' tier key and the annotations, which the alert rules carry.
    return (*slo_atoms.tier_key(tier), tuple(tier.annotations.items()))


def _sli_key(sli: SLI) -> tuple[Hashable, ...]:
    # Every field of an SLI but its queries (whole slots); Sloth's window queries, a frozen record, as they are.
    window_queries: Hashable = sli.window_queries
    kind = type(sli).__qualname__  # a subclass may render otherwise
    return (
        kind,
        sli.kind,
        sli.signal,
        sli.threshold,
        window_queries,
        sli.denominator_corrected,
        sli.llm_probe_target,
    )


def shape_key(slo: SLO) -> tuple[Hashable, ...]:
    """Everything slo's rule groups read but its atoms (slo_atoms.atoms) and its SLI's queries: SLOs that agree
    on it get the same groups up to those. Every field of an SLO but those, its ref and what it says as written
    (where checks point; tests/unit/test_unit_slo_rule_text.py fails when a field is not named here)."""
    return (
        slo.objective_text,
        slo.objective,
        slo.window,
        _sli_key(slo.sli),
        slo.description,
        slo.backend,
        tuple(map(_tier_key, slo.tiers)),
        _tier_key(slo.exhausted) if slo.exhausted else None,
        slo.min_traffic,
        tuple(slo.labels),
        slo.runbook_url,
        tuple(slo.annotations.items()),
        slo.conventions,
        tuple(slo.series_labels.items()),
        slo.sloth_spec,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Shape:
    """One SLO shape's text: the template of its groups followed by its copy's groups, cut into the two
    patterns; None where the shape's text cannot be written from a template (its SLOs take the plain path)."""

    template: Template | None
    # Whether an SLO's own plain text has been found equal to what the shape gives it (the first SLO whose
    # names fill the shape checks it; until then each SLO that fills it does).
    checked: bool = False
    wholes: tuple[str, ...] = ()  # each whole slot's value: a str.format pattern over _names
    groups: tuple[str, ...] = ()  # str.format pattern of each group as an item of the rule file's `groups:`
    # The copy's: None where it is the rule file's (every group but the one rules_under_test changes), whose
    # text is then filled once for both.
    copy: tuple[str | None, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class SloRuleText:
    """One SLO's groups as items of its rule file's `groups:` list, and its copy's text (after the header)."""

    groups: str
    copy: str


_SHAPES: dict[tuple[Hashable, ...], _Shape] = {}
_SHAPES_MAX = 1 << 10
_ITEM = re.compile(r"^- ", re.M)  # an item of a top-level sequence: the emitter indents every other line


def _documents(slo: SLO, groups: list[RuleGroup]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """slo's groups as its rule file holds them, and its copy (each made of its own containers)."""
    copy = rules_under_test({"groups": [group_dict(g) for g in groups]}, [slo])
    return [group_dict(g) for g in groups], copy


def _strings(data: object) -> list[str]:
    """The string values of data."""
    if isinstance(data, dict):
        return [s for value in data.values() for s in _strings(value)]
    if isinstance(data, list):
        return [s for value in data for s in _strings(value)]
    return [data] if isinstance(data, str) else []


def _replaced(data: object, new: Mapping[str, str]) -> object:
    """data with each string value that new holds replaced by new's."""
    if isinstance(data, dict):
        return {key: _replaced(value, new) for key, value in data.items()}
    if isinstance(data, list):
        return [_replaced(value, new) for value in data]
    return new.get(data, data) if isinstance(data, str) else data


def _is_atom_context(text: str, atoms: int) -> bool:
    """Whether text's placeholders can stay atoms: names only (not an SLI query), inside a longer string that
    the emitter writes the same whatever the names (yamlout.atom_context)."""
    inside = slot_numbers(text)
    return all(i < atoms for i in inside) and text != slot_name(inside[0]) and atom_context(text)


def _shape(slo: SLO) -> _Shape:
    """slo's shape, made from slo with placeholders for its names (atoms) and its SLI's queries."""
    atoms = len(slo_atoms.atoms(slo))
    slotted = slo_atoms.slotted(slo, 0)
    queries = dataclasses.replace(slo.sli, errors=slot_name(atoms), total=slot_name(atoms + 1))
    slotted = dataclasses.replace(slotted, sli=queries)
    groups, copy = _documents(slotted, slo_groups(slotted))
    data = [*groups, *copy["groups"]]
    held = [s for s in dict.fromkeys(_strings(data)) if holds_placeholder(s)]
    lifted = [s for s in held if not _is_atom_context(s, atoms)]
    wholes = tuple(dict.fromkeys(map(format_pattern, lifted)))
    at = {pattern: i for i, pattern in enumerate(wholes)}
    new = {s: slot_name(at[format_pattern(s)]) for s in lifted}
    new.update((s, renumbered(s, len(wholes))) for s in held if s not in new)
    try:
        tmpl = template(_replaced(data, new), len(wholes) + atoms, atoms)
    except TemplateError:
        return _Shape(template=None)
    starts = [m.start() for m in _ITEM.finditer(tmpl.pattern)]
    if len(starts) != len(data) or starts[:1] != [0]:
        return _Shape(template=None)  # not the emitter's layout of items: the plain path
    items = [tmpl.pattern[a:b] for a, b in zip(starts, [*starts[1:], len(tmpl.pattern)], strict=True)]
    half = len(groups)
    copies = tuple(None if mine == theirs else mine for mine, theirs in zip(items[half:], items, strict=False))
    return _Shape(template=tmpl, wholes=wholes, groups=tuple(items[:half]), copy=copies)


def _filled(shape: _Shape, slo: SLO) -> SloRuleText | None:
    """slo's texts from its shape; None where one of its names is not an atom or a whole slot's value is not
    written on one line."""
    if shape.template is None:
        return None
    queries = [slo.errors_expr, slo.total_expr]
    if any(q != q.strip() for q in queries):
        return None  # a rule's expression is written without its final spaces: not the query as it is
    names = [*slo_atoms.atoms(slo), *queries]
    written = placed(shape.template, [*(w.format(*names) for w in shape.wholes), *names[:-2]])
    if written is None:
        return None
    texts = [pattern.format(*written) for pattern in shape.groups]
    copy = [text if mine is None else mine.format(*written) for text, mine in zip(texts, shape.copy, strict=True)]
    return SloRuleText(groups="".join(texts), copy="groups:\n" + "".join(copy))


def _plain(rules: SLORules) -> SloRuleText:
    """The texts of rules' groups dumped as they are: the text of record."""
    groups, copy = _documents(rules.slo, rules.groups)
    return SloRuleText(groups=dump_text(groups), copy=dump_text(copy))


def slo_rule_text(rules: SLORules) -> SloRuleText:
    """The texts of rules' groups (its SLO's own, as compile.slo.slo_groups made them): from its SLO's shape
    where its names allow, else dumped."""
    slo = rules.slo
    key = shape_key(slo)
    shape = _SHAPES.get(key)
    if shape is None:
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        shape = _SHAPES[key] = _shape(slo)
    filled = _filled(shape, slo)
    if filled is None:
        return _plain(rules)
    if shape.checked:
        return filled
    plain = _plain(rules)
    if not (holds_placeholder(plain.groups) or holds_placeholder(plain.copy)):  # else slo cannot tell
        _SHAPES[key] = dataclasses.replace(shape, checked=True) if filled == plain else _Shape(template=None)
    return plain


@dataclasses.dataclass(frozen=True, kw_only=True)
class RuleFileText:
    """A rule file's text after its header, and its SLOs' copies' (by SLO, in the order given)."""

    text: str
    copies: list[tuple[SLORules, str]]


def rule_file_text(rule_file: RuleFile, slos: list[SLORules]) -> RuleFileText | None:
    """The text of rule_file (dump_text of its content) and of the copies of its SLOs of promspec's conventions:
    each SLO's groups from slo_rule_text, the other groups (the spec's own, adopted, foreign SLOs', probes')
    written by yamlout.shaped. None where the file is not laid out as this reads it: an SLO's groups not one
    run of the file's, or a group name the file holds twice (a copy takes every group of its SLO's names)."""
    groups = rule_file.groups
    names = rule_file.group_names
    at = {id(group): i for i, group in enumerate(groups)}  # groups holds them: no id outlives its object
    counts = Counter(names)
    runs: dict[int, tuple[int, SloRuleText]] = {}  # first group -> (groups, text)
    copies = []
    for rules in slos:
        if rules.slo.conventions != "promspec":
            continue  # its groups are written as the others' (and it has no copy)
        own = rules.groups
        start = at.get(id(own[0])) if own else None
        if (
            start is None
            or start in runs
            or len(groups) < start + len(own)
            or any(groups[start + j] is not g or counts[names[start + j]] != 1 for j, g in enumerate(own))
        ):
            return None
        text = slo_rule_text(rules)
        runs[start] = (len(own), text)
        copies.append((rules, text.copy))
    covered = {start + j for start, (n, _text) in runs.items() for j in range(n)}
    others = [group_dict(g) for i, g in enumerate(groups) if i not in covered]
    rest: list[str] = []
    if others:
        written = shaped({"groups": others}).lists.get("groups")
        if written is None:
            return None  # a container met twice (an anchor) or a value the emitter leaves to the library
        rest = list(written.texts)
    out = ["groups:\n"]
    next_other = iter(rest)
    i = 0
    while i < len(groups):
        if i in runs:
            n, text = runs[i]
            out.append(text.groups)
            i += n
        else:
            out.append(next(next_other))
            i += 1
    return RuleFileText(text="".join(out), copies=copies)
