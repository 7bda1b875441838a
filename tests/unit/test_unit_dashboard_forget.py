"""BuiltDashboard.forget: a generate worker drops what it built of a dashboard once it is checked and written;
a later read builds the same again (compile/dashboards/project.py)."""

from __future__ import annotations

import json
import os

from promspec.pipeline import load_build

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_forgotten_dashboard_builds_the_same_json_again() -> None:
    build, _ = load_build([os.path.join(REPO, "specs")], env={})
    built_list = [b for b in build.dashboards.dashboards if b.plan is not None]
    assert built_list
    for built in built_list:
        before = json.dumps(built.data, sort_keys=True)
        made = built.made
        built.forget()
        assert "made" not in vars(built) and "data" not in vars(built)  # released, not kept
        assert built.made is not made  # built again ...
        assert json.dumps(built.data, sort_keys=True) == before  # ... to the same JSON
        built.forget()
        built.forget()  # forgetting what is not held is no error
        assert built.renders == (built.compiled is not None)
