"""RuleFile's content is made on first use (in the worker that renders the file), and its group names are
read without making it: both must say what the eager content says."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.rules import RuleFile, group_dict, rule_file_name, rule_files
from promspec.model.loader import Document
from promspec.model.project import Alert, Ref, RuleGroup
from promspec.model.rule_files import PassthroughGroup
from promspec.pipeline import load_unchecked
from promspec.render.outputs import render_rules, render_slo_tests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = st.one_of(st.text(max_size=8), st.sampled_from(["", "a", "a b", "ü", '"', "\n"]))


def _ref(source: str) -> Ref:
    return Ref(doc=Document(file=source, index=0, data={}, source=source), path=("spec",))


@st.composite
def _groups(draw: st.DrawFn) -> list[RuleGroup]:
    out: list[RuleGroup] = []
    for i in range(draw(st.integers(0, 6))):
        source = draw(st.sampled_from(["specs/a.yml", "specs/b.yml", "specs/x/c.yml"]))
        name = draw(NAMES)
        ref = _ref(source)
        if draw(st.booleans()):
            # An adopted group renders as written: its name there may differ from the model's.
            written = draw(NAMES)
            out.append(
                PassthroughGroup(name=name, kind="Passthrough", ref=ref, original={"name": written, "rules": [i]})
            )
        else:
            alert = Alert(name=f"A{i}", expr="up == 0", ref=ref)
            out.append(RuleGroup(name=name, kind="AlertGroup", ref=ref, rules=[alert]))
    return out


@settings(max_examples=examples(200), deadline=None)
@given(_groups())
def test_group_names_and_content_are_the_eager_rule_files(groups: list[RuleGroup]) -> None:
    files = rule_files(groups)
    assert list(files) == sorted(files)
    for path, rule_file in files.items():
        mine = [g for g in groups if rule_file_name(g.ref.file) == path]
        assert rule_file.groups == tuple(mine)
        assert rule_file.content == {"groups": [group_dict(g) for g in mine]}
        # Read before and after content is made: the same names, content's own.
        names = rule_file.group_names
        assert names == [g["name"] for g in rule_file.content["groups"]] == rule_file.group_names


def test_generates_parent_makes_no_rule_file_content_and_the_slo_tests_need_none() -> None:
    """load_unchecked is what generate's parent does before it forks: it makes no rule file's content; the
    promtool tests of the SLOs read only the group names, so only the worker rendering a file makes it."""
    build = load_unchecked([os.path.join(REPO, "specs")]).build
    assert build.rule_files and all("content" not in vars(f) for f in build.rule_files.values())
    assert render_slo_tests(build)
    assert all("content" not in vars(f) for f in build.rule_files.values())
    assert render_rules(build)
    # render_rules writes the SLOs' groups from their shapes (render/slo_rule_text.py): a file's content is made
    # only where it is written item by item.


def test_content_is_made_once() -> None:
    rule_file = RuleFile(source="specs/a.yml", groups=())
    assert rule_file.content is rule_file.content
