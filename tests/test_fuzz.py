"""Property tests: hostile label values, names, annotations and selectors never crash promspec, and
whatever it renders is what the spec said, byte for byte, and passes promtool.

Oracles are independent of the code under test: PyYAML's safe_load (YAML 1.1, the strictest
reader of `yes`/`on`/`1e3`) reads the rendered files back, promql-parser reads the rendered
selectors, and promtool checks every rendered rule file (one run per batch, not per example).

The examples are seeded (derandomized) and bounded so the suite stays fast; docs/fuzzing.md
records a longer run and how to repeat it (PROMSPEC_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import json
import os
import random
import subprocess

import promql_parser as pp
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.diagnostics import SpecError
from promspec.pipeline import load_project
from promspec.render.outputs import render_project

from conftest import REPO, require_tool

BASE = os.path.join(REPO, "tests", "fixtures", "base")
# PROMSPEC_FUZZ_EXAMPLES sets the count in either tier (docs/fuzzing.md's longer run).
EXAMPLES = int(os.environ.get("PROMSPEC_FUZZ_EXAMPLES") or examples(40))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

YAML11_WORDS = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "False",
    "null",
    "~",
    "1e3",
    "0x1F",
    "012",
    ".inf",
    "1_000",
    "2001-12-14",
    "<<",
    "=",
]
NASTY = [
    '"',
    "\\",
    "\n",
    "}",
    "{",
    "{{ ",
    " }}",
    "{{ $value }}",
    "'",
    "`",
    "\t",
    "\r",
    " ",
    "#",
    ": ",
    "- ",
    "&a",
    "*a",
    "!!str",
    "%",
    "@",
    "$",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "é",
    "日本",
    "😀",
    "\u200b",
    ",",
    "=~",
]


def _value() -> st.SearchStrategy[str]:
    pieces = st.sampled_from(NASTY) | st.sampled_from(YAML11_WORDS) | st.text(max_size=4)
    return st.sampled_from(YAML11_WORDS) | st.lists(pieces, min_size=1, max_size=6).map("".join)


def _label_name() -> st.SearchStrategy[str]:
    return st.sampled_from(
        ["team", "on", "yes", "null", "a-b", "9x", "__name__", "le", "x\ny", "ü", "severity_", "_", "job"]
    )


@pytest.fixture
def no_promtool_lookup(monkeypatch):
    """Parse errors are located by promtool in a subprocess; the fast tier keeps to this process."""
    from promspec.check import dashboard_specs, tools

    monkeypatch.setattr(tools, "locate_parse_errors", lambda exprs: [None] * len(exprs))
    # The compiled-dashboard JSON Schema lint costs ~0.2 s per dashboard and sees no label text.
    monkeypatch.setattr(dashboard_specs, "_lint_compiled", lambda *args: None)


def _specs(label_name: str, value: str, selector_value: str) -> list[dict]:
    alert = {
        "name": "Fuzzed",
        "expr": "llm_request_total == 0",
        "labels": {label_name: value},
        "summary": value,
        "annotations": {"note": value},
    }
    return [
        {"apiVersion": "promspec/v1", "kind": "AlertGroup", "metadata": {"name": "fuzz"}, "spec": {"alerts": [alert]}},
        {
            "apiVersion": "promspec/v1",
            "kind": "Service",
            "metadata": {"name": "svc", "labels": {"tier": value}},
            "spec": {
                "backend": "engine",
                "selector": {"job": selector_value},
                "slos": [{"name": "errors", "objective": "99%", "sli": {"signal": "errors"}}],
            },
        },
    ]


def _generate(tmp: str, docs: list[dict]) -> dict[str, bytes] | None:
    """Validate and render in-process: the files, or None when promspec refused the spec (exit 1)."""
    # JSON with \\u escapes says exactly these strings to any YAML reader; PyYAML's own dump of a raw
    # U+0085 would be read back as a line break (YAML 1.1), which is the spec saying something else.
    path = os.path.join(tmp, "fuzz.yml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n---\n".join(json.dumps(doc) for doc in docs) + "\n")
    try:
        project, _report = load_project([BASE, path], env={})
    except SpecError as exc:
        assert exc.diagnostics, "refused without saying why"
        return None
    return render_project(project)  # anything but SpecError escapes and fails the test: a traceback


def _matchers(expr: str, name: str) -> list[str]:
    values = []

    def visit(node):
        if isinstance(node, pp.VectorSelector):
            values.extend(m.value for m in node.matchers.matchers if m.name == name)

    pp.walk(pp.parse(expr), visit, None)
    return values


def _check_kept(files: dict[str, bytes], label_name: str, value: str, selector_value: str) -> None:
    rules = yaml.safe_load(files["rules/fuzz.yml"])
    alert = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "Fuzzed")
    assert alert["labels"][label_name] == value
    assert alert["annotations"]["summary"] == value
    assert alert["annotations"]["note"] == value
    sli = next(r for g in rules["groups"] for r in g["rules"] if r.get("record") == "slo:sli_errors:rate5m")
    assert _matchers(sli["expr"], "job") == [selector_value]


@pytest.mark.slow  # one promtool run for the whole batch
def test_hostile_values_render_exactly_and_pass_promtool(tmp_path, no_promtool_lookup):
    rendered: list[bytes] = []
    outcomes = {"rendered": 0, "refused": 0}

    @FUZZ
    @given(label_name=_label_name(), value=_value(), selector_value=_value())
    def one(label_name, value, selector_value):
        files = _generate(str(tmp_path), _specs(label_name, value, selector_value))
        if files is None:
            outcomes["refused"] += 1
            return
        outcomes["rendered"] += 1
        _check_kept(files, label_name, value, selector_value)
        rendered.append(files["rules/fuzz.yml"])

    one()
    print(f"hostile values: {outcomes}, {len(rendered)} rule files to promtool")  # shown with -s (docs/fuzzing.md)
    assert outcomes["rendered"] >= EXAMPLES // 4, outcomes  # the strategy must not only produce refusals
    batch = tmp_path / "batch"
    batch.mkdir()
    for i, data in enumerate(rendered):
        (batch / f"r{i}.yml").write_bytes(data)
    proc = subprocess.run(
        [require_tool("promtool"), "check", "rules", *sorted(str(p) for p in batch.iterdir())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _bundled_files() -> list[str]:
    out = []
    for root in (os.path.join(REPO, "specs"), BASE):
        for dirpath, _dirs, names in os.walk(root):
            out += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith((".yml", ".yaml"))]
    return sorted(out)


_MUTATIONS = ("delete", "duplicate", "indent", "dedent", "word", "nasty", "truncate", "swap")


def _mutate(text: str, rng: random.Random, steps: int) -> str:
    lines = text.split("\n")
    for _ in range(steps):
        if not lines:
            break
        i = rng.randrange(len(lines))
        op = rng.choice(_MUTATIONS)
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "word" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {rng.choice(YAML11_WORDS + ['[]', '{}', '-1', '0s', '1e309', '&x', '*x'])}"
        elif op == "nasty":
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + rng.choice(NASTY) + lines[i][at:]
        elif op == "truncate":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: rng.randrange(len(lines[-1]) + 1)]
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines)


def test_mutated_bundled_specs_never_crash(tmp_path, no_promtool_lookup):
    files = _bundled_files()
    outcomes = {"accepted": 0, "refused": 0}

    @FUZZ
    @given(index=st.integers(0, len(files) - 1), seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 4))
    def one(index, seed, steps):
        with open(files[index], encoding="utf-8") as fh:
            text = _mutate(fh.read(), random.Random(seed), steps)
        path = tmp_path / ("mutated" + os.path.splitext(files[index])[1])
        path.write_text(text, encoding="utf-8")
        try:
            project, _ = load_project([BASE, str(path)], env={})
        except SpecError as exc:
            assert exc.diagnostics
            outcomes["refused"] += 1
            return
        render_project(project)
        outcomes["accepted"] += 1

    one()
    print(f"mutated specs: {outcomes}")  # shown with -s (docs/fuzzing.md)
    assert outcomes["accepted"] + outcomes["refused"] >= 1
