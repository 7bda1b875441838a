"""Rendering the SLO tests of a spec file reads each of its rule groups a bounded number of times, however
many SLOs the file holds (it was once per SLO: SLOs x groups for a file of many services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promspec.pipeline import load_build
from promspec.render import outputs
from promspec.render.outputs import render_slo_tests

SERVICE = """\
apiVersion: promspec/v1
kind: Service
metadata: {{name: svc{i}}}
spec:
  backend: vllm
  selector: {{job: svc{i}}}
  slos:
    - name: errors
      objective: 99.5%
      sli: {{signal: errors}}
"""


class _CountingGroup(dict[str, Any]):
    reads = 0

    def __getitem__(self, key: str) -> Any:
        if key == "name":
            _CountingGroup.reads += 1
        return super().__getitem__(key)


def test_a_file_of_many_services_reads_each_group_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = 12
    spec = tmp_path / "services.yml"
    spec.write_text("---\n".join(SERVICE.format(i=i) for i in range(services)), encoding="utf-8")
    build, _report = load_build([str(tmp_path)])
    assert len(render_slo_tests(build)) >= 2 * services
    (rule_file,) = build.rule_files.values()
    groups = rule_file.content["groups"]
    groups[:] = [_CountingGroup(g) for g in groups]
    _CountingGroup.reads = 0
    monkeypatch.setattr(outputs, "dump_yaml", lambda data, head="": b"")  # the library cannot dump the subclass
    render_slo_tests(build)
    assert len(groups) >= 4 * services
    assert _CountingGroup.reads <= 4 * len(groups)  # one index pass, then each SLO's own groups
