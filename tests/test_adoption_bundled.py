"""Bundled engine adapters: `backend: vllm` works in an empty specs directory; a local Backend wins."""

from __future__ import annotations

import filecmp
import os

import pytest

from promspec.backends.bundled import BUNDLED_DIR, bundled_backends
from promspec.diagnostics import SpecError
from promspec.pipeline import load_build, load_project

from conftest import REPO

SERVICE = """\
apiVersion: promspec/v1
kind: Service
metadata: {{name: chat}}
spec:
  backend: {backend}
  selector: {{job: vllm}}
  slos:
    - name: ttft
      objective: 99%
      sli: {{signal: ttft, threshold: 500ms}}
"""


def test_bundled_copies_equal_the_project_specs():
    # The oracle is the project's own specs/backends: the package must ship exactly those files.
    shipped = sorted(os.listdir(BUNDLED_DIR))
    assert shipped == sorted(os.listdir(os.path.join(REPO, "specs", "backends")))
    _match, mismatch, errors = filecmp.cmpfiles(
        BUNDLED_DIR, os.path.join(REPO, "specs", "backends"), shipped, shallow=False
    )
    assert not mismatch and not errors, "run `make bundle` to refresh gen/promspec/data/backends"
    assert {"vllm", "sglang", "tgi", "llamacpp", "triton", "generic"} <= set(bundled_backends())


def test_backend_vllm_works_in_an_empty_specs_directory(tmp_path):
    (tmp_path / "chat.yml").write_text(SERVICE.format(backend="vllm"))
    build, report = load_build([str(tmp_path)], env={})
    project = build.project
    assert set(project.backends) == {"vllm"}
    assert project.backends["vllm"].ref.doc.file == "<bundled>/backends/vllm.yml"
    assert [slo.name for slo in project.services[0].slos] == ["ttft"]
    # vLLM's own metric and its model label, read from the bundled adapter.
    rules = "\n".join(r.expr for g in build.rule_groups for r in g.rules)
    assert "vllm:time_to_first_token_seconds_bucket" in rules
    assert not report.errors


def test_only_named_backends_are_loaded(tmp_path):
    (tmp_path / "chat.yml").write_text(SERVICE.format(backend="sglang").replace("500ms", "400ms"))
    project, _ = load_project([str(tmp_path)], env={})
    assert set(project.backends) == {"sglang"}


def test_a_local_backend_of_the_same_name_overrides_the_bundled_one(tmp_path):
    with open(os.path.join(REPO, "specs", "backends", "vllm.yml"), encoding="utf-8") as fh:
        text = fh.read()
    (tmp_path / "vllm.yml").write_text(text.replace("model_label: model_name", "model_label: served_model"))
    (tmp_path / "chat.yml").write_text(SERVICE.format(backend="vllm").replace("{job: vllm}", "{job: vllm, model: m}"))
    build, _ = load_build([str(tmp_path)], env={})
    project = build.project
    assert project.backends["vllm"].model_label == "served_model"
    assert project.backends["vllm"].ref.doc.file.endswith("vllm.yml")
    assert not project.backends["vllm"].ref.doc.file.startswith("<bundled>")
    rules = "\n".join(r.expr for g in build.rule_groups for r in g.rules)
    assert 'served_model="m"' in rules


def test_unknown_backend_lists_the_bundled_ones(tmp_path):
    (tmp_path / "chat.yml").write_text(SERVICE.format(backend="vlm"))
    with pytest.raises(SpecError) as exc:
        load_project([str(tmp_path)], env={})
    (d,) = exc.value.diagnostics
    text = d.format()
    assert "unknown backend 'vlm' (did you mean 'vllm'?)" in text
    assert "sglang" in text and "vllm" in text and "chat.yml:5:12" in text
